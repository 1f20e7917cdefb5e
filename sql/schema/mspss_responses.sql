-- Item answers only: scores are computed in views. Missing items stay missing (null).
-- Grain: one row per MSPSS administration (12 items, 1-7).
create table if not exists mspss_responses (
    patient_id varchar not null,
    clinic_id varchar not null,
    assessment_date date not null,
    item_01 tinyint, item_02 tinyint, item_03 tinyint, item_04 tinyint,
    item_05 tinyint, item_06 tinyint, item_07 tinyint, item_08 tinyint,
    item_09 tinyint, item_10 tinyint, item_11 tinyint, item_12 tinyint,
    primary key (patient_id, assessment_date)
);
