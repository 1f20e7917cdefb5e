-- Counting-process rows with baseline covariates for the at-risk model: every episode in the
-- viewer's clinics, or, when there are more than $max_episodes, every episode of a fixed random
-- sample of patients (by a hash of the id) making about $max_episodes episodes.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $max_episodes.
with scoped as (
    select *
    from fct_episode_covariates($gap_days, $as_of)
    where list_contains($scope_clinic_ids::varchar[], clinic_id)
),

share as (
    select least(1.0, $max_episodes::double / greatest(count(*), 1)) as fraction
    from scoped
),

sampled as (
    select scoped.*
    from scoped, share
    where hash(scoped.patient_id) % 1000000 < share.fraction * 1000000
)

select
    periods.patient_id,
    periods.clinic_id,
    periods.episode_no,
    periods.start_day,
    periods.stop_day,
    periods.is_take_home,
    periods.event_observed,
    sampled.modality,
    sampled.dose_band,
    sampled.age_years,
    sampled.sex,
    sampled.n_prior_episodes,
    sampled.family_support,
    sampled.has_drug_using_friends,
    sampled.has_no_income
from fct_episode_periods($gap_days, $as_of) as periods
inner join sampled
    on periods.patient_id = sampled.patient_id and periods.episode_no = sampled.episode_no
order by periods.patient_id, periods.episode_no, periods.start_day
