-- Weekly urine results of the episodes open at $as_of, within the viewer's clinics.
-- Only weeks that started less than $recent_days days before $as_of (the at-risk list looks
-- back a few weeks; null keeps every week).
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $recent_days.
select mart_rows.*
from fct_screen_weeks($gap_days, $as_of, open_only := true) as mart_rows
inner join fct_episodes($gap_days, $as_of) as episodes
    on mart_rows.patient_id = episodes.patient_id and mart_rows.episode_no = episodes.episode_no
where
    list_contains($scope_clinic_ids::varchar[], mart_rows.clinic_id)
    and (
        $recent_days::integer is null
        or episodes.start_date + 7 * mart_rows.week_no > $as_of::date - $recent_days::integer
    )
