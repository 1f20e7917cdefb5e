-- Grain: one row per treatment episode (patient, clinic, episode_seq), from attendance alone.
-- Macro parameters: gap_days, as_of. The rules are those of int_episode_visits.sql; this is
-- the fast form for whole-store scans, with one sort of the visits and only cumulative
-- (streaming) windows on it:
--   coverage_so_far  the latest covered day of this and all earlier visits;
--   a visit ends an episode when the next visit comes more than G uncovered days after
--   coverage_so_far (or there is no next visit). The end rows are few: each episode's start
--   is read off the previous end row (its next visit), or the partition's first visit.
create or replace macro int_episode_spans(gap_days, as_of) as table
with visits as (
    select
        patient_id,
        clinic_id,
        visit_date,
        medication,
        least(visit_date + take_home_days, as_of::date) as cover_end_date
    from stg_dosing_visits
    where visit_date <= as_of::date
),

scanned as (
    select
        patient_id,
        clinic_id,
        visit_date,
        max(cover_end_date) over cumulative as coverage_so_far,
        lead(visit_date) over ordered as next_visit_date,
        lead(medication) over ordered as next_medication,
        row_number() over ordered as row_no,
        first_value(visit_date) over cumulative as first_visit_date,
        first_value(medication) over cumulative as first_medication
    from visits
    window
        ordered as (partition by patient_id, clinic_id order by visit_date),
        cumulative as (
            partition by patient_id, clinic_id
            order by visit_date
            rows between unbounded preceding and current row
        )
),

episode_ends as (
    select *
    from scanned
    where next_visit_date is null or next_visit_date - coverage_so_far - 1 > gap_days
),

spans as (
    select
        patient_id,
        clinic_id,
        row_number() over previous_end as episode_seq,
        coalesce(lag(next_visit_date) over previous_end, first_visit_date) as start_date,
        coverage_so_far as end_date,
        visit_date as last_visit_date,
        row_no - coalesce(lag(row_no) over previous_end, 0) as n_visits,
        coalesce(lag(next_medication) over previous_end, first_medication) as first_medication
    from episode_ends
    window previous_end as (partition by patient_id, clinic_id order by visit_date)
)

select
    *,
    as_of::date - end_date <= gap_days as is_open
from spans
