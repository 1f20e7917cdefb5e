-- Relapse events of the episodes open at $as_of, within the viewer's clinics.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select *
from fct_relapse_events($gap_days, $as_of, open_only := true)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
