-- Grain: one row per family-support measure per assessment per episode (long), for the
-- "support over time" charts. An assessment belongs to an episode when it falls between 30 days
-- before its start and its end; days_since_start is negative for the admission assessment.
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

mspss as (
    select
        patient_id,
        assessment_date,
        mspss_family,
        mspss_total
    from int_mspss_scored
    where assessment_date <= $as_of::date
),

apgar as (
    select
        patient_id,
        assessment_date,
        apgar_total
    from int_apgar_scored
    where assessment_date <= $as_of::date
),

scores as (
    select
        coalesce(mspss.patient_id, apgar.patient_id) as patient_id,
        coalesce(mspss.assessment_date, apgar.assessment_date) as assessment_date,
        mspss.mspss_family,
        mspss.mspss_total,
        apgar.apgar_total
    from mspss
    full outer join apgar
        on mspss.patient_id = apgar.patient_id and mspss.assessment_date = apgar.assessment_date
)

select
    episodes.patient_id,
    episodes.clinic_id,
    episodes.episode_no,
    scores.assessment_date,
    scores.assessment_date - episodes.start_date as days_since_start,
    scores.mspss_family,
    scores.mspss_total,
    scores.apgar_total::double as apgar_total
from episodes
inner join scores
    on
        episodes.patient_id = scores.patient_id
        and scores.assessment_date between episodes.start_date - 30 and episodes.end_date
