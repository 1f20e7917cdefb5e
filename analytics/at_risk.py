"""Patients in treatment now with warning signs of leaving: the clinic manager's at-risk list.

Identifiable: one row per open episode with the patient's id, so only viewers with
identifiable access may call :func:`at_risk_patients` (others get :class:`AccessDenied`).

Warning signs (each a boolean column; ``reasons`` spells out the ones present)
---------------------------------------------------------------------------------
``missed_recent``
    any missed dose day in the last 7 days before the cut-off (``missed_7d``; ``missed_14d``
    counts the last 14 days). A missed day is an uncovered day inside an open episode.
``positive_screen``
    a positive opioid urine screen in a week starting in the last 4 weeks.
``relapse``
    a relapse after a run of >= 4 negative weeks, in a week starting in the last 12 weeks.
``low_family_support``
    MSPSS family support "low" or Family APGAR "severe dysfunction".
``no_take_homes``
    in treatment for 6 months (182 days) or more and never given a take-home dose in this
    episode (buprenorphine depot counts as a take-home).
``high_model_risk``
    predicted probability of leaving within 90 days of at least :data:`HIGH_RISK`.

Model
-----
A Cox model of leaving treatment (any exit), fitted on every episode the viewer may see (open
and closed, all clinics in scope; above :data:`MODEL_MAX_EPISODES` episodes, every episode of
a fixed random sample of patients, so a large store fits in a second with a precision
no list needs more of) in counting-process form, with baseline covariates (age, sex,
treatment (modality, and for methadone the dose band at day 30), prior episodes, family
support, drug-using friends, no income)
and take-home status as a time-varying covariate. For an open episode at day ``t``, with its
current covariates x, P(leave by t + 90 | in treatment at t) = 1 − S(t + 90 | x) / S(t | x).
If the model cannot be fitted (too few episodes or events), ``risk_90d`` is NaN and
``model_note`` says why; the other signs are still shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.episodes import (
    as_labels,
    cohort_episodes,
    patient_sample_share,
    resolve_as_of,
)
from analytics.errors import AccessDenied, RetentionError
from analytics.survival import CoxResult, cox_ph

KEYS = ["patient_id", "episode_no"]
HORIZON_DAYS = 90
HIGH_RISK = 0.25
MISSED_SHORT_DAYS = 7  # missed_7d, the sign
MISSED_LONG_DAYS = 14  # missed_14d, shown beside it
SCREEN_WINDOW_WEEKS = 4
RELAPSE_WINDOW_WEEKS = 12
TAKE_HOME_AFTER_DAYS = 182
MIN_MODEL_EVENTS = 20
MODEL_MAX_EPISODES = 20_000
MODEL_COVARIATES = [
    "age_years",
    "sex",
    "treatment",
    "n_prior_episodes",
    "family_support",
    "has_drug_using_friends",
    "has_no_income",
    "is_take_home",
]
SIGNS = {
    "missed_recent": "missed doses in the last 7 days",
    "positive_screen": "positive opioid screen in the last 4 weeks",
    "relapse": "relapse after a negative run in the last 12 weeks",
    "low_family_support": "low family support",
    "no_take_homes": "no take-homes after 6+ months",
    "high_model_risk": f"predicted risk of leaving within 90 days ≥ {HIGH_RISK:.0%}",
}
# q_open_episode_signs' columns -> the at-risk table's
SIGN_COUNTS = {
    "missed_short": "missed_7d",
    "missed_long": "missed_14d",
    "n_positive_screen_weeks": "n_positive_4w",
    "has_recent_relapse": "relapse",
}
COLUMNS = [
    "patient_id",
    "clinic_id",
    "clinic_name",
    "episode_no",
    "start_date",
    "days_in_treatment",
    "modality",
    "missed_7d",
    "missed_14d",
    "n_positive_4w",
    "risk_90d",
    *SIGNS,
    "n_signs",
    "reasons",
]


@dataclass(frozen=True)
class AtRiskList:
    """The at-risk list: ``patients`` (one row per open episode, :data:`COLUMNS`), the cut-off,
    and the model's size or the reason it could not be fitted."""

    patients: pd.DataFrame
    as_of: dt.date
    n_model_episodes: int
    n_model_events: int
    model_note: str | None
    n_accessible_episodes: int = 0  # more than n_model_episodes when the model used a sample


