-- Grain: one row per discharge record. Episodes take their end reason from a discharge dated
-- within the gap rule after the last covered day; gaps with no record are dropouts.
create table if not exists discharges (
    discharge_id varchar primary key,
    patient_id varchar not null,
    clinic_id varchar not null,
    discharge_date date not null,
    reason_code varchar not null          -- completed | dropped_out | discharged_by_clinic |
-- transferred | incarcerated | died | other
);
