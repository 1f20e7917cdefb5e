"""Relapse and attendance: weekly urine results, relapse events, missed doses, clinic months.

The rows come from the store's SQL marts (``fct_screen_weeks``, ``fct_relapse_events``,
``fct_missed_dose_days``, ``fct_patient_months``, ``fct_clinic_months``), parameterised by the
cohort spec's gap rule and cut-off and restricted to the viewer's clinics; the cohort's other
filters are applied by keeping the rows of the cohort's episodes.

Weekly result characters: ``-`` negative, ``+`` positive, ``o`` missed or no screen that week,
``*`` other (refused).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes, resolve_as_of
from analytics.suppression import suppress_counts, suppression_threshold

EPISODE_KEYS = ["patient_id", "episode_no"]
RELAPSE_TYPES = ("positive_after_negative_run", "two_consecutive_positive")


def _mart_params(reader: store.StoreReader, spec: CohortSpec) -> dict:
    """The marts' rule and cut-off, and the cohort's clinics (the rest of its filters apply
    when the rows are joined to the cohort): a one-clinic cohort reads its clinic's rows."""
    with reader.cursor() as cur:
        return {
            "gap_days": spec.gap_days,
            "as_of": resolve_as_of(cur, spec),
            "clinic_ids": list(spec.clinic_ids),
        }


def _mart(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    name: str,
    date_mode: str = "shift",
    **params,
) -> pd.DataFrame:
    """Patient-level mart rows, through the access layer (scoped, audited, de-identified;
    ``date_mode`` as ``analytics.access.deidentify``)."""
    from analytics.access import patient_rows  # access builds on the store, as we do

    params = {**_mart_params(reader, spec), **params}
    return patient_rows(reader, viewer, name, params, date_mode=date_mode)


def _share(sample_share: float | None) -> float | None:
    if sample_share is None or sample_share >= 1:
        return None
    if not 0 < sample_share:
        raise ValueError(f"sample_share must be in (0, 1], got {sample_share!r}")
    return float(sample_share)


# From this many cohort episodes the marts are joined in DuckDB: on a million episodes' string
# keys a pandas merge and sort took seconds, on a few thousand pandas is faster (no conversion).
DUCKDB_JOIN_MIN_EPISODES = 50_000


def cohort_keys(reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec):
    """The cohort's episode keys (read alone: the marts need no other column)."""
    return cohort_episodes(reader, viewer, spec, columns=EPISODE_KEYS)


def _in_cohort(
    rows: pd.DataFrame, episodes: pd.DataFrame, order: list[str], *, in_duckdb: bool | None = None
) -> pd.DataFrame:
    """The rows of the cohort's episodes, sorted by ``order`` (our own column names); the same
    frame either way (a test holds the two ways to each other)."""
    if in_duckdb is None:
        in_duckdb = len(episodes) >= DUCKDB_JOIN_MIN_EPISODES
    if not in_duckdb:
        joined = rows.merge(episodes[EPISODE_KEYS], on=EPISODE_KEYS, how="inner")
        return joined.sort_values(order, ignore_index=True)
    by = ", ".join(store.quote_identifier(column, frozenset(rows.columns)) for column in order)
    with duckdb.connect() as con:
        con.register("mart_rows", rows)
        con.register("cohort_keys", episodes[EPISODE_KEYS])
        return store.frame_of(
            con.sql(
                "select * from mart_rows semi join cohort_keys using (patient_id, episode_no)"
                f" order by {by}"
            ),
            text_as_arrow=True,  # as the patient-level rows came in
        )


