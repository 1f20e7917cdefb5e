-- Grain: one row per MSPSS administration, with subscale and total scores (1-7 scale means).
-- Rule: a subscale is scored only when all 4 of its items are answered; the total only when all
-- 12 are. Missing stays missing: no imputation (a clinic can see how many forms were incomplete).
create or replace view int_mspss_scored as
with responses as (
    select * from mspss_responses
),

scored as (
    select
        patient_id,
        clinic_id,
        assessment_date,
        (item_03 + item_04 + item_08 + item_11) / 4.0 as mspss_family,
        (item_06 + item_07 + item_09 + item_12) / 4.0 as mspss_friends,
        (item_01 + item_02 + item_05 + item_10) / 4.0 as mspss_significant_other,
        (
            item_01 + item_02 + item_03 + item_04 + item_05 + item_06
            + item_07 + item_08 + item_09 + item_10 + item_11 + item_12
        ) / 12.0 as mspss_total,
        12 - (
            (item_01 is null)::int + (item_02 is null)::int + (item_03 is null)::int
            + (item_04 is null)::int + (item_05 is null)::int + (item_06 is null)::int
            + (item_07 is null)::int + (item_08 is null)::int + (item_09 is null)::int
            + (item_10 is null)::int + (item_11 is null)::int + (item_12 is null)::int
        ) as n_items_answered
    from responses
)

select * from scored
