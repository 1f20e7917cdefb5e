"""Harrell's concordance for a Cox model, as R's ``coxph()$concordance`` (timewt = "n").

For every event at time t (within its stratum), each row at risk at t that does not itself have
an event at t is compared: concordant if its risk score is lower, discordant if higher, tied
otherwise. concordance = (concordant + tied / 2) / (concordant + discordant + tied).

Counting "rows at risk at t with a lower score" for every event is a two-dimensional dominance
count. It is done in O(n log^2 n) with numpy only: a bottom-up merge over the rows ordered by time,
where each level answers all queries at once with ``np.searchsorted`` (no Python loop over rows).
"""

from __future__ import annotations

import numpy as np


def _positions(sorted_values: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``np.searchsorted(sorted_values, needles, "left")``, searching the needles in sorted
    order: a binary search that starts from the previous needle's place stays in cache
    (a million random needles: 4x faster, sort included)."""
    order = np.argsort(needles)  # equal needles find the same place: any order will do
    out = np.empty(len(needles), dtype=np.int64)
    out[order] = np.searchsorted(sorted_values, needles[order], "left")
    return out


def _dominance_counts(
    point_time: np.ndarray, point_value: np.ndarray, query_time: np.ndarray, query_value: np.ndarray
) -> np.ndarray:
    """#{points with time >= query time and value < query value}, for each query.

    = #{value < v} - #{time < t and value < v}. The second term uses the binary decomposition of
    the time ranks [0, t): at level l, a query whose rank has bit l set looks up one block of
    2^l time ranks, in which the points are sorted by value (``np.searchsorted``). The sorted
    order of level l + 1 is obtained from level l by a stable sort of two sorted runs per block
    (timsort merges them in linear time). Values must be non-negative integers.
    """
    times, rank = np.unique(np.r_[point_time, query_time], return_inverse=True)
    p_rank, q_rank = rank[: len(point_time)], rank[len(point_time) :]
    span = int(max(point_value.max(initial=0), query_value.max(initial=0))) + 2
    p_val = point_value.astype(np.int64)
    q_val = query_value.astype(np.int64)
    sorted_values = np.sort(p_val)
    counts = _positions(sorted_values, q_val)
    keys = p_rank.astype(np.int64) * span + p_val
    keys.sort(kind="stable")
    level = 0
    while (1 << level) < len(times):
        if level:
            keys = ((keys // span) >> 1) * span + keys % span
            keys.sort(kind="stable")  # two sorted runs per block: a linear merge
        block = q_rank >> level
        asking = (block & 1) == 1
        sibling = (block[asking] - 1).astype(np.int64) * span
        # where each block's keys start: one search per block, not per query
        block_starts = np.searchsorted(keys, np.arange(block.max() + 1, dtype=np.int64) * span)
        counts[asking] -= (
            _positions(keys, sibling + q_val[asking]) - block_starts[block[asking] - 1]
        )
        level += 1
    return counts


def _tied_below(group_key: np.ndarray, value: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """For each element, how many elements of its group have a value below its threshold."""
    width = int(max(value.max(), threshold.max())) + 2
    sorted_keys = np.sort(group_key * width + value)
    return np.searchsorted(sorted_keys, group_key * width + threshold, "left") - np.searchsorted(
        sorted_keys, group_key * width, "left"
    )


def _at_or_after(point_time: np.ndarray, query_time: np.ndarray) -> np.ndarray:
    """#{points with time >= query time}, for each query."""
    return len(point_time) - np.searchsorted(np.sort(point_time), query_time, "left")


def concordance_counts(
    eta: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray,
    start: np.ndarray | None = None,
) -> dict[str, float]:
    """Concordant, discordant and tied-on-predictor pair counts, and the concordance.

    A higher risk score predicts a shorter time, so "concordant" means the row compared with an
    event has a lower score. Each stratum is counted on its own rows: below and at-or-below an
    event's score are two dominance counts per event, and the rows at risk a plain count (the
    two bounds of a stratum offset into one count took twice the dominance work).
    """
    ranks = np.unique(eta, return_inverse=True)[1].astype(np.int64).ravel()
    ev = np.flatnonzero(event)
    if len(ev) == 0:
        return {"concordant": 0.0, "discordant": 0.0, "tied_x": 0.0, "concordance": np.nan}
    t = stop[ev]
    m = len(ev)
    below, at_or_below, in_stratum = (np.empty(m, dtype=np.int64) for _ in range(3))
    event_strata = strata[ev]
    for stratum in np.unique(event_strata):
        rows = np.flatnonzero(strata == stratum)
        mine = np.flatnonzero(event_strata == stratum)
        q_time, own = t[mine], ranks[ev[mine]]
        q_both, v_both = np.r_[q_time, q_time], np.r_[own, own + 1]
        counts = _dominance_counts(stop[rows], ranks[rows], q_both, v_both)
        at_risk = _at_or_after(stop[rows], q_time)
        if start is not None:  # rows that start at or after t are not yet at risk
            counts -= _dominance_counts(start[rows], ranks[rows], q_both, v_both)
            at_risk -= _at_or_after(start[rows], q_time)
        below[mine], at_or_below[mine], in_stratum[mine] = (
            counts[: len(mine)],
            counts[len(mine) :],
            at_risk,
        )
    # events tied at the same time and stratum are not comparable (the event itself included)
    t_rank = np.unique(t, return_inverse=True)[1].ravel().astype(np.int64)
    group = event_strata.astype(np.int64) * (t_rank.max() + 1) + t_rank
    tied_below = _tied_below(group, ranks[ev], ranks[ev])
    tied_at_or_below = _tied_below(group, ranks[ev], ranks[ev] + 1)
    tied_total = np.bincount(group)[group]
    concordant = float((below - tied_below).sum())
    tied_x = float((at_or_below - below - (tied_at_or_below - tied_below)).sum())
    discordant = float((in_stratum - at_or_below - (tied_total - tied_at_or_below)).sum())
    denominator = concordant + discordant + tied_x
    return {
        "concordant": concordant,
        "discordant": discordant,
        "tied_x": tied_x,
        "concordance": (concordant + tied_x / 2) / denominator if denominator else np.nan,
    }
