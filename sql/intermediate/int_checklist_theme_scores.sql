-- Grain: one row per checklist assessment (patient, date) with counts of factors present
-- (severity >= 1) per main theme, per organising theme and per socioecological level.
-- Organising themes are named with their direction because both sides have e.g. 'family'.
create or replace view int_checklist_theme_scores as
with responses as (
    select * from checklist_responses
),

codebook as (
    select * from risk_factor_codebook
),

present as (
    select
        responses.patient_id,
        responses.clinic_id,
        responses.assessment_date,
        codebook.direction,
        codebook.main_theme,
        codebook.organizing_theme,
        codebook.ecological_level,
        responses.severity
    from responses
    inner join codebook on responses.factor_code = codebook.factor_code
)

select
    patient_id,
    clinic_id,
    assessment_date,
    count(*) as n_factors_recorded,
    count(*) filter (where severity >= 1 and direction = 'obstacle') as n_obstacles,
    count(*) filter (where severity >= 1 and direction = 'facilitator') as n_facilitators,
    -- main themes
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and main_theme = 'internal'
    ) as n_internal_obstacles,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and main_theme = 'external'
    ) as n_external_obstacles,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and main_theme = 'internal'
    ) as n_internal_facilitators,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and main_theme = 'external'
    ) as n_external_facilitators,
    -- organising themes: obstacles
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and organizing_theme = 'personality_mood'
    ) as n_ob_personality_mood,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and organizing_theme = 'cognitive'
    ) as n_ob_cognitive,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and organizing_theme = 'skill'
    ) as n_ob_skill,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and organizing_theme = 'family'
    ) as n_ob_family,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and organizing_theme = 'socio_economic'
    ) as n_ob_socio_economic,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and organizing_theme = 'treatment'
    ) as n_ob_treatment,
    -- organising themes: facilitators
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and organizing_theme = 'personality'
    ) as n_fa_personality,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and organizing_theme = 'cognitive'
    ) as n_fa_cognitive,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and organizing_theme = 'relapse_skills'
    ) as n_fa_relapse_skills,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and organizing_theme = 'family'
    ) as n_fa_family,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and organizing_theme = 'social'
    ) as n_fa_social,
    count(*) filter (
        where severity >= 1 and direction = 'facilitator' and organizing_theme = 'treatment'
    ) as n_fa_treatment,
    -- socioecological levels (obstacles only: where the barriers sit)
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and ecological_level = 'individual'
    ) as n_ob_individual,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and ecological_level = 'interpersonal'
    ) as n_ob_interpersonal,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and ecological_level = 'organisational'
    ) as n_ob_organisational,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and ecological_level = 'community'
    ) as n_ob_community,
    count(*) filter (
        where severity >= 1 and direction = 'obstacle' and ecological_level = 'policy'
    ) as n_ob_policy
from present
group by patient_id, clinic_id, assessment_date
