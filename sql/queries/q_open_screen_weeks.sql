-- Weekly urine results of the episodes open at $as_of, within the viewer's clinics and, when
-- $clinic_ids is not empty, those clinics.
-- Only weeks that started less than $recent_days days before $as_of (the at-risk list looks
-- back a few weeks; null keeps every week).
-- The open episodes are joined first (a few per cent of the weeks' rows are theirs): twice as
-- fast on a large store as filtering the weeks by an open-episode subquery.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids, $recent_days.
with open_episodes as (
    select
        patient_id,
        episode_no,
        start_date
    from fct_episodes($gap_days, $as_of)
    where
        is_open
        and list_contains($scope_clinic_ids::varchar[], clinic_id)
        and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
)

select mart_rows.*
from fct_screen_weeks($gap_days, $as_of, open_only := true) as mart_rows
inner join open_episodes as episodes
    on mart_rows.patient_id = episodes.patient_id and mart_rows.episode_no = episodes.episode_no
where
    $recent_days::integer is null
    or episodes.start_date + 7 * mart_rows.week_no > $as_of::date - $recent_days::integer
