"""Small-cell suppression of aggregate outputs, so no small count can be seen or recomputed.

Rules (DOMAIN.md §7):

- **Primary**: a count ``0 < n < threshold`` is hidden (default threshold 11, the US public
  reporting rule; set ``suppression_threshold`` in the store's ``store_settings``). Zeros are
  shown: "nobody" is not a disclosure about a person, and hiding zeros would hide most of a
  sparse table.
- **Complementary**: a line of cells whose total is known (a row, a column within a group)
  never has exactly one hidden cell, and its hidden cells add up to at least the threshold;
  otherwise the next-smallest visible cell (non-zero first) is hidden too, repeated until
  stable. So "total minus the visible cells" never gives a single hidden cell.
- **Number at risk** only goes down over time: once a cell is hidden, every later cell of the
  group is hidden. Survival curves stop where fewer than the threshold remain.

Hidden cells are NaN in data; :func:`display_suppressed` writes them as ``"<11"``. Every
function returns a new frame with ``attrs["suppressed_columns"]`` and
``attrs["suppression_threshold"]`` set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 11
KM_COUNT_COLUMNS = ("n_risk", "n_event", "n_censor")
KM_VALUE_COLUMNS = ("survival", "std_err", "lower", "upper")


def suppression_threshold(con: duckdb.DuckDBPyConnection) -> int:
    """The store's threshold (``store_settings.suppression_threshold``), default 11."""
    rows = con.execute(
        "select setting_value from store_settings where setting_key = 'suppression_threshold'"
    ).fetchall()
    if not rows:
        return DEFAULT_THRESHOLD
    value = rows[0][0]
    if not str(value).isdigit() or int(value) < 1:
        raise ValueError(
            f"store_settings.suppression_threshold is {value!r}; set it to a whole number >= 1."
        )
    return int(value)


def _check_threshold(threshold: int) -> None:
    if int(threshold) != threshold or threshold < 1:
        raise ValueError(f"threshold must be a whole number >= 1, got {threshold!r}")


def _primary(values: np.ndarray, threshold: int, show_zeros: bool) -> np.ndarray:
    low = 0 if show_zeros else -np.inf
    with np.errstate(invalid="ignore"):
        return (values > low) & (values < threshold) & ~np.isnan(values)


def _complete_line(values: np.ndarray, hidden: np.ndarray, threshold: int) -> bool:
    """Hide more cells of one line (in place) until it has 0 or >= 2 hidden cells summing to
    at least ``threshold`` (or every cell is hidden). Returns True if anything changed."""
    changed = False
    while hidden.any():
        hidden_sum = np.nansum(values[hidden])
        if hidden.sum() >= 2 and hidden_sum >= threshold:
            break
        visible = ~hidden & ~np.isnan(values)
        if not visible.any():
            break
        candidates = visible & (values > 0)
        if not candidates.any():
            candidates = visible
        order = np.where(candidates, values, np.inf)
        hidden[int(np.argmin(order))] = True
        changed = True
    return changed


def _finish(
    table: pd.DataFrame, columns: Sequence[str], values: np.ndarray, hidden: np.ndarray, threshold
) -> pd.DataFrame:
    out = table.copy()
    for j, column in enumerate(columns):
        out[column] = np.where(hidden[:, j], np.nan, values[:, j])
    out.attrs["suppressed_columns"] = sorted(
        set(table.attrs.get("suppressed_columns", [])) | set(columns)
    )
    out.attrs["suppression_threshold"] = threshold
    return out


def _group_indices(table: pd.DataFrame, by: str | Sequence[str] | None) -> list[np.ndarray]:
    if by is None or len(table) == 0:
        return [np.arange(len(table))]
    keys = [by] if isinstance(by, str) else list(by)
    codes = table.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    return [np.flatnonzero(codes == code) for code in np.unique(codes)]


