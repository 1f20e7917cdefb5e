"""The clinic manager's overview: who is in treatment, this month's flow, headline retention.

Pure functions take the cohort's episodes (``analytics.episodes.cohort_episodes``) and the
per-clinic months (``analytics.relapse.clinic_months``) and return small frames; the
reader-level :func:`clinic_overview` assembles them for the dashboard (``data.computed``).

Definitions
-----------
In treatment now
    distinct patients with an open episode at the data cut-off (``is_open``).
Admissions this month
    episodes starting in the calendar month of the cut-off (month to date).
Exits this month
    closed episodes whose last covered day falls in the month of the cut-off, by end status.
    An episode is closed only after more than ``gap_days`` uncovered days, so exits of the last
    ``gap_days`` before the cut-off are not known yet.
Retention
    Kaplan–Meier S(90) and S(365) with 95% log-scale CIs (R's ``summary(survfit(...),
    times = c(90, 365))``) under the spec's outcome, for the selected clinic(s) and for all
    clinics in the viewer's scope, each for all admissions, admissions in the last 12 months
    and admissions in the 12 months before ("previous year"). S(365) of admissions in the last
    12 months is not observable yet and is left empty (NaN).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.episodes import END_STATUSES, cohort_episodes, resolve_as_of
from analytics.errors import RetentionError
from analytics.relapse import clinic_months
from analytics.survival import survival_at

RETENTION_DAYS = (90, 365)
WINDOWS = {
    "all": "all admissions",
    "last_year": "admitted in the last 12 months",
    "previous_year": "admitted 12–24 months before",
}
EXIT_LABELS = {
    "completed": "Completed",
    "dropped_out": "Dropped out",
    "dropped_out_no_record": "Dropped out (no discharge record)",
    "discharged_by_clinic": "Discharged by the clinic",
    "transferred": "Transferred",
    "incarcerated": "Incarcerated",
    "died": "Died",
    "other": "Other / unknown",
}
RETENTION_COLUMNS = [
    "scope",
    "window",
    "n_episodes",
    "s90",
    "s90_lower",
    "s90_upper",
    "s365",
    "s365_lower",
    "s365_upper",
]


def _as_timestamp(value: dt.date | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def in_treatment_now(episodes: pd.DataFrame) -> int:
    """Distinct patients with an episode open at the cut-off."""
    return int(episodes.loc[episodes["is_open"].astype(bool), "patient_id"].nunique())


def _in_month_of(dates: pd.Series, as_of: dt.date) -> pd.Series:
    """True for dates in the calendar month of ``as_of`` (compared, not converted to periods:
    a million dates take 0.4 s as periods)."""
    first = _as_timestamp(as_of).replace(day=1)
    dates = pd.to_datetime(dates)
    return (dates >= first) & (dates < first + pd.offsets.MonthBegin(1))


def admissions_in_month(episodes: pd.DataFrame, as_of: dt.date) -> int:
    """Episodes starting in the calendar month of ``as_of``, up to ``as_of``."""
    start = pd.to_datetime(episodes["start_date"])
    return int((_in_month_of(start, as_of) & (start <= _as_timestamp(as_of))).sum())


def exits_in_month(episodes: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Closed episodes whose last covered day falls in the month of ``as_of``, by end status.

    Returns
    -------
    DataFrame
        ``end_status, reason, n_exits``: one row per exit status (zeros included), in the order
        of ``analytics.episodes.END_STATUSES``.
    """
    closed = ~episodes["is_open"].astype(bool)
    in_month = closed & _in_month_of(episodes["end_date"], as_of)
    counts = episodes.loc[in_month, "end_status"].value_counts()
    statuses = [s for s in END_STATUSES if s != "censored"]
    return pd.DataFrame(
        {
            "end_status": statuses,
            "reason": [EXIT_LABELS[s] for s in statuses],
            "n_exits": [int(counts.get(s, 0)) for s in statuses],
        }
    )


def admission_window(episodes: pd.DataFrame, as_of: dt.date, window: str) -> pd.DataFrame:
    """Episodes admitted in a window relative to ``as_of`` (see :data:`WINDOWS`)."""
    if window == "all":
        return episodes
    start = pd.to_datetime(episodes["start_date"])
    cut = _as_timestamp(as_of)
    year = pd.Timedelta(days=365)
    if window == "last_year":
        keep = (start > cut - year) & (start <= cut)
    elif window == "previous_year":
        keep = (start > cut - 2 * year) & (start <= cut - year)
    else:
        raise RetentionError(f"Unknown admission window {window!r}: use {', '.join(WINDOWS)}.")
    return episodes[keep]


def retention_at(episodes: pd.DataFrame, days: tuple[int, ...] = RETENTION_DAYS) -> dict:
    """KM S(t) with 95% CI at ``days`` for one set of episodes (``duration_days``, ``event``).

    Returns ``{"n_episodes": n, "s90": ..., "s90_lower": ..., "s90_upper": ...}``; a time beyond
    the last follow-up, or an empty set, gives NaN.
    """
    out: dict[str, float] = {"n_episodes": len(episodes)}
    for t in days:
        out.update({f"s{t}": np.nan, f"s{t}_lower": np.nan, f"s{t}_upper": np.nan})
    if episodes.empty:
        return out
    table = survival_at(episodes, duration="duration_days", event="event", times=list(days))
    for row in table.itertuples():
        t = int(row.time)
        out.update({f"s{t}": row.survival, f"s{t}_lower": row.lower, f"s{t}_upper": row.upper})
    return out


