-- The current (last) period of each episode open at $as_of, within the viewer's clinics and,
-- when $clinic_ids is not empty, those clinics: its time-varying covariates now.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids.
with open_episodes as (
    select
        patient_id,
        episode_no
    from fct_episodes($gap_days, $as_of)
    where
        is_open
        and list_contains($scope_clinic_ids::varchar[], clinic_id)
        and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
)

select periods.*
from fct_episode_periods($gap_days, $as_of) as periods
inner join open_episodes as episodes
    on periods.patient_id = episodes.patient_id and periods.episode_no = episodes.episode_no
qualify
    row_number() over (
        partition by periods.patient_id, periods.episode_no order by periods.stop_day desc
    ) = 1
