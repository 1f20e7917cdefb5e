-- Grain: one row per episode and period (start_day, stop_day], counting-process form for Cox
-- models with time-varying covariates. Macro parameters: gap_days, as_of.
-- Periods split every 30 days of the episode and on the exact day a covariate changes, so a
-- covariate that begins mid-episode is never a baseline flag:
--   is_take_home         1 from the day of the episode's first take-home (or depot) dose;
--   has_family_education 1 from the day of enrolment (from day 0 if enrolled before the start);
--   dose_mg              daily dose on the last dosing day up to the period's first day.
-- event_observed / dropout_status carry the episode's outcome on its last period only
-- (is_last_period).
create or replace macro fct_episode_periods(gap_days, as_of) as table
with episodes as (
    select * from fct_episodes(gap_days, as_of)
),

daily_doses as (
    select
        patient_id,
        clinic_id,
        visit_date,
        sum(dose_mg) as daily_dose_mg,
        bool_or(is_take_home) as is_take_home
    from stg_dosing_visits
    where visit_date <= as_of::date
    group by all
),

first_take_home as (
    select
        episodes.patient_id,
        episodes.episode_no,
        min(daily_doses.visit_date) - episodes.start_date as take_home_day
    from episodes
    inner join daily_doses
        on
            episodes.patient_id = daily_doses.patient_id
            and episodes.clinic_id = daily_doses.clinic_id
            and daily_doses.visit_date between episodes.start_date and episodes.end_date
            and daily_doses.is_take_home
    group by episodes.patient_id, episodes.episode_no, episodes.start_date
),

first_family_education as (
    select
        episodes.patient_id,
        episodes.episode_no,
        greatest(min(family_education.enrolment_date) - episodes.start_date, 0)
            as family_education_day
    from episodes
    inner join family_education
        on
            episodes.patient_id = family_education.patient_id
            and family_education.enrolment_date
            < episodes.start_date + episodes.duration_days
    group by episodes.patient_id, episodes.episode_no, episodes.start_date
),

switches as (
    select
        episodes.*,
        first_take_home.take_home_day,
        first_family_education.family_education_day
    from episodes
    left join first_take_home
        on
            episodes.patient_id = first_take_home.patient_id
            and episodes.episode_no = first_take_home.episode_no
    left join first_family_education
        on
            episodes.patient_id = first_family_education.patient_id
            and episodes.episode_no = first_family_education.episode_no
),

cuts as (
    select distinct
        patient_id,
        episode_no,
        cut_day
    from (
        select
            patient_id,
            episode_no,
            unnest(range(0, duration_days, 30))::integer as cut_day
        from switches
        union all
        select
            patient_id,
            episode_no,
            take_home_day::integer
        from switches
        where take_home_day > 0 and take_home_day < duration_days
        union all
        select
            patient_id,
            episode_no,
            family_education_day::integer
        from switches
        where family_education_day > 0 and family_education_day < duration_days
    ) as all_cuts
),

periods as (
    select
        switches.patient_id,
        switches.clinic_id,
        switches.episode_no,
        switches.start_date,
        switches.duration_days,
        switches.event_observed,
        switches.dropout_status,
        switches.take_home_day,
        switches.family_education_day,
        cuts.cut_day as start_day,
        coalesce(
            lead(cuts.cut_day) over (
                partition by cuts.patient_id, cuts.episode_no order by cuts.cut_day
            ),
            switches.duration_days
        ) as stop_day
    from cuts
    inner join switches
        on cuts.patient_id = switches.patient_id and cuts.episode_no = switches.episode_no
),

with_dose as (
    select
        periods.*,
        daily_doses.daily_dose_mg as dose_mg
    from periods
    asof left join daily_doses
        on
            periods.patient_id = daily_doses.patient_id
            and periods.clinic_id = daily_doses.clinic_id
            and periods.start_date + periods.start_day >= daily_doses.visit_date
)

select
    patient_id,
    clinic_id,
    episode_no,
    start_day::integer as start_day,
    stop_day::integer as stop_day,
    coalesce(start_day >= take_home_day, false)::integer as is_take_home,
    coalesce(start_day >= family_education_day, false)::integer as has_family_education,
    dose_mg,
    case when stop_day = duration_days then event_observed else 0 end as event_observed,
    case when stop_day = duration_days then dropout_status else 0 end as dropout_status,
    stop_day = duration_days as is_last_period,
    -- the key a patient sample is drawn by (q_model_periods): stored in this order, so a sample
    -- reads its own rows only. Not for output: unkeyed, it would link a patient across queries
    hash(patient_id) % 1000000 as patient_sample_key
from with_dose
