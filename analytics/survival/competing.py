"""Competing risks: Aalen–Johansen cumulative incidence, Gray's test and Fine–Gray regression,
matching R's ``cmprsk`` (``cuminc``, ``cuminc(...)$Tests``, ``crr``).

lifelines has an Aalen–Johansen fitter but neither Gray's test nor Fine–Gray regression. The
formulas below follow Gray's Fortran (``cincsub.f``, ``crstm.f``, ``crr.f`` in cmprsk), rewritten
with cumulative sums over sorted times instead of loops.

``status`` codes: 0 = censored, any other value = a cause; ``cause`` is the cause of interest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.errors import SurvivalInputError
from analytics.survival import _validate as v
from analytics.survival._results import TestResult
from analytics.survival.cox import make_design
from analytics.survival.km import km_curve


def _validated(
    data: pd.DataFrame, duration: str, status: str, cause: object, extra: Sequence[str | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, 'failed from the cause' and 'failed from another cause' indicators."""
    v.check_frame(data, [duration, status, *extra])
    time, _ = v.check_durations(data, duration)
    codes = v.check_status(data, status, cause)
    is_cause = codes == cause
    is_other = (codes != 0) & ~is_cause
    return time, is_cause.astype(float), is_other.astype(float)


def _per_time(time: np.ndarray, *indicators: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct sorted times, number at risk, and per-time sums of each indicator."""
    order = np.argsort(time, kind="stable")
    t = time[order]
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    at_risk = (len(t) - starts).astype(float)
    sums = tuple(np.add.reduceat(ind[order], starts) for ind in indicators)
    return (t[starts], at_risk, *sums)


def _tie_factor(n_events: np.ndarray, at_risk: np.ndarray) -> np.ndarray:
    """Gray's correction for tied events: 1 - (d - 1) / (n - 1) when d > 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_events > 1, 1 - (n_events - 1) / (at_risk - 1), 1.0)


def _cuminc_one(
    time: np.ndarray, d1: np.ndarray, d2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Aalen–Johansen CIF of one group and its variance (``cinc`` in cmprsk)."""
    t, n, nd1, nd2 = _per_time(time, d1, d2)
    km_after = np.cumprod(1 - (nd1 + nd2) / n)  # all-cause KM, right-continuous
    km_before = np.r_[1.0, km_after[:-1]]
    cif = np.cumsum(km_before * nd1 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_after = np.where(km_after > 0, 1 / km_after, 0.0)
    base = km_before**2 / n**2
    # other-cause events (only while the KM is positive)
    t6 = np.where((nd2 > 0) & (km_after > 0), base * _tie_factor(nd2, n) * nd2, 0.0)
    v1, v2, v3 = (cif * inv_after) ** 2 * t6, inv_after * cif * inv_after * t6, inv_after**2 * t6
    # events from the cause of interest
    t6 = np.where(nd1 > 0, base * _tie_factor(nd1, n) * nd1, 0.0)
    t4 = 1 + inv_after * cif
    v1, v2, v3 = v1 + t4**2 * t6, v2 + inv_after * t4 * t6, v3 + inv_after**2 * t6
    v1, v2, v3 = np.cumsum(v1), np.cumsum(v2), np.cumsum(v3)
    var = v1 + cif**2 * v3 - 2 * cif * v2
    # cmprsk only updates the variance at times with an event of the cause: carry it forward
    last = np.maximum.accumulate(np.where(nd1 > 0, np.arange(len(t)), -1))
    var = np.where(last >= 0, var[np.maximum(last, 0)], 0.0)
    return t, n, nd1, cif, var


def cumulative_incidence(
    data: pd.DataFrame,
    *,
    duration: str,
    status: str,
    cause: object = 1,
    group: str | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Cumulative incidence of ``cause`` in the presence of competing causes (Aalen–Johansen),
    with cmprsk's variance, as R's ``cuminc(time, status, group, cencode = 0)``.

    Returns
    -------
    DataFrame with one row per distinct time per group: ``group, time, n_risk, n_event, cif,
    variance, std_err, lower, upper`` (``n_event`` counts the cause of interest; the CI is
    cmprsk's ``plot``-style log(-log) interval, NaN where undefined).
    """
    time, d1, d2 = _validated(data, duration, status, cause, [group])
    codes, labels = v.group_codes(data, group)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    frames = []
    for i, label in enumerate(labels):  # loop over groups only
        mine = codes == i
        t, n, nd1, cif, var = _cuminc_one(time[mine], d1[mine], d2[mine])
        se = np.sqrt(np.maximum(var, 0.0))  # rounding can leave -1e-17
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # CI on the log(-log(1 - F)) scale keeps it inside (0, 1)
            ok = (cif > 0) & (cif < 1)
            half = np.where(ok, z * se / ((1 - cif) * np.abs(np.log1p(-cif))), np.nan)
            lower = np.where(ok, 1 - (1 - cif) ** np.exp(-half), np.nan)
            upper = np.where(ok, 1 - (1 - cif) ** np.exp(half), np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": t,
                    "n_risk": n,
                    "n_event": nd1,
                    "cif": cif,
                    "variance": var,
                    "std_err": se,
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@dataclass
class _GrayPieces:
    score: np.ndarray
    variance: np.ndarray


def _gray_stratum(time: np.ndarray, cause: np.ndarray, codes: np.ndarray, ng: int, rho: float):
    """Score and variance of Gray's test within one stratum (``crst`` in cmprsk)."""
    order = np.argsort(time, kind="stable")
    t, m, g = time[order], cause[order], codes[order]
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    block = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(t)]))

    def per_group(weights):
        flat = np.bincount(block * ng + g, weights=weights, minlength=len(starts) * ng)
        return flat.reshape(len(starts), ng)

    rows = per_group(np.ones(len(t)))
    d1 = per_group((m == 1).astype(float))
    d2 = per_group((m == 2).astype(float))
    rs = np.cumsum(rows[::-1], axis=0)[::-1]
    alive = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(alive, 1 - (d1 + d2) / rs, 1.0)
        skm = np.cumprod(factor, axis=0)
        skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
        f1 = np.cumsum(np.where(alive, skmm * d1 / rs, 0.0), axis=0)
        f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
        t1 = np.where(alive, rs / skmm, 0.0)
    has = (d1.sum(1) + d2.sum(1)) > 0  # times without events contribute nothing
    rs, d1, d2, skm, skmm, f1m, t1, alive = (
        a[has] for a in (rs, d1, d2, skm, skmm, f1m, t1, alive)
    )
    nd1 = d1.sum(1)
    tr = t1.sum(1)
    tq = np.where(alive, rs * (1 - f1m) / np.where(alive, skmm, 1), 0.0).sum(1)
    f = np.cumsum(nd1 / tr)
    fm = np.r_[0.0, f[:-1]]
    fb = (1 - fm) ** rho
    a = fb[:, None, None] * (
        np.einsum("ti,ij->tij", t1, np.eye(ng))
        - t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.cumsum(a * np.where(fm < 1, nd1 / (tr * (1 - fm)), 0.0)[:, None, None], axis=0)
        score = (
            fb[:, None]
            * np.where(alive, d1 - nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None]), 0.0)
        ).sum(0)
        # events from the cause of interest
        t4 = np.where(skm > 0, 1 - (1 - f[:, None]) / skm, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(
            alive & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * rs), 0.0
        )
        w = a - t4[:, None, :] * c
        var = np.einsum("tk,tik,tjk->ij", t3, w, w)
        v3 = (t4**2 * t3).sum(0)
        v2 = np.einsum("tik,tk->ik", w, t4 * t3)
        # events from other causes
        ok = (skm > 0) & (d2 > 0)
        t4 = np.where(ok, (1 - f[:, None]) / skm, 0.0)
        t3 = np.where(ok, _tie_factor(d2, rs) * skmm**2 * d2 / rs**2, 0.0)
    w = t4[:, None, :] * c
    var += np.einsum("tk,tik,tjk->ij", t3, w, w)
    v3 += (t4**2 * t3).sum(0)
    v2 -= np.einsum("tik,tk->ik", w, t4 * t3)
    cf = c[-1]
    var += (cf * v3) @ cf.T + cf @ v2.T + v2 @ cf.T
    return _GrayPieces(score[:-1], var[:-1, :-1])


