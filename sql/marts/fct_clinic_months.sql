-- Grain: one row per clinic and calendar month, from the first admission month to as_of's.
-- Macro parameters: gap_days, as_of.
--   n_in_treatment   episodes in treatment on any day of the month;
--   n_admissions     episodes starting in the month;
--   n_exits_*        closed episodes whose last covered day falls in the month, by end status;
--   n_evaluable_90 / n_retained_90 (and _365) for the month's admission cohort: episodes whose
--                    day 90 (365) is on or before as_of, and of those, still in treatment then.
create or replace macro fct_clinic_months(gap_days, as_of) as table
with episodes as (
    select
        *,
        start_date + duration_days - 1 as observed_end_date
    from fct_episodes(gap_days, as_of)
),

clinic_months as (
    select
        clinic_id,
        unnest(
            range(
                date_trunc('month', min(start_date)),
                date_trunc('month', as_of::date) + interval 1 month,
                interval 1 month
            )
        )::date as month_start
    from episodes
    group by clinic_id
),

in_treatment as (
    select
        clinic_months.clinic_id,
        clinic_months.month_start,
        count(episodes.patient_id) as n_in_treatment
    from clinic_months
    left join episodes
        on
            clinic_months.clinic_id = episodes.clinic_id
            and episodes.start_date <= last_day(clinic_months.month_start)
            and clinic_months.month_start <= episodes.observed_end_date
    group by all
),

admissions as (
    select
        clinic_id,
        date_trunc('month', start_date)::date as month_start,
        count(*) as n_admissions,
        count(*) filter (where start_date + 89 <= as_of::date) as n_evaluable_90,
        count(*) filter (
            where start_date + 89 <= as_of::date and duration_days >= 90
        ) as n_retained_90,
        count(*) filter (where start_date + 364 <= as_of::date) as n_evaluable_365,
        count(*) filter (
            where start_date + 364 <= as_of::date and duration_days >= 365
        ) as n_retained_365
    from episodes
    group by all
),

exits as (
    select
        clinic_id,
        date_trunc('month', end_date)::date as month_start,
        count(*) as n_exits,
        count(*) filter (where end_status = 'completed') as n_exits_completed,
        count(*) filter (where end_status = 'dropped_out') as n_exits_dropped_out,
        count(*) filter (
            where end_status = 'dropped_out_no_record'
        ) as n_exits_dropped_out_no_record,
        count(*) filter (
            where end_status = 'discharged_by_clinic'
        ) as n_exits_discharged_by_clinic,
        count(*) filter (where end_status = 'transferred') as n_exits_transferred,
        count(*) filter (where end_status = 'incarcerated') as n_exits_incarcerated,
        count(*) filter (where end_status = 'died') as n_exits_died,
        count(*) filter (where end_status = 'other') as n_exits_other
    from episodes
    where not is_open
    group by all
)

select
    in_treatment.clinic_id,
    in_treatment.month_start,
    in_treatment.n_in_treatment,
    coalesce(admissions.n_admissions, 0) as n_admissions,
    coalesce(exits.n_exits, 0) as n_exits,
    coalesce(exits.n_exits_completed, 0) as n_exits_completed,
    coalesce(exits.n_exits_dropped_out, 0) as n_exits_dropped_out,
    coalesce(exits.n_exits_dropped_out_no_record, 0) as n_exits_dropped_out_no_record,
    coalesce(exits.n_exits_discharged_by_clinic, 0) as n_exits_discharged_by_clinic,
    coalesce(exits.n_exits_transferred, 0) as n_exits_transferred,
    coalesce(exits.n_exits_incarcerated, 0) as n_exits_incarcerated,
    coalesce(exits.n_exits_died, 0) as n_exits_died,
    coalesce(exits.n_exits_other, 0) as n_exits_other,
    coalesce(admissions.n_evaluable_90, 0) as n_evaluable_90,
    coalesce(admissions.n_retained_90, 0) as n_retained_90,
    coalesce(admissions.n_evaluable_365, 0) as n_evaluable_365,
    coalesce(admissions.n_retained_365, 0) as n_retained_365
from in_treatment
left join admissions
    on
        in_treatment.clinic_id = admissions.clinic_id
        and in_treatment.month_start = admissions.month_start
left join exits
    on
        in_treatment.clinic_id = exits.clinic_id
        and in_treatment.month_start = exits.month_start
