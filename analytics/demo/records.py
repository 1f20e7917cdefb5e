"""Small demo tables (clinics, patients, admissions, discharges, family education) and the
truth table, built from a cohort plan."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from analytics.demo.cohort import CHANNELS, REASON_CODES, Plan
from analytics.demo.model import (
    BASELINE_COVARIATES,
    CLINICS,
    EXIT_CAUSES,
    MODALITIES,
    linear_predictor,
)

SEXES = ("F", "M", "X")
REFERRALS = ("self", "gp", "criminal_justice", "hospital", "other")
MEDICATIONS = ("methadone", "buprenorphine", "buprenorphine_depot", "diamorphine")


def id_strings(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Vectorised ids such as 'P000123' (no Python loop per row)."""
    digits = np.strings.zfill(np.asarray(numbers).astype(np.int64).astype(str), width)
    return np.strings.add(prefix, digits).astype(object)


def id_width(n: int) -> int:
    """Digits of a pseudonymous id: 6, or more when there are a million rows or more."""
    return max(6, len(str(int(n))))


@lru_cache(maxsize=4)
def patient_dtype(n_patients: int) -> pd.CategoricalDtype:
    """Categorical dtype of patient_id shared by every table of one demo."""
    return pd.CategoricalDtype(id_strings("P", np.arange(1, n_patients + 1), id_width(n_patients)))


CLINIC_DTYPE = pd.CategoricalDtype([c.clinic_id for c in CLINICS])


