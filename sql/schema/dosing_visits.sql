-- Grain: one row per dose dispensed or administered. HAT patients have two visits a day
-- (visit_time distinguishes them). A visit with take_home_days = N covers its own day and the
-- N days after it (take-home bottles, or ~28 days for a buprenorphine depot).
create table if not exists dosing_visits (
    patient_id varchar not null,
    clinic_id varchar not null,
    visit_date date not null,
    visit_time time,                      -- optional; needed to tell twice-daily HAT visits apart
    -- methadone | buprenorphine | buprenorphine_depot | diamorphine
    medication varchar not null,
    dose_mg double not null,
    is_supervised boolean not null,
    take_home_days integer not null default 0
);
