-- Grain: one row per assessment and codebook factor (OB01-OB27, FA01-FA21).
-- severity: 0 absent, 1-3 present (mild, moderate, severe); a present/absent checklist uses 0/1.
create table if not exists checklist_responses (
    patient_id varchar not null,
    clinic_id varchar not null,
    assessment_date date not null,
    factor_code varchar not null,
    severity tinyint not null,
    primary key (patient_id, assessment_date, factor_code)
);
