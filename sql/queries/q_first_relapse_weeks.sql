-- Grain: one row per episode with a relapse, within the viewer's clinics (and $clinic_ids when
-- not empty): the week since admission of its first relapse, of either kind. First relapse
-- needs no more than this of fct_relapse_events (a large store has millions of events).
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids.
select
    patient_id,
    clinic_id,
    episode_no,
    min(week_no) as week_no
from fct_relapse_events($gap_days, $as_of)
where
    list_contains($scope_clinic_ids::varchar[], clinic_id)
    and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
group by patient_id, clinic_id, episode_no
