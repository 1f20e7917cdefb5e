-- Grain: one row per dose dispensed or administered (as imported; duplicates were quarantined).
-- Only renames and casts: take-home days default to 0; a visit covers its own day plus them.
create or replace view stg_dosing_visits as
with source as (
    select * from dosing_visits
)

select
    patient_id,
    clinic_id,
    visit_date,
    visit_time,
    medication,
    dose_mg,
    is_supervised,
    coalesce(take_home_days, 0) as take_home_days,
    coalesce(take_home_days, 0) > 0 as is_take_home
from source