def retention_table(
    selected: pd.DataFrame, all_clinics: pd.DataFrame, as_of: dt.date
) -> pd.DataFrame:
    """Headline retention of the selected clinic(s) and of all clinics, by admission window.

    Returns
    -------
    DataFrame
        One row per scope ("Selected clinic(s)", "All clinics") and window (:data:`WINDOWS`):
        ``scope, window, n_episodes, s90, s90_lower, s90_upper, s365, s365_lower, s365_upper``.
    """
    rows, estimated = [], {}
    for scope, frame in (("Selected clinic(s)", selected), ("All clinics", all_clinics)):
        for window, label in WINDOWS.items():
            # with no clinic chosen the selection is all clinics: estimated once, shown twice
            key = (id(frame), window)
            if key not in estimated:
                estimated[key] = retention_at(admission_window(frame, as_of, window))
            rows.append({"scope": scope, "window": label, **estimated[key]})
    table = pd.DataFrame(rows, columns=RETENTION_COLUMNS)
    # S(365) needs a year of follow-up, which nobody admitted in the last 12 months has.
    table.loc[table["window"] == WINDOWS["last_year"], ["s365", "s365_lower", "s365_upper"]] = (
        np.nan
    )
    return table


def monthly_trend(months: pd.DataFrame, *, n_months: int = 36) -> pd.DataFrame:
    """Counts per month summed over clinics, long format for a trend chart.

    Parameters
    ----------
    months : ``clinic_months`` output (per clinic and month).
    n_months : the last months to keep.

    Returns
    -------
    DataFrame
        ``month, measure, value`` with measures "In treatment", "Admissions", "Exits".
    """
    summed = (
        months.groupby("month_start", as_index=False)[["n_in_treatment", "n_admissions", "n_exits"]]
        .sum()
        .sort_values("month_start")
        .tail(n_months)
    )
    long = summed.melt(id_vars="month_start", var_name="measure", value_name="value")
    long["measure"] = long["measure"].map(
        {"n_in_treatment": "In treatment", "n_admissions": "Admissions", "n_exits": "Exits"}
    )
    return long.rename(columns={"month_start": "month"}).reset_index(drop=True)


