"""Means over time in treatment: family support (MSPSS, APGAR) and TOP-style recovery
outcomes by months since admission, for a cohort and by group.

A measure a user can choose is checked against an allowlist (:data:`SUPPORT_MEASURES`,
:data:`OUTCOME_MEASURES`).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numba
import numpy as np
import pandas as pd
from scipy import stats

from analytics import episodes as episodes_mod
from analytics import store
from analytics.cohort_analysis import (
    add_groupings,
    check_grouping,
    cohort_of,
    grouping_columns,
    level_codes,
    threshold_for,
)
from analytics.cohort_spec import CohortSpec
from analytics.errors import RetentionError

DAYS_PER_MONTH = 30.4375
_SCALES = (1, 4, 12, 4096)  # whole numbers, quarters, twelfths, multiples of 1/4096


@numba.njit(cache=True, nogil=True)
def _cell_of(days, code, n_bins, bin_months):  # pragma: no cover (compiled)
    """The (group, bin) cell of one assessment, or -1 beyond the last bin."""
    month = np.floor(max(days, 0.0) / DAYS_PER_MONTH / bin_months)
    return -1 if month >= n_bins else code * n_bins + int(month)


@numba.njit(cache=True, nogil=True)
def _fits_scale(values, days, codes, n_bins, bin_months, scale):  # pragma: no cover (compiled)
    """Every value in a cell is a whole multiple of 1/``scale`` below 2**20 once scaled."""
    for i in range(len(values)):
        value = values[i]
        if np.isnan(value) or _cell_of(days[i], codes[i], n_bins, bin_months) < 0:
            continue
        scaled = value * scale
        if scaled != np.rint(scaled) or abs(scaled) >= 2.0**20:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _scaled_cell_sums(values, days, codes, n_bins, bin_months, scale, n_cells):  # pragma: no cover
    """Count, sum and sum of squares of ``values * scale`` per cell, in one pass and no array
    per row (six million assessments: fresh temporaries cost more than the sums)."""
    size = np.zeros(n_cells, np.int64)
    total, squares = np.zeros(n_cells), np.zeros(n_cells)
    for i in range(len(values)):
        value = values[i]
        if np.isnan(value):
            continue
        cell = _cell_of(days[i], codes[i], n_bins, bin_months)
        if cell < 0:
            continue
        scaled = value * scale
        size[cell] += 1
        total[cell] += scaled
        squares[cell] += scaled * scaled
    return size, total, squares


def _cell_sums(
    values: np.ndarray, days: np.ndarray, codes: np.ndarray, n_bins: int, bin_months: int,
    n_cells: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Count, sum and sum of squares of the non-missing ``values`` per (group code, bin of
    ``days``) cell, the same whatever the rows' order (a join returns them in any order; an
    export should not change in its last digit).

    Values that are whole multiples of 1/4096 (counts, days, 0/1, scores and their quarter
    means) are summed as whole numbers, exactly. Others are summed in sorted order."""
    days = np.asarray(days, dtype=float)
    for scale in _SCALES:
        if _fits_scale(values, days, codes, n_bins, bin_months, float(scale)):
            size, total, squares = _scaled_cell_sums(
                values, days, codes, n_bins, bin_months, float(scale), n_cells
            )
            return size, total / scale, squares / scale**2
    month = np.floor(np.maximum(days, 0) / DAYS_PER_MONTH / bin_months)
    keep = ~np.isnan(values) & (month < n_bins)
    values, cells = values[keep], codes[keep] * n_bins + month[keep].astype(np.intp)
    order = np.lexsort((values, cells))
    values, cells = values[order], cells[order]
    size = np.bincount(cells, minlength=n_cells)
    total = np.bincount(cells, weights=values, minlength=n_cells)
    squares = np.bincount(cells, weights=values * values, minlength=n_cells)
    return size, total, squares


def load_compiled_kernels() -> None:
    """Load (or, on a fresh checkout, compile) the binning kernels before someone's first chart."""
    one = np.ones(2)
    _cell_sums(one, one, np.zeros(2, dtype=np.intp), 2, 3, 2)
    _cell_sums(one / 3, one, np.zeros(2, dtype=np.intp), 2, 3, 2)


