-- Grain: one row per episode in the cohort, with outcome and baseline covariates.
-- Parameters: $gap_days, $as_of (episode rule); $scope_clinic_ids (the viewer's clinics, always
-- applied); filters where an empty list or null means "no restriction": $clinic_ids,
-- $modalities, $admitted_from, $admitted_to, $age_min, $age_max, $sexes, $dose_bands,
-- $family_support, $obstacle_themes, $ecological_levels, $episode_kind (all | first | repeat);
-- $open_only: only episodes open at the cut-off (the at-risk list's).
-- Order: clinic, start date, patient, episode. The layers store the rows in this order
-- (analytics.store.MART_ROW_ORDER), which makes the sort cheap (1M episodes: 0.9 -> 0.3 s);
-- the ORDER BY is still needed: a filter over the union of the layers may reorder row groups.
select *
from fct_episode_covariates($gap_days, $as_of)
where
    list_contains($scope_clinic_ids::varchar[], clinic_id)
    and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
    and (len($modalities::varchar[]) = 0 or list_contains($modalities::varchar[], modality))
    and ($admitted_from::date is null or start_date >= $admitted_from::date)
    and ($admitted_to::date is null or start_date <= $admitted_to::date)
    and ($age_min::integer is null or age_years >= $age_min::integer)
    and ($age_max::integer is null or age_years <= $age_max::integer)
    and (len($sexes::varchar[]) = 0 or list_contains($sexes::varchar[], sex))
    and (len($dose_bands::varchar[]) = 0 or list_contains($dose_bands::varchar[], dose_band))
    and (
        len($family_support::varchar[]) = 0
        or list_contains($family_support::varchar[], family_support)
    )
    and (
        len($obstacle_themes::varchar[]) = 0
        or (
            list_contains($obstacle_themes::varchar[], 'personality_mood')
            and n_ob_personality_mood > 0
        )
        or (list_contains($obstacle_themes::varchar[], 'cognitive') and n_ob_cognitive > 0)
        or (list_contains($obstacle_themes::varchar[], 'skill') and n_ob_skill > 0)
        or (list_contains($obstacle_themes::varchar[], 'family') and n_ob_family > 0)
        or (
            list_contains($obstacle_themes::varchar[], 'socio_economic') and n_ob_socio_economic > 0
        )
        or (list_contains($obstacle_themes::varchar[], 'treatment') and n_ob_treatment > 0)
    )
    and (
        len($ecological_levels::varchar[]) = 0
        or (list_contains($ecological_levels::varchar[], 'individual') and n_ob_individual > 0)
        or (
            list_contains($ecological_levels::varchar[], 'interpersonal') and n_ob_interpersonal > 0
        )
        or (
            list_contains($ecological_levels::varchar[], 'organisational')
            and n_ob_organisational > 0
        )
        or (list_contains($ecological_levels::varchar[], 'community') and n_ob_community > 0)
        or (list_contains($ecological_levels::varchar[], 'policy') and n_ob_policy > 0)
    )
    and (
        $episode_kind = 'all'
        or ($episode_kind = 'first' and is_first_episode)
        or ($episode_kind = 'repeat' and not is_first_episode)
    )
    and (not $open_only::boolean or is_open)
order by clinic_id, start_date, patient_id, episode_no