def _first_weeks(episodes: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Each episode's first relapse week by row (NaN without one), found in DuckDB."""
    keys = episodes[EPISODE_KEYS].assign(row_position=np.arange(len(episodes)))
    with duckdb.connect() as con:
        con.register("episode_keys", keys)
        con.register("relapse_rows", events[[*EPISODE_KEYS, "week_no"]])
        found = con.execute(
            "select row_position, min(week_no) as week_no from episode_keys"
            " inner join relapse_rows using (patient_id, episode_no) group by row_position"
        ).fetchnumpy()
    week = np.full(len(episodes), np.nan)
    week[np.asarray(found["row_position"], dtype=np.intp)] = np.asarray(found["week_no"], float)
    return week


def screen_weeks(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    *,
    max_week_no: int | None = None,
    sample_share: float | None = None,
) -> pd.DataFrame:
    """One row per cohort episode and week in treatment (up to ``max_week_no``, default all):
    ``patient_id, clinic_id, episode_no, week_no, opioid_result, any_result``.

    ``sample_share`` keeps a fixed random share of the patients (all their episodes), the
    same patients in every query with the same share."""
    rows = _mart(
        reader,
        viewer,
        spec,
        "screen_weeks",
        max_week_no=max_week_no,
        sample_share=_share(sample_share),
    )
    return _in_cohort(rows, cohort_keys(reader, viewer, spec), [*EPISODE_KEYS, "week_no"])


def weekly_strings(weeks: pd.DataFrame) -> pd.DataFrame:
    """Urine strings per episode from weekly rows: ``opioid_string``, ``any_string`` (one
    character per week), ``n_weeks``, ``n_screened_weeks``, ``n_negative_weeks`` and
    ``proportion_negative`` (negative among weeks with a result, NaN if none)."""
    ordered = weeks.sort_values([*EPISODE_KEYS, "week_no"])
    grouped = ordered.groupby(["patient_id", "clinic_id", "episode_no"], sort=True)
    out = grouped.agg(
        opioid_string=("opioid_result", "".join),
        any_string=("any_result", "".join),
        n_weeks=("week_no", "size"),
    ).reset_index()
    screened = ordered["opioid_result"].isin(["+", "-"])
    counts = (
        ordered.assign(
            screened=screened.astype(int), negative=(ordered["opioid_result"] == "-").astype(int)
        )
        .groupby(EPISODE_KEYS)[["screened", "negative"]]
        .sum()
        .rename(columns={"screened": "n_screened_weeks", "negative": "n_negative_weeks"})
        .reset_index()
    )
    out = out.merge(counts, on=EPISODE_KEYS, how="left")
    out["proportion_negative"] = out["n_negative_weeks"] / out["n_screened_weeks"].where(
        out["n_screened_weeks"] > 0
    )
    return out


def screen_strings(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec
) -> pd.DataFrame:
    """One row per cohort episode with its weekly urine strings (see :func:`weekly_strings`)."""
    return weekly_strings(screen_weeks(reader, viewer, spec))


def relapse_events(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec
) -> pd.DataFrame:
    """Relapse events of the cohort's episodes: ``patient_id, clinic_id, episode_no, week_no,
    relapse_type`` (a positive week after >= 4 negative weeks, or two positive weeks running)."""
    rows = _mart(reader, viewer, spec, "relapse_events")
    order = [*EPISODE_KEYS, "week_no", "relapse_type"]
    return _in_cohort(rows, cohort_keys(reader, viewer, spec), order)


def first_relapse_times(episodes: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Time to the first relapse per episode, with leaving treatment as a competing event
    (``events``: relapse events or first relapse weeks, by episode and ``week_no``).

    Returns the episodes with ``relapse_days`` (the first day of the relapse week, counted from
    the start, or the episode's duration) and ``relapse_status``: 1 relapse, 2 left treatment
    before any relapse, 0 censored (still in treatment at the cut-off, no relapse).
    """
    week = _first_weeks(episodes, events)
    relapsed = ~np.isnan(week)
    duration = episodes["duration_days"].to_numpy(float)
    left = episodes["event_observed"].to_numpy() == 1
    out = episodes.copy(deep=False)  # two columns are added, none written into
    out["relapse_days"] = np.where(relapsed, np.minimum(week * 7 + 7, duration), duration)
    out["relapse_status"] = np.where(relapsed, 1, np.where(left, 2, 0))
    return out.reset_index(drop=True)


# what the relapse page reads of the episodes: outcome, end, and every grouping's source
FIRST_RELAPSE_COLUMNS = [
    *EPISODE_KEYS,
    "clinic_id",
    "clinic_name",
    "start_date",
    "end_date",
    "duration_days",
    "event_observed",
    "dropout_status",
    "event",
    "status",
    "modality",
    "sex",
    "age_years",
    "dose_band",
    "family_support",
    "mspss_family",
    "apgar_category",
    "is_first_episode",
    "has_drug_using_friends",
    "has_no_income",
    "has_family_education_before",
]


def first_relapse(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec
) -> pd.DataFrame:
    """The cohort's episodes with ``relapse_days`` and ``relapse_status`` (see
    :func:`first_relapse_times`), for cumulative incidence of first relapse."""
    episodes = cohort_episodes(reader, viewer, spec, columns=FIRST_RELAPSE_COLUMNS)
    # each episode's first relapse week, found in the store: not every event of every episode
    return first_relapse_times(episodes, _mart(reader, viewer, spec, "first_relapse_weeks"))


def missed_dose_days(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    *,
    sample_share: float | None = None,
    date_mode: str = "shift",
) -> pd.DataFrame:
    """Every missed dose day of the cohort's episodes: ``patient_id, clinic_id, episode_no,
    missed_date`` (uncovered days inside an episode, and up to the cut-off if it is open);
    ``sample_share`` as :func:`screen_weeks`; ``date_mode="keep"`` only for counts against
    calendar dates (``analytics.access.deidentify``)."""
    rows = _mart(
        reader, viewer, spec, "missed_dose_days", date_mode, sample_share=_share(sample_share)
    )
    order = [*EPISODE_KEYS, "missed_date"]
    return _in_cohort(rows, cohort_keys(reader, viewer, spec), order)


def patient_months(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec
) -> pd.DataFrame:
    """Missed doses per cohort episode and calendar month: ``patient_id, clinic_id,
    episode_no, month_start, days_in_treatment, missed_days``."""
    rows = _mart(reader, viewer, spec, "patient_months")
    order = [*EPISODE_KEYS, "month_start"]
    return _in_cohort(rows, cohort_keys(reader, viewer, spec), order)


def missed_before_exit(missed: pd.DataFrame, episodes: pd.DataFrame, weeks: int = 12):
    """Missed dose days per week before the end of closed episodes, by outcome.

    Returns ``weeks_before_exit`` (1 = the last week before the last covered day), ``end_group``
    ('dropout' or 'other exit'), ``n_episodes`` and ``mean_missed_days`` per episode.
    """
    closed = episodes[episodes["event_observed"] == 1]
    dropout = closed["dropout_status"] == 1
    closed = closed.assign(end_group=dropout.map({True: "dropout", False: "other exit"}))
    merged = missed.merge(closed[[*EPISODE_KEYS, "end_date", "end_group"]], on=EPISODE_KEYS)
    days_before = (
        pd.to_datetime(merged["end_date"]) - pd.to_datetime(merged["missed_date"])
    ).dt.days
    merged["weeks_before_exit"] = days_before // 7 + 1
    merged = merged[merged["weeks_before_exit"].between(1, weeks)]
    counts = merged.groupby(["end_group", "weeks_before_exit"]).size().rename("missed_days")
    n_by_group = closed.groupby("end_group").size().rename("n_episodes")
    grid = pd.MultiIndex.from_product(
        [n_by_group.index, range(1, weeks + 1)], names=["end_group", "weeks_before_exit"]
    )
    out = counts.reindex(grid, fill_value=0).reset_index()
    out = out.merge(n_by_group.reset_index(), on="end_group")
    out["mean_missed_days"] = out["missed_days"] / out["n_episodes"]
    return out


EXIT_COLUMNS = (
    "n_exits_completed",
    "n_exits_dropped_out",
    "n_exits_dropped_out_no_record",
    "n_exits_discharged_by_clinic",
    "n_exits_transferred",
    "n_exits_incarcerated",
    "n_exits_died",
    "n_exits_other",
)


def suppress_clinic_months(rows: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Small-cell suppression of clinic-month counts for viewers without identifiable access.

    Exits by reason add up to ``n_exits`` (suppressed as one line with complementary cells);
    in treatment and admissions are suppressed on their own; a retention pair (evaluable,
    retained) is hidden whole when either the retained or the not-retained count is small,
    since each is the other's complement.
    """
    out = suppress_counts(rows, [*EXIT_COLUMNS, "n_exits"], threshold, complementary="rows")
    single = suppress_counts(
        rows, ["n_in_treatment", "n_admissions"], threshold, complementary="none"
    )
    out[["n_in_treatment", "n_admissions"]] = single[["n_in_treatment", "n_admissions"]]
    for days in (90, 365):
        evaluable = rows[f"n_evaluable_{days}"].astype(float)
        retained = rows[f"n_retained_{days}"].astype(float)
        small = lambda n: (n > 0) & (n < threshold)  # noqa: E731
        hide = small(evaluable) | small(retained) | small(evaluable - retained)
        out[f"n_evaluable_{days}"] = evaluable.mask(hide)
        out[f"n_retained_{days}"] = retained.mask(hide)
    return out


def clinic_months(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec, *, suppressed: bool = True
) -> pd.DataFrame:
    """Per clinic and month: in treatment, admissions, exits by reason and the admission
    cohort's 90-day and one-year retention counts (``fct_clinic_months``), for the spec's
    clinics within the viewer's scope. Adds ``retention_90`` and ``retention_365``
    (retained / evaluable, NaN when nobody is evaluable yet).

    ``suppressed=False``: counts as stored, for a caller that sums clinics and suppresses
    the sums (hiding each clinic's small months first would drop them from the sums)."""
    # aggregate rows: scoped by the reader, suppressed below for de-identified viewers
    rows = reader.scoped_query("clinic_months", viewer, _mart_params(reader, spec))
    if spec.clinic_ids:
        rows = rows[rows["clinic_id"].isin(spec.clinic_ids)]
    rows = rows.sort_values(["clinic_id", "month_start"], ignore_index=True)
    if suppressed and not viewer.identifiable:
        with reader.cursor() as cur:
            threshold = suppression_threshold(cur)
        rows = suppress_clinic_months(rows, threshold)
    for days in (90, 365):
        evaluable = rows[f"n_evaluable_{days}"]
        rows[f"retention_{days}"] = rows[f"n_retained_{days}"] / evaluable.where(evaluable > 0)
    return rows
