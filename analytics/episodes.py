"""Treatment episodes and retention outcomes, derived in SQL from attendance.

The rules (the *episode contract*) live in ``sql/intermediate/int_episode_spans.sql`` and
``sql/marts/fct_episodes.sql`` as DuckDB table macros taking ``gap_days`` and ``as_of``, so the
dashboard changes the gap rule or the cut-off without rebuilding anything. This module runs the
same SQL, on the store or on a DataFrame of visits.

Outcomes
--------
``any_exit``
    every end of an episode is an event: ``event_observed`` (1 event, 0 censored).
``dropout``
    dropping out (with or without a discharge record, discharged by the clinic, other) is the
    event; completion, transfer, incarceration and death compete: ``dropout_status``
    (0 censored, 1 dropout, 2 competing), ready for cumulative incidence and Fine-Gray.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.errors import RetentionError

EPISODE_COLUMNS = (
    "patient_id",
    "clinic_id",
    "episode_no",
    "start_date",
    "end_date",
    "n_visits",
    "duration_days",
    "event_observed",
)
END_STATUSES = (
    "censored",
    "completed",
    "dropped_out",
    "dropped_out_no_record",
    "discharged_by_clinic",
    "transferred",
    "incarcerated",
    "died",
    "other",
)
COMPETING_STATUSES = ("completed", "transferred", "incarcerated", "died")
DROPOUT_STATUS_LABELS = {0: "censored", 1: "dropout", 2: "competing exit"}


class EpisodeInputError(RetentionError):
    """Visits cannot be turned into episodes as given; the message names the column."""


def derive_episodes(
    visits: pd.DataFrame, *, gap_days: int = 7, as_of: dt.date | str
) -> pd.DataFrame:
    """Treatment episodes from dosing visits, by the store's own SQL.

    Parameters
    ----------
    visits
        One row per visit: ``patient_id``, ``clinic_id``, ``visit_date`` and optionally
        ``take_home_days`` (days covered after the visit day; default 0) and ``visit_time``.
        Exact duplicate rows count once.
    gap_days
        An episode ends before a run of more than ``gap_days`` uncovered days.
    as_of
        Data cut-off: later visits are ignored; an episode whose last covered day is within
        ``gap_days`` of it is open (censored, duration ``as_of - start + 1``).

    Returns
    -------
    pandas.DataFrame
        One row per episode, ordered by patient and start: ``patient_id, clinic_id,
        episode_no, start_date, end_date, n_visits, duration_days, event_observed``
        (``event_observed`` is the ``any_exit`` outcome: 1 ended, 0 open).
    """
    frame = _visits_for_sql(visits)
    con = duckdb.connect()
    try:
        store.build(con)
        con.register("visits_input", frame)
        store.execute(
            con,
            "insert into dosing_visits (patient_id, clinic_id, visit_date, visit_time, medication,"
            " dose_mg, is_supervised, take_home_days)"
            " select distinct patient_id, clinic_id, visit_date, visit_time, 'methadone', 0,"
            " true, take_home_days from visits_input",
        )
        con.unregister("visits_input")
        result = con.execute(
            f"select {', '.join(EPISODE_COLUMNS)} from fct_episodes($gap_days, $as_of)"
            " order by patient_id, start_date, clinic_id",
            {"gap_days": _check_gap(gap_days), "as_of": _as_date(as_of)},
        ).df()
    finally:
        con.close()
    for column in ("start_date", "end_date"):
        result[column] = pd.to_datetime(result[column]).dt.date
    return result


def _visits_for_sql(visits: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("patient_id", "clinic_id", "visit_date") if c not in visits.columns]
    if missing:
        raise EpisodeInputError(
            f"The visits need the column(s) {', '.join(missing)}; found {', '.join(visits.columns)}."
        )
    frame = pd.DataFrame(
        {
            "patient_id": visits["patient_id"].astype(str),
            "clinic_id": visits["clinic_id"].astype(str),
            "visit_date": pd.to_datetime(visits["visit_date"], errors="coerce").dt.date,
            "visit_time": (
                pd.to_datetime(visits["visit_time"].astype(str), format="%H:%M:%S").dt.time
                if "visit_time" in visits.columns
                else None
            ),
            "take_home_days": (
                visits["take_home_days"] if "take_home_days" in visits.columns else 0
            ),
        }
    )
    bad_dates = int(frame["visit_date"].isna().sum())
    if bad_dates:
        raise EpisodeInputError(f"visit_date is missing or not a date in {bad_dates} row(s).")
    take_home = pd.to_numeric(frame["take_home_days"], errors="coerce")
    bad_take_home = int((take_home.isna() | (take_home < 0)).sum())
    if bad_take_home:
        raise EpisodeInputError(
            f"take_home_days must be a whole number >= 0; {bad_take_home} row(s) are not."
        )
    frame["take_home_days"] = take_home.astype("int64")
    return frame


def _check_gap(gap_days: int) -> int:
    if int(gap_days) != gap_days or not 1 <= gap_days <= 365:
        raise EpisodeInputError(
            f"gap_days must be a whole number of days in 1-365, not {gap_days}."
        )
    return int(gap_days)


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise EpisodeInputError(f"as_of must be a date (YYYY-MM-DD), not {value!r}.") from exc


def resolve_as_of(con: duckdb.DuckDBPyConnection, spec: CohortSpec) -> dt.date:
    """The spec's cut-off, else the store's data cut-off."""
    if spec.as_of is not None:
        return spec.as_of
    cutoff = store.data_cutoff(con)
    if cutoff is None:
        raise RetentionError("The store has no data yet: import files or build the demo store.")
    return cutoff


def cohort_params(spec: CohortSpec, as_of: dt.date) -> dict[str, Any]:
    """Bound parameters of ``q_cohort_episodes`` for a spec (no value reaches SQL as text)."""
    return {
        "gap_days": spec.gap_days,
        "as_of": as_of,
        "clinic_ids": list(spec.clinic_ids),
        "modalities": list(spec.modalities),
        "admitted_from": spec.admitted_from,
        "admitted_to": spec.admitted_to,
        "age_min": spec.age_min,
        "age_max": spec.age_max,
        "sexes": list(spec.sexes),
        "dose_bands": list(spec.dose_bands),
        "family_support": list(spec.family_support),
        "obstacle_themes": list(spec.obstacle_themes),
        "ecological_levels": list(spec.ecological_levels),
        "episode_kind": spec.episode_kind,
        "open_only": False,
    }


def cohort_episodes(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    *,
    columns: Sequence[str] | None = None,
    date_mode: str = "shift",
    open_only: bool = False,
) -> pd.DataFrame:
    """Episodes of the cohort with outcome and baseline covariates, within the viewer's scope.

    Returns the columns of ``fct_episode_covariates`` (see ``docs/data_dictionary.md``) plus
    ``event`` and ``status``, the outcome under ``spec.outcome`` (for ``any_exit`` ``status``
    equals ``event``; for ``dropout`` it is ``dropout_status``). With ``columns``, only those
    (and the outcome's) are read, rows in the same order: a page reading a few of the sixty
    columns of a million episodes converts only those. ``date_mode``: how a viewer without
    identifiable access gets the dates (``analytics.access.deidentify``); ``"keep"`` only for
    analyses that publish suppressed calendar aggregates. ``open_only``: only the episodes
    open at the cut-off (a third of a large store's), same order.
    """
    from analytics.access import patient_rows  # access builds on the store, as we do

    read = None
    if columns is not None:
        read = columns_to_read(columns)
        # a read of this cohort a page already made (the whole, or another page's columns)
        # may hold these columns (same rows, same order, same values): taking them costs
        # milliseconds, a read half a second at 1M
        cover = _remembered_cover(reader, viewer, spec, date_mode, open_only, read)
        if cover is not None:
            held, held_open_only = cover
            outcome = [c for c in held.columns if c in ("event", "status")]  # as added
            if open_only and not held_open_only:
                held = held[held["is_open"].astype(bool)].reset_index(drop=True)
            return held[[*read, *outcome]]

    def compute() -> pd.DataFrame:
        with reader.cursor() as cur:
            as_of = resolve_as_of(cur, spec)
        params = {**cohort_params(spec, as_of), "open_only": open_only}
        frame = patient_rows(
            reader, viewer, "cohort_episodes", params, columns=read, date_mode=date_mode
        )
        return with_outcome(numeric_ages(frame), spec.outcome)

    # several analyses of one page build on the same cohort: derive (and audit) it once.
    # A shallow copy (a deep one costs a second per call at a million episodes): analyses add
    # or replace columns and never write into the shared ones (a test runs every analysis and
    # checks the remembered cohort is unchanged).
    key = _memo_key(viewer, spec, None if columns is None else tuple(columns), date_mode)
    if open_only:
        key = (*key, _OPEN_ONLY)
    return reader.memoized(key, compute).copy(deep=False)


def columns_to_read(columns: Sequence[str]) -> list[str]:
    """The stored columns a cohort read of ``columns`` takes: ``event`` and ``status`` are
    derived from ``event_observed`` and ``dropout_status`` (:func:`with_outcome`)."""
    read = list(dict.fromkeys([*columns, "event_observed", "dropout_status"]))
    return [c for c in read if c not in ("event", "status")]


def _memo_key(viewer, spec: CohortSpec, columns: tuple[str, ...] | None, date_mode: str):
    # true dates are remembered apart: no analysis showing rows may be handed them
    key = ("cohort_episodes", viewer, spec, columns)
    return key if date_mode == "shift" else (*key, date_mode)


_OPEN_ONLY = "open_only"


def _remembered_cover(reader, viewer, spec, date_mode, open_only, read):
    """(frame, open only) of a remembered read of the same cohort (viewer, spec, dates)
    holding ``read``, or None: for open episodes any read with ``is_open`` too (the caller
    filters a read of every episode), else only reads of every episode."""
    prefix = _memo_key(viewer, spec, None, date_mode)
    every, only_open = prefix[4:], (*prefix[4:], _OPEN_ONLY)

    def covers(key: tuple, frame) -> bool:
        if key[:3] != prefix[:3] or key[4:] not in (every, only_open):
            return False
        frame_open = key[4:] == only_open
        if frame_open and not open_only:
            return False
        needed = set(read) | ({"is_open"} if open_only and not frame_open else set())
        return needed <= set(frame.columns)

    held = reader.remembered_matching(covers)
    return None if held is None else (held[1], held[0][4:] == only_open)


def numeric_ages(frame: pd.DataFrame) -> pd.DataFrame:
    """De-identified rows carry ages 90 and over as "90+": models need numbers, so the group
    becomes 90 (the group's floor), never the true age."""
    if "age_years" in frame.columns and frame["age_years"].dtype == object:
        frame = frame.assign(
            age_years=pd.to_numeric(frame["age_years"].replace("90+", "90"), errors="coerce")
        )
    return frame


def patient_sample_share(n_episodes: int, max_episodes: int) -> float | None:
    """The share of patients whose episodes make about ``max_episodes`` of ``n_episodes``, for
    a fixed random sample of a large cohort (None: every patient)."""
    return max_episodes / n_episodes if n_episodes > max_episodes else None


def as_labels(values: pd.Series) -> pd.Series:
    """Text labels for a model term, missing values as "unknown", as a categorical with its
    categories sorted (a Cox design's reference level is the first, as it is for text).

    A model then checks, counts and codes the term on small integer codes: at a million rows,
    hashing the strings again for each of those steps cost half a second per model.
    """
    codes, uniques = pd.factorize(values)  # missing values: -1
    labels = [str(u) for u in np.asarray(uniques, dtype=object)]
    if (codes < 0).any():
        labels.append("unknown")
        codes = np.where(codes < 0, len(labels) - 1, codes)
    categories = sorted(set(labels))
    position = np.array([categories.index(label) for label in labels], dtype=np.int64)
    return pd.Series(
        pd.Categorical.from_codes(position[codes], categories),
        index=values.index,
        name=values.name,
    )


def with_outcome(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Add ``event`` (0/1) and ``status`` (0 censored, 1 event, 2 competing) for an outcome
    (to a shallow copy: ``frame`` itself is unchanged, and a million rows are not copied)."""
    frame = frame.copy(deep=False)
    if outcome == "any_exit":
        frame["event"] = frame["event_observed"].astype(int)
        frame["status"] = frame["event"]
    elif outcome == "dropout":
        frame["status"] = frame["dropout_status"].astype(int)
        frame["event"] = (frame["status"] == 1).astype(int)
    else:
        raise RetentionError(f"Unknown outcome {outcome!r}: use 'any_exit' or 'dropout'.")
    return frame


def cohort_periods(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    episodes: pd.DataFrame,
    *,
    baseline_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Counting-process rows (``start_day, stop_day``] with time-varying covariates for the
    cohort's episodes, joined to their baseline covariates (all, or ``baseline_columns``: a
    million episodes have ten million periods, and a model needs a few of the 60 columns);
    ``event`` follows ``spec.outcome``."""
    from analytics.access import patient_rows

    with reader.cursor() as cur:
        as_of = resolve_as_of(cur, spec)
    periods = patient_rows(
        reader, viewer, "episode_periods", {"gap_days": spec.gap_days, "as_of": as_of}
    )
    keys = episodes[["patient_id", "episode_no"]]
    periods = periods.merge(keys, on=["patient_id", "episode_no"], how="inner")
    if baseline_columns is not None:
        own = set(periods.columns) - {"patient_id", "episode_no"}  # time-varying, outcome
        wanted = ["patient_id", "episode_no", *baseline_columns]
        episodes = episodes[[c for c in dict.fromkeys(wanted) if c not in own]]
    baseline = episodes.drop(
        columns=["event_observed", "dropout_status", "event", "status", "clinic_id"],
        errors="ignore",
    )
    merged = periods.merge(baseline, on=["patient_id", "episode_no"], how="left")
    return with_outcome(merged, spec.outcome)
