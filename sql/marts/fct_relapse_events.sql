-- Grain: one row per relapse event (episode, week). Macro parameters: gap_days, as_of.
-- On the weekly opioid results of fct_screen_weeks, counting only weeks with a result ('+' or
-- '-'): clinics screen weekly to monthly, and weeks without a screen neither break nor make a
-- run (with weekly screening this is the plain weekly rule):
--   positive_after_negative_run  a '+' week right after at least 4 consecutive '-' weeks;
--   two_consecutive_positive     a '+' week right after a '+' week.
create or replace macro fct_relapse_events(gap_days, as_of) as table
with weeks as (
    select * from fct_screen_weeks(gap_days, as_of)
    where opioid_result in ('+', '-')
),

with_history as (
    select
        *,
        string_agg(opioid_result, '') over (
            partition by patient_id, episode_no
            order by week_no
            rows between 4 preceding and 1 preceding
        ) as previous_four,
        lag(opioid_result) over (
            partition by patient_id, episode_no order by week_no
        ) as previous_one
    from weeks
)

select
    patient_id,
    clinic_id,
    episode_no,
    week_no,
    week_start_date,
    'positive_after_negative_run' as relapse_type
from with_history
where opioid_result = '+' and previous_four = '----'
union all
select
    patient_id,
    clinic_id,
    episode_no,
    week_no,
    week_start_date,
    'two_consecutive_positive' as relapse_type
from with_history
where opioid_result = '+' and previous_one = '+'
