"""Research analyses of a cohort: its groupings, retention curves, sensitivity to the gap
rule, competing risks, RMST and the family-education test. Table 1 is in
:mod:`analytics.table_one`, support and outcomes over time in :mod:`analytics.trends`.

Pure functions take the cohort's episodes (``analytics.episodes.cohort_episodes``) and return
tidy frames or small result objects; the ``*_for`` wrappers take ``(reader, viewer, spec, ...)``
so the dashboard can cache them with ``dashboard.data.computed``. Regression models (Cox,
Fine–Gray, adjusted curves) live in :mod:`analytics.risk_models`.

A column a user can choose (a grouping, a model term, an outcome measure) is always checked
against an allowlist here (:data:`GROUPINGS`, :data:`OUTCOME_MEASURES`...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics import episodes as episodes_mod
from analytics import store
from analytics.charts.curves import risk_table_times
from analytics.cohort_spec import GAP_DAYS_CHOICES, CohortSpec
from analytics.errors import RetentionError, SurvivalInputError
from analytics.survival import (
    cumulative_incidence,
    gray_test,
    kaplan_meier,
    logrank_test,
    logrank_trend_test,
    median_survival,
    rmst,
    rmst_difference,
    survival_at,
)

ALL = "none"
GROUPINGS: dict[str, str] = {
    ALL: "Everyone (no grouping)",
    "clinic_name": "Clinic",
    "modality": "Treatment",
    "sex": "Sex",
    "age_band": "Age at admission",
    "dose_band": "Methadone dose at day 30",
    "family_support": "Family support (MSPSS family subscale band)",
    "mspss_family_tertile": "MSPSS family subscale tertile",
    "apgar_category": "Family APGAR",
    "episode_type": "First or repeat episode",
    "has_drug_using_friends": "Drug-using friends",
    "has_no_income": "No income",
    "has_family_education_before": "Family education before admission",
}
"""Columns a user may group by (after :func:`add_groupings`), with readable names."""

LEVEL_LABELS: dict[str, str] = {
    "<60": "<60 mg",
    "60-79": "60–79 mg",
    ">=80": "≥80 mg",
    "not_applicable": "not methadone",
    "severe_dysfunction": "severe dysfunction",
    "moderate_dysfunction": "moderate dysfunction",
    "F": "female",
    "M": "male",
    "X": "other / not stated",
}
ORDERED_LEVELS: dict[str, list[str]] = {
    "dose_band": ["<60 mg", "60–79 mg", "≥80 mg"],
    "family_support": ["low", "moderate", "high"],
    "mspss_family_tertile": ["T1 (lowest)", "T2", "T3 (highest)"],
    "apgar_category": ["severe dysfunction", "moderate dysfunction", "functional"],
    "age_band": ["<30", "30–39", "40–49", "50+"],
}
"""Groupings with a natural order (a trend test applies); other levels (unknown...) follow."""
UNKNOWN = "unknown"
HORIZON_DAYS = (90, 365)
RMST_TAU_DAYS = 365


# --------------------------------------------------------------------------- groupings


def _label(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return UNKNOWN
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return LEVEL_LABELS.get(str(value), str(value))


def labels_of(values: pd.Series) -> pd.Series:
    """``_label`` of every value, computed once per distinct value (a cohort has millions of
    rows and a handful of levels)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.array([_label(u) for u in uniques] + [UNKNOWN], dtype=object)
    return pd.Series(labels[codes], index=values.index, dtype=object)  # code -1: missing


