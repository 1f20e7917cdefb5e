"""Patients and their true treatment episodes: the plan every demo table is expanded from.

Episodes are drawn in rounds (first admissions, then re-admissions), each round vectorised over
all patients who start an episode in it; there is no loop per patient or per row.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from analytics.demo import _random
from analytics.demo.instruments import (
    MSPSS_FAMILY_ITEMS,
    checklist_severities,
    external_obstacle_columns,
    factor_codes,
    mspss_items,
)
from analytics.demo.model import (
    CLINICS,
    DROPOUT_REASONS,
    P_DISCHARGE_RECORD,
    P_READMISSION,
    linear_predictor,
    sample_competing_times,
    sample_dropout_times,
)

EPOCH = datetime.date(1970, 1, 1)
WINDOW_DAYS = 5 * 365  # admissions over the 5 years before as_of
MAX_EPISODES = 10
NEVER = np.inf

#: Discharge reason codes, in the store's order; indices are used in the plan arrays.
REASON_CODES = (
    "completed", "dropped_out", "discharged_by_clinic", "transferred", "incarcerated", "died", "other",
)  # fmt: skip
_CAUSE_REASON = {2: 0, 3: 3, 4: 4, 5: 5}  # exit cause code -> reason index (dropout drawn)
CHANNELS = ("mobile_app", "web", "face_to_face")

_CLINIC_WEIGHT = np.array([c.weight for c in CLINICS]) / sum(c.weight for c in CLINICS)
_MODALITY_SHARES = np.array([c.modality_shares for c in CLINICS])
_CLINIC_LOG_HR = np.array([c.clinic_log_hr for c in CLINICS])


def day_number(date: datetime.date) -> int:
    """Days since 1970-01-01."""
    return (date - EPOCH).days


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


@dataclass
class Patients:
    """Patient-level arrays (index = patient number - 1)."""

    sex: np.ndarray  # 0 F, 1 M, 2 X
    birth_year: np.ndarray
    latent: np.ndarray  # (n, 3): family support, adversity, vulnerability
    drug_use: np.ndarray  # propensity to use on top (screens, TOP)
    injector: np.ndarray

    def __len__(self) -> int:
        return len(self.sex)


@dataclass
class Plan:
    """Patients, episodes (dict of equal-length arrays, sorted by patient and start) and the
    intake instruments the hazard covariates are computed from."""

    seed: int
    as_of_day: int
    patients: Patients
    ep: dict[str, np.ndarray]
    mspss_intake: np.ndarray  # (n_episodes, 12)
    checklist_intake: np.ndarray  # (n_episodes, 48)

    @property
    def n_episodes(self) -> int:
        return len(self.ep["patient"])


def _draw_patients(
    rng: np.random.Generator, n: int, as_of_day: int
) -> tuple[Patients, np.ndarray, np.ndarray]:
    """Patients, their first clinic and their first admission day."""
    clinic = rng.choice(len(CLINICS), n, p=_CLINIC_WEIGHT)
    mean_age = np.array([c.mean_age for c in CLINICS])[clinic]
    age = np.clip(np.rint(rng.normal(mean_age, 9.0)), 20, 65).astype(np.int64)
    first_start = as_of_day - rng.integers(0, WINDOW_DAYS, n)
    family = rng.normal(0.0, 1.0, n)
    shift = np.array([c.adversity_shift for c in CLINICS])[clinic]
    adversity = shift - 0.3 * family + rng.normal(0.0, 0.9, n)
    vulnerability = 0.3 * adversity + rng.normal(0.0, 0.95, n)
    patients = Patients(
        sex=rng.choice(3, n, p=[0.27, 0.71, 0.02]).astype(np.int8),
        birth_year=(year_of(first_start) - age).astype(np.int32),
        latent=np.column_stack([family, adversity, vulnerability]),
        drug_use=0.3 * adversity + rng.normal(0.0, 1.0, n),
        injector=rng.random(n) < np.where(clinic == 0, 0.9, 0.55),
    )
    return patients, clinic, first_start


def _draw_treatment(rng: np.random.Generator, clinic: np.ndarray) -> dict[str, np.ndarray]:
    """Modality, medication plan and dose of new episodes at the given clinics."""
    n = len(clinic)
    cum = np.cumsum(_MODALITY_SHARES[clinic], axis=1)
    modality = (rng.random(n)[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int8)
    mean_dose = np.array([c.mean_dose_mg for c in CLINICS])[clinic]
    sd_dose = np.where(mean_dose < 60, 14.0, 22.0)
    mmt = np.clip(np.rint(rng.normal(mean_dose, sd_dose) / 5) * 5, 20, 150)
    bmt = np.clip(np.rint(rng.normal(16.0, 6.0, n) / 2) * 2, 4, 32)
    hat = np.clip(np.rint(rng.normal(300.0, 80.0, n) / 10) * 10, 100, 450)
    topup = np.clip(np.rint(rng.normal(30.0, 12.0, n) / 5) * 5, 10, 60) * (rng.random(n) < 0.5)
    depot_share = np.array([c.depot_share for c in CLINICS])[clinic]
    is_depot = (modality == 1) & (rng.random(n) < depot_share)
    return {
        "modality": modality,
        "dose_mg": np.choose(modality, [mmt, bmt, hat]),
        "topup_mg": np.where(modality == 2, topup, 0.0),
        "is_depot": is_depot,
        "depot_start": rng.integers(7, 29, n),
    }


def _draw_take_home_plan(
    rng: np.random.Generator, clinic: np.ndarray, tr: dict
) -> dict[str, np.ndarray]:
    """Planned day of the first take-home dose (inf if never) and the later take-home days."""
    n = len(clinic)
    share = np.array([c.take_home_share for c in CLINICS])[clinic]
    eligible = (tr["modality"] < 2) & ~tr["is_depot"] & (rng.random(n) < share)
    mmt_day = 98 + np.floor(rng.exponential(45.0, n))
    bmt_day = 42 + np.floor(rng.exponential(30.0, n))
    day = np.where(tr["modality"] == 0, mmt_day, bmt_day)
    k_mmt = rng.choice([1, 2, 3, 4, 6], n, p=[0.1, 0.25, 0.2, 0.1, 0.35])
    k_bmt = rng.choice([2, 3, 6], n, p=[0.3, 0.3, 0.4])
    return {
        "th_plan": np.where(eligible, day, NEVER),
        "th_k": np.where(tr["modality"] == 0, k_mmt, k_bmt).astype(np.int64),
    }


def _draw_family_education(
    rng: np.random.Generator, clinic: np.ndarray, mspss_family: np.ndarray
) -> dict:
    n = len(clinic)
    share = np.array([c.family_education_share for c in CLINICS])[clinic]
    share = np.minimum(share * np.where(mspss_family < 4.0, 1.5, 0.8), 0.9)
    offered = rng.random(n) < share
    return {
        "fe_plan": np.where(offered, 7 + np.floor(rng.exponential(25.0, n)), NEVER),
        "fe_channel": rng.choice(3, n, p=[0.45, 0.25, 0.30]).astype(np.int8),
    }


def _practice(clinic: np.ndarray) -> np.ndarray:
    """Latent practice problems of a clinic (drives treatment obstacles/facilitators)."""
    return 2.0 * _CLINIC_LOG_HR[clinic]


def _draw_episodes(
    rng: np.random.Generator,
    patients: Patients,
    pidx: np.ndarray,
    clinic: np.ndarray,
    start: np.ndarray,
    n_prior: int,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Covariates and plans of new episodes; also their intake MSPSS and checklist answers."""
    n = len(pidx)
    tr = _draw_treatment(rng, clinic)
    latent = patients.latent[pidx]
    zeros = np.zeros(n)
    mspss = mspss_items(rng, latent, zeros, zeros, p_missing=0.005, family_items_complete=True)
    checklist = checklist_severities(rng, latent, _practice(clinic), zeros)
    present = checklist > 0
    codes = factor_codes()
    ep = {
        "patient": pidx,
        "clinic": clinic.astype(np.int8),
        "start_day": start.astype(np.int64),
        "episode_number": np.full(n, n_prior + 1, np.int16),
        **tr,
        **_draw_take_home_plan(rng, clinic, tr),
        "age_years": (year_of(start) - patients.birth_year[pidx]).astype(np.int64),
        "is_female": (patients.sex[pidx] == 0).astype(np.int8),
        "mspss_family": mspss[:, list(MSPSS_FAMILY_ITEMS)].mean(axis=1),
        "n_external_obstacles": present[:, external_obstacle_columns()].sum(axis=1),
        "has_ob19": present[:, codes.index("OB19")].astype(np.int8),
        "has_ob22": present[:, codes.index("OB22")].astype(np.int8),
        "n_prior_episodes": np.full(n, n_prior, np.int64),
        "clinic_log_hr": _CLINIC_LOG_HR[clinic],
        "miss_p": 1.4 * rng.beta(2.0, 28.0, n),  # mean 9% of supervised days
        "time_slot": rng.integers(0, 85, n),
    }
    is_mmt = ep["modality"] == 0
    ep["dose_60_79"] = (is_mmt & (ep["dose_mg"] >= 60) & (ep["dose_mg"] < 80)).astype(np.int8)
    ep["dose_80_plus"] = (is_mmt & (ep["dose_mg"] >= 80)).astype(np.int8)
    ep["modality_bmt"] = (ep["modality"] == 1).astype(np.int8)
    ep["modality_hat"] = (ep["modality"] == 2).astype(np.int8)
    ep.update(_draw_family_education(rng, clinic, ep["mspss_family"]))
    return ep, mspss, checklist


