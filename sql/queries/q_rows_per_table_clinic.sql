-- One row per clinic in the viewer's scope: row counts of every clinic-level table.
-- Union branches take the first branch's column names:
-- noqa: disable=AL03
with scoped_clinics as (
    select
        clinic_id,
        clinic_name
    from clinics
    where list_contains($scope_clinic_ids, clinic_id)
),

counts as (
    select
        clinic_id,
        'admissions' as table_name,
        count(*) as n_rows
    from admissions group by 1
    union all
    select
        clinic_id,
        'discharges',
        count(*)
    from discharges group by 1
    union all
    select
        clinic_id,
        'dosing_visits',
        count(*)
    from dosing_visits group by 1
    union all
    select
        clinic_id,
        'urine_screens',
        count(*)
    from urine_screens group by 1
    union all
    select
        clinic_id,
        'mspss_responses',
        count(*)
    from mspss_responses group by 1
    union all
    select
        clinic_id,
        'apgar_responses',
        count(*)
    from apgar_responses group by 1
    union all
    select
        clinic_id,
        'checklist_responses',
        count(*)
    from checklist_responses group by 1
    union all
    select
        clinic_id,
        'outcome_profiles',
        count(*)
    from outcome_profiles group by 1
    union all
    select
        clinic_id,
        'family_education',
        count(*)
    from family_education group by 1
    union all
    select
        clinic_id,
        'patients',
        count(distinct patient_id)
    from admissions group by 1
)

pivot (
    select
        scoped_clinics.clinic_id,
        scoped_clinics.clinic_name,
        counts.table_name,
        counts.n_rows
    from scoped_clinics
    left join counts on scoped_clinics.clinic_id = counts.clinic_id
)
on table_name in (
    'patients', 'admissions', 'discharges', 'dosing_visits', 'urine_screens',
    'mspss_responses', 'apgar_responses', 'checklist_responses', 'outcome_profiles',
    'family_education'
)
using coalesce(sum(n_rows), 0)
order by clinic_id  -- noqa: AM06
