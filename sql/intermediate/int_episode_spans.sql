-- Grain: one row per treatment episode (patient, clinic, episode_seq), from attendance alone.
-- Macro parameters: gap_days, as_of. The rules are those of int_episode_visits.sql; this is
-- the fast form for whole-store scans: one sort of the visits with cheap windows only (no
-- running maximum over every row, the costly part of the per-visit form).
--   A visit is a candidate episode end when the next visit comes more than G uncovered days
--   after its own coverage. Only an earlier take-home reaching further can bridge that gap, so
--   each (rare) candidate is checked against the earlier take-home visits of its patient and
--   clinic; the survivors end episodes. Each episode's start is read off the previous end (its
--   next visit), or the partition's first visit. The medication rides along as a small code.
create or replace macro int_episode_spans(gap_days, as_of) as table
with visits as (
    select
        patient_id,
        clinic_id,
        visit_date,
        -- a small code rather than the text: it rides through the one big sort
        case medication
            when 'methadone' then 1
            when 'buprenorphine' then 2
            when 'buprenorphine_depot' then 3
            when 'diamorphine' then 4
        end::utinyint as medication_code,
        take_home_days,
        least(visit_date + take_home_days, as_of::date) as cover_end_date
    from stg_dosing_visits
    where visit_date <= as_of::date
),

scanned as (
    select
        patient_id,
        clinic_id,
        visit_date,
        cover_end_date,
        medication_code,
        lead(visit_date) over ordered as next_visit_date,
        lead(medication_code) over ordered as next_medication_code,
        row_number() over ordered as row_no
    from visits
    window ordered as (partition by patient_id, clinic_id order by visit_date)
),

candidate_ends as (
    -- a later same-day visit has next_visit_date = visit_date: never a candidate, so a
    -- candidate is the last visit of its day and every earlier row has an earlier or equal date.
    -- The first visit of each patient and clinic comes along: it starts the first episode.
    select
        *,
        min(visit_date) over (partition by patient_id, clinic_id) as first_visit_date,
        arg_min(medication_code, row_no) over (
            partition by patient_id, clinic_id
        ) as first_medication_code
    from scanned
    where
        row_no = 1
        or next_visit_date is null
        or next_visit_date - cover_end_date - 1 > gap_days
),

earlier_cover as (
    select
        candidate_ends.patient_id,
        candidate_ends.clinic_id,
        candidate_ends.row_no,
        max(take_homes.cover_end_date) as earlier_cover_end_date
    from candidate_ends
    inner join visits as take_homes
        on
            candidate_ends.patient_id = take_homes.patient_id
            and candidate_ends.clinic_id = take_homes.clinic_id
            and take_homes.take_home_days > 0
            and candidate_ends.visit_date >= take_homes.visit_date
            and candidate_ends.cover_end_date < take_homes.cover_end_date
    group by candidate_ends.patient_id, candidate_ends.clinic_id, candidate_ends.row_no
),

episode_ends as (
    select
        candidate_ends.*,
        greatest(
            candidate_ends.cover_end_date,
            coalesce(earlier_cover.earlier_cover_end_date, candidate_ends.cover_end_date)
        ) as coverage_so_far
    from candidate_ends
    left join earlier_cover
        on
            candidate_ends.patient_id = earlier_cover.patient_id
            and candidate_ends.clinic_id = earlier_cover.clinic_id
            and candidate_ends.row_no = earlier_cover.row_no
),

confirmed_ends as (
    select *
    from episode_ends
    where next_visit_date is null or next_visit_date - coverage_so_far - 1 > gap_days
),

spans_without_medication as (
    select
        patient_id,
        clinic_id,
        row_number() over previous_end as episode_seq,
        coalesce(lag(next_visit_date) over previous_end, first_visit_date) as start_date,
        coverage_so_far as end_date,
        visit_date as last_visit_date,
        row_no - coalesce(lag(row_no) over previous_end, 0) as n_visits,
        coalesce(lag(next_medication_code) over previous_end, first_medication_code)
            as first_medication_code
    from confirmed_ends
    window previous_end as (partition by patient_id, clinic_id order by visit_date)
),

spans as (
    -- the medication of the first visit (for the modality when no admission record matches)
    select
        * exclude (first_medication_code),
        case first_medication_code
            when 1 then 'methadone'
            when 2 then 'buprenorphine'
            when 3 then 'buprenorphine_depot'
            when 4 then 'diamorphine'
        end as first_medication
    from spans_without_medication
)

select
    *,
    as_of::date - end_date <= gap_days as is_open
from spans