def _draw_exits(rng: np.random.Generator, ep: dict, patients: Patients, as_of_day: int) -> None:
    """Add duration, exit cause and reason, discharge record and switch days (in place)."""
    n = len(ep["patient"])
    lp = linear_predictor(ep) + ep["clinic_log_hr"]
    t_drop = sample_dropout_times(rng, lp, ep["th_plan"], ep["fe_plan"])
    is_male = patients.sex[ep["patient"]] == 1
    times = np.column_stack([t_drop, sample_competing_times(rng, ep["modality"], is_male)])
    cause = times.argmin(axis=1) + 1
    days_event = np.maximum(np.ceil(times.min(axis=1)), 1).astype(np.int64)
    follow_up = as_of_day - ep["start_day"] + 1
    is_open = days_event > follow_up
    ep["duration_days"] = np.where(is_open, follow_up, days_event)
    ep["cause"] = np.where(is_open, 0, cause).astype(np.int8)
    cum = np.cumsum([p for _, p in DROPOUT_REASONS])
    dropout_reason = np.array([REASON_CODES.index(r) for r, _ in DROPOUT_REASONS])
    drawn = dropout_reason[
        np.minimum((rng.random(n)[:, None] >= cum[:-1]).sum(axis=1), len(cum) - 1)
    ]
    reason = drawn.copy()
    for cause_code, reason_index in _CAUSE_REASON.items():
        reason[ep["cause"] == cause_code] = reason_index
    ep["reason"] = np.where(is_open, -1, reason).astype(np.int8)
    p_record = np.array([P_DISCHARGE_RECORD[r] for r in REASON_CODES])[reason]
    ep["has_record"] = ~is_open & (rng.random(n) < p_record)
    offset = np.where(reason == 0, rng.integers(0, 3, n), rng.integers(0, 8, n))
    end_day = ep["start_day"] + ep["duration_days"] - 1
    ep["discharge_day"] = np.minimum(end_day + offset, as_of_day)
    for key, plan in (("th_day", "th_plan"), ("fe_day", "fe_plan")):
        ep[key] = np.where(ep[plan] < ep["duration_days"], ep[plan], -1).astype(np.int64)


