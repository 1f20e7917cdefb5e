-- Grain: one row per episode period (start_day, stop_day] with time-varying covariates.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids.
select * exclude (is_last_period, patient_sample_key)
from fct_episode_periods($gap_days, $as_of)
where list_contains($scope_clinic_ids::varchar[], clinic_id)
order by patient_id, episode_no, start_day
