-- One row per dated table: first and last date and row count, within the viewer's scope.
-- Union branches take the first branch's column names:
-- noqa: disable=AL03
select
    'admissions' as table_name,
    min(admission_date) as first_date,
    max(admission_date) as last_date,
    count(*) as n_rows
from admissions where list_contains($scope_clinic_ids, clinic_id)
union all
select
    'discharges',
    min(discharge_date),
    max(discharge_date),
    count(*)
from discharges where list_contains($scope_clinic_ids, clinic_id)
union all
select
    'dosing_visits',
    min(visit_date),
    max(visit_date),
    count(*)
from dosing_visits where list_contains($scope_clinic_ids, clinic_id)
union all
select
    'urine_screens',
    min(screen_date),
    max(screen_date),
    count(*)
from urine_screens where list_contains($scope_clinic_ids, clinic_id)
union all
select
    'mspss_responses',
    min(assessment_date),
    max(assessment_date),
    count(*)
from mspss_responses where list_contains($scope_clinic_ids, clinic_id)
union all
select
    'outcome_profiles',
    min(assessment_date),
    max(assessment_date),
    count(*)
from outcome_profiles where list_contains($scope_clinic_ids, clinic_id)
