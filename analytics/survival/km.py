"""Kaplan–Meier curves, survival at given times and median survival, matching R's ``survfit``.

Differences from lifelines that researchers notice, and what we do instead:

* confidence intervals are on the log scale by default (R's ``conf.type="log"``); lifelines only
  offers log-log. ``conf_type`` selects "log", "log-log" or "plain" with R's exact formulas,
  including R's conventions at the ends of the curve (upper limit capped at 1 for "log" and
  "plain"; NaN where the transform is undefined: S = 0 for "log", S in {0, 1} for "log-log").
* ``std_err`` is the standard error of S(t) itself (Greenwood), as in R's
  ``summary(survfit)$std.err``; note that ``survfit()$std.err`` is the SE of -log S(t) instead.

The estimator is vectorised: the data are sorted once by (group, time) and every group is
reduced with ``np.add.reduceat``, so a million rows take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.errors import SurvivalInputError
from analytics.survival import _validate as v

KM_COLUMNS = [
    "group",
    "time",
    "n_risk",
    "n_event",
    "n_censor",
    "survival",
    "std_err",
    "lower",
    "upper",
]
CONF_TYPES = ("log", "log-log", "plain")


@dataclass(frozen=True)
class _Curve:
    """One group's KM curve at its distinct observed (stop) times."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    var_log: np.ndarray  # Greenwood variance of log S(t) (R's survfit()$std.err squared)


def km_curve(
    time: np.ndarray,
    event: np.ndarray,
    entry: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> _Curve:
    """Kaplan–Meier curve of one group; ``time`` must be sorted ascending.

    ``entry`` (left truncation / delayed entry) removes a row from the risk set until after its
    entry time, as R's ``Surv(entry, time, event)``. ``weights`` give weighted counts (used by
    the IPW-adjusted curves); the Greenwood sum is then computed on weighted counts, as R does.
    """
    w = np.ones(len(time)) if weights is None else weights
    starts = np.flatnonzero(np.r_[True, time[1:] != time[:-1]])
    n_rows = np.add.reduceat(w, starts)
    n_event = np.add.reduceat(w * event, starts)
    # number at risk at t = weight of rows with time >= t: a reverse cumulative sum
    at_or_after = np.cumsum(w[::-1])[::-1][starts]
    if entry is not None:
        # rows that enter at or after t are not yet at risk at t
        order = np.argsort(entry, kind="stable")
        sorted_entry = entry[order]
        cum_w = np.r_[0.0, np.cumsum(w[order])]
        first_not_before = np.searchsorted(sorted_entry, time[starts], side="left")
        at_or_after = at_or_after - (cum_w[-1] - cum_w[first_not_before])
    n_risk = at_or_after
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_event > 0, n_event / n_risk, 0.0)
        greenwood = np.where(
            n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0
        )  # inf when everyone at risk has the event: S drops to 0 and R reports Inf too
    return _Curve(
        time=time[starts],
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_rows - n_event,
        survival=np.cumprod(1.0 - hazard),
        var_log=np.cumsum(greenwood),
    )


