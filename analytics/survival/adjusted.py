"""Covariate-adjusted survival curves by inverse probability weighting (IPW).

To compare clinics "at equal case mix", each episode is weighted by 1 / P(its group | covariates),
the propensity estimated by logistic (two groups) or multinomial logistic regression. Each
group's weighted Kaplan–Meier curve then estimates the survival the whole cohort would have had
in that group. Standard errors use the infinitesimal jackknife (robust) variance, which accounts
for the weights, as R's ``survfit(..., weights = w, robust = TRUE)``; Greenwood's formula would be
wrong with non-integer weights. (The uncertainty of the estimated propensities is ignored, as in
R's call; this is usually slightly conservative.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from analytics.errors import SurvivalInputError
from analytics.survival import _validate as v
from analytics.survival.cox import make_design
from analytics.survival.km import KM_COLUMNS, _check_options, confidence_band, km_curve
from analytics.survival.km import std_err_of_survival as _se


def _multinomial_logit(x: np.ndarray, codes: np.ndarray, k: int, max_iter: int = 50) -> np.ndarray:
    """Fitted class probabilities (n, k) of a multinomial logit with class 0 as reference,
    by Newton–Raphson (for k = 2 this is R's ``glm(..., family = binomial)``)."""
    n, q = x.shape
    onehot = np.eye(k)[codes][:, 1:]
    coef = np.zeros((q, k - 1))
    for _ in range(max_iter):
        eta = np.c_[np.zeros(n), x @ coef]
        prob = special.softmax(eta, axis=1)
        p = prob[:, 1:]
        grad = (x.T @ (onehot - p)).ravel(order="F")
        hess = np.empty((q * (k - 1), q * (k - 1)))
        for a in range(k - 1):  # loop over classes only
            for b in range(k - 1):
                w = p[:, a] * ((a == b) - p[:, b])
                hess[a * q : (a + 1) * q, b * q : (b + 1) * q] = (x * w[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            raise SurvivalInputError(
                "The groups cannot be weighted on these covariates: they (almost) decide the "
                "group (e.g. the family-support level is cut from the MSPSS family score), so "
                "some weights would be infinite. Leave out the covariate that defines the "
                "groups, or one that nearly does."
            ) from None
        coef = coef + step.reshape((q, k - 1), order="F")
        if np.abs(step).max() < 1e-12:
            break
    return special.softmax(np.c_[np.zeros(n), x @ coef], axis=1)


def ipw_weights(
    data: pd.DataFrame, *, group: str, covariates: Sequence[str], stabilized: bool = False
) -> np.ndarray:
    """Inverse-probability-of-group weights, 1 / P(group_i | covariates_i).

    ``stabilized=True`` multiplies by the marginal share of the group (same curves, weights
    that average about 1).
    """
    covariates = v.as_list(covariates)
    v.check_frame(data, [group, *covariates])
    codes, labels = v.group_codes(data, group)
    if len(labels) < 2:
        raise SurvivalInputError(f"group column '{group}' has a single value; need two or more")
    design = make_design(data, covariates)
    x = design.matrix(data)
    v.check_covariates_vary(pd.DataFrame(x, columns=design.columns))
    prob = _multinomial_logit(np.c_[np.ones(len(x)), x], codes, len(labels))
    own = prob[np.arange(len(codes)), codes]
    weights = 1.0 / own
    if stabilized:
        weights *= np.bincount(codes)[codes] / len(codes)
    return weights


def _robust_var_log(
    time: np.ndarray, event: np.ndarray, w: np.ndarray, curve_time: np.ndarray
) -> np.ndarray:
    """Infinitesimal-jackknife variance of log S(t) of a weighted KM (rows sorted by time).

    The influence of row i on log S(t) is D_i(t) = G(min(t, T_i)) - delta_i 1(T_i <= t) /
    (n_k - d_k) with G(t) = sum_{t_k <= t} d_k / (n_k (n_k - d_k)) (weighted counts), so
    var(t) = sum_{T_i <= t} w_i^2 D_i(T_i)^2 + G(t)^2 sum_{T_i > t} w_i^2, two cumulative sums.
    """
    curve = km_curve(time, event, weights=w)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = curve.n_risk - curve.n_event
        g = np.where(curve.n_event > 0, curve.n_event / (curve.n_risk * left), 0.0)
        jump = np.where(curve.n_event > 0, 1.0 / left, 0.0)
    cum_g = np.cumsum(g)
    k = np.searchsorted(curve.time, time)  # each row's own time
    upto = np.searchsorted(time, curve_time, side="right")  # rows with T_i <= t
    w2_after = np.r_[np.cumsum((w**2)[::-1])[::-1], 0.0][upto]
    # once a group's curve reaches 0 (everyone left at risk has the event) log S is -inf and
    # its variance undefined from there on: NaN, as R gives NA confidence limits
    with np.errstate(invalid="ignore"):
        own = cum_g[k] - event * jump[k]
        done = np.cumsum(w**2 * own**2)
        return done[upto - 1] + cum_g**2 * w2_after


def adjusted_survival(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    covariates: Sequence[str],
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan–Meier curves per group adjusted for ``covariates`` by inverse probability weighting.

    Example: ``adjusted_survival(df, duration="duration_days", event="event_observed",
    group="clinic_id", covariates=["age", "dose_mg", "has_prison_record"])`` compares clinics as
    if each had treated the whole cohort.

    Returns
    -------
    DataFrame with one row per distinct time per group: ``group, time, n_risk, n_event,
    n_censor, survival, std_err, lower, upper`` (counts are weighted; std_err is the robust SE
    of S(t)). Same as R's ``survfit(Surv(t, e) ~ group, weights = w, robust = TRUE)``.
    """
    _check_options(conf_type, conf_level)
    v.check_frame(data, [duration, event])
    time, _ = v.check_durations(data, duration)
    observed = v.check_event(data, event).astype(float)
    weights = ipw_weights(data, group=group, covariates=covariates)
    codes, labels = v.group_codes(data, group)
    frames = []
    for i, label in enumerate(labels):  # loop over groups only
        mine = np.flatnonzero(codes == i)
        mine = mine[np.argsort(time[mine], kind="stable")]
        t, e, w = time[mine], observed[mine], weights[mine]
        curve = km_curve(t, e, weights=w)
        var_log = _robust_var_log(t, e, w, curve.time)
        lower, upper = confidence_band(curve.survival, var_log, conf_type, conf_level)
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": curve.time,
                    "n_risk": curve.n_risk,
                    "n_event": curve.n_event,
                    "n_censor": curve.n_censor,
                    "survival": curve.survival,
                    "std_err": _se(curve.survival, var_log),
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[KM_COLUMNS]
