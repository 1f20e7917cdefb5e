"""Input checks shared by every survival function.

Each public function validates its input once, here, so that a user sees one sentence naming
the column, the number of offending rows and what to do, rather than a numpy error later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from analytics.errors import SurvivalInputError


def _as_list(columns: str | Sequence[str] | None) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return list(columns)


def check_frame(data: pd.DataFrame, columns: Iterable[str | None]) -> None:
    """Check that ``data`` is a non-empty DataFrame holding ``columns`` without missing values."""
    if not isinstance(data, pd.DataFrame):
        raise SurvivalInputError(
            f"data must be a pandas DataFrame, got {type(data).__name__}; "
            "build one with pd.DataFrame(...) or read it with pd.read_csv(...)"
        )
    if len(data) == 0:
        raise SurvivalInputError(
            "the cohort is empty (0 rows); widen the filters or check the import"
        )
    names = [c for c in columns if c is not None]
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise SurvivalInputError(
            f"column(s) {missing} not found in data; available columns: {list(data.columns)}"
        )
    for name in dict.fromkeys(names):
        n_missing = int(data[name].isna().sum())
        if n_missing:
            raise SurvivalInputError(
                f"column '{name}' has {n_missing} missing (NaN) values; drop or impute them "
                f"first, e.g. data.dropna(subset=['{name}'])"
            )


def check_numeric(data: pd.DataFrame, column: str, role: str) -> np.ndarray:
    """Return ``data[column]`` as float, rejecting non-numeric and infinite values."""
    series = data[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise SurvivalInputError(
            f"{role} column '{column}' has dtype {series.dtype}; it must be numeric "
            f"(convert it with pd.to_numeric)"
        )
    values = series.to_numpy(dtype=float)
    n_inf = int(np.isinf(values).sum())
    if n_inf:
        raise SurvivalInputError(
            f"{role} column '{column}' has {n_inf} infinite values; replace them with finite ones"
        )
    return values


def check_durations(
    data: pd.DataFrame, duration: str, entry: str | None = None, start_role: str = "entry"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Durations must be >= 0; an entry (or start) time must be >= 0 and < the duration."""
    time = check_numeric(data, duration, "duration")
    n_negative = int((time < 0).sum())
    if n_negative:
        raise SurvivalInputError(
            f"duration column '{duration}' has {n_negative} negative values; "
            "durations must be >= 0 (check start and end dates)"
        )
    if entry is None:
        return time, None
    start = check_numeric(data, entry, start_role)
    n_negative = int((start < 0).sum())
    if n_negative:
        raise SurvivalInputError(
            f"{start_role} column '{entry}' has {n_negative} negative values; "
            f"{start_role} times must be >= 0"
        )
    n_bad = int((start >= time).sum())
    if n_bad:
        raise SurvivalInputError(
            f"{start_role} column '{entry}' has {n_bad} rows with {start_role} >= "
            f"'{duration}'; each row must cover a positive interval ({start_role}, {duration}]"
        )
    return time, start


def check_event(data: pd.DataFrame, event: str, *, require_events: bool = True) -> np.ndarray:
    """Events must be coded 0/1 (or boolean) and at least one must be observed."""
    values = check_numeric(data, event, "event")
    n_bad = int((~np.isin(values, (0.0, 1.0))).sum())
    if n_bad:
        raise SurvivalInputError(
            f"event column '{event}' has {n_bad} values other than 0/1; code 1 = event "
            "observed, 0 = censored"
        )
    if require_events and values.sum() == 0:
        raise SurvivalInputError(
            f"event column '{event}' has no events: all {len(values)} rows are censored; "
            "no survival curve or model can be estimated (extend follow-up or check the coding)"
        )
    return values.astype(bool)


def check_status(data: pd.DataFrame, status: str, cause: object) -> np.ndarray:
    """Competing-risks status: 0 = censored, other values = causes; ``cause`` must occur."""
    values = data[status].to_numpy()
    n_cause = int((values == cause).sum())
    if n_cause == 0:
        found = sorted({v for v in pd.unique(values) if v != 0}, key=str)
        raise SurvivalInputError(
            f"status column '{status}' has no rows with cause {cause!r}; causes present: "
            f"{found} (0 = censored)"
        )
    return values


