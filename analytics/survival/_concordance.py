"""Harrell's concordance for a Cox model, as R's ``coxph()$concordance`` (timewt = "n").

For every event at time t (within its stratum), each row at risk at t that does not itself have
an event at t is compared: concordant if its risk score is lower, discordant if higher, tied
otherwise. concordance = (concordant + tied / 2) / (concordant + discordant + tied).

As R's survival does in C, each stratum is swept once from the last time to the first with a
Fenwick tree of the rows at risk, indexed by risk-score rank: O(n log n). At each time the rows
censored there join the tree, rows whose (start, stop] begins at or after it leave, the events
there are counted against the tree, and only then join it, so tied events never meet. The sweep
is compiled with numba: a million rows take a tenth of a second where the best numpy-only
formulation (a merge over time ranks with binary searches) took nearly two.
"""

from __future__ import annotations

import numba
import numpy as np

from analytics.survival._validate import unique_inverse


@numba.njit(cache=True, nogil=True)
def _add(tree: np.ndarray, rank: int, amount: int) -> None:
    k = rank + 1
    while k < len(tree):
        tree[k] += amount
        k += k & -k


@numba.njit(cache=True, nogil=True)
def _count_below(tree: np.ndarray, rank: int) -> int:
    """Rows in the tree with a rank below ``rank``."""
    total = 0
    k = rank
    while k > 0:
        total += tree[k]
        k -= k & -k
    return total


@numba.njit(cache=True, nogil=True)
def _stratum_pairs(
    rank: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    start: np.ndarray,
    by_stop: np.ndarray,
    by_start: np.ndarray,
    n_ranks: int,
) -> tuple[int, int, int]:
    """(concordant, tied, discordant) of one stratum. ``by_stop`` and ``by_start`` order its
    rows by decreasing stop and start time (``by_start`` empty for right-censored data)."""
    tree = np.zeros(n_ranks + 1, np.int64)
    n, n_starts = len(by_stop), len(by_start)
    in_tree = 0
    left = 0  # next row (by decreasing start) that may leave the risk set
    concordant = tied = discordant = 0
    first = 0
    while first < n:
        t = stop[by_stop[first]]
        end = first
        while end < n and stop[by_stop[end]] == t:
            end += 1
        for a in range(first, end):
            if not event[by_stop[a]]:
                _add(tree, rank[by_stop[a]], 1)
                in_tree += 1
        # a row whose interval starts at or after t is not at risk at t (its stop is later,
        # so it is in the tree already)
        while left < n_starts and start[by_start[left]] >= t:
            _add(tree, rank[by_start[left]], -1)
            in_tree -= 1
            left += 1
        for a in range(first, end):
            row = by_stop[a]
            if event[row]:
                below = _count_below(tree, rank[row])
                at_or_below = _count_below(tree, rank[row] + 1)
                concordant += below
                tied += at_or_below - below
                discordant += in_tree - at_or_below
        for a in range(first, end):
            if event[by_stop[a]]:
                _add(tree, rank[by_stop[a]], 1)
                in_tree += 1
        first = end
    return concordant, tied, discordant


def concordance_counts(
    eta: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray,
    start: np.ndarray | None = None,
) -> dict[str, float]:
    """Concordant, discordant and tied-on-predictor pair counts, and the concordance.

    A higher risk score predicts a shorter time, so "concordant" means the row compared with an
    event has a lower score. Pairs are formed within a stratum only.
    """
    if not np.any(event):
        return {"concordant": 0.0, "discordant": 0.0, "tied_x": 0.0, "concordance": np.nan}
    ranks = unique_inverse(eta)[1].astype(np.int64)
    n_ranks = int(ranks.max()) + 1
    stop = np.asarray(stop, dtype=np.float64)
    begin = np.zeros(0) if start is None else np.asarray(start, dtype=np.float64)
    event = np.asarray(event, dtype=np.bool_)
    concordant = tied_x = discordant = 0
    for stratum in np.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        stop_s = stop[rows]
        by_stop = np.argsort(-stop_s, kind="stable")
        by_start = np.zeros(0, np.int64)
        start_s = np.zeros(0)
        if start is not None:
            start_s = begin[rows]
            by_start = np.argsort(-start_s, kind="stable")
        c, t, d = _stratum_pairs(
            ranks[rows], stop_s, event[rows], start_s, by_stop, by_start, n_ranks
        )
        concordant, tied_x, discordant = concordant + c, tied_x + t, discordant + d
    denominator = concordant + discordant + tied_x
    return {
        "concordant": float(concordant),
        "discordant": float(discordant),
        "tied_x": float(tied_x),
        "concordance": (concordant + tied_x / 2) / denominator if denominator else np.nan,
    }
