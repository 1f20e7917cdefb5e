-- Item answers only: scores are computed in views. Missing items stay missing (null).
-- Grain: one row per Family APGAR administration (5 items, 0-2).
create table if not exists apgar_responses (
    patient_id varchar not null,
    clinic_id varchar not null,
    assessment_date date not null,
    adaptation tinyint, partnership tinyint, growth tinyint, affection tinyint, resolve tinyint,
    primary key (patient_id, assessment_date)
);
