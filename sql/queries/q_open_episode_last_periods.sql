-- The current (last) period of each episode open at $as_of, within the viewer's clinics: its
-- time-varying covariates now.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select periods.*
from fct_episode_periods($gap_days, $as_of) as periods
inner join fct_episodes($gap_days, $as_of) as episodes
    on periods.patient_id = episodes.patient_id and periods.episode_no = episodes.episode_no
where
    episodes.is_open
    and list_contains($scope_clinic_ids::varchar[], periods.clinic_id)
qualify
    row_number() over (
        partition by periods.patient_id, periods.episode_no order by periods.stop_day desc
    ) = 1
