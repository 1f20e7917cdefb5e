-- Grain: one row per episode open at $as_of, within the viewer's clinics and, when $clinic_ids
-- is not empty, those clinics: the counts behind the at-risk list's warning signs, so that a
-- large store sends one row per patient in treatment instead of their recent days and weeks.
-- Rows come in the cohort's order (q_cohort_episodes), so the list can take the counts
-- alongside its open episodes without a join.
--   missed_short, missed_long   missed dose days (fct_missed_dose_days: a day of the episode no
--                               visit's own day or take-home cover reaches) in the last
--                               $missed_short_days and $missed_long_days days up to $as_of
--   n_positive_screen_weeks     weeks with a positive opioid screen that started in the last
--                               $screen_days days
--   has_recent_relapse          a relapse after a negative run in a week that started in the
--                               last $relapse_days days
--   is_take_home                1 once the episode has had a take-home (or depot) dose: the
--                               time-varying covariate of its current period (fct_episode_periods)
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $clinic_ids, $missed_short_days,
-- $missed_long_days, $screen_days, $relapse_days.
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

missed as (
    -- the episode's missed dose days (fct_missed_dose_days) in the window: materialised with
    -- the episodes in date order, so only the window's days are read
    select
        missed_days.patient_id,
        missed_days.episode_no,
        count(*) filter (
            where missed_days.missed_date > $as_of::date - $missed_short_days::integer
        ) as missed_short,
        count(*) as missed_long
    from fct_missed_dose_days($gap_days, $as_of) as missed_days
    semi join open_episodes
        on
            missed_days.patient_id = open_episodes.patient_id
            and missed_days.episode_no = open_episodes.episode_no
    where missed_days.missed_date > $as_of::date - $missed_long_days::integer
    group by missed_days.patient_id, missed_days.episode_no
),

positive_weeks as (
    select
        weeks.patient_id,
        weeks.episode_no,
        count(*) as n_positive_screen_weeks
    -- weeks are stored in week_start_date order: only the window's weeks are read
    from fct_screen_weeks($gap_days, $as_of) as weeks
    semi join open_episodes as episodes
        on weeks.patient_id = episodes.patient_id and weeks.episode_no = episodes.episode_no
    where
        weeks.opioid_result = '+'
        and weeks.week_start_date > $as_of::date - $screen_days::integer
    group by weeks.patient_id, weeks.episode_no
),

relapses as (
    select distinct
        events.patient_id,
        events.episode_no
    from fct_relapse_events($gap_days, $as_of) as events
    semi join open_episodes as episodes
        on events.patient_id = episodes.patient_id and events.episode_no = episodes.episode_no
    where
        events.relapse_type = 'positive_after_negative_run'
        and events.week_start_date > $as_of::date - $relapse_days::integer
),

take_homes as (
    -- is_take_home never returns to 0 within an episode: the last period has it if any has
    select
        periods.patient_id,
        periods.episode_no
    from fct_episode_periods($gap_days, $as_of) as periods
    semi join open_episodes as episodes
        on periods.patient_id = episodes.patient_id and periods.episode_no = episodes.episode_no
    where periods.is_last_period and periods.is_take_home = 1
)

select
    open_episodes.patient_id,
    open_episodes.episode_no,
    coalesce(missed.missed_short, 0)::integer as missed_short,
    coalesce(missed.missed_long, 0)::integer as missed_long,
    coalesce(positive_weeks.n_positive_screen_weeks, 0)::integer as n_positive_screen_weeks,
    relapses.patient_id is not null as has_recent_relapse,
    (take_homes.patient_id is not null)::integer as is_take_home
from open_episodes
left join missed
    on
        open_episodes.patient_id = missed.patient_id
        and open_episodes.episode_no = missed.episode_no
left join positive_weeks
    on
        open_episodes.patient_id = positive_weeks.patient_id
        and open_episodes.episode_no = positive_weeks.episode_no
left join relapses
    on
        open_episodes.patient_id = relapses.patient_id
        and open_episodes.episode_no = relapses.episode_no
left join take_homes
    on
        open_episodes.patient_id = take_homes.patient_id
        and open_episodes.episode_no = take_homes.episode_no
order by
    open_episodes.clinic_id,
    open_episodes.start_date,
    open_episodes.patient_id,
    open_episodes.episode_no
