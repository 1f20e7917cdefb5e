-- Rows of fct_relapse_events within the viewer's clinics.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select *
from fct_relapse_events($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
