"""Relapse patterns of a cohort, for the Relapse page: the lasagna of weekly urine results,
the proportion positive by week, cumulative incidence of first relapse and missed doses
before dropout. The rows come from :mod:`analytics.relapse` (the store's SQL marts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics import relapse
from analytics.cohort_analysis import ALL, check_grouping, grouped
from analytics.cohort_spec import CohortSpec
from analytics.episodes import patient_sample_share
from analytics.errors import SurvivalInputError
from analytics.survival import cumulative_incidence, gray_test

RESULT_CATEGORIES = {"-": "negative", "+": "positive", "o": "missed", "*": "other"}
LASAGNA_MAX_PATIENTS = 300
LASAGNA_SEED = 20261124
MAX_WEEKS = 52  # the page shows weeks 0-52 since admission
# Weekly results and missed days of larger cohorts come from a fixed random sample of patients
# of about this many episodes: a weekly proportion from 20,000 episodes is within about ±1%,
# and tens of millions of weekly rows would not fit a page's time or memory.
SAMPLE_MAX_EPISODES = 20_000
RELAPSE_CAUSES = {1: "First relapse", 2: "Left treatment before relapsing"}
SUPPRESS_BELOW = "suppress_below"
"""``attrs`` key of the rows of a viewer without identifiable access: the aggregates of this
module hide counts below it (weeks, steps, groups)."""


@dataclass(frozen=True)
class RelapseData:
    """The cohort's weekly screens, episodes with first-relapse times, and missed dose days."""

    weeks: pd.DataFrame
    first: pd.DataFrame
    missed: pd.DataFrame
    sample_share: float | None = None  # weeks and missed: this share of the patients (None all)


def relapse_data_for(reader, viewer, spec: CohortSpec) -> RelapseData:
    """Everything the Relapse page needs for the spec's cohort (each part read once per
    reader: see :func:`first_relapse_rows`, :func:`screen_week_rows`, :func:`missed_day_rows`)."""
    first = first_relapse_rows(reader, viewer, spec)
    return RelapseData(
        screen_week_rows(reader, viewer, spec),
        first,
        missed_day_rows(reader, viewer, spec),
        patient_sample_share(len(first), SAMPLE_MAX_EPISODES),
    )


def _share_of(reader, viewer, spec: CohortSpec) -> float | None:
    # from the cohort's keys (remembered, and read by the weekly rows anyway): the lasagna
    # needs no first-relapse times, which take seconds on a million episodes
    n_episodes = len(relapse.cohort_keys(reader, viewer, spec))
    return patient_sample_share(n_episodes, SAMPLE_MAX_EPISODES)


def _marked(frame: pd.DataFrame, reader, viewer) -> pd.DataFrame:
    from analytics.access import viewer_threshold

    threshold = viewer_threshold(reader, viewer)
    if threshold is not None:  # the aggregates below suppress small counts for this viewer
        frame.attrs[SUPPRESS_BELOW] = threshold
    return frame


# Each part is remembered by the reader on its own, so a page section reads only the part it
# shows (at a million patients screen weeks and missed days take seconds each).


def first_relapse_rows(reader, viewer, spec: CohortSpec) -> pd.DataFrame:
    """The cohort's episodes with first-relapse times (every episode), remembered."""
    return reader.memoized(
        ("relapse_first", viewer, spec),
        lambda: _marked(relapse.first_relapse(reader, viewer, spec), reader, viewer),
    )


def screen_week_rows(reader, viewer, spec: CohortSpec) -> pd.DataFrame:
    """Weekly screen results of the first year (a patient sample of a large cohort), remembered."""

    def read() -> pd.DataFrame:
        share = _share_of(reader, viewer, spec)
        weeks = relapse.screen_weeks(
            reader, viewer, spec, max_week_no=MAX_WEEKS, sample_share=share
        )
        return _marked(weeks, reader, viewer)

    return reader.memoized(("relapse_weeks", viewer, spec), read)


def missed_day_rows(reader, viewer, spec: CohortSpec) -> pd.DataFrame:
    """Missed dose days (the same patient sample as the weeks), remembered."""

    def read() -> pd.DataFrame:
        share = _share_of(reader, viewer, spec)
        missed = relapse.missed_dose_days(reader, viewer, spec, sample_share=share)
        return _marked(missed, reader, viewer)

    return reader.memoized(("relapse_missed", viewer, spec), read)


