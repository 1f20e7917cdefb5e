-- Grain: one row per missed dose day: an uncovered day inside an episode (no dose that day and
-- no take-home or depot covering it). Macro parameters: gap_days, as_of.
-- Gaps between visits of one episode are at most gap_days long. For an open episode the days
-- after its last covered day up to as_of are missed too (the patient has not come back yet);
-- for a closed episode that final gap is the exit, not missed doses.
create or replace macro fct_missed_dose_days(gap_days, as_of) as table
with visits as (
    select * from int_episode_visits(gap_days, as_of)
),

episodes as (
    select * from fct_episodes(gap_days, as_of)
),

gaps_between_visits as (
    select
        patient_id,
        clinic_id,
        episode_seq as clinic_episode_no,
        prior_cover_end_date + 1 as first_missed_date,
        visit_date - 1 as last_missed_date
    from visits
    where not is_episode_start and visit_date - prior_cover_end_date > 1
),

gaps_before_cutoff as (
    select
        patient_id,
        clinic_id,
        clinic_episode_no,
        end_date + 1 as first_missed_date,
        as_of::date as last_missed_date
    from episodes
    where is_open and end_date < as_of::date
),

gaps as (
    select * from gaps_between_visits
    union all
    select * from gaps_before_cutoff
)

select
    episodes.patient_id,
    episodes.clinic_id,
    episodes.episode_no,
    unnest(
        range(gaps.first_missed_date, gaps.last_missed_date + 1, interval 1 day)
    )::date as missed_date,
    -- a patient sample's key (as in fct_episode_periods); not for output
    hash(episodes.patient_id) % 1000000 as patient_sample_key
from gaps
inner join episodes
    on
        gaps.patient_id = episodes.patient_id
        and gaps.clinic_id = episodes.clinic_id
        and gaps.clinic_episode_no = episodes.clinic_episode_no
