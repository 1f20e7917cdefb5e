"""Research analyses of a cohort: Table 1, retention curves, sensitivity to the gap rule,
competing risks, RMST, family support and recovery outcomes over time.

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

import duckdb
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

CATEGORICAL_VARIABLES: dict[str, str] = {
    "sex": "Sex",
    "modality": "Treatment",
    "clinic_name": "Clinic",
    "age_band": "Age band",
    "episode_type": "Episode",
    "dose_band": "Methadone dose at day 30",
    "family_support": "Family support (MSPSS family)",
    "apgar_category": "Family APGAR",
    "has_drug_using_friends": "Drug-using friends",
    "has_no_income": "No income",
    "has_family_education_before": "Family education before admission",
    "end_status": "How the episode ended",
}
CONTINUOUS_VARIABLES: dict[str, str] = {
    "age_years": "Age, years",
    "n_prior_episodes": "Prior episodes",
    "dose_day30_mg": "Methadone dose at day 30, mg",
    "mspss_family": "MSPSS family subscale (1–7)",
    "mspss_total": "MSPSS total (1–7)",
    "apgar_total": "Family APGAR total (0–10)",
    "n_obstacles": "Obstacles recorded (n)",
    "n_facilitators": "Facilitators recorded (n)",
    "duration_days": "Time in treatment, days",
}
"""Table 1 rows: categorical (counts and %) and continuous (median [IQR], mean (SD))."""


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
    known = values.dropna()
    out = pd.Series(UNKNOWN, index=values.index, dtype=object)
    if known.nunique() < 3:
        return out
    cuts = known.quantile([1 / 3, 2 / 3]).to_numpy()
    labels = np.array(ORDERED_LEVELS["mspss_family_tertile"], dtype=object)
    codes = np.searchsorted(cuts, known.to_numpy(), side="left")  # ties go to the lower third
    out.loc[known.index] = labels[codes]
    return out


def add_groupings(episodes: pd.DataFrame) -> pd.DataFrame:
    """The episodes with the derived grouping columns of :data:`GROUPINGS`.

    Adds ``age_band`` (<30, 30–39, 40–49, 50+), ``episode_type`` (first / repeat) and
    ``mspss_family_tertile`` (thirds of the cohort's MSPSS family scores; a score equal to a
    cut point goes to the lower third; missing scores are "unknown").
    """
    frame = episodes.copy(deep=False)  # columns are added, none written into
    age = pd.to_numeric(frame["age_years"], errors="coerce")
    frame["age_band"] = pd.cut(
        age, [-np.inf, 29, 39, 49, np.inf], labels=ORDERED_LEVELS["age_band"]
    ).astype(object)
    frame["episode_type"] = np.where(frame["is_first_episode"].astype(bool), "first", "repeat")
    frame["mspss_family_tertile"] = _tertiles(pd.to_numeric(frame["mspss_family"]))
    return frame


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


def table_one(
    episodes: pd.DataFrame,
    group: str = ALL,
    *,
    categorical: Sequence[str] | None = None,
    continuous: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Baseline characteristics ("Table 1") overall and by ``group``, as numbers.

    Parameters
    ----------
    episodes : the cohort's episodes.
    group : a key of :data:`GROUPINGS` ("none" for the overall column only).
    categorical, continuous : variables to describe; default :data:`CATEGORICAL_VARIABLES`
        and :data:`CONTINUOUS_VARIABLES` (those present).

    Returns
    -------
    DataFrame, long: ``variable, label, level, kind, group, n, percent, median, q1, q3, mean,
    sd, n_missing``. ``kind`` is "categorical" (one row per level; ``percent`` of the group's
    episodes, missing values as the level "unknown"), "continuous" (``median, q1, q3, mean,
    sd`` of the non-missing values, ``n`` of them and ``n_missing``) or "total" (the group's
    episodes). ``group`` "Overall" describes the whole cohort.
    """
    frame = with_group(add_groupings(episodes), group)
    cats = [c for c in (categorical or CATEGORICAL_VARIABLES) if c in frame.columns]
    conts = [c for c in (continuous or CONTINUOUS_VARIABLES) if c in frame.columns]
    # every column coded once; a group is a boolean mask over the codes (a million episodes:
    # copying the cohort per group and counting labels per group took seconds)
    coded = {}
    for column in cats:
        coded[column] = level_codes(frame[column], column)
    numbers = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in conts}
    parts = [("Overall", None)]
    if group != ALL:
        groups = frame["group"].to_numpy()
        parts += [(str(level), groups == level) for level in frame["group"].cat.categories]
    rows = []
    for name, mask in parts:
        n_part = len(frame) if mask is None else int(mask.sum())
        rows.append({"variable": "n", "label": "Episodes", "level": "", "kind": "total",
                     "group": name, "n": n_part})  # fmt: skip
        for column in cats:
            levels, codes = coded[column]
            counts = np.bincount(codes if mask is None else codes[mask], minlength=len(levels))
            for level, n in zip(levels, counts, strict=True):
                rows.append(
                    {
                        "variable": column,
                        "label": CATEGORICAL_VARIABLES.get(column, column),
                        "level": level,
                        "kind": "categorical",
                        "group": name,
                        "n": int(n),
                        "percent": 100.0 * n / n_part if n_part else np.nan,
                    }
                )
        for column in conts:
            values = numbers[column] if mask is None else numbers[column][mask]
            known = values[~np.isnan(values)]
            q1, median, q3 = np.quantile(known, [0.25, 0.5, 0.75]) if len(known) else [np.nan] * 3
            rows.append(
                {
                    "variable": column,
                    "label": CONTINUOUS_VARIABLES.get(column, column),
                    "level": "",
                    "kind": "continuous",
                    "group": name,
                    "n": len(known),
                    "median": median,
                    "q1": q1,
                    "q3": q3,
                    "mean": known.mean() if len(known) else np.nan,
                    "sd": known.std(ddof=1) if len(known) > 1 else np.nan,
                    "n_missing": len(values) - len(known),
                }
            )
    columns = ["variable", "label", "level", "kind", "group", "n", "percent", "median", "q1",
               "q3", "mean", "sd", "n_missing"]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns)


