-- Counting-process rows with baseline covariates for the at-risk model: every episode in the
-- viewer's clinics, or every episode of a fixed random share $sample_share of the patients (by a
-- hash of the id; null: all). The periods are stored in the order of that hash
-- (patient_sample_key), so a sample reads its own rows only.
-- The model's only time-varying covariate is is_take_home, which never returns to 0 within an
-- episode, and the stored periods tile the episode (30-day splits): so the periods of an episode
-- with the same is_take_home are returned as one, (first start, last stop], with the episode's
-- event on it. The partial likelihood is the same (an episode is at risk at the same times, with
-- the same covariates); the model reads and fits one or two rows per episode instead of fifteen.
-- Parameters: $gap_days, $as_of, $scope_clinic_ids, $sample_share.
with sampled as (
    select *
    from fct_episode_covariates($gap_days, $as_of)
    where
        list_contains($scope_clinic_ids::varchar[], clinic_id)
        and (
            $sample_share::double is null
            or hash(patient_id) % 1000000 < $sample_share::double * 1000000
        )
)

select
    periods.patient_id,
    periods.clinic_id,
    periods.episode_no,
    min(periods.start_day) as start_day,
    max(periods.stop_day) as stop_day,
    periods.is_take_home,
    max(periods.event_observed) as event_observed,
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
where
    -- the same patients as above (an integer key below ceil(x) is below x), as a range the
    -- scan can skip whole row groups by
    $sample_share::double is null
    or periods.patient_sample_key < ceil($sample_share::double * 1000000)::ubigint
group by all
order by periods.patient_id, periods.episode_no, start_day
