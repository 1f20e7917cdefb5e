"""Urine drug screens: schedule by clinic policy, results by time in treatment.

Schedules (days since the first dose, +-2 days jitter): 'standard' weekly for 12 weeks,
fortnightly to 26 weeks, then every 4 weeks; 'fortnightly'; 'monthly' (every 4 weeks). A screen
tests 'opioids', 'fentanyl', 'cocaine', 'benzodiazepines', 'cannabis', 'amphetamines' and the
prescribed medication ('methadone' for MMT and HAT with a methadone top-up, 'buprenorphine' for
BMT). Positivity falls over the first months in treatment and rises in the 8 weeks before a
dropout; screens are missed or refused more often then. The screens of the 12 weeks (MMT; 4
weeks for BMT) before the first take-home are negative for all but cannabis: take-homes are
earned by negative screens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.demo import _random
from analytics.demo.cohort import Plan
from analytics.demo.model import CLINICS
from analytics.demo.records import CLINIC_DTYPE, as_dates, categorical, patient_dtype

SUBSTANCES = (
    "opioids", "fentanyl", "cocaine", "benzodiazepines", "cannabis", "amphetamines",
    "methadone", "buprenorphine",
)  # fmt: skip
RESULTS = ("positive", "negative", "missed", "refused")
SUBSTANCE_DTYPE = pd.CategoricalDtype(SUBSTANCES)
RESULT_DTYPE = pd.CategoricalDtype(RESULTS)
_HORIZON = 12 * 366
_POLICIES = ("standard", "fortnightly", "monthly")


def _templates() -> np.ndarray:
    """Screen days per policy, padded with a day no episode reaches: shape (3, L)."""
    standard = np.concatenate(
        [np.arange(0, 84, 7), np.arange(84, 182, 14), np.arange(182, _HORIZON, 28)]
    )
    rows = [standard, np.arange(0, _HORIZON, 14), np.arange(0, _HORIZON, 28)]
    width = max(len(r) for r in rows)
    return np.array([np.pad(r, (0, width - len(r)), constant_values=1 << 40) for r in rows])


def _screen_days(plan: Plan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Episode row and day of every screen."""
    ep = plan.ep
    templates = _templates()
    policy = np.array([_POLICIES.index(c.screen_policy) for c in CLINICS])[ep["clinic"]]
    last_day = ep["duration_days"] - 1
    n_screens = np.zeros(plan.n_episodes, dtype=np.int64)
    for p in range(len(_POLICIES)):
        mask = policy == p
        n_screens[mask] = np.searchsorted(templates[p], last_day[mask], side="right")
    g = np.repeat(np.arange(plan.n_episodes), n_screens)
    k = np.arange(len(g)) - np.repeat(np.cumsum(n_screens) - n_screens, n_screens)
    jitter = np.where(k > 0, rng.integers(-2, 3, len(g)), 0)
    day = np.clip(templates[policy[g], k] + jitter, 0, last_day[g])
    return g, day


def _positive_probabilities(
    plan: Plan, g: np.ndarray, day: np.ndarray, near: np.ndarray
) -> np.ndarray:
    """P(positive) per screen (rows) and substance (columns, SUBSTANCES order)."""
    ep = plan.ep
    n = len(g)
    propensity = 0.8 * plan.patients.drug_use[ep["patient"][g]] + 0.6 * ep["has_ob19"][g]
    better = 1.0 - np.exp(-day / 60.0)
    near = near.astype(float)
    hat = (ep["modality"][g] == 2).astype(float)
    logits = np.column_stack(
        [
            1.0 - 3.0 * better + propensity + 1.8 * near - 0.5 * hat,
            np.full(n, -np.inf),  # fentanyl: drawn among opioid positives below
            -0.8 - 1.2 * better + 0.6 * propensity + 1.0 * near,
            -1.5 - 0.8 * better + 0.5 * propensity + 0.8 * near,
            -0.9 + 0.4 * propensity,
            -3.0 - 0.5 * better + 0.5 * near,
            np.full(n, 3.2) - 1.5 * near,  # medication adherence
            np.full(n, 3.0) - 1.5 * near,
        ]
    )
    return 1.0 / (1.0 + np.exp(-logits))


def _results(plan: Plan, rng: np.random.Generator, g: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Result codes (index into RESULTS) per screen and substance."""
    ep = plan.ep
    n = len(g)
    near = (ep["cause"][g] == 1) & (ep["duration_days"][g] - 1 - day <= 56)
    positive = rng.random((n, len(SUBSTANCES))) < _positive_probabilities(plan, g, day, near)
    positive[:, 1] = positive[:, 0] & (rng.random(n) < 0.15)
    th = ep["th_day"][g]
    window = np.where(ep["modality"][g] == 0, 84, 28)
    earned = (th >= 0) & (day <= th) & (day >= th - window)
    illicit = np.array([s not in ("cannabis", "methadone", "buprenorphine") for s in SUBSTANCES])
    positive[earned[:, None] & illicit] = False
    result = np.where(positive, 0, 1)
    u = rng.random(n)
    p_missed = np.where(earned, 0.0, 0.05 + 0.15 * near)
    status = np.where(u < p_missed, 2, np.where(u < p_missed + 0.015 * ~earned, 3, -1))
    return np.where(status[:, None] >= 0, status[:, None], result)


def _panel(plan: Plan, g: np.ndarray) -> np.ndarray:
    """Which substances each screen tests (rows) : the six illicit plus the medication."""
    ep = plan.ep
    modality = ep["modality"][g]
    tested = np.ones((len(g), len(SUBSTANCES)), dtype=bool)
    tested[:, 6] = (modality == 0) | ((modality == 2) & (ep["topup_mg"][g] > 0))
    tested[:, 7] = modality == 1
    return tested


def urine_screens_table(plan: Plan) -> pd.DataFrame:
    """Grain: one row per screen and substance."""
    rng = _random.stream_rng(plan.seed, _random.SCREENS)
    g, day = _screen_days(plan, rng)
    result = _results(plan, rng, g, day)
    screen, substance = np.nonzero(_panel(plan, g))
    ep = plan.ep
    return pd.DataFrame(
        {
            "patient_id": categorical(ep["patient"][g[screen]], patient_dtype(len(plan.patients))),
            "clinic_id": categorical(ep["clinic"][g[screen]], CLINIC_DTYPE),
            "screen_date": as_dates(ep["start_day"][g[screen]] + day[screen]),
            "substance": categorical(substance.astype(np.int8), SUBSTANCE_DTYPE),
            "result": categorical(result[screen, substance].astype(np.int8), RESULT_DTYPE),
        }
    )
