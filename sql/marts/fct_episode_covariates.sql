-- Grain: one row per treatment episode (as fct_episodes), with its baseline covariates: what was
-- known at the start, or measured soon after it for dose. Macro parameters: gap_days, as_of.
-- Rules:
--   * age in whole years at the start (start year - birth year); ages are never shown above 89
--     to de-identified viewers (done in analytics.access, not here);
--   * dose_day30_mg: the daily dose (sum of that day's doses) on the last dosing day up to day 30
--     of the episode; dose_max90_mg: the highest daily dose in days 1-90; dose_band from day 30
--     for methadone episodes ('<60', '60-79', '>=80'), 'not_applicable' for buprenorphine and
--     heroin-assisted treatment, 'unknown' if no methadone dose was recorded;
--   * assessments: the latest one between 90 days before and 30 days after the start; missing
--     stays missing (never imputed);
--   * family education before the start: an enrolment dated before start_date.
create or replace macro fct_episode_covariates(gap_days, as_of) as table
with episodes as (
    select * from fct_episodes(gap_days, as_of)
),

early_doses as (
    select
        episodes.patient_id,
        episodes.clinic_id,
        episodes.episode_no,
        visits.visit_date - episodes.start_date + 1 as day_no,
        sum(visits.dose_mg) as daily_dose_mg,
        bool_or(visits.medication = 'methadone') as is_methadone
    from episodes
    inner join stg_dosing_visits as visits
        on
            episodes.patient_id = visits.patient_id
            and episodes.clinic_id = visits.clinic_id
            and visits.visit_date between episodes.start_date and episodes.start_date + 89
            and visits.visit_date <= as_of::date
    group by all
),

dose_summary as (
    select
        patient_id,
        clinic_id,
        episode_no,
        arg_max(daily_dose_mg, day_no) filter (where day_no <= 30) as dose_day30_mg,
        max(daily_dose_mg) as dose_max90_mg,
        bool_or(is_methadone) as has_methadone
    from early_doses
    group by all
),

mspss as (
    select
        episodes.patient_id,
        episodes.episode_no,
        arg_max(scored.mspss_family, scored.assessment_date) as mspss_family,
        arg_max(scored.mspss_friends, scored.assessment_date) as mspss_friends,
        arg_max(scored.mspss_significant_other, scored.assessment_date)
            as mspss_significant_other,
        arg_max(scored.mspss_total, scored.assessment_date) as mspss_total
    from episodes
    inner join int_mspss_scored as scored
        on
            episodes.patient_id = scored.patient_id
            and scored.assessment_date
            between episodes.start_date - 90 and episodes.start_date + 30
            and scored.assessment_date <= as_of::date
    group by all
),

apgar as (
    select
        episodes.patient_id,
        episodes.episode_no,
        arg_max(scored.apgar_total, scored.assessment_date) as apgar_total,
        arg_max(scored.apgar_category, scored.assessment_date) as apgar_category
    from episodes
    inner join int_apgar_scored as scored
        on
            episodes.patient_id = scored.patient_id
            and scored.assessment_date
            between episodes.start_date - 90 and episodes.start_date + 30
            and scored.assessment_date <= as_of::date
    group by all
),

checklist_latest as (
    select
        episodes.patient_id,
        episodes.episode_no,
        max(themes.assessment_date) as checklist_date
    from episodes
    inner join int_checklist_theme_scores as themes
        on
            episodes.patient_id = themes.patient_id
            and themes.assessment_date
            between episodes.start_date - 90 and episodes.start_date + 30
            and themes.assessment_date <= as_of::date
    group by all
),

checklist as (
    select
        checklist_latest.episode_no,
        themes.* exclude (clinic_id, assessment_date),
        checklist_latest.checklist_date
    from checklist_latest
    inner join int_checklist_theme_scores as themes
        on
            checklist_latest.patient_id = themes.patient_id
            and checklist_latest.checklist_date = themes.assessment_date
    -- a patient assessed at two clinics the same day: keep one, deterministically
    qualify row_number() over (
        partition by checklist_latest.patient_id, checklist_latest.episode_no
        order by themes.clinic_id
    ) = 1
),

key_factors as (
    -- the two external obstacles the literature singles out, as their own flags
    select
        checklist_latest.patient_id,
        checklist_latest.episode_no,
        bool_or(responses.factor_code = 'OB19' and responses.severity >= 1)
            as has_drug_using_friends,
        bool_or(responses.factor_code = 'OB22' and responses.severity >= 1) as has_no_income
    from checklist_latest
    inner join checklist_responses as responses
        on
            checklist_latest.patient_id = responses.patient_id
            and checklist_latest.checklist_date = responses.assessment_date
    group by all
),

family_education_before as (
    select
        episodes.patient_id,
        episodes.episode_no,
        count(*) as n_family_education_before
    from episodes
    inner join family_education
        on
            episodes.patient_id = family_education.patient_id
            and episodes.start_date > family_education.enrolment_date
    group by all
)

select
    episodes.*,
    patients.sex,
    year(episodes.start_date) - patients.birth_year as age_years,
    episodes.episode_no - 1 as n_prior_episodes,
    episodes.episode_no = 1 as is_first_episode,
    clinics.clinic_name,
    dose_summary.dose_day30_mg,
    dose_summary.dose_max90_mg,
    case
        when episodes.modality <> 'MMT' then 'not_applicable'
        when dose_summary.dose_day30_mg is null or not dose_summary.has_methadone then 'unknown'
        when dose_summary.dose_day30_mg < 60 then '<60'
        when dose_summary.dose_day30_mg < 80 then '60-79'
        else '>=80'
    end as dose_band,
    mspss.mspss_family,
    mspss.mspss_friends,
    mspss.mspss_significant_other,
    mspss.mspss_total,
    -- Zimet's cut-points on the 1-7 mean: 1-2.9 low, 3-5 moderate, above 5 high
    case
        when mspss.mspss_family is null then 'unknown'
        when mspss.mspss_family < 3 then 'low'
        when mspss.mspss_family <= 5 then 'moderate'
        else 'high'
    end as family_support,
    apgar.apgar_total,
    coalesce(apgar.apgar_category, 'unknown') as apgar_category,
    checklist.* exclude (patient_id, episode_no),
    key_factors.has_drug_using_friends,
    key_factors.has_no_income,
    coalesce(family_education_before.n_family_education_before, 0) > 0
        as has_family_education_before
from episodes
inner join patients on episodes.patient_id = patients.patient_id
left join clinics on episodes.clinic_id = clinics.clinic_id
left join dose_summary
    on
        episodes.patient_id = dose_summary.patient_id
        and episodes.clinic_id = dose_summary.clinic_id
        and episodes.episode_no = dose_summary.episode_no
left join mspss
    on episodes.patient_id = mspss.patient_id and episodes.episode_no = mspss.episode_no
left join apgar
    on episodes.patient_id = apgar.patient_id and episodes.episode_no = apgar.episode_no
left join checklist
    on episodes.patient_id = checklist.patient_id and episodes.episode_no = checklist.episode_no
left join key_factors
    on
        episodes.patient_id = key_factors.patient_id
        and episodes.episode_no = key_factors.episode_no
left join family_education_before
    on
        episodes.patient_id = family_education_before.patient_id
        and episodes.episode_no = family_education_before.episode_no