def treatment_labels(modality: pd.Series, dose_band: pd.Series) -> pd.Series:
    """Modality and dose band in one term, "MMT <band>" for methadone, else the modality (dose
    bands only exist for methadone: two terms would be collinear). Labelled once per pair of
    values, not per row (half a million rows of text took a tenth of a second)."""
    modality_codes, modalities = pd.factorize(modality)
    band_codes, bands = pd.factorize(dose_band)
    pair = modality_codes * (len(bands) + 1) + band_codes + 1  # -1 modality: negative
    pairs, inverse = np.unique(pair, return_inverse=True)
    labels = []
    for code in pairs:
        if code < 0:
            labels.append(None)  # no modality: "unknown" once labelled
            continue
        name, band = modalities[code // (len(bands) + 1)], code % (len(bands) + 1) - 1
        labels.append(f"MMT {bands[band] if band >= 0 else 'unknown'}" if name == "MMT" else name)
    return pd.Series(np.array(labels, dtype=object)[inverse.ravel()], index=modality.index)


def model_frame(periods: pd.DataFrame) -> pd.DataFrame:
    """Counting-process rows ready for the model: missing values become their own level."""
    columns = [c for c in MODEL_COVARIATES if c != "treatment"]
    # selecting copies the columns, which are then replaced, never written into
    frame = periods[["start_day", "stop_day", "event_observed", *columns]].copy(deep=False)
    frame["treatment"] = treatment_labels(periods["modality"], periods["dose_band"])
    frame["age_years"] = frame["age_years"].fillna(frame["age_years"].median())
    frame["n_prior_episodes"] = frame["n_prior_episodes"].fillna(0).clip(upper=3)
    for column in ("has_drug_using_friends", "has_no_income", "is_take_home"):
        frame[column] = frame[column].fillna(False).astype(int)
    for column in ("sex", "treatment", "family_support"):
        frame[column] = as_labels(frame[column])
    return frame


def fit_leaving_model(periods: pd.DataFrame) -> CoxResult:
    """Cox model of leaving (any exit) on :data:`MODEL_COVARIATES`, counting-process form.

    Raises SurvivalInputError (a RetentionError) when it cannot be fitted.
    """
    frame = model_frame(periods)
    n_events = int(frame["event_observed"].sum())
    if n_events < MIN_MODEL_EVENTS:
        raise RetentionError(
            f"Only {n_events} exits in the accessible episodes; the risk model needs at least "
            f"{MIN_MODEL_EVENTS}."
        )
    return cox_ph(
        frame,
        start="start_day",
        duration="stop_day",
        event="event_observed",
        covariates=MODEL_COVARIATES,
    )


def risk_of_leaving(
    result: CoxResult, profiles: pd.DataFrame, days_in_treatment: np.ndarray
) -> np.ndarray:
    """1 − S(t + 90 | x) / S(t | x) per profile, with t its days in treatment.

    H(t | x) = H(t | x_0) exp((x − x_0)' beta): the model's baseline is predicted once, for the
    first profile (as ``predict_survival``), and each profile's linear predictor is computed
    once for both times, so hundreds of thousands of profiles cost one prediction.

    A profile with a value the model never saw (a rare level missing from the patient sample
    a large store fits on) has no risk (NaN); the others are still predicted.
    """
    risk = np.full(len(profiles), np.nan)
    seen = np.ones(len(profiles), dtype=bool)
    for name, levels in result.design.levels.items():
        seen &= profiles[name].isin(levels).to_numpy()
    if not seen.any():
        return risk
    profiles = profiles[seen]
    t = np.asarray(days_in_treatment, dtype=float)[seen]
    end = t + HORIZON_DAYS
    grid = np.unique(np.r_[t, end])
    reference = profiles.iloc[[0]]
    base = result.predict_survival(reference, grid)["cumhaz"].to_numpy()
    # exact: every time is a grid point
    increase = np.interp(end, grid, base) - np.interp(t, grid, base)
    design, beta = result.design, result.params
    eta = design.linear_predictor(profiles, beta) - design.linear_predictor(reference, beta)
    risk[seen] = 1.0 - np.exp(-increase * np.exp(eta))
    return risk


def current_profiles(open_episodes: pd.DataFrame) -> pd.DataFrame:
    """Each open episode's covariates now: its baseline values and current ``is_take_home``."""
    columns = [c for c in MODEL_COVARIATES if c != "treatment"]
    now = open_episodes[[*columns, "modality", "dose_band"]]
    return model_frame(now.assign(start_day=0, stop_day=1, event_observed=0))


def _reason_text(missed, n_missed, positive, relapse, low, no_home, months, high, percent) -> str:
    parts = []
    if missed:
        parts.append(f"missed {n_missed} {'day' if n_missed == 1 else 'days'} in 7")
    if positive:
        parts.append("positive opioid screen")
    if relapse:
        parts.append("relapse after negative run")
    if low:
        parts.append("low family support")
    if no_home:
        parts.append(f"no take-homes at {months} months")
    if high:
        parts.append(f"risk {percent:.0f}%")
    return "; ".join(parts)


def reasons(table: pd.DataFrame) -> pd.Series:
    """Short text per row, e.g. "missed 2 days in 7; positive opioid screen; low family
    support", from the sign columns. Written once per distinct combination of signs and
    numbers (a few thousand), not per row: a large store lists 100,000s of patients."""
    flags = [
        table[c].to_numpy().astype(bool)
        for c in ("missed_recent", "positive_screen", "relapse", "low_family_support",
                  "no_take_homes", "high_model_risk")
    ]  # fmt: skip
    missed, positive, relapse, low, no_home, high = flags
    # only the numbers a shown sign writes; the others are 0 so they do not split combinations
    n_missed = np.where(missed, table["missed_7d"].to_numpy(dtype=np.int64), 0)
    months = np.where(no_home, table["days_in_treatment"].to_numpy(dtype=np.int64) // 30, 0)
    risk = np.nan_to_num(np.round(table["risk_90d"].to_numpy(dtype=float) * 100))
    percent = np.where(high, risk, 0).astype(np.int64)
    key = np.zeros(len(table), dtype=np.int64)
    for flag in flags:
        key = key * 2 + flag
    for number, size in ((n_missed, 1 << 8), (months, 1 << 16), (percent, 1 << 8)):
        key = key * size + np.clip(number, 0, size - 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    texts = np.array(
        [
            _reason_text(
                missed[i],
                n_missed[i],
                positive[i],
                relapse[i],
                low[i],
                no_home[i],
                months[i],
                high[i],
                percent[i],
            )  # fmt: skip
            for i in first
        ],
        dtype=object,
    )
    return pd.Series(texts[inverse.ravel()], index=table.index, dtype=object)


def flag_signs(table: pd.DataFrame) -> pd.DataFrame:
    """Add the boolean sign columns, ``n_signs`` and ``reasons`` to the assembled table."""
    out = table.copy()
    out["missed_recent"] = out["missed_7d"] > 0
    out["positive_screen"] = out["n_positive_4w"] > 0
    out["low_family_support"] = (out["family_support"] == "low") | (
        out["apgar_category"] == "severe_dysfunction"
    )
    out["no_take_homes"] = (out["days_in_treatment"] >= TAKE_HOME_AFTER_DAYS) & ~out[
        "has_take_home"
    ].astype(bool)
    out["high_model_risk"] = out["risk_90d"].fillna(0) >= HIGH_RISK
    out["n_signs"] = out[list(SIGNS)].sum(axis=1).astype(int)
    out["reasons"] = reasons(out) if len(out) else pd.Series(dtype=str)
    return out


# the episode columns the at-risk table shows or derives its signs from
_EPISODE_COLUMNS = [
    *KEYS,
    "clinic_id",
    "clinic_name",
    "start_date",
    "duration_days",
    "modality",
    "family_support",
    "apgar_category",
]


# what the list reads of the cohort: its columns, the signs' and the model's covariates
_COHORT_COLUMNS = list(
    dict.fromkeys(
        [
            *_EPISODE_COLUMNS,
            "is_open",
            "dose_band",
            *(c for c in MODEL_COVARIATES if c not in ("treatment", "is_take_home")),
        ]
    )
)


def with_signs(open_episodes: pd.DataFrame, signs: pd.DataFrame) -> pd.DataFrame:
    """The open episodes with their sign counts and current take-home status from ``signs``
    (the counts of ``q_open_episode_signs``, :data:`SIGN_COUNTS` renamed, and
    ``is_take_home``): zero counts, no relapse and no take-home for an episode without a row
    there. The episodes' order is kept."""
    counts = ["missed_7d", "missed_14d", "n_positive_4w"]
    wanted = [*SIGN_COUNTS.values(), "is_take_home"]
    if _same_keys(open_episodes, signs):
        # the usual case (no cohort filter beyond clinics): the query returns the same
        # episodes in the cohort's order, so the counts go alongside without a join
        table = open_episodes.reset_index(drop=True)
        for column in wanted:
            table[column] = signs[column].to_numpy()
    else:
        table = open_episodes.merge(signs[[*KEYS, *wanted]], on=KEYS, how="left")
    table["is_take_home"] = table["is_take_home"].fillna(0).astype(int)
    table[counts] = table[counts].fillna(0).astype(int)
    table["relapse"] = table["relapse"].eq(True)
    return table


def _same_keys(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    """True if both frames hold the same KEYS row by row."""
    return len(left) == len(right) and all(
        np.array_equal(left[key].to_numpy(), right[key].to_numpy()) for key in KEYS
    )


def assemble(open_signed: pd.DataFrame, risk: np.ndarray) -> pd.DataFrame:
    """The at-risk table (pure; see the module doc) of :func:`with_signs` rows, with ``risk``
    the predicted 90-day risk per row (NaN without a model)."""
    table = open_signed[
        [*_EPISODE_COLUMNS, "missed_7d", "missed_14d", "n_positive_4w", "relapse"]
    ].assign(
        risk_90d=np.asarray(risk, dtype=float),
        days_in_treatment=open_signed["duration_days"].astype(int),
        has_take_home=open_signed["is_take_home"].astype(bool),
    )
    table = flag_signs(table)
    # most signs first, then highest risk (none last); ties keep the rows' order (the cohort's:
    # clinic, start, patient, episode). A stable sort of two numbers: sorting 470,000 rows on
    # their string keys as well took a second.
    risk_key = -table["risk_90d"].to_numpy()
    risk_key[np.isnan(risk_key)] = np.inf
    order = np.lexsort((risk_key, -table["n_signs"].to_numpy()))
    out = table[COLUMNS].take(order)  # the shown columns only, taken once
    out.index = pd.RangeIndex(len(out))  # (reset_index would copy every column again)
    return out


def at_risk_patients(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    *,
    as_of: dt.date | None = None,
) -> AtRiskList:
    """Open episodes of the spec's cohort with their warning signs and 90-day risk.

    Parameters
    ----------
    as_of : the cut-off to look from; default the spec's, else the store's data cut-off.

    Raises
    ------
    AccessDenied
        The viewer has no identifiable access (the list names patients).
    """
    if not viewer.identifiable:
        raise AccessDenied(
            "The at-risk list names patients, so it is shown only to users with identifiable "
            "access to their clinics (clinic managers and administrators)."
        )
    if as_of is not None:
        spec = spec.replace(as_of=as_of)
    with reader.cursor() as cur:
        as_of = resolve_as_of(cur, spec)
    spec = spec.replace(as_of=as_of)
    params = {
        "gap_days": spec.gap_days,
        "as_of": as_of,
        "clinic_ids": list(spec.clinic_ids),
        "missed_short_days": MISSED_SHORT_DAYS,
        "missed_long_days": MISSED_LONG_DAYS,
        "screen_days": 7 * SCREEN_WINDOW_WEEKS,
        "relapse_days": 7 * RELAPSE_WINDOW_WEEKS,
    }
    # counted in SQL for the open episodes of the chosen clinics only: one row per patient in
    # treatment, however many days and weeks lie behind the counts
    signs = patient_rows(reader, viewer, "open_episode_signs", params, what="at-risk list")
    signs = signs.rename(columns=SIGN_COUNTS)
    open_episodes = cohort_episodes(reader, viewer, spec, columns=_COHORT_COLUMNS, open_only=True)
    open_signed = with_signs(open_episodes, signs)
    model = leaving_model(reader, viewer, spec.gap_days, as_of)
    risk = np.full(len(open_signed), np.nan)
    if model.result is not None and len(open_signed):
        days = open_signed["duration_days"].to_numpy()
        risk = risk_of_leaving(model.result, current_profiles(open_signed), days)
    patients = assemble(open_signed, risk)
    return AtRiskList(
        patients, as_of, model.n_episodes, model.n_events, model.note, model.n_accessible
    )


@dataclass(frozen=True)
class LeavingModel:
    """The fitted model (None if it could not be fitted, ``note`` says why) and its data."""

    result: CoxResult | None
    n_episodes: int
    n_events: int
    n_accessible: int
    note: str | None


def leaving_model(
    reader: store.StoreReader, viewer: store.Viewer, gap_days: int, as_of: dt.date
) -> LeavingModel:
    """The risk model on the viewer's episodes, fitted once per viewer, gap rule and cut-off
    (every clinic filter and page shares it); see the module doc."""

    def fit() -> LeavingModel:
        with reader.cursor() as cur:
            n_accessible = int(
                store.run_query(
                    cur,
                    "episode_count",
                    {"gap_days": gap_days, "as_of": as_of, **store.scope_params(cur, viewer)},
                )["n_episodes"].iloc[0]
            )
        params = {
            "gap_days": gap_days,
            "as_of": as_of,
            "sample_share": patient_sample_share(n_accessible, MODEL_MAX_EPISODES),
        }
        periods = patient_rows(reader, viewer, "model_periods", params, what="at-risk model")
        per_episode = periods.groupby(KEYS, sort=False)["event_observed"].max()
        n_episodes, n_events = len(per_episode), int(per_episode.sum())
        try:
            result, note = fit_leaving_model(periods), None
        except RetentionError as exc:
            result, note = None, f"The risk model could not be fitted: {exc}"
        return LeavingModel(result, n_episodes, n_events, n_accessible, note)

    return reader.memoized(("at_risk_model", viewer, gap_days, as_of), fit)


def patient_rows(reader, viewer, name: str, params: dict, *, what: str) -> pd.DataFrame:
    from analytics import access  # access builds on the store, as we do

    return access.patient_rows(reader, viewer, name, params, what=what)


def filter_by_signs(patients: pd.DataFrame, signs: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Rows with at least one of ``signs`` (keys of :data:`SIGNS`); no signs: no rows."""
    unknown = [s for s in signs if s not in SIGNS]
    if unknown:
        raise RetentionError(f"Unknown warning sign(s) {unknown}; choose from {list(SIGNS)}.")
    if not signs:
        return patients.iloc[0:0]
    return patients[patients[list(signs)].any(axis=1)].reset_index(drop=True)
