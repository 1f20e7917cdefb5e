-- Rows of fct_relapse_events within the viewer's clinics (and $clinic_ids when not empty).
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids.
select * exclude (week_start_date)
from fct_relapse_events($gap_days, $as_of)
where
    list_contains($scope_clinic_ids::varchar[], clinic_id)
    and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
