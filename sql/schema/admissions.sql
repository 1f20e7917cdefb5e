-- Grain: one row per admission of a patient to a clinic.
create table if not exists admissions (
    admission_id varchar primary key,
    patient_id varchar not null,
    clinic_id varchar not null,
    admission_date date not null,
    modality varchar not null,            -- MMT | BMT | HAT
    referral_source varchar               -- optional: self, gp, criminal_justice, hospital, other
);