def level_codes(values: pd.Series, group: str) -> tuple[list[str], np.ndarray]:
    """The labels of ``values`` in :func:`level_order` and each row's position among them,
    without writing a label per row (a million rows, a handful of levels)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [_label(u) for u in uniques]
    if (codes < 0).any():
        labels.append(UNKNOWN)  # code -1, the last entry
    levels = level_order(group, labels)
    position = np.array([levels.index(label) for label in labels] or [0], dtype=np.intp)
    return levels, position[codes]


def _tertiles(values: pd.Series) -> pd.Series:
    labels = [*ORDERED_LEVELS["mspss_family_tertile"], UNKNOWN]
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(numbers)
    codes = np.full(len(numbers), len(labels) - 1, dtype=np.int8)  # unknown
    if len(np.unique(numbers[known])) >= 3:
        # R's quantile (type 7) exactly: pandas' was an ulp below a cut that is a score, and
        # put that score in the upper third
        cuts = np.quantile(numbers[known], [1 / 3, 2 / 3])
        # ties go to the lower third
        codes[known] = np.searchsorted(cuts, numbers[known], side="left")
    return pd.Series(pd.Categorical.from_codes(codes, labels), index=values.index)


def add_groupings(episodes: pd.DataFrame) -> pd.DataFrame:
    """The episodes with the derived grouping columns of :data:`GROUPINGS`.

    Adds ``age_band`` (<30, 30–39, 40–49, 50+), ``episode_type`` (first / repeat) and
    ``mspss_family_tertile`` (thirds of the cohort's MSPSS family scores; a score equal to a
    cut point goes to the lower third; missing scores are "unknown"), as categoricals: a
    million episodes get codes, not a million strings to write and hash again.
    """
    frame = episodes.copy(deep=False)  # columns are added, none written into
    age = pd.to_numeric(frame["age_years"], errors="coerce")
    frame["age_band"] = pd.cut(
        age, [-np.inf, 29, 39, 49, np.inf], labels=ORDERED_LEVELS["age_band"], ordered=False
    )
    first = frame["is_first_episode"].to_numpy(dtype=bool)
    frame["episode_type"] = pd.Categorical.from_codes(
        np.where(first, 0, 1).astype(np.int8), ["first", "repeat"]
    )
    frame["mspss_family_tertile"] = _tertiles(pd.to_numeric(frame["mspss_family"]))
    return frame


# groupings add_groupings derives, and the cohort columns it derives them from
DERIVED_GROUPINGS = ("age_band", "episode_type", "mspss_family_tertile")
DERIVED_FROM = ("age_years", "is_first_episode", "mspss_family")


def grouping_columns(group: str | None) -> list[str]:
    """The cohort columns a grouping is read from (none for no grouping)."""
    if group is None or check_grouping(group) == ALL:
        return []
    return list(DERIVED_FROM) if group in DERIVED_GROUPINGS else [group]


def check_grouping(group: str) -> str:
    if group not in GROUPINGS:
        raise RetentionError(
            f"Cannot group by {group!r}; choose one of {', '.join(sorted(GROUPINGS))}."
        )
    return group


def group_labels(episodes: pd.DataFrame, group: str) -> pd.Series:
    """Readable text labels of a grouping (missing values are "unknown"), as a Series."""
    check_grouping(group)
    if group == ALL:
        return pd.Series("All episodes", index=episodes.index, dtype=object)
    frame = episodes if group in episodes.columns else add_groupings(episodes)
    return labels_of(frame[group])


def level_order(group: str, labels: Sequence[str]) -> list[str]:
    """Levels in their natural order (ordered groupings), else sorted; "unknown" last."""
    present = list(pd.unique(pd.Series(labels, dtype=object)))  # first-seen order
    ordered = [lv for lv in ORDERED_LEVELS.get(group, []) if lv in present]
    rest = sorted(lv for lv in present if lv not in ordered and lv != UNKNOWN)
    return ordered + rest + ([UNKNOWN] if UNKNOWN in present else [])


def group_categorical(episodes: pd.DataFrame, group: str) -> pd.Categorical:
    """The grouping's labels per episode, categorical in :func:`level_order`."""
    check_grouping(group)
    if group == ALL:
        levels = ["All episodes"] if len(episodes) else []
        return pd.Categorical.from_codes(np.zeros(len(episodes), dtype=np.int8), levels)
    frame = episodes if group in episodes.columns else add_groupings(episodes)
    levels, codes = level_codes(frame[group], group)
    return pd.Categorical.from_codes(codes, categories=levels)