def _number(value: float, digits: int) -> str:
    return "–" if pd.isna(value) else f"{value:,.{digits}f}"


def _count(value: float, hidden: str) -> str:
    return hidden if pd.isna(value) else f"{int(value):,}"


def format_table_one(table: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Table 1 as researchers print it: one row per line, one text column per group.

    Categorical levels read "n (%)"; continuous variables get two lines, "median [IQR]" and
    "mean (SD)", and a "missing" line when values are missing.
    """
    groups = list(dict.fromkeys(table["group"]))
    hidden = f"<{table.attrs.get('suppression_threshold', 11)}"
    out_rows: list[dict[str, str]] = []
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], dict[str, str]] = {}

    def put(characteristic: str, statistic: str, group: str, text: str) -> None:
        key = (characteristic, statistic)
        if key not in cells:
            keys.append(key)
            cells[key] = {}
        cells[key][group] = text

    for row in table.itertuples(index=False):
        if row.kind == "total":
            put("Episodes", "n", row.group, _count(row.n, hidden))
        elif row.kind == "categorical":
            text = _count(row.n, hidden)
            if pd.notna(row.n):
                text += f" ({_number(row.percent, digits)}%)"
            put(f"{row.label}: {row.level}", "n (%)", row.group, text)
        else:
            put(row.label, "median [IQR]", row.group,
                f"{_number(row.median, digits)} [{_number(row.q1, digits)}–"
                f"{_number(row.q3, digits)}]")  # fmt: skip
            put(row.label, "mean (SD)", row.group,
                f"{_number(row.mean, digits)} ({_number(row.sd, digits)})")  # fmt: skip
            if table.loc[table["variable"] == row.variable, "n_missing"].sum() > 0:
                put(row.label, "missing, n", row.group, _count(row.n_missing, hidden))
    for characteristic, statistic in keys:
        line = {"Characteristic": characteristic, "Statistic": statistic}
        line.update({g: cells[(characteristic, statistic)].get(g, "") for g in groups})
        out_rows.append(line)
    return pd.DataFrame(out_rows, columns=["Characteristic", "Statistic", *groups])


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

    Assessments are put in bins of ``bin_months`` months (30.4375 days) after the start of the
    episode: 0 = the admission assessment (from 30 days before to just under ``bin_months``
    months after), 3 = the next... Bins beyond ``max_months`` or with fewer than ``min_n``
    values are dropped. The CI is Student's t (Wilson's for a 0/1 ``value`` when
    ``binary``).

    Returns
    -------
    DataFrame with ``group, month, n, mean, lower, upper``.
    """
    data = pd.DataFrame({"value": pd.to_numeric(frame[value], errors="coerce").astype(float)})
    data["month"] = (
        np.floor(np.maximum(frame[days].to_numpy(float), 0) / 30.4375 / bin_months) * bin_months
    )
    if group:  # grouped by level position (millions of assessments: no text per row)
        levels, data["code"] = level_codes(frame[group], group)
    else:
        levels, data["code"] = ["All episodes"], 0
    data = data[data["value"].notna() & (data["month"] <= max_months)]
    summary = data.groupby(["code", "month"])["value"].agg(["size", "mean", "std"]).reset_index()
    summary = summary[summary["size"] >= min_n]
    n, mean, sd = (summary[c].to_numpy(float) for c in ("size", "mean", "std"))
    with np.errstate(invalid="ignore", divide="ignore"):
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
            "group": np.asarray(levels, dtype=object)[summary["code"].to_numpy(int)],
            "month": summary["month"].to_numpy().astype(int),
            "n": summary["size"].to_numpy().astype(int),
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


def in_cohort(
    assessments: pd.DataFrame,
    episodes: pd.DataFrame,
    *,
    values: Sequence[str],
    group: str | None = None,
) -> pd.DataFrame:
    """The ``values`` columns of the assessments of the cohort's episodes, with
    ``days_since_start`` and the episode's ``group`` column (only what a chart needs: a large
    store joins millions of assessments)."""
    keys = ["patient_id", "episode_no"]
    frame = episodes if group is None or group in episodes.columns else add_groupings(episodes)
    rows = assessments[[*keys, "days_since_start", *values]]
    cohort = frame[[*keys, *([group] if group else [])]]
    # DuckDB joins on the string keys about 3x faster than pandas (6M assessments: 0.9 s);
    # a private in-memory connection, nothing of the store's
    with duckdb.connect() as con:
        con.register("assessment_rows", rows)
        con.register("cohort_keys", cohort)
        # USING keeps the keys once: the assessments' columns, then the group's (no name
        # of ours in the SQL text)
        return store.frame_of(
            con.sql(
                "select * from assessment_rows"
                " inner join cohort_keys using (patient_id, episode_no)"
            )
        )


def support_over_time(
    assessments: pd.DataFrame, episodes: pd.DataFrame, *, measure: str, group: str | None = None
) -> pd.DataFrame:
    """Mean MSPSS / APGAR score by months since admission for the cohort (see
    :func:`mean_by_month`); ``assessments`` is the ``support_assessments`` query."""
    if measure not in SUPPORT_MEASURES:
        raise RetentionError(
            f"Unknown support measure {measure!r}: use one of {list(SUPPORT_MEASURES)}."
        )
    data = in_cohort(assessments, episodes, values=[measure], group=group)
    return mean_by_month(data, value=measure, group=group)


def outcomes_over_time(
    profiles: pd.DataFrame, episodes: pd.DataFrame, *, measure: str, group: str | None = "modality"
) -> pd.DataFrame:
    """Mean TOP-style outcome by months since admission (see :func:`mean_by_month`);
    ``profiles`` is the ``outcome_profiles_by_episode`` query."""
    if measure not in OUTCOME_MEASURES:
        raise RetentionError(
            f"Unknown outcome measure {measure!r}: use one of {', '.join(OUTCOME_MEASURES)}."
        )
    parts = ["shoplifting_days_28", "selling_drugs_days_28", "other_theft", "assault_violence"]
    values = parts if measure == "any_offending" else [measure]
    data = in_cohort(profiles, episodes, values=values, group=group)
    if measure == "any_offending":
        numbers = data[parts].apply(pd.to_numeric, errors="coerce").astype(float)
        offended = (numbers.fillna(0) > 0).any(axis=1).astype(float)
        data["any_offending"] = offended.where(numbers.notna().any(axis=1))
    return mean_by_month(data, value=measure, group=group, binary=OUTCOME_MEASURES[measure][1])


# --------------------------------------------------------------------------- wrappers


def _episodes(reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec) -> pd.DataFrame:
    return episodes_mod.cohort_episodes(reader, viewer, spec)


def _threshold(reader, viewer: store.Viewer) -> int | None:
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
    threshold = threshold if threshold is not None else _threshold(reader, viewer)
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


def suppress_table_one(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """:func:`table_one` as a viewer without identifiable access may see it.

    Within each characteristic the levels of a group add up to the group's episodes (a
    continuous variable: known + missing values), and "Overall" is the sum of the groups, so
    counts are suppressed with complementary cells along both (``suppress_table_one``). A
    hidden count hides its percent; a continuous variable with a hidden number of known values
    shows no median, quartiles, mean or SD.
    """
    from analytics.suppression import suppress_counts

    cells = []
    for row in table.itertuples():
        if row.kind == "continuous":
            cells.append((row.Index, "n", row.variable, "known", row.group, row.n))
            cells.append((row.Index, "n_missing", row.variable, "missing", row.group,
                          row.n_missing))  # fmt: skip
        else:
            cells.append((row.Index, "n", row.variable, str(row.level), row.group, row.n))
    long = pd.DataFrame(cells, columns=["index", "column", "variable", "level", "group", "value"])
    wide = long.pivot_table(
        index=["variable", "level"], columns="group", values="value", aggfunc="first",
        sort=False,
    )  # fmt: skip
    groups = [g for g in dict.fromkeys(long["group"]) if g in wide.columns]
    wide = wide[groups].reset_index()
    complementary = "both" if len(groups) > 1 else "columns"
    hidden_wide = suppress_counts(wide, groups, threshold, complementary=complementary,
                                  by="variable")  # fmt: skip
    hidden = hidden_wide.melt(id_vars=["variable", "level"], var_name="group", value_name="shown")
    long = long.merge(hidden, on=["variable", "level", "group"], how="left")
    out = table.copy()
    for column in ("n", "n_missing"):
        out[column] = out[column].astype(float)
    for row in long[long["shown"].isna() & long["value"].notna()].itertuples():
        out.at[row.index, row.column] = np.nan
    n_hidden = out["n"].isna() & table["n"].notna()
    out.loc[n_hidden, ["percent", "median", "q1", "q3", "mean", "sd"]] = np.nan
    out.attrs["suppressed_columns"] = ["n", "n_missing", "percent"]
    out.attrs["suppression_threshold"] = threshold
    return out


def cohort_summary_for(reader, viewer, spec: CohortSpec) -> dict[str, int]:
    """:func:`cohort_size` of the spec's cohort (small counts NaN for de-identified viewers)."""
    size = cohort_size(_episodes(reader, viewer, spec))
    threshold = _threshold(reader, viewer)
    return size if threshold is None else suppress_cohort_size(size, threshold)


def table_one_for(reader, viewer, spec: CohortSpec, *, group: str = ALL) -> pd.DataFrame:
    """:func:`table_one` of the spec's cohort (suppressed for de-identified viewers)."""
    table = table_one(_episodes(reader, viewer, spec), check_grouping(group))
    threshold = _threshold(reader, viewer)
    return table if threshold is None else suppress_table_one(table, threshold)


def retention_curves_for(
    reader, viewer, spec: CohortSpec, *, group: str = ALL, conf_type: str = "log",
    x_max: float | None = 730,
) -> CurveAnalysis:  # fmt: skip
    """:func:`retention_curves` of the spec's cohort (suppressed for de-identified viewers)."""
    analysis = retention_curves(
        _episodes(reader, viewer, spec), check_grouping(group), conf_type=conf_type, x_max=x_max
    )
    return _suppress_curves(reader, viewer, analysis)


def dropout_incidence_for(reader, viewer, spec: CohortSpec, *, group: str = ALL):
    """:func:`dropout_incidence` of the spec's cohort (curves stop where fewer than the
    threshold remain at risk, for de-identified viewers)."""
    cif, tests = dropout_incidence(_episodes(reader, viewer, spec), check_grouping(group))
    threshold = _threshold(reader, viewer)
    if threshold is not None:
        from analytics.suppression import suppress_step_table

        cif = suppress_step_table(cif, threshold, group=("group", "cause"))
    return cif, tests


def rmst_comparison_for(reader, viewer, spec: CohortSpec, *, group: str = ALL, tau: float = 365):
    """:func:`rmst_comparison` of the spec's cohort; for de-identified viewers small groups
    show no count, RMST or difference."""
    table, differences = rmst_comparison(
        _episodes(reader, viewer, spec), check_grouping(group), tau=tau
    )
    threshold = _threshold(reader, viewer)
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
    frames = {g: _episodes(reader, viewer, spec.replace(gap_days=g)) for g in GAP_DAYS_CHOICES}
    table = gap_sensitivity(frames)
    threshold = _threshold(reader, viewer)
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


def _drop_small_points(reader, viewer, table: pd.DataFrame) -> pd.DataFrame:
    threshold = _threshold(reader, viewer)
    if threshold is None:
        return table
    from analytics.suppression import drop_small_rows

    return drop_small_rows(table, threshold, counts=["n"])


def _assessments(reader, viewer, spec: CohortSpec, query: str) -> pd.DataFrame:
    """The viewer's assessments by episode, read once per gap rule and cut-off (each measure
    and grouping the user picks reuses them)."""
    with reader.cursor() as cur:
        as_of = episodes_mod.resolve_as_of(cur, spec)

    def read() -> pd.DataFrame:
        with reader.cursor() as cur:
            params = {"gap_days": spec.gap_days, "as_of": as_of, **store.scope_params(cur, viewer)}
            return store.run_query(cur, query, params)

    return reader.memoized((query, viewer, spec.gap_days, as_of), read)


def support_over_time_for(
    reader, viewer, spec: CohortSpec, *, measure: str = "mspss_family", group: str | None = None
) -> pd.DataFrame:
    """:func:`support_over_time` of the spec's cohort."""
    if group is not None:
        check_grouping(group)
    table = support_over_time(
        _assessments(reader, viewer, spec, "support_assessments"),
        _episodes(reader, viewer, spec),
        measure=measure,
        group=group,
    )
    return _drop_small_points(reader, viewer, table)


def outcomes_over_time_for(
    reader, viewer, spec: CohortSpec, *, measure: str = "heroin_days_28",
    group: str | None = "modality",
) -> pd.DataFrame:  # fmt: skip
    """:func:`outcomes_over_time` of the spec's cohort."""
    if group is not None:
        check_grouping(group)
    table = outcomes_over_time(
        _assessments(reader, viewer, spec, "outcome_profiles_by_episode"),
        _episodes(reader, viewer, spec),
        measure=measure,
        group=group,
    )
    return _drop_small_points(reader, viewer, table)


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
    return family_education_test(_episodes(reader, viewer, spec))
