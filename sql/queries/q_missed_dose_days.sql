-- Rows of fct_missed_dose_days within the viewer's clinics.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select *
from fct_missed_dose_days($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
