-- Grain: one row per clinic (service). Modalities offered as flags.
create table if not exists clinics (
    clinic_id varchar primary key,
    clinic_name varchar not null,
    region varchar,
    offers_mmt boolean not null,
    offers_bmt boolean not null,
    offers_hat boolean not null,
    dose_policy varchar                   -- free description, e.g. 'adequate', 'low'
);