def gray_test(
    data: pd.DataFrame,
    *,
    duration: str,
    status: str,
    group: str,
    cause: object = 1,
    strata: str | None = None,
    rho: float = 0,
) -> TestResult:
    """Gray's k-sample test for equality of cumulative incidence functions of ``cause``.

    Same statistic as R's ``cuminc(time, status, group, strata=, rho=)$Tests``.

    Returns
    -------
    TestResult with ``statistic`` (chi-square on groups - 1 df), ``df``, ``p_value``.
    """
    time, d1, d2 = _validated(data, duration, status, cause, [group, strata])
    codes, labels = v.group_codes(data, group)
    if len(labels) < 2:
        raise SurvivalInputError(f"group column '{group}' has a single value; need at least two")
    m = np.where(d1 > 0, 1, np.where(d2 > 0, 2, 0))
    strata_codes, strata_labels = v.group_codes(data, strata)
    ng = len(labels)
    score, var = np.zeros(ng - 1), np.zeros((ng - 1, ng - 1))
    for s in range(len(strata_labels)):  # loop over strata only
        mine = strata_codes == s
        pieces = _gray_stratum(time[mine], m[mine], codes[mine], ng, rho)
        score, var = score + pieces.score, var + pieces.variance
    statistic = float(score @ np.linalg.solve(var, score))
    return TestResult(statistic, ng - 1, float(stats.chi2.sf(statistic, ng - 1)), "Gray")


