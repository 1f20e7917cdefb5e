"""Clinic benchmarking: observed against case-mix expected one-year retention, per clinic.

Method (DOMAIN.md §3 and §6)
----------------------------
1. A Cox model of the spec's outcome is fitted on the episodes of **all** clinics, with case-mix
   terms only (:data:`CASE_MIX`: age, sex, modality, prior episodes, family support, the six
   obstacle-theme scores) and **no clinic term and no dose**: dose is practice, the very thing a
   clinic can change, so adjusting for it would hide it. A categorical level with no event
   (a rare level in a small cohort, e.g. sex 'X') is merged into the first level with one: its
   own coefficient would be infinite. (Fitting a large cohort on a sample was tried and
   dropped: at a million patients, 250,000 episodes moved a clinic's expected retention by up
   to 0.25 points, as much as the 95% limits of clinics that size, and one clinic changed sides.)
2. Expected one-year retention of a clinic = the mean over its episodes of the predicted
   S(365 | x) (indirect standardisation).
3. Observed = the clinic's Kaplan–Meier S(365) (R: ``summary(survfit(Surv(duration_days,
   event) ~ 1, data = clinic), times = 365)``).
4. The funnel plots ``observed / expected × target`` (target = the pooled KM S(365)) against
   the clinic's episodes with a year of follow-up, with binomial 95% and 99.8% limits.

Stored comparisons. A clinic manager can choose only the gap rule and the outcome (the
comparison ignores the clinic filter), so every comparison a manager sees at the data cut-off is
one of six. A writer computes those, for all clinics as read by an administrator and as read
de-identified (ages 90 and over as 90), and stores them with the data
(:func:`store_comparisons`); the page reads them instead of fitting a million episodes again
(:func:`stored_basis`). A test holds them equal to the live fit. Any other cohort (a researcher's
filters, another cut-off) is fitted live.

Under the dropout outcome, competing exits are censored here (a KM-type benchmark); the
curves page offers cumulative incidence for the full competing-risks view.

Clinic names: administrators see every clinic; clinic managers see their own clinics by name
and the others as "Clinic A", "Clinic B"... (in clinic-id order); researchers see every clinic
anonymously. For all but administrators, small clinics are pooled or hidden (:func:`analytics.suppression.suppress_funnel`).
"""

from __future__ import annotations

import datetime as dt
import logging
import string
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from analytics import store
from analytics.access import deidentify
from analytics.charts import funnel_points
from analytics.cohort_spec import OUTCOMES, CohortSpec
from analytics.episodes import (
    as_labels,
    cohort_episodes,
    cohort_params,
    columns_to_read,
    numeric_ages,
    resolve_as_of,
    with_outcome,
)
from analytics.errors import RetentionError
from analytics.risk_models import levels_without_events, varies
from analytics.suppression import suppress_funnel, suppress_risk_table, suppress_survival_curve
from analytics.suppression import suppression_threshold as store_threshold
from analytics.survival import CoxResult, cox_ph, kaplan_meier, survival_at

_log = logging.getLogger(__name__)
YEAR_DAYS = 365
CURVE_DAYS = 730
OBSTACLE_SCORES = [
    "n_ob_personality_mood",
    "n_ob_cognitive",
    "n_ob_skill",
    "n_ob_family",
    "n_ob_socio_economic",
    "n_ob_treatment",
]
CASE_MIX = [
    "age_years",
    "sex",
    "modality",
    "n_prior_episodes",
    "family_support",
    *OBSTACLE_SCORES,
]
REST_LABEL = "All other clinics"
COMPARISON_COLUMNS = [
    "clinic_id",
    "clinic_name",
    "n_episodes",
    "n_patients",
    "observed",
    "observed_lower",
    "observed_upper",
    "expected",
    "difference",
    "adjusted",
]


def case_mix_frame(episodes: pd.DataFrame) -> pd.DataFrame:
    """The case-mix covariates with missing values as their own level (numeric: median)."""
    # selecting copies the columns; each is then replaced, never written into (at a million
    # episodes a second deep copy and re-typing strings that are strings cost half a second)
    frame = episodes[["duration_days", "event", *CASE_MIX]].copy(deep=False)
    frame["age_years"] = frame["age_years"].astype(float).fillna(frame["age_years"].median())
    frame["n_prior_episodes"] = frame["n_prior_episodes"].fillna(0).clip(upper=3).astype(float)
    for column in OBSTACLE_SCORES:
        frame[column] = frame[column].astype(float).fillna(0)
    for column in ("sex", "modality", "family_support"):
        frame[column] = as_labels(frame[column])
    return frame


