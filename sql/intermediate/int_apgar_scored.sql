-- Grain: one row per Family APGAR administration: total 0-10 and its category.
-- Rule: the total needs all 5 items (missing stays missing). Categories after Smilkstein:
-- 7-10 functional, 4-6 moderate dysfunction, 0-3 severe dysfunction.
create or replace view int_apgar_scored as
with responses as (
    select * from apgar_responses
),

scored as (
    select
        patient_id,
        clinic_id,
        assessment_date,
        adaptation + partnership + growth + affection + resolve as apgar_total
    from responses
)

select
    *,
    case
        when apgar_total >= 7 then 'functional'
        when apgar_total >= 4 then 'moderate_dysfunction'
        when apgar_total >= 0 then 'severe_dysfunction'
    end as apgar_category
from scored
