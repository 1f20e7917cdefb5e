"""Table 1: a cohort's baseline characteristics overall and by group, as numbers
(:func:`table_one`), as text for a report (:func:`format_table_one`) and as a viewer without
identifiable access may see it (:func:`suppress_table_one`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analytics.cohort_analysis import (
    ALL,
    DERIVED_GROUPINGS,
    GROUPINGS,
    add_groupings,
    check_grouping,
    cohort_of,
    grouping_columns,
    level_codes,
    threshold_for,
    with_group,
)
from analytics.cohort_spec import CohortSpec

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


def cohort_page_columns() -> list[str]:
    """The cohort columns the cohort page's size and Table 1 read, under any grouping: one
    read of about thirty of the sixty columns, shared by both."""
    derived = set(DERIVED_GROUPINGS)
    sources = [c for g in GROUPINGS for c in grouping_columns(g)]
    described = [c for c in (*CATEGORICAL_VARIABLES, *CONTINUOUS_VARIABLES) if c not in derived]
    return list(dict.fromkeys(["patient_id", "episode_no", *described, *sources]))


def table_one_for(reader, viewer, spec: CohortSpec, *, group: str = ALL) -> pd.DataFrame:
    """:func:`table_one` of the spec's cohort (suppressed for de-identified viewers)."""
    episodes = cohort_of(reader, viewer, spec, cohort_page_columns())
    table = table_one(episodes, check_grouping(group))
    threshold = threshold_for(reader, viewer)
    return table if threshold is None else suppress_table_one(table, threshold)
