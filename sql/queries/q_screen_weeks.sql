-- Rows of fct_screen_weeks within the viewer's clinics.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select *
from fct_screen_weeks($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
