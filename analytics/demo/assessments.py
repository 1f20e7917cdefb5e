"""Dated assessments: MSPSS, Family APGAR, the 48-factor checklist and TOP outcome profiles.

Schedule: at intake (the admission day) and about every 90 days (+-10) while in treatment.
The intake MSPSS and checklist are those the true hazard's covariates were computed from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.demo import _random
from analytics.demo.cohort import Plan
from analytics.demo.instruments import (
    APGAR_ITEMS,
    MSPSS_ITEMS,
    TOP_ITEMS,
    apgar_items,
    checklist_severities,
    factor_codes,
    mspss_items,
    top_items,
)
from analytics.demo.records import CLINIC_DTYPE, as_dates, categorical, patient_dtype

ASSESSMENT_TABLES = (
    "mspss_responses",
    "apgar_responses",
    "checklist_responses",
    "outcome_profiles",
)


def _schedule(plan: Plan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Episode row, sequence number (0 = intake) and day of every assessment."""
    duration = plan.ep["duration_days"]
    n_assess = 1 + np.maximum(0, (duration - 11) // 90)
    g = np.repeat(np.arange(plan.n_episodes), n_assess)
    k = np.arange(len(g)) - np.repeat(np.cumsum(n_assess) - n_assess, n_assess)
    day = np.where(k > 0, 90 * k + rng.integers(-10, 11, len(g)), 0)
    return g, k, day


def _keys(plan: Plan, g: np.ndarray, day: np.ndarray) -> dict[str, object]:
    ep = plan.ep
    return {
        "patient_id": categorical(ep["patient"][g], patient_dtype(len(plan.patients))),
        "clinic_id": categorical(ep["clinic"][g], CLINIC_DTYPE),
        "assessment_date": as_dates(ep["start_day"][g] + day),
    }


def _items_frame(keys: dict, names: tuple[str, ...], items: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(keys)
    for j, name in enumerate(names):
        frame[name] = pd.array(items[:, j], dtype="Int64")
    return frame


def _checklist_frame(
    plan: Plan, g: np.ndarray, day: np.ndarray, severities: np.ndarray
) -> pd.DataFrame:
    n, n_factors = severities.shape
    frame = pd.DataFrame(_keys(plan, np.repeat(g, n_factors), np.repeat(day, n_factors)))
    codes = pd.CategoricalDtype(factor_codes())
    frame["factor_code"] = categorical(np.tile(np.arange(n_factors, dtype=np.int8), n), codes)
    frame["severity"] = severities.reshape(-1)
    return frame


def assessment_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """The four assessment tables (one row per administration; checklist: per factor)."""
    rng = _random.stream_rng(plan.seed, _random.ASSESSMENTS)
    ep = plan.ep
    g, k, day = _schedule(plan, rng)
    latent = plan.patients.latent[ep["patient"][g]]
    educated = ((ep["fe_day"][g] >= 0) & (ep["fe_day"][g] <= day)).astype(float)
    near = (ep["cause"][g] == 1) & (ep["duration_days"][g] - 1 - day <= 60)
    intake = k == 0
    mspss = mspss_items(rng, latent, day, educated, p_missing=0.01, family_items_complete=False)
    mspss[intake] = plan.mspss_intake[g[intake]]
    checklist = checklist_severities(rng, latent, 2.0 * ep["clinic_log_hr"][g], day)
    checklist[intake] = plan.checklist_intake[g[intake]]
    apgar = apgar_items(rng, latent, day, educated)
    patient = ep["patient"][g]
    top = top_items(
        rng, latent, plan.patients.drug_use[patient], plan.patients.injector[patient], day, near
    )
    keys = _keys(plan, g, day)
    return {
        "mspss_responses": _items_frame(keys, MSPSS_ITEMS, mspss),
        "apgar_responses": _items_frame(keys, APGAR_ITEMS, apgar),
        "checklist_responses": _checklist_frame(plan, g, day, checklist),
        "outcome_profiles": _items_frame(keys, TOP_ITEMS, top),
    }
