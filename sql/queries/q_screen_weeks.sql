-- Rows of fct_screen_weeks within the viewer's clinics (and $clinic_ids when not empty), up to
-- week $max_week_no (null: all), of a fixed random share $sample_share of the patients (by a
-- hash of the id; null: all).
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids, $max_week_no, $sample_share.
select * exclude (week_start_date, patient_sample_key)
from fct_screen_weeks($gap_days, $as_of)
where
    list_contains($scope_clinic_ids::varchar[], clinic_id)
    and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
    and ($max_week_no::integer is null or week_no <= $max_week_no::integer)
    and (
        $sample_share::double is null
        -- hash(patient_id) % 1000000 < share * 1e6, stored (an integer below ceil(x) is below x)
        or patient_sample_key < ceil($sample_share::double * 1000000)::ubigint
    )
