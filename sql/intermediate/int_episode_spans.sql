-- Grain: one row per treatment episode (patient, clinic, episode_seq), from attendance alone.
-- Macro parameters: gap_days, as_of. The rules are those of int_episode_visits.sql; this is
-- the fast form for whole-store scans: one sort of the visits, in which every window shares the
-- same partition and order, and then work on the (few) episode-start rows only.
--   a start row is a visit more than G uncovered days after all coverage before it;
--   an episode's end, last visit and visit count are read off the next start row (coverage,
--   date and row number just before it) or, for the last episode, off the whole partition.
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
        medication,
        max(cover_end_date) over preceding_rows as prior_cover_end_date,
        lag(visit_date) over ordered as prior_visit_date,
        row_number() over ordered as row_no,
        count(*) over whole_partition as partition_rows,
        max(cover_end_date) over whole_partition as partition_end_date,
        max(visit_date) over whole_partition as partition_last_visit_date
    from visits
    window
        ordered as (partition by patient_id, clinic_id order by visit_date),
        preceding_rows as (
            partition by patient_id, clinic_id
            order by visit_date
            rows between unbounded preceding and 1 preceding
        ),
        whole_partition as (
            partition by patient_id, clinic_id
            order by visit_date
            rows between unbounded preceding and unbounded following
        )
),

starts as (
    select *
    from scanned
    where prior_cover_end_date is null or visit_date - prior_cover_end_date - 1 > gap_days
),

spans as (
    select
        patient_id,
        clinic_id,
        row_number() over next_start as episode_seq,
        visit_date as start_date,
        coalesce(lead(prior_cover_end_date) over next_start, partition_end_date) as end_date,
        coalesce(lead(prior_visit_date) over next_start, partition_last_visit_date)
            as last_visit_date,
        coalesce(lead(row_no) over next_start, partition_rows + 1) - row_no as n_visits,
        medication as first_medication
    from starts
    window next_start as (partition by patient_id, clinic_id order by visit_date)
)

select
    *,
    as_of::date - end_date <= gap_days as is_open
from spans