def _threshold(*frames: pd.DataFrame) -> int | None:
    """The small-cell threshold the rows were marked with by :func:`relapse_data_for`."""
    for frame in frames:
        if frame.attrs.get(SUPPRESS_BELOW) is not None:
            return int(frame.attrs[SUPPRESS_BELOW])
    return None


def lasagna_frame(
    weeks: pd.DataFrame,
    episodes: pd.DataFrame,
    *,
    max_patients: int = LASAGNA_MAX_PATIENTS,
    max_weeks: int = MAX_WEEKS,
    seed: int = LASAGNA_SEED,
    result: str = "opioid_result",
) -> tuple[pd.DataFrame, int]:
    """Rows for ``analytics.charts.lasagna_chart``: one episode per row, weeks 0..max_weeks.

    A random sample (fixed ``seed``) of at most ``max_patients`` episodes keeps the picture
    readable. Rows are labelled by the episode's position in the sample (never the patient id).

    Returns
    -------
    (frame, n_episodes): ``row_label, week, result`` (negative, positive, missed, other) and
    how many episodes the cohort has with screens.
    """
    on = ["patient_id", "episode_no"]
    keys = weeks[on].drop_duplicates()
    # joins of a few patients' rows: a cheap membership test first, not a join of all the
    # cohort's (or all the weeks') string keys (a million episodes: about half a second)
    candidates = episodes.loc[episodes["patient_id"].isin(keys["patient_id"].unique()), on]
    keys = keys.merge(candidates, on=on)
    n_total = len(keys)
    if n_total == 0:
        raise SurvivalInputError("No urine screens in this cohort: widen the filters.")
    if n_total > max_patients:
        keys = keys.sample(n=max_patients, random_state=np.random.default_rng(seed))
    keys = keys.sort_values(on).reset_index(drop=True)
    keys["row_label"] = [f"#{i + 1}" for i in range(len(keys))]
    shown = (weeks["week_no"] <= max_weeks) & weeks["patient_id"].isin(keys["patient_id"])
    rows = weeks[shown].merge(keys, on=on)
    frame = pd.DataFrame(
        {
            "row_label": rows["row_label"],
            "week": rows["week_no"].astype(int),
            "result": rows[result].map(RESULT_CATEGORIES).fillna("other"),
        }
    )
    return frame, n_total


def positive_by_week(
    weeks: pd.DataFrame,
    episodes: pd.DataFrame,
    *,
    group: str = ALL,
    max_weeks: int = MAX_WEEKS,
    missed_as_positive: bool = False,
    result: str = "opioid_result",
    min_n: int = 5,
) -> pd.DataFrame:
    """Proportion of screened episodes positive in each week since admission, with a Wilson
    95% CI, per group.

    A week counts when the episode has a result ("+" or "-"); with ``missed_as_positive`` a
    missed screen ("o") counts as positive (the usual sensitivity analysis). Weeks with fewer
    than ``min_n`` results are dropped.

    Returns
    -------
    DataFrame with ``group, week, n, n_positive, proportion, lower, upper``.
    """
    check_grouping(group)
    labelled = grouped(episodes, group, ["patient_id", "episode_no"])
    data = weeks[weeks["week_no"] <= max_weeks].merge(labelled, on=["patient_id", "episode_no"])
    counted = ["+", "-", "o"] if missed_as_positive else ["+", "-"]
    positive = ["+", "o"] if missed_as_positive else ["+"]
    data = data[data[result].isin(counted)]
    data = data.assign(is_positive=data[result].isin(positive).astype(int))
    table = (
        data.groupby(["group", "week_no"], observed=True)["is_positive"]
        .agg(n="size", n_positive="sum")
        .reset_index()
        .rename(columns={"week_no": "week"})
    )
    table = table[table["n"] >= min_n].copy()
    z = stats.norm.ppf(0.975)
    n, p = table["n"].to_numpy(float), (table["n_positive"] / table["n"]).to_numpy(float)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    table["proportion"], table["lower"], table["upper"] = p, centre - half, centre + half
    table["group"] = table["group"].astype(str)
    table = table[["group", "week", "n", "n_positive", "proportion", "lower", "upper"]]
    threshold = _threshold(weeks, episodes)
    if threshold is not None:  # a week is shown only when screened, positive and negative
        from analytics.suppression import drop_small_rows  # counts are all >= threshold or 0

        table = drop_small_rows(
            table, threshold, counts=["n", "n_positive"], complements=[("n", "n_positive")]
        )
    return table


