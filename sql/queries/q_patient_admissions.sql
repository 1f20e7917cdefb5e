-- One row per admission in the viewer's scope, with the patient's sex and age at admission.
-- Patient-level and identifiable: listed in analytics.access.PATIENT_LEVEL_QUERIES, so it runs
-- audited for identifiable viewers and de-identified (analytics.access.patient_rows) for others.
select
    admissions.patient_id,
    admissions.admission_id,
    admissions.clinic_id,
    admissions.admission_date,
    admissions.modality,
    admissions.referral_source,
    patients.sex,
    patients.birth_year,
    year(admissions.admission_date) - patients.birth_year as age_at_admission
from admissions
inner join patients on admissions.patient_id = patients.patient_id
where
    list_contains($scope_clinic_ids, admissions.clinic_id)
    and ($clinic_id is null or admissions.clinic_id = $clinic_id)
order by admissions.clinic_id, admissions.admission_date, admissions.admission_id
