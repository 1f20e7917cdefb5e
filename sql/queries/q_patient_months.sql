-- Rows of fct_patient_months within the viewer's clinics.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select *
from fct_patient_months($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
