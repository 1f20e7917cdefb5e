-- Item answers only: scores are computed in views. Missing items stay missing (null).
-- Grain: one row per outcome profile (Treatment Outcomes Profile style; past 28 days).
create table if not exists outcome_profiles (
    patient_id varchar not null,
    clinic_id varchar not null,
    assessment_date date not null,
    heroin_days_28 tinyint, other_opiates_days_28 tinyint, crack_days_28 tinyint,
    cocaine_days_28 tinyint, amphetamine_days_28 tinyint, cannabis_days_28 tinyint,
    alcohol_days_28 tinyint, injecting_days_28 tinyint, shared_equipment tinyint,
    shoplifting_days_28 tinyint, selling_drugs_days_28 tinyint, other_theft tinyint,
    assault_violence tinyint, psychological_health tinyint, physical_health tinyint,
    quality_of_life tinyint, paid_work_days_28 tinyint, education_days_28 tinyint,
    acute_housing_problem tinyint, at_risk_of_eviction tinyint,
    primary key (patient_id, assessment_date)
);