def cohort_retention_trend(months: pd.DataFrame, *, n_quarters: int = 12) -> pd.DataFrame:
    """Retention of each quarter's admissions (retained / evaluable), summed over clinics.

    A quarter's 90-day (one-year) value uses only the admissions whose day 90 (365) is on or
    before the cut-off; quarters where nobody is evaluable are left out.

    Returns
    -------
    DataFrame
        ``quarter_start, measure ("90 days" | "one year"), n_evaluable, n_retained, value``.
    """
    frame = months.assign(
        quarter_start=pd.to_datetime(months["month_start"]).dt.to_period("Q").dt.start_time
    )
    columns = ["n_evaluable_90", "n_retained_90", "n_evaluable_365", "n_retained_365"]
    summed = frame.groupby("quarter_start", as_index=False)[columns].sum()
    summed = summed.sort_values("quarter_start").tail(n_quarters)
    parts = []
    for days, label in ((90, "90 days"), (365, "one year")):
        part = summed[["quarter_start", f"n_evaluable_{days}", f"n_retained_{days}"]].rename(
            columns={f"n_evaluable_{days}": "n_evaluable", f"n_retained_{days}": "n_retained"}
        )
        part = part[part["n_evaluable"] > 0].assign(measure=label)
        part["value"] = part["n_retained"] / part["n_evaluable"]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return out[["quarter_start", "measure", "n_evaluable", "n_retained", "value"]]


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows (see the module docstring for definitions)."""

    as_of: dt.date
    n_in_treatment: int
    n_admissions_month: int
    exits_month: pd.DataFrame
    retention: pd.DataFrame
    monthly: pd.DataFrame
    cohort_retention: pd.DataFrame
    # the month's exits when the per-reason counts are suppressed (NaN: small itself)
    exits_total: float | None = None

    @property
    def n_exits_month(self) -> float:
        if self.exits_total is not None:
            return self.exits_total
        return int(self.exits_month["n_exits"].sum())

    def headline(self, scope: str = "Selected clinic(s)", window: str = "all") -> pd.Series:
        """One retention row: ``scope`` "Selected clinic(s)" or "All clinics", a window key."""
        rows = self.retention[
            (self.retention["scope"] == scope) & (self.retention["window"] == WINDOWS[window])
        ]
        return rows.iloc[0]

    def trend(self, *measures: str) -> pd.DataFrame:
        """Rows of :attr:`monthly` for the given measures ("In treatment", "Admissions"...)."""
        return self.monthly[self.monthly["measure"].isin(measures)]

    def retention_display(self) -> pd.DataFrame:
        """:attr:`retention` as text for a table: "67.2% (63.9–70.8)", "—" when not observable."""
        return format_retention(self.retention)


def _percent_with_ci(value: float, lower: float, upper: float) -> str:
    if pd.isna(value):
        return "—"
    return f"{value:.1%} ({lower:.1%}–{upper:.1%})"


def format_retention(table: pd.DataFrame) -> pd.DataFrame:
    """The retention table with S(90) and S(365) as "value (95% CI)" text."""
    return pd.DataFrame(
        {
            "Clinics": table["scope"],
            "Admissions": table["window"],
            "Episodes": table["n_episodes"],
            "Retained 90 days (95% CI)": [
                _percent_with_ci(*v) for v in table[["s90", "s90_lower", "s90_upper"]].to_numpy()
            ],
            "Retained one year (95% CI)": [
                _percent_with_ci(*v) for v in table[["s365", "s365_lower", "s365_upper"]].to_numpy()
            ],
        }
    )


_COLUMNS = [
    "patient_id",
    "clinic_id",
    "is_open",
    "start_date",
    "end_date",
    "end_status",
    "duration_days",
    "event",
]


def clinic_overview(reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec) -> Overview:
    """The overview of the spec's clinics (all clinics in scope if none chosen) at its cut-off.

    Raises RetentionError when the selection has no episodes.
    """
    with reader.cursor() as cur:
        as_of = resolve_as_of(cur, spec)
    spec = spec.replace(as_of=as_of)
    # the columns the overview reads: a million episodes convert and copy only these. True
    # dates: it counts admissions and exits in calendar months and windows before the cut-off,
    # and publishes only counts and estimates, suppressed below for de-identified viewers
    everyone = cohort_episodes(
        reader, viewer, spec.replace(clinic_ids=()), columns=_COLUMNS, date_mode="keep"
    )
    selected = everyone
    if spec.clinic_ids:
        selected = everyone[everyone["clinic_id"].isin(spec.clinic_ids)]
    if selected.empty:
        raise RetentionError(
            "No treatment episodes in this selection: choose other clinics or filters."
        )
    months = clinic_months(reader, viewer, spec, suppressed=False)  # summed, then suppressed
    overview = Overview(
        as_of=as_of,
        n_in_treatment=in_treatment_now(selected),
        n_admissions_month=admissions_in_month(selected, as_of),
        exits_month=exits_in_month(selected, as_of),
        retention=retention_table(selected, everyone, as_of),
        monthly=monthly_trend(months),
        cohort_retention=cohort_retention_trend(months),
    )
    from analytics.access import viewer_threshold

    threshold = viewer_threshold(reader, viewer)
    return overview if threshold is None else suppress_overview(overview, threshold)


def suppress_overview(overview: Overview, threshold: int) -> Overview:
    """The overview as a viewer without identifiable access may see it.

    Headline counts under the threshold are hidden; exits by reason are suppressed with the
    month's total as a published total; a retention row of fewer episodes than the threshold
    shows no count or estimate; a month whose admissions or exits are small hides both (the
    change in patients in treatment would give one from the other; hidden months are left
    out); a quarter whose evaluable,
    retained or not-retained count is small is left out.
    """
    from analytics.suppression import drop_small_rows, hide_small, suppress_counts

    exits = suppress_counts(overview.exits_month, ["n_exits"], threshold, complementary="columns")
    retention = overview.retention.copy()
    small = (retention["n_episodes"] > 0) & (retention["n_episodes"] < threshold)
    numbers = [c for c in retention.columns if c not in {"scope", "window"}]
    retention[numbers] = retention[numbers].astype(float)
    retention.loc[small.to_numpy(), numbers] = np.nan
    retention.attrs.update(suppressed_columns=["n_episodes"], suppression_threshold=threshold)
    monthly = overview.monthly.copy()
    monthly["value"] = monthly["value"].astype(float)
    flows = monthly["measure"].isin(["Admissions", "Exits"])
    is_small = (monthly["value"] > 0) & (monthly["value"] < threshold)
    small_months = set(monthly.loc[is_small & flows, "month"])
    monthly.loc[(flows & monthly["month"].isin(small_months)).to_numpy(), "value"] = np.nan
    monthly.loc[(is_small & ~flows).to_numpy(), "value"] = np.nan
    # hidden months are left out (a chart would draw a NaN as a gap or as zero, never "<11")
    monthly = monthly.dropna(subset=["value"]).reset_index(drop=True)
    monthly.attrs.update(suppression_threshold=threshold)
    cohorts = drop_small_rows(
        overview.cohort_retention, threshold, counts=["n_evaluable", "n_retained"],
        complements=[("n_evaluable", "n_retained")],
    )  # fmt: skip
    return dataclasses.replace(
        overview,
        n_in_treatment=hide_small(overview.n_in_treatment, threshold),
        n_admissions_month=hide_small(overview.n_admissions_month, threshold),
        exits_month=exits,
        retention=retention,
        monthly=monthly,
        cohort_retention=cohorts,
        exits_total=hide_small(overview.n_exits_month, threshold),
    )
