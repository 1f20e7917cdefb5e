-- Number of episodes within the viewer's clinics (no patient rows).
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select count(*) as n_episodes
from fct_episodes($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