def check_groups_have_events(
    group_codes: np.ndarray, labels: Sequence[object], event: np.ndarray, group: str
) -> None:
    """A comparison between groups needs at least one event in every group."""
    counts = np.bincount(group_codes, weights=event.astype(float), minlength=len(labels))
    empty = [labels[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        sizes = np.bincount(group_codes, minlength=len(labels))
        n_rows = int(sum(sizes[labels.index(g)] for g in empty))
        raise SurvivalInputError(
            f"group column '{group}' has {len(empty)} group(s) with no events ({empty}, "
            f"{n_rows} rows); drop or merge them before comparing groups"
        )


def group_codes(data: pd.DataFrame, column: str | None) -> tuple[np.ndarray, list[object]]:
    """Integer codes (0..k-1) and labels of a grouping column, in sorted / category order."""
    if column is None:
        return np.zeros(len(data), dtype=np.intp), ["all"]
    codes, labels = pd.factorize(data[column], sort=True)
    return codes.astype(np.intp), list(labels)


def _whole_days(values: np.ndarray, *, below: int) -> bool:
    """Non-empty, whole and in [0, ``below``): times the fast paths key as integers."""
    return bool(
        values.size
        and values.min() >= 0
        and values.max() < below
        and np.all(values == np.floor(values))
    )


def group_time_order(time: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Row order by group code, then time (stable: ties keep their order), as
    ``np.lexsort((time, codes))``. Follow-up in whole days (the usual case) is sorted as one
    integer key: a few years of days in a handful of groups fit 16 bits, sorted by radix
    (a million episodes: 0.02 s instead of 0.3 s)."""
    if _whole_days(time, below=2**31):
        span = int(time.max()) + 1
        key = (codes.astype(np.int64) + 1) * span + time.astype(np.int64)  # code -1: missing
        return stable_argsort(key)
    return np.lexsort((time, codes))


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``. Whole days (the usual follow-up) are ranked
    by counting instead of sorting: a million times, 0.01 s instead of 0.1 s. Other numbers are
    hashed and only the distinct values sorted: a million risk scores with a hundred thousand
    values, 0.05 s instead of 0.13 s."""
    values = np.asarray(values)
    if values.dtype.kind in "iuf" and _whole_days(values, below=2**24):
        days = values.astype(np.int64)
        present = np.zeros(int(days.max()) + 1, dtype=bool)
        present[days] = True
        rank_of_day = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(values.dtype), rank_of_day[days]
    if values.dtype.kind == "f" and not np.isnan(values).any():
        # + 0.0 turns -0.0 into 0.0, which np.unique counts as one value with it
        codes, uniques = pd.factorize(values + 0.0)
        order = np.argsort(uniques, kind="stable")
        rank = np.empty(len(uniques), dtype=np.intp)
        rank[order] = np.arange(len(uniques))
        return uniques[order], rank[codes]
    uniques, inverse = np.unique(values, return_inverse=True)
    return uniques, inverse.ravel()


def stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of integer keys; keys that fit 16 bits are sorted
    by numpy's radix sort (a million keys: 0.02 s instead of 0.1 s)."""
    if key.size and key.min() >= 0 and key.max() < 2**16:
        key = key.astype(np.uint16)
    return np.argsort(key, kind="stable")


def check_covariates_vary(design: pd.DataFrame) -> None:
    """A covariate with one value has no estimable coefficient; say which one."""
    values = design.to_numpy(dtype=float)
    # compared row-wise: a column of a row-major matrix is strided, ten times slower to scan
    same = np.all(values == values[0], axis=0)
    constant = [name for name, is_constant in zip(design.columns, same, strict=True) if is_constant]
    if constant:
        raise SurvivalInputError(
            f"covariate(s) {constant} have no variance in these {len(design)} rows; "
            "drop them from the model (or widen the cohort)"
        )


def as_list(columns: str | Sequence[str] | None) -> list[str]:
    """Normalise a column argument (one name or several) to a list."""
    return _as_list(columns)


def check_not_collinear(centred: np.ndarray, names: Sequence[str]) -> None:
    """Covariates that are linear combinations of each other have no unique estimates.

    ``centred`` is the design matrix with column means removed. The eigenvector of the smallest
    eigenvalue of the correlation matrix shows which columns are involved.
    """
    cross = centred.T @ centred
    scale = np.sqrt(np.diag(cross))
    corr = cross / np.outer(scale, scale)
    values, vectors = np.linalg.eigh(corr)
    if values[0] < 1e-10 * values[-1]:
        involved = [n for n, w in zip(names, vectors[:, 0], strict=True) if abs(w) > 0.1]
        raise SurvivalInputError(
            f"covariates {involved} are collinear (one is a linear combination of the others "
            f"in these {len(centred)} rows); drop one of them"
        )