def with_group(episodes: pd.DataFrame, group: str) -> pd.DataFrame:
    """The episodes plus a ``group`` column of labels, categorical in :func:`level_order`."""
    frame = episodes.copy(deep=False)  # a column is added, none written into
    frame["group"] = group_categorical(frame, group)
    return frame


def grouped(episodes: pd.DataFrame, group: str, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of the episodes plus ``group`` as :func:`with_group` makes it: an analysis
    on a million episodes copies the columns it reads, not all sixty."""
    frame = episodes[list(columns)].copy(deep=False)
    frame["group"] = group_categorical(episodes, group)
    return frame


def cohort_size(episodes: pd.DataFrame) -> dict[str, int]:
    """Episodes, patients, events, competing exits and censored episodes of a cohort."""
    status = episodes["status"] if "status" in episodes.columns else episodes["event_observed"]
    return {
        "episodes": len(episodes),
        "patients": int(episodes["patient_id"].nunique()),
        "events": int((status == 1).sum()),
        "competing": int((status == 2).sum()),
        "censored": int((status == 0).sum()),
    }


def require_events(episodes: pd.DataFrame, minimum: int = 2) -> None:
    """Raise a readable error for an empty cohort or one with too few events to analyse."""
    if episodes.empty:
        raise SurvivalInputError(
            "The cohort has no episodes: widen the filters on the Cohort page."
        )
    events = int((episodes["event"] == 1).sum())
    if events < minimum:
        raise SurvivalInputError(
            f"The cohort has {len(episodes)} episode(s) but only {events} event(s); "
            f"at least {minimum} are needed. Widen the filters or move the cut-off later."
        )


# --------------------------------------------------------------------------- Table 1


# --------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class CurveAnalysis:
    """Kaplan–Meier curves of a cohort by a grouping, with what researchers report beside them.

    ``curves``: :func:`kaplan_meier` output; ``risk_table``: number at risk at the axis ticks
    (``group, time, n_risk``); ``summary``: one row per group with ``n_episodes, n_events,
    median, median_lower, median_upper, s90, s90_lower, s90_upper, s365, s365_lower,
    s365_upper``; ``tests``: ``method, statistic, df, p_value`` (log-rank, Peto–Peto and, for
    ordered groupings, the trend test); ``x_max``; ``conf_type``.
    """

    curves: pd.DataFrame
    risk_table: pd.DataFrame
    summary: pd.DataFrame
    tests: pd.DataFrame
    x_max: float
    conf_type: str
    group: str


def _summary(frame: pd.DataFrame, conf_type: str) -> pd.DataFrame:
    kw = {"duration": "duration_days", "event": "event", "group": "group", "conf_type": conf_type}
    medians = median_survival(frame, **kw).rename(
        columns={"median": "median", "lower": "median_lower", "upper": "median_upper"}
    )
    at = survival_at(frame, times=list(HORIZON_DAYS), **kw)
    wide = medians
    for day in HORIZON_DAYS:
        part = at[at["time"] == day][["group", "survival", "lower", "upper"]]
        part = part.rename(
            columns={"survival": f"s{day}", "lower": f"s{day}_lower", "upper": f"s{day}_upper"}
        )
        wide = wide.merge(part, on="group", how="left")
    counts = frame.groupby("group", observed=True).agg(
        n_episodes=("event", "size"), n_events=("event", "sum")
    )
    wide = wide.merge(counts.reset_index(), on="group", how="left")
    wide["group"] = wide["group"].astype(str)
    first = ["group", "n_episodes", "n_events"]
    return wide[first + [c for c in wide.columns if c not in first]]


def _tests(frame: pd.DataFrame, group: str) -> pd.DataFrame:
    present = frame["group"].cat.remove_unused_categories()
    if present.cat.categories.size < 2:
        return pd.DataFrame(columns=["method", "statistic", "df", "p_value"])
    data = frame.assign(group=present)
    kw = {"duration": "duration_days", "event": "event", "group": "group"}
    results = [
        logrank_test(data, **kw).to_frame(),
        logrank_test(data, rho=1, **kw).to_frame().assign(method="Peto–Peto (rho = 1)"),
    ]
    ordered = [lv for lv in ORDERED_LEVELS.get(group, []) if lv in set(data["group"])]
    if len(ordered) >= 3:
        sub = data[data["group"].isin(ordered)].copy()
        sub["group"] = pd.Categorical(sub["group"].astype(str), categories=ordered)
        trend = logrank_trend_test(sub, scores={lv: i + 1 for i, lv in enumerate(ordered)}, **kw)
        label = f"log-rank trend ({' < '.join(ordered)})"
        results.append(trend.to_frame().assign(method=label))
    return pd.concat(results, ignore_index=True)


def retention_curves(
    episodes: pd.DataFrame,
    group: str = ALL,
    *,
    conf_type: str = "log",
    x_max: float | None = 730,
) -> CurveAnalysis:
    """Kaplan–Meier retention curves by ``group`` with numbers at risk, headline measures and
    tests.

    Parameters
    ----------
    episodes : the cohort's episodes (``duration_days`` and ``event`` of the spec's outcome).
    group : a key of :data:`GROUPINGS`.
    conf_type : "log" (R's default) or "log-log" (lifelines' default) pointwise CI.
    x_max : last day shown (None: the longest follow-up).

    Returns
    -------
    :class:`CurveAnalysis`.
    """
    require_events(episodes)
    frame = grouped(episodes, group, ["duration_days", "event"])
    kw = {"duration": "duration_days", "event": "event", "group": "group"}
    curves = kaplan_meier(frame, conf_type=conf_type, **kw)
    curves["group"] = curves["group"].astype(str)
    end = float(x_max) if x_max else float(frame["duration_days"].max())
    risk = survival_at(frame, times=risk_table_times(end), extend=True, **kw)
    risk = risk[["group", "time", "n_risk"]].assign(group=lambda f: f["group"].astype(str))
    return CurveAnalysis(
        curves=curves,
        risk_table=risk,
        summary=_summary(frame, conf_type),
        tests=_tests(frame, group),
        x_max=end,
        conf_type=conf_type,
        group=group,
    )


def dropout_incidence(
    episodes: pd.DataFrame, group: str = ALL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cumulative incidence of dropout and of competing exits (Aalen–Johansen), by ``group``.

    Uses ``dropout_status`` (0 censored, 1 dropout, 2 completed/transferred/prison/died)
    whatever the spec's outcome.

    Returns
    -------
    (cif, tests): ``cif`` has ``group, cause, time, n_risk, n_event, cif, std_err, lower,
    upper`` with ``cause`` "Dropout" or "Competing exit"; ``tests`` has Gray's test per cause
    (``cause, method, statistic, df, p_value``) when there are two or more groups.
    """
    if episodes.empty:
        raise SurvivalInputError(
            "The cohort has no episodes: widen the filters on the Cohort page."
        )
    frame = grouped(episodes, group, ["duration_days", "dropout_status"])
    frame["dropout_status"] = frame["dropout_status"].astype(int)
    parts, tests = [], []
    for cause, name in ((1, "Dropout"), (2, "Competing exit")):
        if not (frame["dropout_status"] == cause).any():
            continue
        cif = cumulative_incidence(
            frame, duration="duration_days", status="dropout_status", cause=cause, group="group"
        )
        parts.append(cif.assign(cause=name, group=cif["group"].astype(str)))
        if frame["group"].nunique() >= 2:
            data = frame.assign(group=frame["group"].astype(str))
            result = gray_test(
                data, duration="duration_days", status="dropout_status", group="group", cause=cause
            )
            tests.append(result.to_frame().assign(cause=name))
    if not parts:
        raise SurvivalInputError("No episode in the cohort has ended: nothing to show yet.")
    test_frame = (
        pd.concat(tests, ignore_index=True)[["cause", "method", "statistic", "df", "p_value"]]
        if tests
        else pd.DataFrame(columns=["cause", "method", "statistic", "df", "p_value"])
    )
    return pd.concat(parts, ignore_index=True), test_frame


