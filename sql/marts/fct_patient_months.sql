-- Grain: one row per episode and calendar month it overlaps. Macro parameters: gap_days, as_of.
-- days_in_treatment: days of the month inside the episode (up to as_of for open episodes);
-- missed_days: of those, days without a dose or take-home cover (fct_missed_dose_days).
create or replace macro fct_patient_months(gap_days, as_of) as table
with episodes as (
    select
        *,
        start_date + duration_days - 1 as observed_end_date
    from fct_episodes(gap_days, as_of)
),

months as (
    select
        patient_id,
        clinic_id,
        episode_no,
        start_date,
        observed_end_date,
        unnest(
            range(
                date_trunc('month', start_date),
                date_trunc('month', observed_end_date) + interval 1 month,
                interval 1 month
            )
        )::date as month_start
    from episodes
),

missed as (
    select
        patient_id,
        episode_no,
        date_trunc('month', missed_date)::date as month_start,
        count(*) as missed_days
    from fct_missed_dose_days(gap_days, as_of)
    group by all
)

select
    months.patient_id,
    months.clinic_id,
    months.episode_no,
    months.month_start,
    (
        least(months.observed_end_date, last_day(months.month_start))
        - greatest(months.start_date, months.month_start) + 1
    )::integer as days_in_treatment,
    coalesce(missed.missed_days, 0)::integer as missed_days
from months
left join missed
    on
        months.patient_id = missed.patient_id
        and months.episode_no = missed.episode_no
        and months.month_start = missed.month_start
