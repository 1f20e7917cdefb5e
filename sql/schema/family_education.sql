-- Grain: one row per enrolment in a family-education programme.
create table if not exists family_education (
    patient_id varchar not null,
    clinic_id varchar not null,
    enrolment_date date not null,
    channel varchar not null,             -- mobile_app | web | face_to_face
    sessions_completed integer not null,
    primary key (patient_id, enrolment_date)
);
