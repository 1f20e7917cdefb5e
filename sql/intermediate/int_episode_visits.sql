-- Grain: one row per dosing visit up to as_of, with its episode (episode_seq per patient and
-- clinic) and the coverage before it; int_episode_spans aggregates it, missed doses read it.
-- Macro parameters: gap_days (G) and as_of (the cut-off date), so the dashboard can change them
-- without rebuilding anything.
-- Rules (the episode contract):
--   * a visit covers its own day and its take_home_days following days; coverage past as_of is cut;
--   * visits after as_of are ignored; two visits the same day are one covered day;
--   * a new episode starts when more than G uncovered days separate a visit from all coverage
--     before it at the same clinic (a gap of exactly G days keeps the episode going);
--   * end_date is the last covered day; an episode whose end_date is within G days of as_of is
--     still open.
-- One sort by (patient, clinic, date) feeds both windows: the running maximum of coverage so far
-- and the running count of episode starts (a range frame, so same-day rows share their episode
-- whatever their order).
create or replace macro int_episode_visits(gap_days, as_of) as table
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

with_prior_coverage as (
    select
        *,
        max(cover_end_date) over (
            partition by patient_id, clinic_id
            order by visit_date
            rows between unbounded preceding and 1 preceding
        ) as prior_cover_end_date
    from visits
),

flagged as (
    select
        *,
        coalesce(visit_date - prior_cover_end_date - 1 > gap_days, true) as is_episode_start
    from with_prior_coverage
),

numbered as (
    select
        *,
        sum(is_episode_start::int) over (
            partition by patient_id, clinic_id
            order by visit_date
            range between unbounded preceding and current row
        ) as episode_seq
    from flagged
)

select * from numbered