def suppress_counts(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    show_zeros: bool = True,
    complementary: str = "both",
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Hide small counts and enough other counts that the small ones cannot be recomputed.

    Parameters
    ----------
    table : DataFrame
        One row per cell line (e.g. per clinic), counts in ``count_columns``. A total row or
        column, if present, is just another count cell (it is suppressed by the same rules).
    count_columns : column names holding counts.
    threshold : counts ``0 < n < threshold`` are hidden (primary suppression).
    show_zeros : show zero counts (default); False hides them like other small counts.
    complementary : which totals are assumed known: ``"rows"`` (each row's cells add up to a
        published total), ``"columns"`` (each column, within each ``by`` group), ``"both"``
        or ``"none"``.
    by : optional grouping columns: column totals are per group (e.g. per variable of a
        baseline table).

    Returns
    -------
    DataFrame
        ``table`` with hidden counts set to NaN (count columns become float).

    Example
    -------
    >>> suppress_counts(per_clinic, ["n_patients"], 11, complementary="columns")
    """
    _check_threshold(threshold)
    if complementary not in {"rows", "columns", "both", "none"}:
        raise ValueError(
            f"complementary must be 'rows', 'columns', 'both' or 'none', got {complementary!r}"
        )
    columns = list(count_columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks count column(s) {', '.join(missing)}")
    values = table[columns].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    hidden = _primary(values, threshold, show_zeros)
    groups = _group_indices(table, by)
    changed = True
    while changed:
        changed = False
        if complementary in {"rows", "both"} and len(columns) >= 2:
            for i in range(len(values)):
                row_hidden = hidden[i, :]
                changed |= _complete_line(values[i, :], row_hidden, threshold)
                hidden[i, :] = row_hidden
        if complementary in {"columns", "both"}:
            for index in groups:
                for j in range(len(columns)):
                    line = hidden[index, j]
                    changed |= _complete_line(values[index, j], line, threshold)
                    hidden[index, j] = line
    return _finish(table, columns, values, hidden, threshold)


def suppress_risk_table(
    risk_table: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    group: str = "group",
    time: str = "time",
    count: str = "n_risk",
    across_groups: bool = False,
) -> pd.DataFrame:
    """Suppress a number-at-risk table (``group, time, n_risk``).

    Counts below ``threshold`` are hidden, and since the number at risk never rises, every
    later count of the same group is hidden too (otherwise a later visible count bounds it).
    With ``across_groups`` (when an all-groups total is published at the same times), a time
    with exactly one hidden group also hides the next-smallest group there, then from there on.
    """
    _check_threshold(threshold)
    out = risk_table.copy()
    if group not in out.columns:
        out[group] = "All patients"
    out = _by_group_then(out, group, time)
    values = pd.to_numeric(out[count], errors="coerce").to_numpy(float)
    hidden = ~np.isnan(values) & (values < threshold)
    codes = out.groupby(group, sort=False).ngroup().to_numpy()
    changed = True
    while changed:
        before = hidden.copy()
        for code in np.unique(codes):
            index = np.flatnonzero(codes == code)
            hidden[index] = np.maximum.accumulate(hidden[index])
        if across_groups:
            for t in out[time].unique():
                index = np.flatnonzero(out[time].to_numpy() == t)
                line = hidden[index]
                _complete_line(values[index], line, threshold)
                hidden[index] = line
        changed = bool((hidden != before).any())
    result = _finish(out, [count], values[:, None], hidden[:, None], threshold)
    if group not in risk_table.columns:
        result = result.drop(columns=[group])
    return result


def _by_group_then(frame: pd.DataFrame, group: str, time: str) -> pd.DataFrame:
    """Rows by group, groups in the order they come (the analyses' natural level order, which
    sets the legend and the colours; sorting by the label put "<30" after "50+"), then by
    time."""
    order = pd.factorize(frame[group])[0]
    position = np.lexsort((frame[time].to_numpy(), order))
    return frame.iloc[position].reset_index(drop=True)


def suppress_survival_curve(
    km_frame: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD, *, group: str = "group"
) -> pd.DataFrame:
    """Truncate Kaplan–Meier curves where fewer than ``threshold`` patients remain.

    A step is hidden from the first time, per group, where the number left after the step
    (``n_risk - n_event - n_censor``) is below the threshold; every later step is hidden too.
    This is one step stricter than "``n_risk`` < threshold": otherwise the last visible row
    would give away the next (suppressed) number at risk by subtraction. Hidden steps keep
    their ``time`` but have NaN ``survival, std_err, lower, upper, n_risk, n_event, n_censor``
    (``analytics.charts.survival_chart`` does not draw them).
    """
    _check_threshold(threshold)
    out = km_frame.copy()
    has_group = group in out.columns
    if not has_group:
        out[group] = "All patients"
    out = _by_group_then(out, group, "time")
    left = out["n_risk"] - out.get("n_event", 0) - out.get("n_censor", 0)
    small = (left < threshold) | (out["n_risk"] < threshold)
    hidden = small.groupby(out[group], sort=False).cummax().to_numpy(bool)
    for column in (*KM_COUNT_COLUMNS, *KM_VALUE_COLUMNS):
        if column in out.columns:
            out[column] = out[column].astype(float).where(~hidden)
    if not has_group:
        out = out.drop(columns=[group])
    out.attrs["suppressed_columns"] = [c for c in KM_COUNT_COLUMNS if c in out.columns]
    out.attrs["suppression_threshold"] = threshold
    return out


def suppress_table_one(
    table: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    counts: Mapping[str, str | None],
    variable: str = "variable",
    total_column: str | None = None,
) -> pd.DataFrame:
    """Suppress a baseline-characteristics table (counts and percents).

    Parameters
    ----------
    table : DataFrame
        One row per level of each characteristic: ``variable, level`` and, per group, a count
        column and its percent column (e.g. ``n_C01, pct_C01``).
    counts : mapping of count column → its percent column (or None).
    variable : column naming the characteristic; the levels of one characteristic add up to
        the group size, so column totals are assumed known within each variable.
    total_column : a count column holding the row total across groups (e.g. ``n_all``); when
        given, row totals are assumed known too.

    Returns
    -------
    DataFrame
        ``table`` with hidden counts and their percents set to NaN.
    """
    count_columns = list(counts)
    complementary = "both" if total_column is not None else "columns"
    if total_column is not None and total_column not in count_columns:
        count_columns.append(total_column)
    out = suppress_counts(table, count_columns, threshold, complementary=complementary, by=variable)
    for count_column, percent_column in counts.items():
        if percent_column:
            out[percent_column] = out[percent_column].astype(float).where(out[count_column].notna())
    percents = [p for p in counts.values() if p]
    out.attrs["suppressed_columns"] = sorted(set(out.attrs["suppressed_columns"]) | set(percents))
    return out


def suppress_funnel(
    frame: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    n_column: str = "n_patients",
    value_column: str = "observed",
    pooled_label: str = "Smaller clinics (pooled)",
) -> pd.DataFrame:
    """Clinics safe to plot in a funnel plot; small ones pooled into one point or dropped.

    A clinic is small when it has fewer than ``threshold`` patients, or when its count of
    retained (``value · n``) or not retained patients lies between 0 and the threshold (a
    proportion and an n give the count away). Small clinics are pooled into one row
    (``clinic_id`` "pooled", n-weighted proportions) when there are at least two of them and
    the pool is itself not small; otherwise they are left out.

    Returns
    -------
    DataFrame
        The safe rows of ``frame`` plus ``is_pooled``; ``attrs["n_clinics_hidden"]`` counts the
        clinics not shown on their own.
    """
    _check_threshold(threshold)
    n = frame[n_column].astype(float)
    retained = (frame[value_column].astype(float) * n).round()

    def is_small(n_value, retained_value) -> pd.Series:
        counts = [n_value, retained_value, n_value - retained_value]
        return pd.concat([(c > 0) & (c < threshold) for c in counts], axis=1).any(axis=1)

    small = is_small(n, retained)
    out = frame[~small].copy()
    out["is_pooled"] = False
    pool = frame[small]
    if len(pool) >= 2:
        pool_n = float(pool[n_column].sum())
        pool_retained = float(retained[small].sum())
        if not is_small(pd.Series([pool_n]), pd.Series([pool_retained])).iloc[0]:
            row = {"clinic_id": "pooled", "clinic_name": pooled_label, "is_pooled": True}
            row[n_column] = pool_n
            weights = pool[n_column].astype(float)
            for column in frame.columns:
                if column in {value_column, "expected"}:
                    row[column] = float((pool[column].astype(float) * weights).sum() / pool_n)
            out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
    out.attrs["n_clinics_hidden"] = int(small.sum())
    out.attrs["suppression_threshold"] = threshold
    return out


def display_suppressed(frame: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """A copy for display: hidden cells of the suppressed columns become ``"<11"`` text.

    Only the columns named in ``frame.attrs["suppressed_columns"]`` change (other NaNs are
    real missing values). Whole numbers are written without decimals.
    """
    columns = [c for c in frame.attrs.get("suppressed_columns", []) if c in frame.columns]
    threshold = frame.attrs.get("suppression_threshold", DEFAULT_THRESHOLD)
    label = label or f"<{threshold}"
    out = frame.copy()
    for column in columns:
        out[column] = [_display_value(value, label) for value in frame[column]]
    return out


def _display_value(value, label: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return label
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.1f}"


def suppress_step_table(
    frame: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    group: Sequence[str] = ("group",),
    count: str = "n_risk",
    hide: Sequence[str] = (
        "n_risk", "n_event", "n_censor", "cif", "variance", "std_err", "lower", "upper",
    ),
) -> pd.DataFrame:  # fmt: skip
    """Truncate step curves (cumulative incidence) where fewer than ``threshold`` remain.

    Per ``group`` (e.g. ``("group", "cause")``), every step from the first one with
    ``count < threshold`` on has its ``hide`` columns set to NaN, as
    :func:`suppress_survival_curve` does for Kaplan–Meier curves.
    """
    _check_threshold(threshold)
    keys = [g for g in group if g in frame.columns]
    out = frame.sort_values([*keys, "time"], kind="stable").reset_index(drop=True)
    small = pd.to_numeric(out[count], errors="coerce") < threshold
    if keys:
        hidden = small.groupby([out[k] for k in keys], sort=False).cummax().to_numpy(bool)
    else:
        hidden = small.cummax().to_numpy(bool)
    for column in hide:
        if column in out.columns:
            out[column] = out[column].astype(float).where(~hidden)
    counts = [c for c in KM_COUNT_COLUMNS if c in out.columns]
    out.attrs["suppressed_columns"] = sorted(
        set(frame.attrs.get("suppressed_columns", [])) | set(counts)
    )
    out.attrs["suppression_threshold"] = threshold
    return out


def drop_small_rows(
    frame: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    counts: Sequence[str],
    complements: Sequence[tuple[str, str]] = (),
) -> pd.DataFrame:
    """Rows of ``frame`` none of whose counts is small (1..threshold-1); the others dropped.

    ``complements`` are ``(total, part)`` pairs whose difference is a count too (screened
    minus positive = negative): a row is dropped when that difference is small as well. A
    dropped row is gone whole, so nothing about it can be recomputed from the rows left (use
    this only for tables without a published total across rows, e.g. points of a curve).
    """
    _check_threshold(threshold)
    small = pd.Series(False, index=frame.index)
    values = [pd.to_numeric(frame[c], errors="coerce") for c in counts if c in frame.columns]
    values += [
        pd.to_numeric(frame[t], errors="coerce") - pd.to_numeric(frame[p], errors="coerce")
        for t, p in complements
        if t in frame.columns and p in frame.columns
    ]
    for value in values:
        small |= (value > 0) & (value < threshold)
    out = frame[~small.to_numpy()].reset_index(drop=True)
    out.attrs.update(frame.attrs)
    out.attrs["suppression_threshold"] = threshold
    out.attrs["n_rows_suppressed"] = int(small.sum())
    return out


def hide_small(value, threshold: int | None) -> float:
    """A single count as a viewer may see it: NaN when ``0 < value < threshold``."""
    if threshold is None or value is None or pd.isna(value):
        return value
    return float("nan") if 0 < value < threshold else value


def format_count(value, threshold: int = DEFAULT_THRESHOLD) -> str:
    """A count for display: ``"<11"`` for a hidden (NaN) count, else ``"1,234"``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"<{threshold}"
    return f"{int(value):,}"