def _next_admissions(
    rng: np.random.Generator, ep: dict, as_of_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patients re-admitted after these episodes: patient, clinic and start day."""
    n = len(ep["patient"])
    reason = ep["reason"]
    p_back = np.array([P_READMISSION[r] for r in REASON_CODES] + [0.0])[reason]  # -1 = open
    back = rng.random(n) < p_back
    gap = 9 + np.floor(rng.lognormal(np.log(130.0), 1.0, n))
    gap = np.where(
        reason == REASON_CODES.index("incarcerated"),
        30 + np.floor(rng.lognormal(np.log(240.0), 0.6, n)),
        gap,
    )
    gap = np.where(reason == REASON_CODES.index("transferred"), rng.integers(9, 40, n), gap)
    gap = np.where(
        reason == REASON_CODES.index("completed"),
        30 + np.floor(rng.lognormal(np.log(300.0), 0.8, n)),
        gap,
    )
    start = ep["start_day"] + ep["duration_days"] - 1 + gap.astype(np.int64)
    back &= start <= as_of_day
    moves = (reason == REASON_CODES.index("transferred")) | (rng.random(n) < 0.2)
    other = rng.choice(len(CLINICS), n, p=_CLINIC_WEIGHT)
    clash = other == ep["clinic"]
    other = np.where(clash, (ep["clinic"] + rng.integers(1, len(CLINICS), n)) % len(CLINICS), other)
    clinic = np.where(moves, other, ep["clinic"])
    return ep["patient"][back], clinic[back], start[back]


def plan_cohort(n_patients: int, seed: int, as_of: datetime.date) -> Plan:
    """Draw patients and all their episodes up to ``as_of``.

    Returns
    -------
    Plan
        Episodes sorted by patient and start day.
    """
    as_of_day = day_number(as_of)
    patients, clinic, start = _draw_patients(
        _random.stream_rng(seed, _random.PATIENTS), n_patients, as_of_day
    )
    pidx = np.arange(n_patients)
    parts, mspss_parts, checklist_parts = [], [], []
    for round_no in range(MAX_EPISODES):
        if len(pidx) == 0:
            break
        rng = _random.stream_rng(seed, _random.EPISODES + 16 * round_no)
        ep, mspss, checklist = _draw_episodes(rng, patients, pidx, clinic, start, round_no)
        _draw_exits(rng, ep, patients, as_of_day)
        parts.append(ep)
        mspss_parts.append(mspss)
        checklist_parts.append(checklist)
        pidx, clinic, start = _next_admissions(rng, ep, as_of_day)
    ep = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((ep["start_day"], ep["patient"]))
    ep = {key: value[order] for key, value in ep.items()}
    mspss = np.concatenate(mspss_parts)[order]
    checklist = np.concatenate(checklist_parts)[order]
    return Plan(seed, as_of_day, patients, ep, mspss, checklist)