def categorical(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """A categorical column from integer codes (-1 = missing)."""
    return pd.Categorical.from_codes(np.asarray(codes), dtype=dtype)


def as_dates(day_numbers: np.ndarray) -> np.ndarray:
    """Day numbers (days since 1970-01-01) as datetime64[ns]."""
    return np.asarray(day_numbers, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def clinics_table() -> pd.DataFrame:
    """Grain: one row per clinic."""
    return pd.DataFrame(
        {
            "clinic_id": [c.clinic_id for c in CLINICS],
            "clinic_name": [c.clinic_name for c in CLINICS],
            "region": [c.region for c in CLINICS],
            "offers_mmt": [c.modality_shares[0] > 0 for c in CLINICS],
            "offers_bmt": [c.modality_shares[1] > 0 for c in CLINICS],
            "offers_hat": [c.modality_shares[2] > 0 for c in CLINICS],
            "dose_policy": [c.dose_policy for c in CLINICS],
        }
    )


def patients_table(plan: Plan) -> pd.DataFrame:
    """Grain: one row per patient."""
    n = len(plan.patients)
    return pd.DataFrame(
        {
            "patient_id": id_strings("P", np.arange(1, n + 1), id_width(n)),
            "birth_year": plan.patients.birth_year.astype(np.int32),
            "sex": np.array(SEXES, dtype=object)[plan.patients.sex],
        }
    )


def admission_ids(plan: Plan) -> np.ndarray:
    """'A0000001'... in episode order (patient, start)."""
    n = plan.n_episodes
    return id_strings("A", np.arange(1, n + 1), max(7, len(str(n))))


def admissions_table(plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Grain: one row per admission (= episode start, the first dose)."""
    ep = plan.ep
    n = plan.n_episodes
    referral = rng.choice(len(REFERRALS), n, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    return pd.DataFrame(
        {
            "admission_id": admission_ids(plan),
            "patient_id": categorical(ep["patient"], patient_dtype(len(plan.patients))),
            "clinic_id": categorical(ep["clinic"], CLINIC_DTYPE),
            "admission_date": as_dates(ep["start_day"]),
            "modality": np.array(MODALITIES, dtype=object)[ep["modality"]],
            "referral_source": np.array(REFERRALS, dtype=object)[referral],
        }
    )


def discharges_table(plan: Plan) -> pd.DataFrame:
    """Grain: one row per discharge record (only some exits have one)."""
    ep = plan.ep
    rows = np.flatnonzero(ep["has_record"])
    return pd.DataFrame(
        {
            "discharge_id": id_strings(
                "D", np.arange(1, len(rows) + 1), max(7, len(str(len(rows))))
            ),
            "patient_id": categorical(ep["patient"][rows], patient_dtype(len(plan.patients))),
            "clinic_id": categorical(ep["clinic"][rows], CLINIC_DTYPE),
            "discharge_date": as_dates(ep["discharge_day"][rows]),
            "reason_code": np.array(REASON_CODES, dtype=object)[ep["reason"][rows]],
        }
    )


def family_education_table(plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Grain: one row per enrolment (at most one per episode, while the patient is in treatment).

    Sessions: a 12-session weekly programme; sessions_completed counts those done by as_of.
    """
    ep = plan.ep
    rows = np.flatnonzero(ep["fe_day"] >= 0)
    enrol = ep["start_day"][rows] + ep["fe_day"][rows]
    end = ep["start_day"][rows] + ep["duration_days"][rows] - 1
    weeks = (np.minimum(end + 30, plan.as_of_day) - enrol) // 7 + 1
    channel = ep["fe_channel"][rows]
    p_session = np.array([0.75, 0.6, 0.8])[channel]
    return pd.DataFrame(
        {
            "patient_id": categorical(ep["patient"][rows], patient_dtype(len(plan.patients))),
            "clinic_id": categorical(ep["clinic"][rows], CLINIC_DTYPE),
            "enrolment_date": as_dates(enrol),
            "channel": np.array(CHANNELS, dtype=object)[channel],
            "sessions_completed": rng.binomial(np.clip(weeks, 1, 12), p_session).astype(np.int32),
        }
    )


def truth_table(plan: Plan) -> pd.DataFrame:
    """The generator's true episodes: one row per episode.

    Columns: admission_id, patient_id, clinic_id, modality, medication, episode_number,
    start_date, end_date (last covered day; as_of when open), duration_days
    (end_date - start_date + 1), is_open, exit_cause (open, dropout, completed, transferred,
    incarcerated, died), reason_code (NA when open), has_discharge_record, discharge_date,
    event_observed (dropout), dose_mg (maintenance dose of the main medication), is_depot, every
    covariate of ``TRUE_LOG_HAZARD_RATIOS`` that is constant over the episode, the time-varying
    switch days ``take_home_start_day`` and ``family_education_day`` (days since start of the
    first take-home dose / of enrolment; NA if none while in treatment) and
    ``log_hazard_ratio`` (the fixed part of the true log hazard, clinic effect included).
    """
    ep = plan.ep
    n_pat = len(plan.patients)
    medication = np.where(ep["is_depot"], 2, ep["modality"] + (ep["modality"] == 2))
    end = ep["start_day"] + ep["duration_days"] - 1
    is_open = ep["cause"] == 0
    frame = pd.DataFrame(
        {
            "admission_id": admission_ids(plan),
            "patient_id": categorical(ep["patient"], patient_dtype(n_pat)),
            "clinic_id": categorical(ep["clinic"], CLINIC_DTYPE),
            "modality": np.array(MODALITIES, dtype=object)[ep["modality"]],
            "medication": np.array(MEDICATIONS, dtype=object)[medication],
            "episode_number": ep["episode_number"].astype(np.int32),
            "start_date": as_dates(ep["start_day"]),
            "end_date": as_dates(end),
            "duration_days": ep["duration_days"].astype(np.int64),
            "is_open": is_open,
            "exit_cause": np.array(EXIT_CAUSES, dtype=object)[ep["cause"]],
            "reason_code": pd.array(
                np.where(is_open, None, np.array(REASON_CODES, dtype=object)[ep["reason"]]),
                dtype="string",
            ),
            "has_discharge_record": ep["has_record"],
            "discharge_date": np.where(
                ep["has_record"], as_dates(ep["discharge_day"]), np.datetime64("NaT", "ns")
            ),
            "event_observed": ep["cause"] == 1,
            "dose_mg": ep["dose_mg"],
            "is_depot": ep["is_depot"],
        }
    )
    for name in (*BASELINE_COVARIATES, "clinic_log_hr"):
        frame[name] = ep[name]
    frame["take_home_start_day"] = pd.array(
        np.where(ep["th_day"] >= 0, ep["th_day"], None), dtype="Int64"
    )
    frame["family_education_day"] = pd.array(
        np.where(ep["fe_day"] >= 0, ep["fe_day"], None), dtype="Int64"
    )
    frame["log_hazard_ratio"] = linear_predictor(ep) + ep["clinic_log_hr"]
    return frame