def fit_case_mix(
    episodes: pd.DataFrame, covariates: list[str] | None = None, *, time: float = YEAR_DAYS
) -> tuple[CoxResult, np.ndarray]:
    """Cox model of ``event`` on the case mix, all clinics pooled, no clinic term, no dose, and
    every episode's expected S(time | x) from it, in row order."""
    frame = case_mix_frame(episodes)
    covariates = covariates or CASE_MIX
    frame = _pool_levels_without_events(frame, ["sex", "modality", "family_support"])
    constant = [c for c in covariates if not varies(frame[c])[0]]
    result = cox_ph(
        frame,
        duration="duration_days",
        event="event",
        covariates=[c for c in covariates if c not in constant],
    )
    return result, result.fitted_survival_at(time)


def _pool_levels_without_events(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with each categorical level that has no event merged into the first level
    that has one. Such a level's coefficient would be infinite; its episodes are given the
    reference level's hazard instead."""
    events = frame["event"].to_numpy() == 1
    out = frame.copy(deep=False)
    for column in columns:
        empty = {level for level, _ in levels_without_events(frame, column, events)}
        categories = frame[column].cat.categories
        kept = [i for i, level in enumerate(categories) if level not in empty]
        if not empty or not kept:
            continue  # nothing to merge (or nothing to merge into: the fit says why)
        target = np.array([kept[0] if level in empty else i for i, level in enumerate(categories)])
        out[column] = pd.Categorical.from_codes(target[frame[column].cat.codes], categories)
    return out


def observed_and_expected(
    episodes: pd.DataFrame, expected: np.ndarray, time: float = YEAR_DAYS
) -> pd.DataFrame:
    """Per clinic: KM S(time) with 95% CI (observed), mean predicted S(time | x) (expected).

    Parameters
    ----------
    episodes : all clinics' episodes with ``clinic_id, clinic_name, start_date, duration_days,
        event`` and the case-mix columns; needs ``as_of`` implicit in ``duration_days``.
    expected : each episode's S(time | x) from the case-mix model (:func:`fit_case_mix`).

    Returns
    -------
    DataFrame
        One row per clinic: ``clinic_id, clinic_name, n_episodes, n_patients`` (episodes with
        a year of follow-up: ended or still followed at day 365), ``observed, observed_lower,
        observed_upper, expected, difference`` (observed − expected). Clinics whose follow-up
        ends before ``time`` have NaN observed.
    """
    if len(expected) != len(episodes):
        raise RetentionError("The expected survival given is of other episodes than these.")
    # per clinic by code: a million episodes are neither copied nor grouped as frames
    codes, clinic_ids = pd.factorize(episodes["clinic_id"], sort=True)
    n_clinics = len(clinic_ids)
    curves_frame = _follow_up_by_group(episodes, codes, list(clinic_ids))
    km = survival_at(
        curves_frame, duration="duration_days", event="event", times=[time], group="group"
    ).set_index("group")
    followed = (curves_frame["duration_days"] >= time) | (curves_frame["event"] == 1)
    n_episodes = np.bincount(codes, minlength=n_clinics)
    n_followed = np.bincount(codes, weights=followed.to_numpy(float), minlength=n_clinics)
    expected_sums = np.bincount(codes, weights=expected, minlength=n_clinics)
    first_rows = np.unique(codes, return_index=True)[1]
    names = episodes["clinic_name"].to_numpy()[first_rows]
    rows = []
    for code, clinic_id in enumerate(clinic_ids):
        has_km = clinic_id in km.index
        rows.append(
            {
                "clinic_id": clinic_id,
                "clinic_name": names[code],
                "n_episodes": int(n_episodes[code]),
                "n_patients": int(n_followed[code]),
                "observed": km.at[clinic_id, "survival"] if has_km else np.nan,
                "observed_lower": km.at[clinic_id, "lower"] if has_km else np.nan,
                "observed_upper": km.at[clinic_id, "upper"] if has_km else np.nan,
                "expected": float(expected_sums[code] / n_episodes[code]),
            }
        )
    out = pd.DataFrame(rows)
    out["difference"] = out["observed"] - out["expected"]
    return out


def _follow_up_by_group(episodes: pd.DataFrame, codes: np.ndarray, labels: list) -> pd.DataFrame:
    """``duration_days, event`` and ``group`` (a categorical of ``labels`` by ``codes``): the
    three columns the curves read, not a copy of every episode's others."""
    return pd.DataFrame(
        {
            "duration_days": episodes["duration_days"].to_numpy(),
            "event": episodes["event"].to_numpy(),
            "group": pd.Categorical.from_codes(codes, labels),
        }
    )


def pooled_target(episodes: pd.DataFrame, time: float = YEAR_DAYS) -> float:
    """The pooled KM S(time) of all clinics: the funnel's target line."""
    table = survival_at(episodes, duration="duration_days", event="event", times=[time])
    if table.empty:
        raise RetentionError(
            f"No episode is followed for {time:.0f} days yet: the one-year comparison needs "
            "at least a year of data."
        )
    return float(table["survival"].iloc[0])


def anonymise(table: pd.DataFrame, viewer: store.Viewer) -> pd.DataFrame:
    """Clinic names as the viewer may see them: all for administrators; otherwise the viewer's
    own clinics (none for a researcher) by name and the others as "Clinic A", "Clinic B"...
    (ids hidden too). Adds ``is_own``."""
    out = table.copy()
    if viewer.clinic_ids is None:
        out["is_own"] = viewer.role == "admin"
    else:
        out["is_own"] = out["clinic_id"].isin(viewer.clinic_ids)
    if viewer.role == "admin":
        return out
    others = sorted(out.loc[~out["is_own"], "clinic_id"])
    labels = {c: f"Clinic {_letters(i)}" for i, c in enumerate(others)}
    hidden = ~out["is_own"]
    out.loc[hidden, "clinic_name"] = out.loc[hidden, "clinic_id"].map(labels)
    out.loc[hidden, "clinic_id"] = out.loc[hidden, "clinic_name"]
    return out


def _letters(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]


def clinic_vs_rest(
    episodes: pd.DataFrame, clinic_id: str, label: str, *, x_max: float = CURVE_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KM curves of one clinic and of all other clinics, with a number-at-risk table.

    Returns
    -------
    (curves, risk_table)
        ``kaplan_meier`` output with ``group`` = ``label`` or :data:`REST_LABEL`, and
        ``survival_at`` at every 90 days up to ``x_max`` (``group, time, n_risk``...).
    """
    is_clinic = (episodes["clinic_id"] == clinic_id).to_numpy()
    if not is_clinic.any():
        raise RetentionError(f"{label} has no episodes in this selection.")
    # the two groups as codes, in sorted order as text would be (a million labels written out
    # and hashed twice cost a quarter of a second)
    names = sorted([label, REST_LABEL])
    codes = np.where(is_clinic, names.index(label), names.index(REST_LABEL))
    frame = _follow_up_by_group(episodes, codes, names)
    curves = kaplan_meier(frame, duration="duration_days", event="event", group="group")
    times = list(np.arange(0, x_max + 1, 90))
    risk = survival_at(
        frame, duration="duration_days", event="event", times=times, group="group", extend=True
    )
    return curves, risk


@dataclass(frozen=True)
class Comparison:
    """The comparison as shown: per-clinic table (ids and names as the viewer may see them),
    the pooled target, the cut-off, the model's size and how many clinics were not shown."""

    table: pd.DataFrame
    target: float
    as_of: dt.date
    n_episodes: int
    n_events: int
    n_clinics_hidden: int

    def points(self) -> pd.DataFrame:
        """The funnel's points: :attr:`table` plus ``value, status, direction``."""
        return funnel_points(self.table, target=self.target)

    def funnel_frame(self) -> pd.DataFrame:
        """:attr:`table` with short point labels (the clinic id, or "Clinic A")."""
        return self.table.assign(clinic_name=self.table["clinic_id"])

    def curve_choices(self) -> list[str]:
        """Clinic ids (as shown) that can be drawn against the rest; own clinics first."""
        rows = self.table[self.table["clinic_id"] != "pooled"]
        return list(rows.sort_values("is_own", ascending=False, kind="stable")["clinic_id"])

    def label(self, clinic_id: str) -> str:
        rows = self.table[self.table["clinic_id"] == clinic_id]
        if rows.empty:
            return clinic_id
        name = str(rows["clinic_name"].iloc[0])
        return name if name == clinic_id else f"{clinic_id} · {name}"

    def display(self) -> pd.DataFrame:
        """The per-clinic table as short text, one row per clinic: six columns that fit half a
        page (the observed value with its CI, "59.6% (53–68%)"; the funnel as "within" or the
        side and limit crossed, "below 99.8%")."""
        points = self.points()
        ci = points[["observed_lower", "observed_upper"]].to_numpy()
        observed = [
            f"{value:.1%} ({_interval(lo, hi)})" if pd.notna(lo) else f"{value:.1%}"
            for value, (lo, hi) in zip(points["observed"], ci, strict=True)
        ]
        outside = points["status"] != "within 95% limits"
        limit = np.where(points["status"] == "outside 99.8% limits", "99.8%", "95%")
        funnel = np.where(outside, points["direction"] + " " + limit, "within")
        return pd.DataFrame(
            {
                "Clinic": points["clinic_id"],
                "Episodes": points["n_episodes"].astype("Int64"),
                "Observed (95% CI)": observed,
                "Expected": points["expected"].map("{:.1%}".format),
                "O − E": (points["difference"] * 100).map("{:+.1f} pts".format),
                "Funnel": funnel,
            }
        )


def _interval(lower: float, upper: float) -> str:
    """A CI as whole percents, "53–68%", or with a decimal when whole percents would read as
    no interval at all (a clinic of 100,000 episodes: "51.0–51.5%", not "51–51%")."""
    digits = 0 if round(lower * 100) != round(upper * 100) else 1
    return f"{lower * 100:.{digits}f}–{upper * 100:.{digits}f}%"


def _all_clinics_viewer(viewer: store.Viewer) -> store.Viewer:
    """Who reads every clinic's episodes for the comparison.

    Viewers already scoped to every clinic read as themselves. A clinic manager reads the other
    clinics as a researcher would (de-identified rows through ``access.patient_rows``, audited
    under their own user name); only per-clinic summaries, anonymised and suppressed, leave
    this module.
    """
    if viewer.clinic_ids is None:
        return viewer
    return store.Viewer(
        role="researcher", clinic_ids=None, identifiable=False, user_name=viewer.user_name
    )


# the columns a comparison reads: a million episodes convert and copy only these
EPISODE_COLUMNS = ["clinic_id", "clinic_name", "duration_days", "event", *CASE_MIX]


def _comparison_spec(reader: store.StoreReader, spec: CohortSpec) -> CohortSpec:
    """``spec`` as a comparison reads it: every clinic, the cut-off resolved."""
    with reader.cursor() as cur:
        as_of = resolve_as_of(cur, spec)
    return spec.replace(as_of=as_of, clinic_ids=())


def _comparison_episodes(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec
) -> pd.DataFrame:
    """Every clinic's episodes of a :func:`_comparison_spec`, as ``viewer`` may read them."""
    return cohort_episodes(reader, _all_clinics_viewer(viewer), spec, columns=EPISODE_COLUMNS)


def _check_clinics(episodes: pd.DataFrame) -> None:
    if episodes["clinic_id"].nunique() < 2:
        raise RetentionError("Comparing clinics needs at least two clinics with episodes.")


@dataclass(frozen=True)
class ComparisonBasis:
    """A comparison as computed from every clinic's episodes, before clinics are named for a
    viewer or small ones suppressed: :func:`observed_and_expected`'s table, the pooled target
    and the size of the model."""

    table: pd.DataFrame
    target: float
    n_episodes: int
    n_events: int


def comparison_basis(episodes: pd.DataFrame) -> ComparisonBasis:
    """Fit the case mix on ``episodes`` (every clinic's) and compare each clinic with it."""
    _check_clinics(episodes)
    _, expected = fit_case_mix(episodes)
    return ComparisonBasis(
        table=observed_and_expected(episodes, expected),
        target=pooled_target(episodes),
        n_episodes=len(episodes),
        n_events=int(episodes["event"].sum()),
    )


def compare_clinics(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec
) -> Comparison:
    """Observed vs case-mix expected one-year retention for every clinic (the spec's clinic
    filter is ignored: a comparison needs them all; its other filters apply)."""
    spec = _comparison_spec(reader, spec)
    deidentified = not _all_clinics_viewer(viewer).identifiable
    basis = stored_basis(reader, spec, deidentified=deidentified)
    if basis is None:  # not a setting a writer stores: fitted now
        basis = comparison_basis(_comparison_episodes(reader, viewer, spec))
    table, target = basis.table, basis.target
    table = table[table["observed"].notna()]
    table = table.assign(adjusted=table["observed"] / table["expected"] * target)
    labelled = anonymise(table, viewer)
    hidden = 0
    if viewer.role != "admin":
        with reader.cursor() as cur:
            threshold = store_threshold(cur)
        labelled = suppress_funnel(labelled, threshold)
        hidden = int(labelled.attrs.get("n_clinics_hidden", 0))
        labelled["adjusted"] = labelled["observed"] / labelled["expected"] * target
        labelled["difference"] = labelled["observed"] - labelled["expected"]
    columns = [c for c in [*COMPARISON_COLUMNS, "is_own"] if c in labelled.columns]
    return Comparison(
        table=labelled[columns].reset_index(drop=True),
        target=target,
        as_of=spec.as_of,
        n_episodes=basis.n_episodes,
        n_events=basis.n_events,
        n_clinics_hidden=hidden,
    )


# --- comparisons stored by a writer ------------------------------------------------------------

STORED_TABLE = "stored_clinic_comparisons"
_BASIS_COLUMNS = COMPARISON_COLUMNS[:-1]  # observed_and_expected's: all but "adjusted"
_STORED_SCHEMA = (
    "gap_days integer, as_of date, outcome varchar, deidentified boolean,"
    " clinic_id varchar, clinic_name varchar, n_episodes bigint, n_patients bigint,"
    " observed double, observed_lower double, observed_upper double, expected double,"
    " difference double, target double, model_episodes bigint, model_events bigint"
)
# the viewer a comparison reads every clinic as when it is not an administrator
_DEIDENTIFIED_READER = store.Viewer(role="researcher", identifiable=False, user_name="store")


def stored_settings(cutoff: dt.date) -> list[CohortSpec]:
    """The cohorts whose comparison a writer stores: each gap rule and outcome a clinic manager
    can choose, all clinics, no other filter, the data cut-off."""
    return [
        CohortSpec(gap_days=gap_days, outcome=outcome, as_of=cutoff)
        for gap_days in store.MATERIALIZED_GAP_DAYS
        for outcome in OUTCOMES
    ]


def store_comparisons(con) -> None:
    """Compute the comparison of every stored setting (:func:`stored_settings`) as an
    administrator and as a de-identified reader see it, into :data:`STORED_TABLE` (a writer's
    step, after the marts: ``store.store_results``).

    A setting that cannot be compared (one clinic, no year of follow-up), or whose fit fails, is
    not stored: the page fits it live and says why. An import is never refused for it. No person
    sees these rows, so the read is not audited.
    """
    store.execute(con, f"create or replace table {STORED_TABLE} ({_STORED_SCHEMA})")
    cutoff = store.data_cutoff(con)
    if cutoff is None:
        return
    readings: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}  # per gap rule
    with store.reading_materialized_marts(con):
        for spec in stored_settings(cutoff):
            if spec.gap_days not in readings:
                readings[spec.gap_days] = _every_clinics_episodes(con, spec)
            as_admin, deidentified = readings[spec.gap_days]
            basis = _basis_or_none(as_admin, spec)
            # the same rows give the same comparison
            hidden = basis if deidentified is as_admin else _basis_or_none(deidentified, spec)
            for is_deidentified, stored in ((False, basis), (True, hidden)):
                if stored is not None:
                    _insert_basis(con, spec, is_deidentified, stored)


def _basis_or_none(episodes: pd.DataFrame, spec: CohortSpec) -> ComparisonBasis | None:
    try:
        return comparison_basis(with_outcome(episodes, spec.outcome))
    except RetentionError:
        return None
    except Exception as exc:  # noqa: BLE001 - a model must not fail an import
        # the page fits this setting live and shows what goes wrong there
        _log.warning("comparison not stored (%s): %s", spec.gap_days, type(exc).__name__)
        return None


def _every_clinics_episodes(con, spec: CohortSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every clinic's episodes as :func:`_comparison_episodes` reads them for an administrator
    and for anyone else (the same frame when de-identifying changes none of these columns)."""
    params = {
        **cohort_params(spec, spec.as_of),
        "open_only": False,
        **store.scope_params(con, store.LOCAL_ADMIN),
    }
    frame = store.run_query(
        con,
        "cohort_episodes",
        params,
        columns=columns_to_read(EPISODE_COLUMNS),
        text_as_arrow=True,
    )
    # no id or date column is read, so no pseudonym or date shift is made: the secret is unused
    hidden = numeric_ages(deidentify(frame, _DEIDENTIFIED_READER, b""))
    frame = numeric_ages(frame)
    ages, hidden_ages = frame["age_years"].astype(float), hidden["age_years"].astype(float)
    same = list(hidden.columns) == list(frame.columns) and ages.equals(hidden_ages)
    return frame, frame if same else hidden


def _insert_basis(con, spec: CohortSpec, deidentified: bool, basis: ComparisonBasis) -> None:
    rows = basis.table[_BASIS_COLUMNS].assign(
        target=basis.target, model_episodes=basis.n_episodes, model_events=basis.n_events
    )
    con.register("comparison_rows", rows)
    try:
        store.execute(
            con,
            f"insert into {STORED_TABLE} select $g, $a::date, $o, $d,"
            f" {', '.join(_BASIS_COLUMNS)}, target, model_episodes, model_events"
            " from comparison_rows",
            {"g": spec.gap_days, "a": spec.as_of, "o": spec.outcome, "d": deidentified},
        )
    finally:
        con.unregister("comparison_rows")


def stored_basis(
    reader: store.StoreReader, spec: CohortSpec, *, deidentified: bool
) -> ComparisonBasis | None:
    """The stored comparison of ``spec`` (clinic filter ignored, ``as_of`` resolved) as read by
    an administrator or, ``deidentified``, by anyone else; None when ``spec`` is not a stored
    setting or the store's results are not those of this code."""
    with reader.cursor() as cur:
        cutoff = store.data_cutoff(cur)
        if cutoff is None or spec.replace(clinic_ids=()) not in stored_settings(cutoff):
            return None
        try:
            if store.stored_setting(cur, "results_hash") != store.results_hash():
                return None  # a store written by other code: its results may differ
        except duckdb.CatalogException:
            return None
        rows = cur.execute(
            f"select * exclude (gap_days, as_of, outcome, deidentified) from {STORED_TABLE}"
            " where gap_days = $g and as_of = $a::date and outcome = $o and deidentified = $d"
            " order by clinic_id",
            {"g": spec.gap_days, "a": spec.as_of, "o": spec.outcome, "d": deidentified},
        ).df()
    if rows.empty:
        return None
    return ComparisonBasis(
        table=rows[_BASIS_COLUMNS],
        target=float(rows["target"].iloc[0]),
        n_episodes=int(rows["model_episodes"].iloc[0]),
        n_events=int(rows["model_events"].iloc[0]),
    )


def clinic_curves(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec, *, clinic_id: str
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """KM curves of one clinic against all other clinics, with the number at risk.

    ``clinic_id`` is the id as the viewer sees it in :func:`compare_clinics` (a real id, or
    "Clinic A" for another clinic). Curves are suppressed for viewers other than administrators.

    Returns ``(curves, risk_table, label)``.
    """
    episodes = _comparison_episodes(reader, viewer, _comparison_spec(reader, spec))
    _check_clinics(episodes)
    names = episodes.groupby("clinic_id", as_index=False)["clinic_name"].first()
    shown = anonymise(names, viewer)
    match = shown.index[shown["clinic_id"] == clinic_id]
    if len(match) == 0:
        raise RetentionError(f"No clinic {clinic_id!r} in this selection.")
    label = str(shown.loc[match[0], "clinic_name"])
    curves, risk = clinic_vs_rest(episodes, names.loc[match[0], "clinic_id"], label)
    if viewer.role != "admin":
        with reader.cursor() as cur:
            threshold = store_threshold(cur)
        curves = suppress_survival_curve(curves, threshold)
        risk = suppress_risk_table(risk, threshold)
    return curves, risk, label
