"""Item answers of the demo instruments (MSPSS, Family APGAR, obstacles/facilitators checklist,
TOP outcome profiles) drawn from a few latent traits per patient, vectorised over assessments.

Latent traits (one row per patient, standard-normal scale): ``family`` (support and acceptance),
``adversity`` (socio-economic), ``vulnerability`` (internal obstacles). Time in treatment
improves answers; family education raises family support.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

CODEBOOK_DIR = Path(__file__).resolve().parent.parent / "codebook"

MSPSS_ITEMS = tuple(f"item_{i:02d}" for i in range(1, 13))
MSPSS_FAMILY_ITEMS = (2, 3, 7, 10)  # 0-based: items 3, 4, 8, 11
_MSPSS_SUBSCALE = np.array([0, 0, 1, 1, 0, 2, 2, 1, 2, 0, 1, 2])  # 0 SO, 1 family, 2 friends
APGAR_ITEMS = ("adaptation", "partnership", "growth", "affection", "resolve")
TOP_ITEMS = (
    "heroin_days_28", "other_opiates_days_28", "crack_days_28", "cocaine_days_28",
    "amphetamine_days_28", "cannabis_days_28", "alcohol_days_28", "injecting_days_28",
    "shared_equipment", "shoplifting_days_28", "selling_drugs_days_28", "other_theft",
    "assault_violence", "psychological_health", "physical_health", "quality_of_life",
    "paid_work_days_28", "education_days_28", "acute_housing_problem", "at_risk_of_eviction",
)  # fmt: skip

# (direction, organizing_theme) -> (latent index (0 family, 1 adversity, 2 vulnerability,
# 3 clinic practice), loading sign, intercept on the logit scale)
_FACTOR_MODEL = {
    ("obstacle", "personality_mood"): (2, 1.0, -0.9),
    ("obstacle", "cognitive"): (2, 1.0, -1.0),
    ("obstacle", "skill"): (2, 1.0, -0.9),
    ("obstacle", "family"): (0, -1.0, -1.0),
    ("obstacle", "socio_economic"): (1, 1.0, -0.7),
    ("obstacle", "treatment"): (3, 1.0, -1.4),
    ("facilitator", "personality"): (2, -1.0, -0.3),
    ("facilitator", "cognitive"): (2, -1.0, -0.5),
    ("facilitator", "relapse_skills"): (2, -1.0, -0.5),
    ("facilitator", "family"): (0, 1.0, -0.2),
    ("facilitator", "social"): (1, -1.0, -0.6),
    ("facilitator", "treatment"): (3, -1.0, 0.3),
}


@cache
def factor_codes() -> tuple[str, ...]:
    """The 48 checklist factor codes in codebook order (OB01-OB27, FA01-FA21)."""
    return tuple(_codebook()["code"])


@cache
def _codebook() -> pd.DataFrame:
    return pd.read_csv(CODEBOOK_DIR / "risk_factors.csv", dtype=str)


@cache
def _factor_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    book = _codebook()
    spec = [
        _FACTOR_MODEL[(d, t)]
        for d, t in zip(book["direction"], book["organizing_theme"], strict=True)
    ]
    latent = np.array([s[0] for s in spec])
    sign = np.array([s[1] for s in spec])
    intercept = np.array([s[2] for s in spec])
    is_obstacle = (book["direction"] == "obstacle").to_numpy()
    return latent, sign, intercept, is_obstacle


def external_obstacle_columns() -> np.ndarray:
    """0-based checklist columns of the external obstacles OB14-OB27."""
    book = _codebook()
    mask = (book["direction"] == "obstacle") & (book["main_theme"] == "external")
    return np.flatnonzero(mask.to_numpy())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _years(days: np.ndarray) -> np.ndarray:
    return np.minimum(np.asarray(days, float) / 365.25, 2.0)


def mspss_items(
    rng: np.random.Generator,
    latent: np.ndarray,
    days_in_treatment: np.ndarray,
    educated: np.ndarray,
    *,
    p_missing: float,
    family_items_complete: bool,
) -> np.ndarray:
    """MSPSS answers (n, 12), 1-7, NaN when missing.

    ``family_items_complete`` keeps the four family items answered (intake forms, whose family
    subscale is a covariate of the true hazard).
    """
    n = len(latent)
    fam, adv = latent[:, 0], latent[:, 1]
    trend = 0.25 * _years(days_in_treatment) + 0.3 * educated
    level = np.column_stack(
        [4.9 + 0.8 * fam + trend, 4.3 + 1.2 * fam + trend, 4.1 + 0.4 * fam - 0.5 * adv + trend]
    )[:, _MSPSS_SUBSCALE]
    items = np.clip(np.rint(level + rng.normal(0.0, 0.9, (n, 12))), 1, 7)
    missing = rng.random((n, 12)) < p_missing
    if family_items_complete:
        missing[:, list(MSPSS_FAMILY_ITEMS)] = False
    items[missing] = np.nan
    return items


def apgar_items(
    rng: np.random.Generator,
    latent: np.ndarray,
    days_in_treatment: np.ndarray,
    educated: np.ndarray,
) -> np.ndarray:
    """Family APGAR answers (n, 5), 0-2, NaN when missing (1%)."""
    n = len(latent)
    level = 1.0 + 0.7 * latent[:, 0] + 0.15 * _years(days_in_treatment) + 0.2 * educated
    items = np.clip(np.rint(level[:, None] + rng.normal(0.0, 0.6, (n, 5))), 0, 2)
    items[rng.random((n, 5)) < 0.01] = np.nan
    return items


def checklist_severities(
    rng: np.random.Generator,
    latent: np.ndarray,
    practice: np.ndarray,
    days_in_treatment: np.ndarray,
) -> np.ndarray:
    """Checklist severities (n, 48) int8, 0 absent, 1-3 present; obstacles fade in treatment.

    ``practice`` is the clinic's latent practice problem (higher = more treatment obstacles).
    """
    lat_idx, sign, intercept, is_obstacle = _factor_arrays()
    n = len(latent)
    traits = np.column_stack([latent, practice])
    trend = 0.5 * _years(days_in_treatment)[:, None] * np.where(is_obstacle, -1.0, 1.0)
    logit = intercept + sign * traits[:, lat_idx] + trend
    present = rng.random((n, 48)) < _sigmoid(logit)
    extra = (rng.random((n, 48)) < 0.45).astype(np.int8) + (rng.random((n, 48)) < 0.2)
    return (present * (1 + extra)).astype(np.int8)


def top_items(
    rng: np.random.Generator,
    latent: np.ndarray,
    drug_use: np.ndarray,
    injector: np.ndarray,
    days_in_treatment: np.ndarray,
    near_dropout: np.ndarray,
) -> np.ndarray:
    """TOP outcome profile answers (n, 20) in TOP_ITEMS order; NaN when missing (1%).

    Heroin and crime days fall and wellbeing rises with time in treatment; use rises again in
    the weeks before a dropout.
    """
    n = len(latent)
    adv, fam = latent[:, 1], latent[:, 0]
    better = 1.0 - np.exp(-np.asarray(days_in_treatment, float) / 90.0)
    near = np.asarray(near_dropout, float)
    p_heroin = _sigmoid(1.2 + 0.8 * drug_use - 2.8 * better + 1.5 * near)

    def days(logit: np.ndarray) -> np.ndarray:
        return rng.binomial(28, _sigmoid(logit)).astype(float)

    def flag(logit: np.ndarray) -> np.ndarray:
        return (rng.random(n) < _sigmoid(logit)).astype(float)

    def score(mean: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(mean + rng.normal(0.0, 2.5, n)), 0, 20)

    heroin = rng.binomial(28, p_heroin).astype(float)
    injecting = np.where(injector, rng.binomial(heroin.astype(int), 0.8), 0).astype(float)
    cols = [
        heroin,
        days(-2.2 + 0.5 * drug_use - 1.0 * better),
        days(-1.5 + 0.8 * adv + 0.5 * drug_use - 1.2 * better + near),
        days(-2.0 + 0.5 * adv - 1.0 * better + near),
        days(-3.5 + 0.3 * drug_use),
        days(-0.8 + 0.3 * drug_use),
        days(-1.0 + 0.2 * adv),
        injecting,
        np.where(injecting > 0, flag(-1.5 - 1.0 * better), 0.0),
        days(-2.0 + 0.8 * adv - 1.5 * better + near),
        days(-2.5 + 0.6 * adv - 1.5 * better),
        flag(-1.8 + 0.6 * adv - 1.2 * better),
        flag(-2.8 + 0.4 * adv),
        score(8.0 + 5.0 * better + 1.5 * fam - 2.0 * near),
        score(9.0 + 4.0 * better - 0.5 * adv),
        score(8.0 + 5.0 * better + 1.0 * fam - 1.0 * adv - 2.0 * near),
        days(-2.2 + 1.2 * better - 0.8 * adv),
        days(-3.5 + 0.5 * better),
        flag(-1.5 + 0.8 * adv - 1.0 * better),
        flag(-2.0 + 0.6 * adv),
    ]
    items = np.column_stack(cols)
    items[rng.random(items.shape) < 0.01] = np.nan
    return items