def confidence_band(
    surv: np.ndarray, var_log: np.ndarray, conf_type: str, conf_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S(t) with R's ``survfit_confint`` formulas.

    ``var_log`` is the variance of log S(t). Returns (lower, upper); NaN where R gives NA.
    """
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    se_log = np.sqrt(var_log)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = z * se_log * surv
            lower = np.maximum(surv - half, 0.0)
            upper = np.minimum(surv + half, 1.0)
            # R: se * p with se = Inf and p = 0 is NaN
            bad = ~np.isfinite(half)
            lower[bad], upper[bad] = np.nan, np.nan
        elif conf_type == "log":
            s = np.where(surv > 0, surv, np.nan)
            lower = np.exp(np.log(s) - z * se_log)
            upper = np.minimum(np.exp(np.log(s) + z * se_log), 1.0)
        else:  # log-log
            s = np.where((surv > 0) & (surv < 1), surv, np.nan)
            loglog = np.log(-np.log(s))
            half = z * se_log / np.log(s)
            lower = np.exp(-np.exp(loglog - half))
            upper = np.exp(-np.exp(loglog + half))
    return lower, upper


def std_err_of_survival(surv: np.ndarray, var_log: np.ndarray) -> np.ndarray:
    """SE of S(t) (R's ``summary(survfit)$std.err``): S(t) * sqrt(Greenwood sum)."""
    with np.errstate(invalid="ignore"):
        se = surv * np.sqrt(var_log)
    return np.where(np.isinf(var_log), np.nan, se)  # 0 * Inf: R prints NaN


def _check_options(conf_type: str, conf_level: float) -> None:
    if conf_type not in CONF_TYPES:
        raise SurvivalInputError(
            f"conf_type {conf_type!r} is not supported; use one of {CONF_TYPES} "
            "('log' is R's default, 'log-log' is lifelines' default)"
        )
    if not 0 < conf_level < 1:
        raise SurvivalInputError(f"conf_level must be between 0 and 1, got {conf_level}")


def grouped_curves(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str | None = None,
    entry: str | None = None,
) -> list[tuple[object, _Curve, np.ndarray, np.ndarray, np.ndarray | None]]:
    """Validate once, sort once by (group, time) and compute one curve per group.

    Returns a list of (label, curve, sorted times, sorted events, sorted entries) per group.
    """
    v.check_frame(data, [duration, event, group, entry])
    time, start = v.check_durations(data, duration, entry)
    observed = v.check_event(data, event).astype(float)
    codes, labels = v.group_codes(data, group)
    order = v.group_time_order(time, codes)
    time, observed, codes = time[order], observed[order], codes[order]
    start = None if start is None else start[order]
    bounds = np.searchsorted(codes, np.arange(len(labels) + 1))
    out = []
    for i, label in enumerate(labels):  # a loop over groups, never over times
        sl = slice(bounds[i], bounds[i + 1])
        part_entry = None if start is None else start[sl]
        curve = km_curve(time[sl], observed[sl], part_entry)
        out.append((label, curve, time[sl], observed[sl], part_entry))
    return out


def kaplan_meier(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str | None = None,
    entry: str | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan–Meier estimate with Greenwood standard errors, as R's ``survfit``.

    Parameters
    ----------
    data : DataFrame, one row per episode.
    duration, event : columns with the follow-up time (>= 0) and 1 = event, 0 = censored.
    group : optional column; one curve per distinct value (sorted, or category order).
    entry : optional delayed-entry time (left truncation), as ``Surv(entry, duration, event)``.
    conf_type : "log" (R's default), "log-log" (lifelines' default) or "plain".
    conf_level : confidence level of the pointwise interval.

    Returns
    -------
    DataFrame with one row per distinct time per group (censoring times included), as
    ``summary(survfit(...), censored=TRUE)``: ``group, time, n_risk, n_event, n_censor,
    survival, std_err, lower, upper``. ``std_err`` is the SE of S(t) (R's summary std.err).

    Example
    -------
    >>> kaplan_meier(df, duration="duration_days", event="event_observed", group="clinic_id")
    """
    _check_options(conf_type, conf_level)
    frames = []
    for label, c, *_ in grouped_curves(
        data, duration=duration, event=event, group=group, entry=entry
    ):
        lower, upper = confidence_band(c.survival, c.var_log, conf_type, conf_level)
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": c.time,
                    "n_risk": c.n_risk,
                    "n_event": c.n_event,
                    "n_censor": c.n_censor,
                    "survival": c.survival,
                    "std_err": std_err_of_survival(c.survival, c.var_log),
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[KM_COLUMNS]


def survival_at(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    times: Sequence[float],
    group: str | None = None,
    entry: str | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    extend: bool = False,
) -> pd.DataFrame:
    """Kaplan–Meier estimate at chosen times, as R's ``summary(survfit(...), times=)``.

    The curve is a step function: S(t) is the value after the last event at or before t
    (never interpolated). ``n_risk`` is the number at risk at the first observed time >= t
    (R's convention; it differs from "at risk at t" only with delayed entry); ``n_event`` and ``n_censor``
    count what happened since the previous requested time (R's convention). Times after a
    group's last observation are dropped unless ``extend=True`` (R's ``extend`` argument).

    Returns
    -------
    DataFrame with ``group, time, n_risk, n_event, n_censor, survival, std_err, lower, upper``.
    """
    _check_options(conf_type, conf_level)
    grid = np.sort(np.asarray(times, dtype=float))
    if grid.size == 0 or np.isnan(grid).any():
        raise SurvivalInputError("times must be a non-empty list of numbers without NaN")
    frames = []
    for label, c, t_sorted, e_sorted, _ in grouped_curves(
        data, duration=duration, event=event, group=group, entry=entry
    ):
        keep = grid if extend else grid[grid <= t_sorted[-1]]
        idx = np.searchsorted(c.time, keep, side="right") - 1
        surv = np.where(idx >= 0, c.survival[np.maximum(idx, 0)], 1.0)
        var_log = np.where(idx >= 0, c.var_log[np.maximum(idx, 0)], 0.0)
        # R reports the number at risk at the first observed time >= t (0 after the last)
        nxt = np.searchsorted(c.time, keep, side="left")
        n_risk = np.r_[c.n_risk, 0.0][nxt]
        cum_events = np.r_[0.0, np.cumsum(e_sorted)]
        upto = np.searchsorted(t_sorted, keep, side="right")
        events_upto = cum_events[upto]
        censor_upto = upto - events_upto
        lower, upper = confidence_band(surv, var_log, conf_type, conf_level)
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": keep,
                    "n_risk": n_risk.astype(float),
                    "n_event": np.diff(np.r_[0.0, events_upto]),
                    "n_censor": np.diff(np.r_[0.0, censor_upto]),
                    "survival": surv,
                    "std_err": std_err_of_survival(surv, var_log),
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[KM_COLUMNS]


def first_below_half(values: np.ndarray, time: np.ndarray) -> float:
    """R's ``minmin``: first time the curve is <= 0.5; if it sits exactly at 0.5, the midpoint
    between that time and the next time it drops lower (R's convention for a flat median)."""
    tol = np.sqrt(np.finfo(float).eps)
    keep = ~np.isnan(values) & (values < 0.5 + tol)
    if not keep.any():
        return np.nan
    y, x = values[keep], time[keep]
    if abs(y[0] - 0.5) < tol and (y < y[0]).any():
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])


def median_survival(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str | None = None,
    entry: str | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Median survival time and its CI, as printed by R's ``print(survfit(...))``.

    The CI is where the pointwise confidence band crosses 0.5 (Brookmeyer–Crowley style, as R).
    NaN means not reached.

    Returns
    -------
    DataFrame with one row per group: ``group, median, lower, upper``.
    """
    curves = kaplan_meier(
        data,
        duration=duration,
        event=event,
        group=group,
        entry=entry,
        conf_type=conf_type,
        conf_level=conf_level,
    )
    rows = []
    for label, part in curves.groupby("group", sort=False):
        t = part["time"].to_numpy()
        rows.append(
            {
                "group": label,
                "median": first_below_half(part["survival"].to_numpy(), t),
                "lower": first_below_half(part["lower"].to_numpy(), t),
                "upper": first_below_half(part["upper"].to_numpy(), t),
            }
        )
    return pd.DataFrame(rows, columns=["group", "median", "lower", "upper"])