@dataclass(eq=False)
class FineGrayResult:
    """Fine–Gray subdistribution hazard model (``cmprsk::crr``).

    ``coefficients``: DataFrame indexed by term with ``coef, se, z, p, shr, shr_lower,
    shr_upper`` (se is crr's sandwich SE); ``log_likelihood``; ``variance``.
    """

    coefficients: pd.DataFrame
    log_likelihood: float
    log_likelihood_null: float
    variance: pd.DataFrame
    iterations: int


def _censoring_before(time: np.ndarray, censored: np.ndarray, at: np.ndarray) -> np.ndarray:
    """KM of the censoring distribution just before ``at``: G(t-), as crr computes it."""
    order = np.argsort(time, kind="stable")
    curve = km_curve(time[order], censored[order])
    idx = np.searchsorted(curve.time, at, side="left")
    return np.r_[1.0, curve.survival][idx]


def _fg_pieces(x, beta, t, d1, d2, g_row, k_time, g_k, d_k):
    """Risk-set sums of the weighted partial likelihood at the distinct cause times."""
    with np.errstate(over="ignore"):  # a diverging trial step is halved by the caller
        e = np.exp(x @ beta)
    ex = x * e[:, None]
    first = np.searchsorted(t, k_time, "left")  # rows with t >= t_k start here
    tail0 = np.r_[np.cumsum(e[::-1])[::-1], 0.0]
    tail1 = np.vstack([np.cumsum(ex[::-1], axis=0)[::-1], np.zeros((1, x.shape[1]))])
    # other-cause failures stay in the risk set with weight G(t_k-) / G(t_j-)
    w2 = np.where(d2 > 0, 1 / g_row, 0.0)
    head0 = np.r_[0.0, np.cumsum(e * w2)]
    head1 = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(ex * w2[:, None], axis=0)])
    s0 = tail0[first] + g_k * head0[first]
    s1 = tail1[first] + g_k[:, None] * head1[first]
    return e, s0, s1, first, w2


def _fg_evaluate(x, beta, t, d1, d2, g_row, k_time, g_k, d_k):
    e, s0, s1, first, w2 = _fg_pieces(x, beta, t, d1, d2, g_row, k_time, g_k, d_k)
    xbar = s1 / s0[:, None]
    loglik = float((x @ beta)[d1 > 0].sum() - (d_k * np.log(s0)).sum())
    score = x[d1 > 0].sum(0) - (d_k[:, None] * xbar).sum(0)
    # per-row sum over the cause times the row is in the risk set of d_k w_ik / S0_k
    after = np.searchsorted(k_time, t, "right")  # cause times <= t_i
    c_own = np.r_[0.0, np.cumsum(d_k / s0)]
    c_other = np.r_[0.0, np.cumsum(d_k * g_k / s0)]
    weight = c_own[after] + w2 * (c_other[-1] - c_other[after])
    info = (x * (e * weight)[:, None]).T @ x - (xbar * d_k[:, None]).T @ xbar
    return loglik, score, info, (e, s0, xbar, after, w2, weight)