def mean_by_month(
    frame: pd.DataFrame,
    *,
    value: str,
    days: str = "days_since_start",
    group: str | None = None,
    bin_months: int = 3,
    max_months: int = 24,
    min_n: int = 5,
    binary: bool = False,
) -> pd.DataFrame:
    """Mean of ``value`` (with a 95% CI) by months since admission, per group.

    Assessments are put in bins of ``bin_months`` months (:data:`DAYS_PER_MONTH` days) after the start of the
    episode: 0 = the admission assessment (from 30 days before to just under ``bin_months``
    months after), 3 = the next... Bins beyond ``max_months`` or with fewer than ``min_n``
    values are dropped. The CI is Student's t (Wilson's for a 0/1 ``value`` when
    ``binary``).

    Returns
    -------
    DataFrame with ``group, month, n, mean, lower, upper``.
    """
    values = pd.to_numeric(frame[value], errors="coerce").to_numpy(float)
    if group:  # grouped by level position (millions of assessments: no text per row)
        levels, code = level_codes(frame[group], group)
    else:
        levels, code = ["All episodes"], np.zeros(len(frame), dtype=np.intp)
    n_bins = max_months // bin_months + 1
    size, total, squares = _cell_sums(
        values, frame[days].to_numpy(float), code, n_bins, bin_months, len(levels) * n_bins
    )
    used = np.flatnonzero(size >= max(min_n, 1))
    n = size[used].astype(float)
    mean = total[used] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(squares[used] - total[used] * mean, 0) / (n - 1))
        if binary:  # Wilson score interval for a proportion
            z = stats.norm.ppf(0.975)
            centre = (mean + z * z / (2 * n)) / (1 + z * z / n)
            half = z * np.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n)) / (1 + z * z / n)
            lower, upper = centre - half, centre + half
        else:
            half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
            lower, upper = mean - half, mean + half
    one = n < 2
    out = pd.DataFrame(
        {
            "group": np.asarray(levels, dtype=object)[used // n_bins],
            "month": (used % n_bins) * bin_months,
            "n": n.astype(int),
            "mean": mean,
            "lower": np.where(one, np.nan, lower),
            "upper": np.where(one, np.nan, upper),
        }
    )
    return out.sort_values(["group", "month"], kind="stable", ignore_index=True)


SUPPORT_MEASURES: dict[str, tuple[str, bool]] = {
    "mspss_family": ("MSPSS family subscale (mean score, 1–7)", False),
    "mspss_total": ("MSPSS total (mean score, 1–7)", False),
    "apgar_total": ("Family APGAR total (0–10)", False),
}


OUTCOME_MEASURES: dict[str, tuple[str, bool]] = {
    "heroin_days_28": ("Days using street heroin in the last 28", False),
    "other_opiates_days_28": ("Days using other opiates in the last 28", False),
    "crack_days_28": ("Days using crack in the last 28", False),
    "injecting_days_28": ("Days injecting in the last 28", False),
    "any_offending": ("Any offending in the last 28 days (% of patients)", True),
    "shoplifting_days_28": ("Days shoplifting in the last 28", False),
    "selling_drugs_days_28": ("Days selling drugs in the last 28", False),
    "acute_housing_problem": ("Acute housing problem (% of patients)", True),
    "at_risk_of_eviction": ("At risk of eviction (% of patients)", True),
    "paid_work_days_28": ("Days in paid work in the last 28", False),
    "quality_of_life": ("Quality of life (wellbeing score, 0–20)", False),
    "psychological_health": ("Psychological health (0–20)", False),
    "physical_health": ("Physical health (0–20)", False),
}
"""TOP-style measures a user may plot: column → (axis title with unit, is a 0/1 proportion)."""


def check_measure(measure: str, allowed, kind: str) -> None:
    """RetentionError unless ``measure`` is one of ``allowed`` (an allowlist, as column names)."""
    if measure not in allowed:
        raise RetentionError(
            f"Unknown {kind} measure {measure!r}: use one of {', '.join(allowed)}."
        )


def in_cohort(
    assessments: pd.DataFrame,
    episodes: pd.DataFrame,
    *,
    values: Sequence[str],
    group: str | None = None,
) -> pd.DataFrame:
    """The ``values`` columns of the assessments of the cohort's episodes, with
    ``days_since_start`` and the episode's ``group`` column: only what a chart needs, without
    the keys (a large store joins millions of assessments; their ids cost more to convert
    than the join)."""
    keys = ["patient_id", "episode_no"]
    frame = episodes if group is None or group in episodes.columns else add_groupings(episodes)
    rows = assessments[[*keys, "days_since_start", *values]]
    cohort = frame[keys]
    if group:  # the episodes' level positions, not a label per assessment
        levels, codes = level_codes(frame[group], group)
        cohort = cohort.assign(group_code=codes)
    # DuckDB joins on the string keys about 3x faster than pandas (6M assessments: 0.9 s);
    # a private in-memory connection, nothing of the store's
    with duckdb.connect() as con:
        con.register("assessment_rows", rows)
        con.register("cohort_keys", cohort)
        # the assessments' columns, then the group's code
        joined = store.frame_of(
            con.sql(
                "select * exclude (patient_id, episode_no) from assessment_rows"
                " inner join cohort_keys using (patient_id, episode_no)"
            )
        )
    if group:
        codes = joined.pop("group_code").to_numpy()
        joined[group] = pd.Categorical.from_codes(codes, categories=levels)
    return joined


def support_over_time(
    assessments: pd.DataFrame, episodes: pd.DataFrame, *, measure: str, group: str | None = None
) -> pd.DataFrame:
    """Mean MSPSS / APGAR score by months since admission for the cohort (see
    :func:`mean_by_month`); ``assessments`` is the ``support_assessments`` query."""
    check_measure(measure, SUPPORT_MEASURES, "support")
    data = in_cohort(assessments, episodes, values=[measure], group=group)
    return mean_by_month(data, value=measure, group=group)


OFFENDING_PARTS = (
    "shoplifting_days_28",
    "selling_drugs_days_28",
    "other_theft",
    "assault_violence",
)


def outcome_columns(measure: str) -> list[str]:
    """The profile columns a measure is computed from."""
    return list(OFFENDING_PARTS) if measure == "any_offending" else [measure]


def outcomes_over_time(
    profiles: pd.DataFrame, episodes: pd.DataFrame, *, measure: str, group: str | None = "modality"
) -> pd.DataFrame:
    """Mean TOP-style outcome by months since admission (see :func:`mean_by_month`);
    ``profiles`` is the ``outcome_profiles_by_episode`` query."""
    check_measure(measure, OUTCOME_MEASURES, "outcome")
    data = in_cohort(profiles, episodes, values=outcome_columns(measure), group=group)
    if measure == "any_offending":
        numbers = data[list(OFFENDING_PARTS)].apply(pd.to_numeric, errors="coerce").astype(float)
        offended = (numbers.fillna(0) > 0).any(axis=1).astype(float)
        data["any_offending"] = offended.where(numbers.notna().any(axis=1))
    return mean_by_month(data, value=measure, group=group, binary=OUTCOME_MEASURES[measure][1])


def _drop_small_points(reader, viewer, table: pd.DataFrame) -> pd.DataFrame:
    threshold = threshold_for(reader, viewer)
    if threshold is None:
        return table
    from analytics.suppression import drop_small_rows

    return drop_small_rows(table, threshold, counts=["n"])


ASSESSMENT_KEYS = ("patient_id", "episode_no", "days_since_start")
_READ_FOR = {  # what the audit log says the rows were read for
    "support_assessments": "support over time",
    "outcome_profiles_by_episode": "recovery outcomes over time",
}


def _assessments(reader, viewer, spec: CohortSpec, query: str, values: Sequence[str]):
    """The viewer's assessments by episode in the spec's clinics, only the keys and the
    ``values`` columns (a large store has millions of assessments of a dozen measures; a chart
    shows one), remembered per gap rule, cut-off and clinics."""
    with reader.cursor() as cur:
        as_of = episodes_mod.resolve_as_of(cur, spec)
    columns = [*ASSESSMENT_KEYS, *values]

    def read() -> pd.DataFrame:
        # the chosen clinics' assessments only, through the access layer like the cohort:
        # scoped, audited and, for a viewer without identifiable access, under the same
        # pseudonyms as the cohort's episodes (with the store's ids no row would join)
        from analytics.access import patient_rows  # access builds on the store, as we do

        params = {"gap_days": spec.gap_days, "as_of": as_of, "clinic_ids": list(spec.clinic_ids)}
        return patient_rows(reader, viewer, query, params, what=_READ_FOR[query], columns=columns)

    key = (query, viewer, spec.gap_days, as_of, spec.clinic_ids, tuple(values))
    return reader.memoized(key, read)


def _means_for(reader, viewer, spec: CohortSpec, query: str, means, measure, values, group):
    """``means(assessments of query, cohort, ...)`` of the spec's cohort, small points
    dropped for viewers without identifiable access."""
    if group is not None:
        check_grouping(group)
    assessments = _assessments(reader, viewer, spec, query, values)
    columns = ["patient_id", "episode_no", *grouping_columns(group)]  # all a join needs
    table = means(
        assessments, cohort_of(reader, viewer, spec, columns), measure=measure, group=group
    )
    return _drop_small_points(reader, viewer, table)


def support_over_time_for(
    reader, viewer, spec: CohortSpec, *, measure: str = "mspss_family", group: str | None = None
) -> pd.DataFrame:
    """:func:`support_over_time` of the spec's cohort."""
    check_measure(measure, SUPPORT_MEASURES, "support")  # before it names a column
    return _means_for(
        reader, viewer, spec, "support_assessments", support_over_time, measure, [measure], group
    )


def outcomes_over_time_for(
    reader, viewer, spec: CohortSpec, *, measure: str = "heroin_days_28",
    group: str | None = "modality",
) -> pd.DataFrame:  # fmt: skip
    """:func:`outcomes_over_time` of the spec's cohort."""
    check_measure(measure, OUTCOME_MEASURES, "outcome")  # before it names a column
    return _means_for(
        reader, viewer, spec, "outcome_profiles_by_episode", outcomes_over_time, measure,
        outcome_columns(measure), group,
    )  # fmt: skip
