-- Grain: one row per missed dose day in the last $window_days days (up to $as_of) of the
-- episodes open at $as_of, within the viewer's clinics (and $clinic_ids when not empty): the
-- rows of fct_missed_dose_days in that window, computed from recent visits only (the at-risk
-- list needs no more).
-- A day of an open episode is missed when no visit's own day or take-home cover reaches it;
-- visits early enough for their cover to reach the window are included.
-- Parameters: $gap_days, $as_of, $window_days, $scope_clinic_ids, $clinic_ids.
with open_episodes as (
    select
        patient_id,
        clinic_id,
        episode_no,
        start_date
    from fct_episodes($gap_days, $as_of)
    where
        is_open
        and list_contains($scope_clinic_ids::varchar[], clinic_id)
        and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
),

window_days as (
    select
        patient_id,
        clinic_id,
        episode_no,
        unnest(
            range(
                greatest(start_date, $as_of::date - ($window_days::integer - 1)),
                $as_of::date + 1,
                interval 1 day
            )
        )::date as day_date
    from open_episodes
),

longest_cover as (
    select coalesce(max(take_home_days), 0) as take_home_days from stg_dosing_visits
),

recent_visits as (
    select
        visits.patient_id,
        visits.clinic_id,
        visits.visit_date,
        least(visits.visit_date + visits.take_home_days, $as_of::date) as cover_end_date
    from stg_dosing_visits as visits, longest_cover
    where
        visits.visit_date <= $as_of::date
        and visits.visit_date
        >= $as_of::date - ($window_days::integer - 1) - longest_cover.take_home_days
),

covered_days as (
    select distinct
        window_days.patient_id,
        window_days.episode_no,
        window_days.day_date
    from window_days
    inner join recent_visits
        on
            window_days.patient_id = recent_visits.patient_id
            and window_days.clinic_id = recent_visits.clinic_id
            and window_days.day_date
            between recent_visits.visit_date and recent_visits.cover_end_date
)

select
    window_days.patient_id,
    window_days.clinic_id,
    window_days.episode_no,
    window_days.day_date as missed_date
from window_days
anti join covered_days
    on
        window_days.patient_id = covered_days.patient_id
        and window_days.episode_no = covered_days.episode_no
        and window_days.day_date = covered_days.day_date
