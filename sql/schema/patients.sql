-- Grain: one row per patient. patient_id is the clinic's pseudonymous id: never a name or NHS/SSN.
create table if not exists patients (
    patient_id varchar primary key,
    birth_year integer not null,
    sex varchar not null                  -- F | M | X (other / not stated)
);