def _fg_sandwich(x, t, d1, d2, censored, g_k, d_k, k_time, pieces, info):
    """crr's variance: inv(I) (sum_i (eta_i + psi_i)(eta_i + psi_i)') inv(I)."""
    e, s0, xbar, after, w2, weight = pieces
    p = x.shape[1]
    own = np.vstack([np.zeros((1, p)), np.cumsum(xbar * (d_k / s0)[:, None], axis=0)])
    other = np.vstack([np.zeros((1, p)), np.cumsum(xbar * (d_k * g_k / s0)[:, None], axis=0)])
    eta = -x * (e * weight)[:, None] + e[:, None] * (
        own[after] + w2[:, None] * (other[-1] - other[after])
    )
    k_of = np.searchsorted(k_time, t, "left")
    eta[d1 > 0] += x[d1 > 0] - xbar[k_of[d1 > 0]]
    # q(u) at each censoring time u: other-cause failures before u, cause times from u on
    u, n_at_risk, n_cens = _per_time(t, censored)
    before_u = np.searchsorted(t, u, "left")
    h0 = np.r_[0.0, np.cumsum(e * w2)][before_u]
    h1 = np.vstack([np.zeros((1, p)), np.cumsum(x * (e * w2)[:, None], axis=0)])[before_u]
    from_u = np.searchsorted(k_time, u, "left")
    pk = np.r_[np.cumsum((d_k * g_k / s0)[::-1])[::-1], 0.0][from_u]
    qk = np.vstack(
        [np.cumsum((xbar * (d_k * g_k / s0)[:, None])[::-1], axis=0)[::-1], np.zeros((1, p))]
    )
    q = h1 * pk[:, None] - h0[:, None] * qk[from_u]
    cum = np.cumsum(q * (n_cens / n_at_risk**2)[:, None], axis=0)
    u_idx = np.searchsorted(u, t, "left")  # each row's own time in u
    psi = -cum[u_idx] + (censored > 0)[:, None] * q[u_idx] / n_at_risk[u_idx][:, None]
    total = eta + psi
    inv = np.linalg.inv(info)
    return inv @ (total.T @ total) @ inv.T


def fine_gray(
    data: pd.DataFrame,
    *,
    duration: str,
    status: str,
    covariates: Sequence[str],
    cause: object = 1,
    conf_level: float = 0.95,
    max_iter: int = 50,
) -> FineGrayResult:
    """Fine–Gray proportional subdistribution hazards regression, as R's
    ``crr(ftime, fstatus, cov1, failcode = cause, cencode = 0)``.

    Subjects failing from another cause stay in the risk set with weight G(t-) / G(T_j-),
    G being the Kaplan–Meier estimate of the censoring distribution (one censoring group).

    Returns
    -------
    FineGrayResult with ``coefficients`` (``coef, se, z, p, shr, shr_lower, shr_upper``).
    """
    covariates = v.as_list(covariates)
    time, d1, d2 = _validated(data, duration, status, cause, covariates)
    design = make_design(data, covariates)
    for name, levels in design.levels.items():  # a level without events has no finite estimate
        codes = pd.Categorical(data[name], categories=levels).codes.astype(np.intp)
        v.check_groups_have_events(codes, levels, d1 > 0, name)
    x_raw = design.matrix(data)
    v.check_covariates_vary(pd.DataFrame(x_raw, columns=design.columns))
    order = np.argsort(time, kind="stable")
    t, d1, d2 = time[order], d1[order], d2[order]
    x = x_raw[order] - x_raw.mean(axis=0)
    v.check_not_collinear(x, design.columns)
    censored = 1.0 - d1 - d2
    g_row = _censoring_before(t, censored, t)
    k_time, d_k = np.unique(t[d1 > 0], return_counts=True)
    d_k = d_k.astype(float)
    g_k = _censoring_before(t, censored, k_time)
    args = (t, d1, d2, g_row, k_time, g_k, d_k)
    beta = np.zeros(x.shape[1])
    loglik, score, info, pieces = _fg_evaluate(x, beta, *args)
    loglik0 = loglik
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported below
        step = np.linalg.solve(info, score)
        new = _fg_evaluate(x, beta + step, *args)
        halvings = 0
        while not new[0] >= loglik - 1e-12 * abs(loglik) and halvings < 30:
            step = step / 2  # overshoot (or overflow): back off, as crr does
            new = _fg_evaluate(x, beta + step, *args)
            halvings += 1
        beta = beta + step
        change = abs(new[0] - loglik)
        loglik, score, info, pieces = new
        if change <= 1e-11 * max(abs(loglik), 1.0) and np.abs(step).max() < 1e-8:
            break
    vcov = _fg_sandwich(x, t, d1, d2, censored, g_k, d_k, k_time, pieces, info)
    se = np.sqrt(np.diag(vcov))
    z = beta / se
    q = stats.norm.ppf(1 - (1 - conf_level) / 2)
    table = pd.DataFrame(
        {
            "coef": beta,
            "se": se,
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
            "shr": np.exp(beta),
            "shr_lower": np.exp(beta - q * se),
            "shr_upper": np.exp(beta + q * se),
        },
        index=pd.Index(design.columns, name="term"),
    )
    names = design.columns
    return FineGrayResult(
        table, loglik, loglik0, pd.DataFrame(vcov, index=names, columns=names), iterations
    )
