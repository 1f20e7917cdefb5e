-- Grain: one row per treatment episode, with its outcome. Macro parameters: gap_days, as_of.
-- episode_no counts a patient's episodes at any clinic in order of start (1 = first treatment
-- seen in the data). End status comes from a discharge record dated between the last dosing
-- visit and G days after the last covered day (the earliest such record); none means
-- 'dropped_out_no_record'. An open episode (last covered day within G days of as_of) is censored
-- with duration as_of - start + 1, whatever records follow.
-- Outcome codings:
--   event_observed   any_exit: every end of an episode is an event (1), open episodes 0;
--   dropout_status   dropout with competing events, for cumulative incidence and Fine-Gray:
--                    0 censored, 1 dropout (dropped out with or without a record, discharged by
--                    the clinic, other), 2 competing (completed, transferred, incarcerated, died).
create or replace macro fct_episodes(gap_days, as_of) as table
with spans as (
    select * from int_episode_spans(gap_days, as_of)
),

discharges_before_cutoff as (
    select * from discharges where discharge_date <= as_of::date
),

matched_discharges as (
    select
        spans.patient_id,
        spans.clinic_id,
        spans.episode_seq,
        arg_min(
            discharges_before_cutoff.reason_code, discharges_before_cutoff.discharge_date
        ) as reason_code,
        min(discharges_before_cutoff.discharge_date) as discharge_date
    from spans
    inner join discharges_before_cutoff
        on
            spans.patient_id = discharges_before_cutoff.patient_id
            and spans.clinic_id = discharges_before_cutoff.clinic_id
            and discharges_before_cutoff.discharge_date
            between spans.last_visit_date and spans.end_date + gap_days
    where not spans.is_open
    group by spans.patient_id, spans.clinic_id, spans.episode_seq
),

admissions_matched as (
    -- the admission record nearest the episode start at the same clinic (within G days)
    select
        spans.patient_id,
        spans.clinic_id,
        spans.episode_seq,
        arg_min(
            admissions.modality, abs(admissions.admission_date - spans.start_date)
        ) as modality,
        arg_min(
            admissions.referral_source, abs(admissions.admission_date - spans.start_date)
        ) as referral_source
    from spans
    inner join admissions
        on
            spans.patient_id = admissions.patient_id
            and spans.clinic_id = admissions.clinic_id
            and admissions.admission_date
            between spans.start_date - gap_days and spans.end_date
    group by spans.patient_id, spans.clinic_id, spans.episode_seq
),

statused as (
    select
        spans.*,
        matched_discharges.discharge_date,
        coalesce(
            admissions_matched.modality,
            case spans.first_medication
                when 'diamorphine' then 'HAT'
                when 'methadone' then 'MMT'
                else 'BMT'
            end
        ) as modality,
        admissions_matched.referral_source,
        case
            when spans.is_open then 'censored'
            else coalesce(matched_discharges.reason_code, 'dropped_out_no_record')
        end as end_status
    from spans
    left join matched_discharges
        on
            spans.patient_id = matched_discharges.patient_id
            and spans.clinic_id = matched_discharges.clinic_id
            and spans.episode_seq = matched_discharges.episode_seq
    left join admissions_matched
        on
            spans.patient_id = admissions_matched.patient_id
            and spans.clinic_id = admissions_matched.clinic_id
            and spans.episode_seq = admissions_matched.episode_seq
)

select
    patient_id,
    clinic_id,
    row_number() over (
        partition by patient_id order by start_date, clinic_id
    )::integer as episode_no,
    episode_seq::integer as clinic_episode_no,
    start_date,
    end_date,
    last_visit_date,
    n_visits,
    case
        when is_open then as_of::date - start_date + 1
        else end_date - start_date + 1
    end::integer as duration_days,
    is_open,
    (not is_open)::integer as event_observed,
    end_status,
    case
        when is_open then 0
        when end_status in ('completed', 'transferred', 'incarcerated', 'died') then 2
        else 1
    end as dropout_status,
    discharge_date,
    modality,
    referral_source
from statused