def first_relapse_incidence(
    first: pd.DataFrame, group: str = ALL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cumulative incidence of first relapse, leaving treatment first as a competing event.

    ``first`` holds the episodes with ``relapse_days`` and ``relapse_status`` (1 relapse,
    2 left treatment first, 0 censored) from ``analytics.relapse.first_relapse``.

    Returns
    -------
    (cif, tests): ``group, cause, time, n_risk, cif, lower, upper...``; Gray's test per cause
    when there are two or more groups (``cause, method, statistic, df, p_value``).
    """
    check_grouping(group)
    if first.empty:
        raise SurvivalInputError("The cohort has no episodes: widen the filters.")
    frame = grouped(first, group, ["relapse_days", "relapse_status"])
    order = [str(level) for level in frame["group"].cat.categories]  # the grouping's own order
    frame["group"] = frame["group"].astype(str)
    frame["relapse_status"] = frame["relapse_status"].astype(int)
    parts, tests = [], []
    for cause, name in RELAPSE_CAUSES.items():
        if not (frame["relapse_status"] == cause).any():
            continue
        kw = {"duration": "relapse_days", "status": "relapse_status", "cause": cause}
        parts.append(cumulative_incidence(frame, group="group", **kw).assign(cause=name))
        if frame["group"].nunique() >= 2:
            tests.append(gray_test(frame, group="group", **kw).to_frame().assign(cause=name))
    if not parts:
        raise SurvivalInputError("No relapse and no exit in this cohort yet: nothing to show.")
    columns = ["cause", "method", "statistic", "df", "p_value"]
    test_frame = (
        pd.concat(tests, ignore_index=True)[columns] if tests else pd.DataFrame(columns=columns)
    )
    cif = pd.concat(parts, ignore_index=True)
    rank = cif["group"].map({level: i for i, level in enumerate(order)})
    cif = cif.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    threshold = _threshold(first)
    if threshold is not None:
        from analytics.suppression import suppress_step_table

        cif = suppress_step_table(cif, threshold, group=("group", "cause"))
    return cif, test_frame


def missed_before_dropout(
    missed: pd.DataFrame, episodes: pd.DataFrame, weeks: int = 12
) -> pd.DataFrame:
    """Mean missed dose days per episode in each of the ``weeks`` weeks before the end of
    treatment, dropouts vs other exits (:func:`analytics.relapse.missed_before_exit`)."""
    closed = episodes[episodes["event_observed"] == 1]
    if closed.empty:
        raise SurvivalInputError("No episode in this cohort has ended yet.")
    table = relapse.missed_before_exit(missed, episodes, weeks=weeks)
    threshold = _threshold(missed, episodes)
    if threshold is not None:  # a group of fewer episodes than the threshold is not shown
        from analytics.suppression import drop_small_rows

        table = drop_small_rows(table, threshold, counts=["n_episodes"])
    return table


# The page's sections, each from the parts it shows (remembered by the reader, not read again
# on every rerun of the page: at a million patients the rows are millions, the results a few
# hundred).


def lasagna_for(reader, viewer, spec: CohortSpec) -> tuple[pd.DataFrame, int]:
    """:func:`lasagna_frame` of the spec's cohort (the share of patients its weekly rows come
    from: :func:`sample_share_of_cohort_for`)."""
    return lasagna_frame(
        screen_week_rows(reader, viewer, spec), relapse.cohort_keys(reader, viewer, spec)
    )


def positive_by_week_for(
    reader, viewer, spec: CohortSpec, *, group: str = ALL, missed_as_positive: bool = False
) -> pd.DataFrame:
    """:func:`positive_by_week` of the spec's cohort."""
    return positive_by_week(
        screen_week_rows(reader, viewer, spec),
        first_relapse_rows(reader, viewer, spec),
        group=group,
        missed_as_positive=missed_as_positive,
    )


def sample_share_of_cohort_for(reader, viewer, spec: CohortSpec) -> float | None:
    """Share of the cohort's patients the weekly rows and missed days come from (None: all)."""
    return _share_of(reader, viewer, spec)


def first_relapse_incidence_for(
    reader, viewer, spec: CohortSpec, *, group: str = ALL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`first_relapse_incidence` of the spec's cohort."""
    return first_relapse_incidence(first_relapse_rows(reader, viewer, spec), group)


def missed_before_dropout_for(reader, viewer, spec: CohortSpec) -> pd.DataFrame:
    """:func:`missed_before_dropout` of the spec's cohort."""
    return missed_before_dropout(
        missed_day_rows(reader, viewer, spec), first_relapse_rows(reader, viewer, spec)
    )
