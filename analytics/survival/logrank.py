"""Log-rank test, its Fleming–Harrington family and a trend test, matching R's ``survdiff``.

``rho = 0`` is the log-rank test, ``rho = 1`` the Peto & Peto modification of the Gehan–Wilcoxon
test; events at time t are weighted by S(t-)^rho, the left-continuous pooled Kaplan–Meier
within the stratum (as R). Strata add up observed-minus-expected and variances across strata.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analytics.errors import SurvivalInputError
from analytics.survival import _validate as v
from analytics.survival._results import TestResult


def _stratum_sums(
    time: np.ndarray, event: np.ndarray, codes: np.ndarray, k: int, rho: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and variance matrix for one stratum (rows sorted by time)."""
    starts = np.flatnonzero(np.r_[True, time[1:] != time[:-1]])
    block = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(time)]))
    n_blocks = len(starts)
    # per (time, group) counts of rows and of events
    rows = np.bincount(block * k + codes, minlength=n_blocks * k).reshape(n_blocks, k)
    deaths = np.bincount(block * k + codes, weights=event, minlength=n_blocks * k).reshape(
        n_blocks, k
    )
    at_risk = np.cumsum(rows[::-1], axis=0)[::-1].astype(float)  # time >= t, per group
    n = at_risk.sum(axis=1)
    d = deaths.sum(axis=1)
    has_event = d > 0
    at_risk, deaths, n, d = at_risk[has_event], deaths[has_event], n[has_event], d[has_event]
    # left-continuous pooled KM, S(t-), as survdiff's C code
    km_after = np.cumprod(1.0 - d / n)
    weight = np.r_[1.0, km_after[:-1]] ** rho if rho != 0 else np.ones_like(d)
    share = at_risk / n[:, None]
    observed = (weight[:, None] * deaths).sum(axis=0)
    expected = (weight[:, None] * share * d[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tie = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    scale = weight**2 * tie
    variance = np.diag((scale[:, None] * share).sum(axis=0)) - (share * scale[:, None]).T @ share
    # expected for rho != 0 is the weighted expectation: R reports sum(wt * n_g d / n)
    return observed, expected, variance


def _logrank_sums(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    rho: float,
    strata: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[object], np.ndarray]:
    v.check_frame(data, [duration, event, group, strata])
    time, _ = v.check_durations(data, duration)
    observed_event = v.check_event(data, event).astype(float)
    codes, labels = v.group_codes(data, group)
    if len(labels) < 2:
        raise SurvivalInputError(
            f"group column '{group}' has a single value ({labels[0]!r}) in {len(data)} rows; "
            "a comparison needs at least two groups"
        )
    strata_codes, strata_labels = v.group_codes(data, strata)
    k = len(labels)
    obs, exp, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    order = v.group_time_order(time, strata_codes)
    bounds = np.searchsorted(strata_codes[order], np.arange(len(strata_labels) + 1))
    for i in range(len(strata_labels)):  # loop over strata only
        rows = order[bounds[i] : bounds[i + 1]]
        if observed_event[rows].sum() == 0:
            continue
        o, e, vv = _stratum_sums(time[rows], observed_event[rows], codes[rows], k, rho)
        obs, exp, var = obs + o, exp + e, var + vv
    n_per_group = np.bincount(codes, minlength=k)
    return obs, exp, var, labels, n_per_group


def logrank_test(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    rho: float = 0,
    strata: str | None = None,
) -> TestResult:
    """Compare survival between groups, as R's ``survdiff(Surv(t, e) ~ g + strata(s), rho=)``.

    Parameters
    ----------
    rho : weight exponent, 0 = log-rank, 1 = Peto–Peto (weights S(t-)^rho).
    strata : optional column; the test is stratified (sums across strata).

    Returns
    -------
    TestResult with ``statistic`` (chi-square), ``df`` (groups with expected > 0, minus 1),
    ``p_value`` and ``table`` (``group, n, observed, expected``; weighted when rho != 0, as R).
    """
    obs, exp, var, labels, n = _logrank_sums(
        data, duration=duration, event=event, group=group, rho=rho, strata=strata
    )
    keep = np.flatnonzero(exp > 0)
    diff = (obs - exp)[keep][1:]
    sub = var[np.ix_(keep, keep)][1:, 1:]
    statistic = float(diff @ np.linalg.solve(sub, diff)) if len(keep) > 1 else 0.0
    df = len(keep) - 1
    table = pd.DataFrame({"group": labels, "n": n, "observed": obs, "expected": exp})
    name = "log-rank" if rho == 0 else f"Fleming-Harrington rho={rho}"
    return TestResult(statistic, df, float(stats.chi2.sf(statistic, df)), name, table)


def logrank_trend_test(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    scores: Mapping[object, float] | None = None,
    rho: float = 0,
    strata: str | None = None,
) -> TestResult:
    """Log-rank test for trend across ordered groups (1 df).

    statistic = (sum_g s_g (O_g - E_g))^2 / (s' V s), with V the ``survdiff`` variance matrix.
    ``scores`` maps each group to a number; by default the group values themselves if numeric,
    else 1, 2, ... in sorted (or category) order. R equivalent (no built-in):
    ``sd <- survdiff(...); s <- scores; sum(s*(sd$obs-sd$exp))^2 / (t(s) %*% sd$var %*% s)``.

    Returns
    -------
    TestResult with ``statistic``, ``df`` = 1, ``p_value``.
    """
    obs, exp, var, labels, n = _logrank_sums(
        data, duration=duration, event=event, group=group, rho=rho, strata=strata
    )
    if scores is not None:
        missing = [g for g in labels if g not in scores]
        if missing:
            raise SurvivalInputError(f"scores has no value for group(s) {missing} of '{group}'")
        s = np.array([float(scores[g]) for g in labels])
    elif all(isinstance(g, int | float | np.number) for g in labels):
        s = np.array(labels, dtype=float)
    else:
        s = np.arange(1.0, len(labels) + 1)
    u = float(s @ (obs - exp))
    statistic = u**2 / float(s @ var @ s)
    table = pd.DataFrame({"group": labels, "score": s, "n": n, "observed": obs, "expected": exp})
    return TestResult(statistic, 1, float(stats.chi2.sf(statistic, 1)), "log-rank trend", table)
