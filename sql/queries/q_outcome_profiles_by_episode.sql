-- Grain: one row per outcome profile (TOP style, last 28 days) per episode, for the "recovery
-- outcomes over time" charts. A profile belongs to an episode when it falls between 30 days
-- before its start and its end; days_since_start is negative for the admission profile.
-- Parameters: $gap_days, $as_of (episode rule); $scope_clinic_ids (the viewer's clinics);
-- $clinic_ids (the chosen clinics; empty: all the viewer's).
-- Rows come in no set order (sorting millions of rows cost more than reading them): the means
-- over time do not depend on it (analytics.trends._cell_sums).
with episodes as (
    select
        patient_id,
        clinic_id,
        episode_no,
        start_date,
        end_date
    from fct_episodes($gap_days, $as_of)
    where
        list_contains($scope_clinic_ids::varchar[], clinic_id)
        and (len($clinic_ids::varchar[]) = 0 or list_contains($clinic_ids::varchar[], clinic_id))
),

profiles as (
    select *
    from outcome_profiles
    where
        assessment_date <= $as_of::date
        and list_contains($scope_clinic_ids::varchar[], clinic_id)
)

select
    episodes.patient_id,
    episodes.clinic_id,
    episodes.episode_no,
    profiles.assessment_date,
    profiles.assessment_date - episodes.start_date as days_since_start,
    profiles.* exclude (patient_id, clinic_id, assessment_date)
from episodes
inner join profiles
    on
        episodes.patient_id = profiles.patient_id
        and episodes.clinic_id = profiles.clinic_id
        and profiles.assessment_date between episodes.start_date - 30 and episodes.end_date
