"""Restricted mean survival time (RMST) to tau, with the standard error R prints.

lifelines' ``restricted_mean_survival_time(..., return_variance=True)`` returns the variance of
the survival time truncated at tau (a property of the distribution), not the sampling variance
of the estimate, so its square root is not a standard error. Here ``se`` is the SE of the
estimated RMST, exactly R's ``print(survfit(...), rmean=tau)`` "se(rmean)".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analytics.errors import SurvivalInputError
from analytics.survival.km import _Curve, grouped_curves


def _rmst_one(curve: _Curve, tau: float, start_time: float = 0.0) -> tuple[float, float]:
    """Area under the KM step function on [start, tau] and its SE (R's ``survmean``)."""
    keep = curve.time <= tau
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(
            (curve.n_risk - curve.n_event) == 0,
            0.0,
            curve.n_event / (curve.n_risk * (curve.n_risk - curve.n_event)),
        )
    times = np.r_[curve.time[keep], tau]
    surv = np.r_[curve.survival[keep], curve.survival[keep][-1] if keep.any() else 1.0]
    hh = np.r_[hh[keep], 0.0]
    rectangles = np.diff(np.r_[start_time, times]) * np.r_[1.0, surv[:-1]]
    # area after each time point up to tau, times the Greenwood increment at that point
    area_after = np.cumsum(rectangles[1:][::-1])
    variance = float(np.sum(area_after**2 * hh[::-1][1:]))
    return float(rectangles.sum() + start_time), float(np.sqrt(variance))


def rmst(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    tau: float,
    group: str | None = None,
) -> pd.DataFrame:
    """Restricted mean survival time to ``tau`` per group.

    RMST(tau) = integral of S(t) from 0 to tau, with SE from the Greenwood-type formula
    ``sum_k A_k^2 d_k / (n_k (n_k - d_k))`` where A_k is the area under S between t_k and tau.

    Returns
    -------
    DataFrame with one row per group: ``group, rmst, se``. Same numbers as R's
    ``print(survfit(Surv(time, status) ~ group), rmean = tau)``.
    """
    if not np.isfinite(tau) or tau <= 0:
        raise SurvivalInputError(f"tau must be a positive number of time units, got {tau}")
    rows = []
    for label, curve, *_ in grouped_curves(data, duration=duration, event=event, group=group):
        value, se = _rmst_one(curve, float(tau), start_time=min(0.0, float(curve.time[0])))
        rows.append({"group": label, "rmst": value, "se": se})
    return pd.DataFrame(rows, columns=["group", "rmst", "se"])


def rmst_difference(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    tau: float,
    group: str,
    reference: object | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Difference in RMST between two groups (other minus reference) with its SE.

    The two estimates come from independent samples, so se = sqrt(se_1^2 + se_0^2).

    Returns
    -------
    One-row DataFrame: ``group, reference, difference, se, lower, upper, z, p_value``.
    """
    table = rmst(data, duration=duration, event=event, tau=tau, group=group)
    if len(table) != 2:
        raise SurvivalInputError(
            f"group column '{group}' has {len(table)} groups; rmst_difference compares "
            "exactly two (filter the data first)"
        )
    ref = table["group"].iloc[0] if reference is None else reference
    if ref not in set(table["group"]):
        raise SurvivalInputError(
            f"reference {ref!r} is not a value of '{group}': {list(table['group'])}"
        )
    base = table[table["group"] == ref].iloc[0]
    other = table[table["group"] != ref].iloc[0]
    diff = float(other["rmst"] - base["rmst"])
    se = float(np.hypot(other["se"], base["se"]))
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    return pd.DataFrame(
        [
            {
                "group": other["group"],
                "reference": ref,
                "difference": diff,
                "se": se,
                "lower": diff - z * se,
                "upper": diff + z * se,
                "z": diff / se,
                "p_value": float(2 * stats.norm.sf(abs(diff / se))),
            }
        ]
    )
