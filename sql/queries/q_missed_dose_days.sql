-- Rows of fct_missed_dose_days within the viewer's clinics (and $clinic_ids when not empty), of
-- a fixed random share $sample_share of the patients (by a hash of the id; null: all).
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids, $sample_share.
select * exclude (patient_sample_key)
from fct_missed_dose_days($gap_days, $as_of)
where
    list_contains($scope_clinic_ids::varchar[], clinic_id)
    and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
    and (
        $sample_share::double is null
        -- hash(patient_id) % 1000000 < share * 1e6, stored (an integer below ceil(x) is below x)
        or patient_sample_key < ceil($sample_share::double * 1000000)::ubigint
    )