def rmst_comparison(
    episodes: pd.DataFrame, group: str = ALL, *, tau: float = RMST_TAU_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Restricted mean time in treatment up to ``tau`` days per group, and each group's
    difference from the reference group (the first level: lowest of an ordered grouping).

    Returns
    -------
    (table, differences): ``group, n_episodes, rmst, se, lower, upper``;
    ``group, reference, difference, se, lower, upper, z, p_value`` (empty for one group).
    """
    require_events(episodes, minimum=1)
    frame = grouped(episodes, group, ["duration_days", "event"])
    frame["group"] = frame["group"].cat.remove_unused_categories()
    table = rmst(frame, duration="duration_days", event="event", tau=tau, group="group")
    table["group"] = table["group"].astype(str)
    z = stats.norm.ppf(0.975)
    table["lower"] = table["rmst"] - z * table["se"]
    table["upper"] = table["rmst"] + z * table["se"]
    counts = frame.groupby("group", observed=True).size().rename("n_episodes").reset_index()
    counts["group"] = counts["group"].astype(str)
    table = counts.merge(table, on="group")
    levels = [str(c) for c in frame["group"].cat.categories]
    diffs = []
    for other in levels[1:]:
        pair = frame[frame["group"].isin([levels[0], other])].copy()
        pair["group"] = pair["group"].astype(str)
        diffs.append(
            rmst_difference(
                pair, duration="duration_days", event="event", tau=tau, group="group",
                reference=levels[0],
            )
        )  # fmt: skip
    columns = ["group", "reference", "difference", "se", "lower", "upper", "z", "p_value"]
    differences = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame(columns=columns)
    return table, differences


def one_year_retention(episodes: pd.DataFrame, *, conf_type: str = "log") -> dict[str, float]:
    """S(90) and S(365) with the 95% CI of S(365), with the cohort's size, as one row."""
    require_events(episodes, minimum=1)
    at = survival_at(
        episodes, duration="duration_days", event="event", times=list(HORIZON_DAYS),
        conf_type=conf_type, extend=True,
    ).set_index("time")  # fmt: skip
    size = cohort_size(episodes)
    return {
        "n_episodes": size["episodes"],
        "n_patients": size["patients"],
        "n_events": size["events"],
        "s90": float(at.loc[90, "survival"]),
        "s365": float(at.loc[365, "survival"]),
        "s365_lower": float(at.loc[365, "lower"]),
        "s365_upper": float(at.loc[365, "upper"]),
    }


def gap_sensitivity(frames: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """One-year retention under each gap rule: ``gap_days`` → that rule's episodes.

    Returns
    -------
    DataFrame with ``gap_days, n_episodes, n_patients, n_events, s90, s365, s365_lower,
    s365_upper``, one row per gap rule in increasing order.
    """
    rows = [{"gap_days": g, **one_year_retention(frames[g])} for g in sorted(frames)]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- means over time


# --------------------------------------------------------------------------- wrappers


def cohort_of(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec, columns=None
) -> pd.DataFrame:
    """The spec's cohort (``analytics.episodes.cohort_episodes``, all columns or
    ``columns``), for the ``*_for`` wrappers."""
    return episodes_mod.cohort_episodes(reader, viewer, spec, columns=columns)


def _curve_cohort(reader, viewer, spec: CohortSpec, group: str) -> pd.DataFrame:
    """The cohort columns a curve of ``group`` reads (follow-up, outcome, the grouping's
    source columns): a page opened after a gap change reads these, not all sixty."""
    columns = ["patient_id", "episode_no", "duration_days", *grouping_columns(group)]
    return cohort_of(reader, viewer, spec, columns)


def threshold_for(reader, viewer: store.Viewer) -> int | None:
    """The small-cell threshold of the viewer's results (None: nothing is suppressed)."""
    from analytics.access import viewer_threshold

    return viewer_threshold(reader, viewer)


def _first_hidden_times(curves: pd.DataFrame) -> dict[str, float]:
    """Per group, the first time of a suppressed curve whose step is hidden (inf: none)."""
    hidden = curves[curves["survival"].isna()]
    first = hidden.groupby(hidden["group"].astype(str))["time"].min()
    return {str(g): float(t) for g, t in first.items()}


def suppress_summary(summary: pd.DataFrame, curves: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The curves' summary as a viewer without identifiable access may see it.

    ``n_episodes`` and ``n_events`` are suppressed (their totals, the cohort's size, are
    published); a group under the threshold shows no estimate, and an estimate at or after the
    time its (suppressed) curve stops is hidden too, so no number reaches past the curve.
    """
    from analytics.suppression import suppress_counts

    out = suppress_counts(summary, ["n_episodes", "n_events"], threshold, complementary="columns")
    small = pd.to_numeric(summary["n_episodes"], errors="coerce") < threshold
    estimates = [c for c in out.columns if c not in {"group", "n_episodes", "n_events"}]
    for column in estimates:
        out[column] = out[column].astype(float).where(~small.to_numpy())
    stops = _first_hidden_times(curves)
    for i, group_name in enumerate(out["group"].astype(str)):
        stop = stops.get(group_name, np.inf)
        for column in estimates:
            base = column.split("_")[0]
            when = (
                out.at[i, column]
                if base == "median"
                else float(base[1:])
                if base[1:].isdigit()
                else -np.inf
            )
            if pd.notna(when) and when >= stop:
                out.at[i, column] = np.nan
    return out


def _suppress_curves(
    reader, viewer: store.Viewer, analysis: CurveAnalysis, threshold: int | None = None
) -> CurveAnalysis:
    """De-identified viewers: hide small numbers at risk, the curve's last steps and small
    counts (and estimates past the curve's end) in the summary."""
    threshold = threshold if threshold is not None else threshold_for(reader, viewer)
    if threshold is None:
        return analysis
    from analytics import suppression

    curves = suppression.suppress_survival_curve(analysis.curves, threshold)
    return CurveAnalysis(
        curves=curves,
        risk_table=suppression.suppress_risk_table(analysis.risk_table, threshold),
        summary=suppress_summary(analysis.summary, curves, threshold),
        tests=analysis.tests,
        x_max=analysis.x_max,
        conf_type=analysis.conf_type,
        group=analysis.group,
    )


def suppress_cohort_size(size: dict[str, int], threshold: int) -> dict[str, float]:
    """:func:`cohort_size` with small counts hidden (NaN): events, competing exits and
    censored episodes add up to the episodes, so one hidden among them hides another."""
    from analytics.suppression import suppress_counts

    parts = ["events", "competing", "censored"]
    row = suppress_counts(pd.DataFrame([size]), parts, threshold, complementary="rows")
    out: dict[str, float] = {k: row[k].iloc[0] for k in parts}
    for key in ("episodes", "patients"):
        value = size[key]
        out[key] = float("nan") if 0 < value < threshold else value
    if pd.isna(out["episodes"]):
        out.update({k: float("nan") for k in parts if size[k] > 0})
    return {k: out[k] for k in size}


def cohort_summary_for(reader, viewer, spec: CohortSpec) -> dict[str, int]:
    """:func:`cohort_size` of the spec's cohort (small counts NaN for de-identified viewers)."""
    from analytics.table_one import cohort_page_columns  # table_one builds on this module

    size = cohort_size(cohort_of(reader, viewer, spec, cohort_page_columns()))
    threshold = threshold_for(reader, viewer)
    return size if threshold is None else suppress_cohort_size(size, threshold)


def retention_curves_for(
    reader, viewer, spec: CohortSpec, *, group: str = ALL, conf_type: str = "log",
    x_max: float | None = 730,
) -> CurveAnalysis:  # fmt: skip
    """:func:`retention_curves` of the spec's cohort (suppressed for de-identified viewers)."""
    analysis = retention_curves(
        _curve_cohort(reader, viewer, spec, check_grouping(group)), group, conf_type=conf_type,
        x_max=x_max,
    )  # fmt: skip
    return _suppress_curves(reader, viewer, analysis)


def dropout_incidence_for(reader, viewer, spec: CohortSpec, *, group: str = ALL):
    """:func:`dropout_incidence` of the spec's cohort (curves stop where fewer than the
    threshold remain at risk, for de-identified viewers)."""
    cif, tests = dropout_incidence(
        _curve_cohort(reader, viewer, spec, check_grouping(group)), group
    )
    threshold = threshold_for(reader, viewer)
    if threshold is not None:
        from analytics.suppression import suppress_step_table

        cif = suppress_step_table(cif, threshold, group=("group", "cause"))
    return cif, tests


def rmst_comparison_for(reader, viewer, spec: CohortSpec, *, group: str = ALL, tau: float = 365):
    """:func:`rmst_comparison` of the spec's cohort; for de-identified viewers small groups
    show no count, RMST or difference."""
    table, differences = rmst_comparison(
        _curve_cohort(reader, viewer, spec, check_grouping(group)), group, tau=tau
    )
    threshold = threshold_for(reader, viewer)
    if threshold is None:
        return table, differences
    from analytics.suppression import suppress_counts

    small = set(table.loc[table["n_episodes"] < threshold, "group"].astype(str))
    table = suppress_counts(table, ["n_episodes"], threshold, complementary="columns")
    table.loc[table["group"].isin(small), ["rmst", "se", "lower", "upper"]] = np.nan
    if not differences.empty:
        hide = differences["group"].astype(str).isin(small) | differences["reference"].astype(
            str
        ).isin(small)
        numbers = [c for c in differences.columns if c not in {"group", "reference"}]
        differences = differences.copy()
        differences[numbers] = differences[numbers].astype(float)
        differences.loc[hide.to_numpy(), numbers] = np.nan
    return table, differences


def gap_sensitivity_for(reader, viewer, spec: CohortSpec) -> pd.DataFrame:
    """:func:`gap_sensitivity` for G = 7, 14 and 30 days, other settings as in ``spec``
    (small counts hidden, and no estimate for a cohort under the threshold, for de-identified
    viewers; each row is the whole cohort, so there is no total to complement)."""
    frames = {g: cohort_of(reader, viewer, spec.replace(gap_days=g)) for g in GAP_DAYS_CHOICES}
    table = gap_sensitivity(frames)
    threshold = threshold_for(reader, viewer)
    if threshold is None:
        return table
    from analytics.suppression import suppress_counts

    small = (table["n_episodes"] < threshold).to_numpy()
    out = suppress_counts(
        table, ["n_episodes", "n_patients", "n_events"], threshold, complementary="none"
    )
    estimates = ["s90", "s365", "s365_lower", "s365_upper"]
    out.loc[small, estimates] = np.nan
    return out


def family_education_test(episodes: pd.DataFrame) -> pd.DataFrame:
    """Log-rank test of family-education enrolees vs non-enrolees stratified by family-support
    band (so groups are compared at equal baseline support), and unstratified for contrast.

    Returns
    -------
    DataFrame with ``method, statistic, df, p_value``.
    """
    require_events(episodes)
    frame = episodes[["duration_days", "event"]].assign(  # the columns the tests read
        enrolled=labels_of(episodes["has_family_education_before"]),
        support=labels_of(episodes["family_support"]),
    )
    if frame["enrolled"].nunique() < 2:
        raise SurvivalInputError(
            "Nobody in this cohort (or everybody) enrolled in family education before "
            "admission: there is nothing to compare."
        )
    kw = {"duration": "duration_days", "event": "event", "group": "enrolled"}
    return pd.concat(
        [
            logrank_test(frame, strata="support", **kw)
            .to_frame()
            .assign(method="log-rank stratified by family-support band"),
            logrank_test(frame, **kw).to_frame().assign(method="log-rank, unstratified"),
        ],
        ignore_index=True,
    )


def family_education_test_for(reader, viewer, spec: CohortSpec) -> pd.DataFrame:
    """:func:`family_education_test` of the spec's cohort."""
    return family_education_test(cohort_of(reader, viewer, spec))
