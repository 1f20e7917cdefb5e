-- Grain: one row per screen and substance.
create table if not exists urine_screens (
    patient_id varchar not null,
    clinic_id varchar not null,
    screen_date date not null,
    substance varchar not null,           -- opioids | fentanyl | cocaine | amphetamines |
    -- benzodiazepines | cannabis | methadone | buprenorphine
    result varchar not null               -- positive | negative | missed | refused
);
