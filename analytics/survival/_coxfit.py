"""Vectorised Cox partial likelihood (Efron or Breslow ties, strata, (start, stop] data).

Why our own fitter: lifelines has only Efron ties and is several times slower than needed at a
million rows. Everything here is computed with sorted arrays and cumulative sums; there is no
Python loop over event times.

Notation. Rows are sorted once by (stratum, stop time). The K distinct (stratum, event time)
pairs are indexed k = 0..K-1 in the same order. Row i is at risk at event time k exactly when
``lo[i] <= k < hi[i]``: for right-censored data ``lo`` is the first event time of the row's
stratum; for counting-process data it is the first event time after the row's start. So

* risk-set sums S0_k = sum r_i, S1_k = sum r_i x_i are suffix sums over rows (the rows with
  ``hi > k`` in the stratum, minus, for (start, stop] data, those with ``lo > k``), and
* per-row sums over the event times a row is at risk at are differences of a cumulative sum
  over k: ``C[hi[i]] - C[lo[i]]``.

The information matrix needs sum_k sum_{i in R_k} r_i x_i x_i' / S0_k, which would be an n x p x p
array; it equals X' diag(r_i a_i) X with a_i the per-row sum above, one BLAS product.

Efron ties: with d_k tied events at time k, the j-th of them (j = 0..d_k-1) sees the denominator
S0_k - (j/d_k) E0_k, where E0_k is the risk score summed over the tied events. The (k, j) pairs
number exactly the events, so they are laid out as one array of length n_events. Breslow is the
same computation with j/d_k replaced by 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from analytics.survival import _validate as v


@dataclass
class RiskSets:
    """Everything about the data that does not depend on the coefficients.

    Rows are sorted by (stratum, stop, event first); a "cell" is a run of rows with the same
    stratum, stop time and event status, so every cell has one ``hi`` and sums over cells
    replace sums over rows in the risk-set computations.
    """

    x: np.ndarray  # (n, p) covariates, centred, rows sorted
    means: np.ndarray  # column means removed from x
    order: np.ndarray  # x = original rows[order]
    rows: np.ndarray  # 0..n-1: the sorted rows in their own order
    event: np.ndarray  # (n,) bool
    lo: np.ndarray  # (n,) first event-time index the row is at risk at
    hi: np.ndarray  # (n,) one past the last
    cell_starts: np.ndarray  # (C,) first row of each cell
    cell_sizes: np.ndarray  # (C,)
    ev_cell: np.ndarray  # (K,) the cell holding the events of event time k
    ev_rows: np.ndarray  # (m,) positions of event rows, sorted by event time
    ev_k: np.ndarray  # (m,) event-time index of each event row
    d: np.ndarray  # (K,) events per event time
    kstart: np.ndarray  # (K,) first position in ev_rows of each event time
    c: np.ndarray  # (m,) Efron down-weight j/d_k (zeros for Breslow)
    time_k: np.ndarray  # (K,) event times
    stratum_k: np.ndarray  # (K,) stratum code of each event time
    suffix_from: np.ndarray  # (K,) first cell with hi > k
    suffix_to: np.ndarray  # (K,) end cell of the stratum of k
    entry_order: np.ndarray | None  # rows sorted by (stratum, lo), counting-process data only
    entry_starts: np.ndarray | None  # cells of equal (stratum, lo) in that order
    entry_from: np.ndarray | None  # (K,) first such cell with lo > k
    entry_to: np.ndarray | None  # (K,) end of the stratum in that order
    x_event_sum: np.ndarray  # (K, p) sum of x over the events at k
    efron: bool


def build_risk_sets(
    design_rows: Callable[[np.ndarray], np.ndarray],
    stop: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray,
    start: np.ndarray | None,
    efron: bool,
) -> RiskSets:
    """Sort once and precompute the index arrays of the risk sets. ``design_rows(order)`` is
    the design matrix of the data's rows in that order (encoded sorted: a million-row design is
    not built and then gathered)."""
    # integer keys (stratum, time rank) make sorting and searching exact and stratum-aware
    times, rank = v.unique_inverse(stop if start is None else np.r_[stop, start])
    width = len(times) + 1
    key_stop = strata.astype(np.int64) * width + rank[: len(stop)]
    order = v.stable_argsort(key_stop * 2 + (~event))
    key_stop, event, strata = key_stop[order], event[order], strata[order]
    xs = design_rows(order)
    means = xs.mean(axis=0)
    xs -= means
    cell_key = key_stop * 2 + (~event)
    cell_starts = np.flatnonzero(np.r_[True, cell_key[1:] != cell_key[:-1]])
    event_keys = key_stop[cell_starts][event[cell_starts]]
    n_times = len(event_keys)
    hi = np.searchsorted(event_keys, key_stop, side="right")
    if start is None:
        lo = np.searchsorted(event_keys, strata.astype(np.int64) * width, side="left")
    else:
        start_key = strata.astype(np.int64) * width + rank[len(stop) :][order]
        lo = np.searchsorted(event_keys, start_key, side="right")
    ev_rows = np.flatnonzero(event)
    ev_k = np.searchsorted(event_keys, key_stop[ev_rows])
    d = np.bincount(ev_k, minlength=n_times)
    kstart = np.r_[0, np.cumsum(d)[:-1]]
    c = (np.arange(len(ev_rows)) - kstart[ev_k]) / d[ev_k] if efron else np.zeros(len(ev_rows))
    stratum_k = event_keys // width
    cell_hi = hi[cell_starts]
    entry_order = entry_starts = entry_from = entry_to = None
    if start is not None:
        key_lo = strata.astype(np.int64) * (n_times + 2) + lo
        entry_order = v.stable_argsort(key_lo)
        sorted_lo = key_lo[entry_order]
        entry_starts = np.flatnonzero(np.r_[True, sorted_lo[1:] != sorted_lo[:-1]])
        cell_lo = sorted_lo[entry_starts]
        base = stratum_k * (n_times + 2)
        entry_from = np.searchsorted(cell_lo, base + np.arange(n_times) + 1, "left")
        entry_to = np.searchsorted(cell_lo, base + n_times + 1, "right")
    ev_cell = cell_starts.searchsorted(ev_rows[kstart]) if n_times else np.zeros(0, int)
    return RiskSets(
        x=xs,
        means=means,
        order=order,
        rows=np.arange(len(order)),
        event=event,
        lo=lo,
        hi=hi,
        cell_starts=cell_starts,
        cell_sizes=np.diff(np.r_[cell_starts, len(order)]),
        ev_cell=ev_cell,
        ev_rows=ev_rows,
        ev_k=ev_k,
        d=d,
        kstart=kstart,
        c=c,
        time_k=times[event_keys % width],
        stratum_k=stratum_k,
        suffix_from=np.searchsorted(cell_hi, np.arange(n_times) + 1, side="left"),
        suffix_to=np.searchsorted(strata[cell_starts], stratum_k, side="right"),
        entry_order=entry_order,
        entry_starts=entry_starts,
        entry_from=entry_from,
        entry_to=entry_to,
        x_event_sum=np.add.reduceat(xs, cell_starts, axis=0)[ev_cell],
        efron=efron,
    )


def _suffix(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Sums of ``values[start:stop]`` for many ranges, via one reverse cumulative sum.

    Summing from the end keeps full precision for the small late risk sets.
    """
    tail = np.zeros((len(values) + 1,) + values.shape[1:])
    tail[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return tail[start] - tail[stop]


@numba.njit(cache=True, nogil=True)
def _group_sums(x, r, rows, starts):  # pragma: no cover (compiled)
    """Sums of r_i and r_i x_i over each group of rows ``rows[starts[g]:starts[g + 1]]``, in
    one pass (numpy needs the n x p product r x first, 80 MB at a million rows)."""
    n_groups, p = len(starts), x.shape[1]
    sum0, sum1 = np.zeros(n_groups), np.zeros((n_groups, p))
    for g in range(n_groups):
        end = starts[g + 1] if g + 1 < n_groups else len(rows)
        for a in range(starts[g], end):
            i = rows[a]
            sum0[g] += r[i]
            for j in range(p):
                sum1[g, j] += r[i] * x[i, j]
    return sum0, sum1


def _risk_sums(
    rs: RiskSets, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """S0, S1 over the risk sets and E0, E1 over the tied events, for every event time."""
    cell0, cell1 = _group_sums(rs.x, r, rs.rows, rs.cell_starts)
    s0 = _suffix(cell0, rs.suffix_from, rs.suffix_to)
    s1 = _suffix(cell1, rs.suffix_from, rs.suffix_to)
    if rs.entry_order is not None:  # remove rows that enter after t_k
        late0, late1 = _group_sums(rs.x, r, rs.entry_order, rs.entry_starts)
        s0 = s0 - _suffix(late0, rs.entry_from, rs.entry_to)
        s1 = s1 - _suffix(late1, rs.entry_from, rs.entry_to)
    return s0, s1, cell0[rs.ev_cell], cell1[rs.ev_cell]


@dataclass
class Evaluation:
    """Partial likelihood and the per-event-time pieces reused by residuals and tests."""

    loglik: float
    r: np.ndarray  # exp(eta), sorted rows
    s1: np.ndarray  # (K, p)
    e1: np.ndarray  # (K, p) sum of r x over the tied events
    sums: dict[str, np.ndarray]  # A, B, A2, B2, C2 per event time (see module docstring)
    score_k: np.ndarray  # (K, p) score contribution of each event time

    @property
    def gradient(self) -> np.ndarray:
        return self.score_k.sum(axis=0)


def evaluate(rs: RiskSets, beta: np.ndarray) -> Evaluation:
    """Log partial likelihood, per-time score contributions and the sums the information needs."""
    with np.errstate(over="ignore"):  # a diverging trial step is halved by the caller
        r = np.exp(rs.x @ beta)
    s0, s1, e0, e1 = _risk_sums(rs, r)
    if rs.efron:
        denom = s0[rs.ev_k] - rs.c * e0[rs.ev_k]
        inv = 1.0 / denom
        inv2 = inv * inv
        k = rs.kstart
        sums = {
            "A": np.add.reduceat(inv, k),  # sum_j 1 / D_kj
            "B": np.add.reduceat(rs.c * inv, k),  # sum_j c_kj / D_kj
            "A2": np.add.reduceat(inv2, k),
            "B2": np.add.reduceat(rs.c * inv2, k),
            "C2": np.add.reduceat(rs.c * rs.c * inv2, k),
        }
        log_denominators = np.log(denom).sum()
    else:  # Breslow: all d_k tied events see S0_k, no expansion needed
        zero = np.zeros(len(rs.d))
        sums = {"A": rs.d / s0, "B": zero, "A2": rs.d / s0**2, "B2": zero, "C2": zero}
        log_denominators = (rs.d * np.log(s0)).sum()
        e1 = np.zeros_like(s1)
    score_k = rs.x_event_sum - (s1 * sums["A"][:, None] - e1 * sums["B"][:, None])
    loglik = float(rs.x_event_sum.sum(axis=0) @ beta - log_denominators)
    return Evaluation(loglik, r, s1, e1, sums, score_k)


@numba.njit(cache=True, nogil=True)
def _weighted_gram(x, r, cum, hi, lo, own, cell_starts):  # pragma: no cover (compiled)
    """X' diag(a) X with a_i = r_i (C[hi_i] - C[lo_i] - own of the row's cell), one pass over
    the rows and half the products (symmetric); numpy wrote a and a x (n x p) first, twice
    the time of the product itself."""
    n, p = x.shape
    out = np.zeros((p, p))
    n_cells = len(cell_starts)
    for cell in range(n_cells):
        end = cell_starts[cell + 1] if cell + 1 < n_cells else n
        for i in range(cell_starts[cell], end):
            weight = r[i] * (cum[hi[i]] - cum[lo[i]] - own[cell])
            for a in range(p):
                xa = weight * x[i, a]
                for b in range(a + 1):
                    out[a, b] += xa * x[i, b]
    for a in range(p):
        for b in range(a):
            out[b, a] = out[a, b]
    return out


def information(rs: RiskSets, ev: Evaluation, weight_k: np.ndarray | None = None) -> np.ndarray:
    """Observed information, optionally with event time k weighted by ``weight_k``.

    Weighted versions give the blocks of the information of the model with x * g(t) terms
    (used by the proportional-hazards test).
    """
    w = np.ones(len(rs.d)) if weight_k is None else weight_k
    cum = np.r_[0.0, np.cumsum(ev.sums["A"] * w)]
    own = np.zeros(len(rs.cell_starts))  # tied events see (1 - c) of their own time's weight
    own[rs.ev_cell] = ev.sums["B"] * w
    first = _weighted_gram(rs.x, ev.r, cum, rs.hi, rs.lo, own, rs.cell_starts)
    s1, e1 = ev.s1, ev.e1
    second = s1.T @ (s1 * (ev.sums["A2"] * w)[:, None])
    if rs.efron:
        cross = s1.T @ (e1 * (ev.sums["B2"] * w)[:, None])
        second = second - cross - cross.T + e1.T @ (e1 * (ev.sums["C2"] * w)[:, None])
    return first - second


def newton_raphson(
    rs: RiskSets, max_iter: int = 50, tol: float = 1e-10
) -> tuple[np.ndarray, Evaluation, np.ndarray, float, int]:
    """Maximise the partial likelihood from beta = 0 with step halving (as R's coxph).

    Returns (beta, evaluation at beta, information at beta, null log-likelihood, iterations).
    """
    beta = np.zeros(rs.x.shape[1])
    ev = evaluate(rs, beta)
    loglik_null = ev.loglik
    info = information(rs, ev)
    for iteration in range(1, max_iter + 1):
        step = np.linalg.solve(info, ev.gradient)
        new_ev = evaluate(rs, beta + step)
        halvings = 0
        while not new_ev.loglik >= ev.loglik - 1e-12 * abs(ev.loglik) and halvings < 30:
            step = step / 2  # overshoot (or overflow): back off as R does
            new_ev = evaluate(rs, beta + step)
            halvings += 1
        beta = beta + step
        change = abs(new_ev.loglik - ev.loglik)
        ev = new_ev
        info = information(rs, ev)
        if change <= tol * max(abs(ev.loglik), 1.0):
            return beta, ev, info, loglik_null, iteration
    return beta, ev, info, loglik_null, max_iter


@numba.njit(cache=True, nogil=True)
def _row_residuals(
    x, r, hi, lo, a_cum, mh_cum, ev_rows, ev_k, mean_k, b_k, mb_k
):  # pragma: no cover (compiled)
    """The score residuals row by row (see :func:`score_residuals`): in numpy, six temporaries
    of n x p (80 MB each at a million rows) and four gathers took half a second."""
    n, p = x.shape
    out = np.empty((n, p))
    for i in range(n):
        weight = a_cum[hi[i]] - a_cum[lo[i]]
        for j in range(p):
            out[i, j] = -r[i] * (x[i, j] * weight - (mh_cum[hi[i], j] - mh_cum[lo[i], j]))
    for e in range(len(ev_rows)):
        i, k = ev_rows[e], ev_k[e]
        for j in range(p):
            out[i, j] += x[i, j] - mean_k[k, j]
            out[i, j] += r[i] * (x[i, j] * b_k[k] - mb_k[k, j])
    return out


def score_residuals(rs: RiskSets, ev: Evaluation) -> np.ndarray:
    """Score residuals (rows in sorted order), Efron-adjusted as R's ``residuals(type="score")``.

    L_i = delta_i (x_i - mean_k(i)) - r_i sum_{k: i at risk} w_ik (x_i - m_kj) / D_kj, where a tied
    event at its own time gets weight (1 - j/d_k) (Efron) instead of 1.
    """
    p, s = rs.x.shape[1], ev.sums
    a_cum = np.r_[0.0, np.cumsum(s["A"])]
    mh = ev.s1 * s["A2"][:, None] - ev.e1 * s["B2"][:, None]  # sum_j m_kj / D_kj
    mh_cum = np.vstack([np.zeros((1, p)), np.cumsum(mh, axis=0)])
    mean_sum = ev.s1 * s["A"][:, None] - ev.e1 * s["B"][:, None]  # sum_j m_kj
    mb = ev.s1 * s["B2"][:, None] - ev.e1 * s["C2"][:, None]  # sum_j c_kj m_kj / D_kj
    return _row_residuals(
        rs.x, ev.r, rs.hi, rs.lo, a_cum, mh_cum, rs.ev_rows, rs.ev_k,
        mean_sum / rs.d[:, None], s["B"], mb,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def sum_rows_by_group(values, group, n_groups):  # pragma: no cover (compiled)
    """Row sums of ``values`` (n x p) per ``group`` code (0..n_groups-1), in row order: one
    pass where a bincount per column read the codes p times."""
    out = np.zeros((n_groups, values.shape[1]))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            out[group[i], j] += values[i, j]
    return out


def baseline_hazard_increments(rs: RiskSets, ev: Evaluation) -> np.ndarray:
    """Increments of the baseline cumulative hazard at the centred covariates.

    Breslow: d_k / S0_k; Efron: sum_j 1 / (S0_k - j/d_k E0_k), R's default for an Efron fit.
    """
    return ev.sums["A"]
