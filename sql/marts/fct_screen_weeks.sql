-- Grain: one row per episode and week in treatment (week_no 0 = days 1-7 of the episode).
-- Macro parameters: gap_days, as_of.
-- Each week gets one character per substance group, after the convention of lasagna plots and
-- CTN urine strings:  '+' any positive, else '-' a negative, else '*' refused (other),
-- else 'o' missed or no screen that week.
-- opioid_result: street opioids (opioids, fentanyl). any_result: every substance except the
-- prescribed medications (methadone, buprenorphine), whose positives are expected.
create or replace macro fct_screen_weeks(gap_days, as_of) as table
with episodes as (
    select * from fct_episodes(gap_days, as_of)
),

weeks as (
    select
        patient_id,
        clinic_id,
        episode_no,
        start_date,
        duration_days,
        unnest(range(0, (duration_days + 6) // 7))::integer as week_no
    from episodes
),

screens as (
    select
        episodes.patient_id,
        episodes.clinic_id,
        episodes.episode_no,
        ((urine_screens.screen_date - episodes.start_date) // 7)::integer as week_no,
        urine_screens.substance,
        urine_screens.result
    from episodes
    inner join urine_screens
        on
            episodes.patient_id = urine_screens.patient_id
            and episodes.clinic_id = urine_screens.clinic_id
            and urine_screens.screen_date
            between episodes.start_date and episodes.start_date + episodes.duration_days - 1
            and urine_screens.screen_date <= as_of::date
),

screen_week_flags as (
    select
        patient_id,
        episode_no,
        week_no,
        bool_or(result = 'positive' and substance in ('opioids', 'fentanyl')) as opioid_positive,
        bool_or(result = 'negative' and substance in ('opioids', 'fentanyl')) as opioid_negative,
        bool_or(result = 'refused' and substance in ('opioids', 'fentanyl')) as opioid_refused,
        bool_or(
            result = 'positive' and substance not in ('methadone', 'buprenorphine')
        ) as any_positive,
        bool_or(
            result = 'negative' and substance not in ('methadone', 'buprenorphine')
        ) as any_negative,
        bool_or(
            result = 'refused' and substance not in ('methadone', 'buprenorphine')
        ) as any_refused,
        count(distinct substance) filter (where result in ('positive', 'negative')) > 0
            as has_result
    from screens
    group by all
)

select
    weeks.patient_id,
    weeks.clinic_id,
    weeks.episode_no,
    weeks.week_no,
    -- the week's first day: stored in this order, so a window of recent weeks reads only them
    (weeks.start_date + 7 * weeks.week_no)::date as week_start_date,
    -- a patient sample's key (as in fct_episode_periods): an integer test per row instead of
    -- hashing fifty million ids that no longer sit together. Not for output
    hash(weeks.patient_id) % 1000000 as patient_sample_key,
    case
        when flags.opioid_positive then '+'
        when flags.opioid_negative then '-'
        when flags.opioid_refused then '*'
        else 'o'
    end as opioid_result,
    case
        when flags.any_positive then '+'
        when flags.any_negative then '-'
        when flags.any_refused then '*'
        else 'o'
    end as any_result
from weeks
left join screen_week_flags as flags
    on
        weeks.patient_id = flags.patient_id
        and weeks.episode_no = flags.episode_no
        and weeks.week_no = flags.week_no
