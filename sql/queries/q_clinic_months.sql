-- Rows of fct_clinic_months within the viewer's clinics.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select *
from fct_clinic_months($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
