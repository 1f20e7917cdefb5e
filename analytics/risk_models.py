"""Risk-factor models of a cohort's retention: Cox (baseline and time-varying terms), the
proportional-hazards check with scaled Schoenfeld residuals, stratified and time-split refits,
Fine–Gray for dropout with competing exits, and IPW-adjusted survival curves.

Terms come from an allowlist (:data:`TERMS`); pure functions take the cohort's episodes (and,
for time-varying terms, its counting-process periods) and return small result objects; the
``*_for`` wrappers take ``(reader, viewer, spec, ...)`` for ``dashboard.data.computed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics import episodes as episodes_mod
from analytics import store
from analytics.charts.curves import risk_table_times
from analytics.cohort_analysis import (
    ALL,
    GROUPINGS,
    LEVEL_LABELS,
    add_groupings,
    check_grouping,
    grouping_columns,
    require_events,
    with_group,
)
from analytics.cohort_spec import CohortSpec
from analytics.errors import RetentionError, SurvivalInputError
from analytics.survival import adjusted_survival, cox_ph, fine_gray, survival_at
from analytics.survival.cox import make_design


@dataclass(frozen=True)
class Term:
    label: str
    kind: str  # "numeric" | "binary" | "categorical"
    time_varying: bool = False
    scale: float = 1.0  # the HR is per `scale` units
    levels: tuple[str, ...] = ()  # categorical: reference first


_THEMES = {
    "n_ob_personality_mood": "Obstacles: personality and mood (n)",
    "n_ob_cognitive": "Obstacles: cognitive (n)",
    "n_ob_skill": "Obstacles: skills (n)",
    "n_ob_family": "Obstacles: family (n)",
    "n_ob_socio_economic": "Obstacles: socio-economic (n)",
    "n_ob_treatment": "Obstacles: treatment-related (n)",
    "n_fa_personality": "Facilitators: personality traits (n)",
    "n_fa_cognitive": "Facilitators: cognitive functions (n)",
    "n_fa_relapse_skills": "Facilitators: relapse-management skills (n)",
    "n_fa_family": "Facilitators: safe accepting family (n)",
    "n_fa_social": "Facilitators: social protective factors (n)",
    "n_fa_treatment": "Facilitators: appropriate continuous treatment (n)",
}
TERMS: dict[str, Term] = {
    "mspss_family": Term("MSPSS family subscale (per point, 1–7)", "numeric"),
    "mspss_total": Term("MSPSS total (per point, 1–7)", "numeric"),
    "apgar_total": Term("Family APGAR total (per point, 0–10)", "numeric"),
    "n_obstacles": Term("Obstacles recorded (n)", "numeric"),
    "n_facilitators": Term("Facilitators recorded (n)", "numeric"),
    **{name: Term(label, "numeric") for name, label in _THEMES.items()},
    "has_drug_using_friends": Term("Drug-using friends", "binary"),
    "has_no_income": Term("No income", "binary"),
    "dose_band": Term(
        "Methadone dose at day 30",
        "categorical",
        levels=("<60", "60-79", ">=80", "not_applicable"),
    ),  # fmt: skip
    "age_years": Term("Age (per 10 years)", "numeric", scale=10.0),
    "sex": Term("Sex", "categorical", levels=("M", "F", "X")),
    "modality": Term("Treatment", "categorical", levels=("MMT", "BMT", "HAT")),
    "n_prior_episodes": Term("Prior episodes (n)", "numeric"),
    "is_take_home": Term("Take-home doses (time-varying)", "binary", time_varying=True),
    "has_family_education": Term("In family education (time-varying)", "binary", time_varying=True),
    "dose_mg": Term("Current daily dose (time-varying, per 10 mg)", "numeric", True, 10.0),
}
"""Model terms a user may choose: column → :class:`Term`."""
BASELINE_TERMS = tuple(name for name, term in TERMS.items() if not term.time_varying)
SPLIT_DAY = 90
# groupings cut from a covariate: adjusted curves leave that covariate out
GROUP_SOURCES = {
    "family_support": ("mspss_family",),
    "mspss_family_tertile": ("mspss_family",),
    "apgar_category": ("apgar_total",),
    "age_band": ("age_years",),
}
ADJUST_TERMS_DEFAULT = ("age_years", "sex", "mspss_family", "apgar_total", "has_no_income")


def check_terms(terms: Sequence[str], *, baseline_only: bool = False) -> list[str]:
    allowed = BASELINE_TERMS if baseline_only else tuple(TERMS)
    bad = [t for t in terms if t not in allowed]
    if bad:
        raise RetentionError(
            f"Cannot model {', '.join(map(repr, bad))}; choose from {', '.join(allowed)}."
        )
    if not terms:
        raise SurvivalInputError("Choose at least one term for the model.")
    return list(dict.fromkeys(terms))


def term_label(column: str) -> str:
    """Readable name of a design column such as ``dose_band[T.>=80]`` or ``age_years``."""
    column, sep, suffix = column.partition(" · ")
    base, _, rest = column.partition("[T.")
    term = TERMS.get(base)
    if term is None:
        text = column
    elif rest:
        reference = term.levels[0] if term.levels else ""
        level = rest.rstrip("]")
        text = f"{term.label}: {LEVEL_LABELS.get(level, level)} vs {LEVEL_LABELS.get(reference, reference)}"
    else:
        text = term.label
    return f"{text} · {suffix}" if sep else text


# what a model frame keeps besides its terms: keys (robust SE by patient) and the outcome
_MODEL_COLUMNS = (
    "patient_id",
    "episode_no",
    "start_day",
    "stop_day",
    "duration_days",
    "event",
    "status",
    "dropout_status",
)


def model_frame(
    data: pd.DataFrame, terms: Sequence[str], *, extra: Sequence[str] = ()
) -> tuple[pd.DataFrame, int]:
    """Rows with every chosen term known, terms coded for the model.

    Numeric terms are divided by their scale; binary terms become 0/1; categorical terms
    become categoricals with the reference level first ("unknown" counts as missing). The
    frame holds the terms, keys, outcome columns and ``extra`` columns only.

    Returns
    -------
    (frame, n_dropped): the usable rows and how many episodes were dropped for missing values.
    """
    wanted = dict.fromkeys([*_MODEL_COLUMNS, *terms, *extra])
    # these columns only (selecting copies them; the shallow copy makes the frame our own)
    frame = data[[c for c in wanted if c in data.columns]].copy(deep=False)
    keep = pd.Series(True, index=frame.index)
    for name in terms:
        term = TERMS[name]
        if term.kind == "categorical":  # coded once per distinct value, not per row
            codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
            usable = [u for u in uniques if str(u) != "unknown"]
            present = [lv for lv in term.levels if lv in usable]
            present += sorted(set(usable) - set(present))
            position = np.array([present.index(u) if u in present else -1 for u in uniques] + [-1])
            codes = position[codes]  # missing (-1) takes the last entry: -1
            frame[name] = pd.Categorical.from_codes(codes, categories=present)
            keep &= codes >= 0
        else:
            values = pd.to_numeric(frame[name], errors="coerce").astype(float)
            frame[name] = values / term.scale
            keep &= values.notna()
    # our own frame already (a copy of a million rows' ids cost a third of a second)
    used = frame if bool(keep.all()) else frame[keep].copy(deep=False)
    for name in terms:
        if TERMS[name].kind == "categorical":
            used[name] = used[name].cat.remove_unused_categories()
    dropped = data.loc[~keep, ["patient_id", "episode_no"]].drop_duplicates()
    return used, len(dropped)


def split_at(frame: pd.DataFrame, *, day: float, start: str, stop: str, event: str) -> pd.DataFrame:
    """Split counting-process rows (start, stop] at ``day``: rows crossing it become two, the
    first censored at ``day``. Adds ``is_after_split`` (0 before, 1 after)."""
    early = frame[frame[start] < day].copy()
    crosses = early[stop] > day
    early.loc[crosses, stop] = day
    early.loc[crosses, event] = 0
    early["is_after_split"] = 0
    late = frame[frame[stop] > day].copy()
    late[start] = np.maximum(late[start], day)
    late["is_after_split"] = 1
    return pd.concat([early, late], ignore_index=True)


def _period_interactions(
    frame: pd.DataFrame, terms: Sequence[str], day: int
) -> tuple[pd.DataFrame, list[str]]:
    """term × period columns: one effect for days 1–``day`` and one after it."""
    design = make_design(frame, list(terms))
    matrix = design.matrix(frame)
    late = frame["is_after_split"].to_numpy(float)
    names = []
    out = frame.copy()
    for i, column in enumerate(design.columns):
        for suffix, weight in ((f"days 1–{day}", 1 - late), (f"after day {day}", late)):
            name = f"{column} · {suffix}"
            out[name] = matrix[:, i] * weight
            names.append(name)
    return out, names


@dataclass(frozen=True)
class RiskModel:
    """A fitted Cox model with what the page shows.

    ``coefficients``: indexed by design column with ``label`` and ``coef, se, robust_se, z, p,
    hr, hr_lower, hr_upper``; ``ph``: ``term, chisq, df, p`` (per term and GLOBAL);
    ``schoenfeld``: ``time, residual, term`` (scaled residuals per event time, per column);
    ``failing``: terms with PH p < 0.05; ``n, n_events, n_dropped, concordance``;
    ``method``: how it was fitted, in words.
    """

    coefficients: pd.DataFrame
    ph: pd.DataFrame
    schoenfeld: pd.DataFrame
    failing: list[str]
    n: int
    n_events: int
    n_dropped: int
    concordance: float
    method: str
    terms: list[str] = field(default_factory=list)


def scaled_schoenfeld(result, max_points: int = 600) -> pd.DataFrame:
    """Scaled Schoenfeld residuals (Grambsch–Therneau) minus the coefficient, one per event
    time and design column: D V r_k, with r_k the mean residual of the events at time k and D
    the number of events (R's ``cox.zph`` residuals, ``transform = "identity"``, less beta), so
    a flat smooth at zero means proportional hazards. At most ``max_points`` evenly spaced
    event times are kept per column, for a readable plot.
    """
    rs, ev = result._rs, result._ev
    mean_residual = ev.score_k / rs.d[:, None]
    scaled = rs.d.sum() * mean_residual @ result.variance.to_numpy()
    keep = np.unique(
        np.linspace(0, len(rs.time_k) - 1, min(max_points, len(rs.time_k))).astype(int)
    )
    frames = [
        pd.DataFrame({"time": rs.time_k[keep], "residual": scaled[keep, i], "term": term_label(c)})
        for i, c in enumerate(result.design.columns)
    ]
    return pd.concat(frames, ignore_index=True)


def _ph_table(result, terms_for_label: dict[str, str]) -> pd.DataFrame:
    ph = result.ph_test().reset_index(names="term")
    ph["label"] = ph["term"].map(lambda t: terms_for_label.get(t, term_label(t)))
    return ph[["term", "label", "chisq", "df", "p"]]


def varies(column: pd.Series) -> tuple[bool, object]:
    """Whether a model-frame column takes more than one value, and its first value (None if
    it has none)."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # model_frame keeps present levels
        values = np.asarray(column.cat.categories)
    else:
        values = column.dropna().to_numpy()
    first = None if values.size == 0 else values[0]
    return values.size > 0 and not bool((values == values[0]).all()), first


def check_terms_vary(frame: pd.DataFrame, terms: Sequence[str]) -> None:
    """A term with one value in the rows of a :func:`model_frame` has no effect to estimate:
    say which, by its label, and what to do (e.g. dose band in heroin-assisted clinics only)."""
    for term in terms:
        several, first = varies(frame[term])
        if not several:
            if first is None:
                value = "no value"
            elif TERMS[term].kind == "binary":
                value = "only " + ("yes" if first else "no")
            else:
                value = f"only {str(first).replace('_', ' ')}"
            raise SurvivalInputError(
                f"{TERMS[term].label} has {value} in this cohort's {len(frame):,} model rows, "
                "so its effect cannot be estimated: take it out of the model terms, or widen "
                "the cohort."
            )


def levels_without_events(frame: pd.DataFrame, term: str, event: np.ndarray) -> list[tuple]:
    """(level, episodes) of a categorical term's levels with no event among the model rows."""
    column = frame[term]
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return []
    codes = column.cat.codes.to_numpy()
    n = len(column.cat.categories)
    events = np.bincount(codes, weights=event.astype(float), minlength=n)
    sizes = np.bincount(codes, minlength=n)
    return [(column.cat.categories[i], int(sizes[i])) for i in np.flatnonzero(events == 0)]


def check_levels_have_events(
    frame: pd.DataFrame, terms: Sequence[str], event: np.ndarray, what: str = "exits"
) -> None:
    """A level with no event has no finite hazard ratio (R's coxph warns and reports an
    infinite one): say which term and level, by label, and what to do."""
    for term in terms:
        empty = levels_without_events(frame, term, event)
        if empty:
            level, size = empty[0]
            raise SurvivalInputError(
                f"{TERMS[term].label}: no {what} among the {size:,} model row(s) with "
                f"'{LEVEL_LABELS.get(level, str(level).replace('_', ' '))}' in this cohort, so "
                "its hazard ratio cannot be estimated: take it out of the model terms, or widen "
                "the cohort."
            )


def fit_risk_model(
    episodes: pd.DataFrame,
    terms: Sequence[str],
    *,
    periods: pd.DataFrame | None = None,
    strata: str | None = None,
    split_terms: Sequence[str] = (),
    split_day: int = SPLIT_DAY,
    ties: str = "efron",
) -> RiskModel:
    """Fit a Cox model of leaving treatment (the spec's outcome) on the chosen terms.

    Parameters
    ----------
    episodes : the cohort's episodes (one row each).
    terms : keys of :data:`TERMS`. Time-varying terms need ``periods``.
    periods : the cohort's counting-process rows (``start_day, stop_day``], used when a term
        is time-varying; otherwise each episode is one row (0, ``duration_days``].
    strata : a term to stratify by instead of estimating it (own baseline hazard per level).
    split_terms : terms whose effect is estimated separately before and after ``split_day``
        (the episode is split there: term × period interactions).
    ties : "efron" (R) or "breslow" (Stata, SAS).

    Standard errors are cluster-robust by patient (repeated episodes), as
    ``coxph(..., cluster = patient_id)``.
    """
    terms = check_terms(terms)
    require_events(episodes)
    time_varying = any(TERMS[t].time_varying for t in terms)
    if time_varying and periods is None:
        raise SurvivalInputError("Time-varying terms need the cohort's periods.")
    if strata is not None and strata not in terms:
        raise RetentionError(f"The stratum {strata!r} must be one of the chosen terms.")
    if time_varying:
        frame, n_dropped = model_frame(periods, terms)
    else:
        frame, n_dropped = model_frame(episodes, terms)
        frame = frame.assign(start_day=0, stop_day=frame["duration_days"])
    covariates = [t for t in terms if t != strata]
    if not covariates:
        raise SurvivalInputError("Stratifying by the only term leaves nothing to estimate.")
    check_terms_vary(frame, covariates)
    check_levels_have_events(frame, covariates, frame["event"].to_numpy() == 1)
    split = [t for t in split_terms if t in covariates]
    method = "Cox model (Efron ties)" if ties == "efron" else "Cox model (Breslow ties)"
    if split:
        frame = split_at(frame, day=split_day, start="start_day", stop="stop_day", event="event")
        frame, interaction_columns = _period_interactions(frame, split, split_day)
        covariates = [t for t in covariates if t not in split] + interaction_columns
        method += (
            f", effects of {', '.join(TERMS[t].label for t in split)} split at day {split_day}"
        )
    if strata:
        method += f", stratified by {TERMS[strata].label}"
    needs_start = time_varying or bool(split)
    result = cox_ph(
        frame,
        duration="stop_day",
        event="event",
        start="start_day" if needs_start else None,
        covariates=covariates,
        strata=strata,
        cluster="patient_id",
        ties=ties,
    )
    if time_varying:
        method += "; time-varying terms in counting-process form"
    coefficients = result.coefficients.copy()
    coefficients.insert(0, "label", [term_label(c) for c in coefficients.index])
    labels = {t: TERMS[t].label for t in terms}
    ph = _ph_table(result, labels)
    failing = [t for t in ph.loc[ph["p"] < 0.05, "term"] if t in TERMS]
    # periods (time-varying terms, a split) are several rows per episode; otherwise one each
    episode_rows = frame[["patient_id", "episode_no"]]
    n_episodes = len(frame) if not needs_start else episode_rows.drop_duplicates().shape[0]
    return RiskModel(
        coefficients=coefficients,
        ph=ph,
        schoenfeld=scaled_schoenfeld(result),
        failing=failing,
        n=n_episodes,
        n_events=result.n_events,
        n_dropped=n_dropped,
        concordance=float(result.concordance),
        method=method + "; robust SE by patient",
        terms=list(terms),
    )


def fit_dropout_model(episodes: pd.DataFrame, terms: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Fine–Gray subdistribution hazards of dropout, with completion, transfer, prison and
    death as competing events, on baseline terms (R's ``cmprsk::crr``).

    Returns
    -------
    (coefficients, n_dropped): indexed by design column with ``label, coef, se, z, p, hr,
    hr_lower, hr_upper`` (``hr`` = the subdistribution HR, so :func:`forest_chart` can draw
    it) and the number of episodes dropped for missing values.
    """
    terms = [t for t in check_terms(terms) if not TERMS[t].time_varying]
    if not terms:
        raise SurvivalInputError("Fine–Gray uses baseline terms only: choose one or more.")
    if episodes.empty:
        raise SurvivalInputError("The cohort has no episodes: widen the filters.")
    frame, n_dropped = model_frame(episodes, terms)
    frame["dropout_status"] = frame["dropout_status"].astype(int)
    check_terms_vary(frame, terms)
    check_levels_have_events(frame, terms, frame["dropout_status"].to_numpy() == 1, "dropouts")
    result = fine_gray(frame, duration="duration_days", status="dropout_status", covariates=terms)
    table = result.coefficients.rename(
        columns={"shr": "hr", "shr_lower": "hr_lower", "shr_upper": "hr_upper"}
    )
    table.insert(0, "label", [term_label(c) for c in table.index])
    return table, n_dropped


@dataclass(frozen=True)
class AdjustedCurves:
    """IPW-adjusted survival by group: ``curves`` (KM columns), ``risk_table`` (unweighted
    numbers at risk), ``at_365`` (``group, survival, lower, upper`` at one year),
    ``covariates`` used, ``n_dropped``."""

    curves: pd.DataFrame
    risk_table: pd.DataFrame
    at_365: pd.DataFrame
    covariates: list[str]
    n_dropped: int


def adjusted_curves(
    episodes: pd.DataFrame, group: str, covariates: Sequence[str], *, x_max: float = 730
) -> AdjustedCurves:
    """Survival curves per ``group`` as if every group had the cohort's mix of ``covariates``
    (inverse probability weighting, R: ``survfit(..., weights = w, robust = TRUE)``)."""
    check_grouping(group)
    if group == ALL:
        raise RetentionError("Choose a grouping to compare adjusted curves.")
    defining = {group, *GROUP_SOURCES.get(group, ())}  # adjusting for these is circular
    covariates = [c for c in check_terms(covariates, baseline_only=True) if c not in defining]
    if not covariates:
        raise RetentionError(
            f"Every covariate chosen defines the groups of {GROUPINGS[group]}: choose others to "
            "adjust for."
        )
    require_events(episodes)
    source = episodes if group in episodes.columns else add_groupings(episodes)
    frame, n_dropped = model_frame(source, covariates, extra=(group,))
    frame = with_group(frame, group)
    frame["group"] = frame["group"].astype(str)
    if frame["group"].nunique() < 2:
        raise SurvivalInputError(
            f"Only one group of {GROUPINGS[group]} has complete data in this cohort: nothing "
            "to compare. Choose another grouping, or widen the cohort."
        )
    curves = adjusted_survival(
        frame, duration="duration_days", event="event", group="group", covariates=covariates
    )
    risk = survival_at(
        frame, duration="duration_days", event="event", group="group",
        times=risk_table_times(x_max), extend=True,
    )[["group", "time", "n_risk"]]  # fmt: skip
    at = []
    for name, part in curves.groupby("group", sort=False):
        before = part[part["time"] <= 365]
        row = before.iloc[-1] if not before.empty else None
        at.append({"group": name, "survival": row["survival"] if row is not None else 1.0,
                   "lower": row["lower"] if row is not None else np.nan,
                   "upper": row["upper"] if row is not None else np.nan})  # fmt: skip
    return AdjustedCurves(curves, risk, pd.DataFrame(at), covariates, n_dropped)


# --------------------------------------------------------------------------- wrappers


def _model_cohort(
    reader, viewer, spec: CohortSpec, terms: Sequence[str], group: str | None = None
) -> pd.DataFrame:
    """The cohort's columns a model of ``terms`` reads: keys, follow-up, outcome, the
    baseline terms and a grouping's source columns (a million episodes: about 0.5 s instead
    of 2 s for all sixty columns)."""
    baseline = [t for t in terms if not TERMS[t].time_varying]
    columns = [c for c in _MODEL_COLUMNS if c not in ("start_day", "stop_day")]
    wanted = dict.fromkeys([*columns, *baseline, *grouping_columns(group)])
    return episodes_mod.cohort_episodes(reader, viewer, spec, columns=list(wanted))


def fit_risk_model_for(
    reader: store.StoreReader, viewer: store.Viewer, spec: CohortSpec, *,
    terms: tuple[str, ...], strata: str | None = None, split_terms: tuple[str, ...] = (),
    ties: str = "efron",
) -> RiskModel:  # fmt: skip
    """:func:`fit_risk_model` on the spec's cohort (periods read only for time-varying terms)."""
    terms = check_terms(terms)
    episodes = _model_cohort(reader, viewer, spec, terms)
    periods = None
    if any(TERMS[t].time_varying for t in terms):
        periods = episodes_mod.cohort_periods(
            reader, viewer, spec, episodes, baseline_columns=terms
        )
    model = fit_risk_model(
        episodes, terms, periods=periods, strata=strata, split_terms=split_terms, ties=ties
    )
    return _suppressed_model(reader, viewer, model)


def varying_terms_for(
    reader, viewer, spec: CohortSpec, *, terms: tuple[str, ...]
) -> tuple[str, ...]:
    """``terms`` less the baseline ones with a single value, or a level without exits, in the
    cohort's model rows: a page's default model should not open on an error (dose band in
    heroin-assisted clinics is always "not applicable"). Time-varying terms are kept (their
    periods are not read)."""
    terms = check_terms(terms)
    baseline = [t for t in terms if not TERMS[t].time_varying]
    if not baseline:
        return tuple(terms)
    frame, _ = model_frame(_model_cohort(reader, viewer, spec, terms), baseline)
    event = frame["event"].to_numpy() == 1
    constant = {
        t for t in baseline if not varies(frame[t])[0] or levels_without_events(frame, t, event)
    }
    return tuple(t for t in terms if t not in constant)


def fit_dropout_model_for(reader, viewer, spec: CohortSpec, *, terms: tuple[str, ...]):
    """:func:`fit_dropout_model` on the spec's cohort."""
    from analytics.access import viewer_threshold
    from analytics.suppression import hide_small

    table, n_dropped = fit_dropout_model(_model_cohort(reader, viewer, spec, terms), terms)
    return table, hide_small(n_dropped, viewer_threshold(reader, viewer))


def adjusted_curves_for(
    reader, viewer, spec: CohortSpec, *, group: str, covariates: tuple[str, ...]
) -> AdjustedCurves:
    """:func:`adjusted_curves` on the spec's cohort (the columns it reads only)."""
    check_grouping(group)
    terms = check_terms(covariates, baseline_only=True)  # before they name columns
    episodes = _model_cohort(reader, viewer, spec, terms, group)
    return _suppressed_curves(reader, viewer, adjusted_curves(episodes, group, covariates))


def family_education_for(reader, viewer, spec: CohortSpec) -> AdjustedCurves:
    """Retention of family-education enrolees vs non-enrolees at equal baseline support:
    curves adjusted (IPW) for the MSPSS family subscale and the Family APGAR total."""
    return adjusted_curves_for(
        reader, viewer, spec, group="has_family_education_before",
        covariates=("mspss_family", "apgar_total"),
    )  # fmt: skip


def _suppressed_model(reader, viewer, model):
    """Counts of a fitted model as a viewer without identifiable access may see them."""
    from analytics.access import viewer_threshold
    from analytics.suppression import hide_small

    threshold = viewer_threshold(reader, viewer)
    if threshold is None:
        return model
    changes = {
        name: hide_small(getattr(model, name), threshold)
        for name in ("n", "n_events", "n_dropped")
        if hasattr(model, name)
    }
    return dataclasses.replace(model, **changes)


def _suppressed_curves(reader, viewer, adjusted: AdjustedCurves) -> AdjustedCurves:
    from analytics.access import viewer_threshold
    from analytics.suppression import hide_small, suppress_risk_table, suppress_survival_curve

    threshold = viewer_threshold(reader, viewer)
    if threshold is None:
        return adjusted
    risk = suppress_risk_table(adjusted.risk_table, threshold)
    first = risk[risk["n_risk"].isna()].groupby("group")["time"].min()
    at_365 = adjusted.at_365.copy()
    small = at_365["group"].map(first).fillna(np.inf) <= 365
    at_365.loc[small.to_numpy(), ["survival", "lower", "upper"]] = np.nan
    return AdjustedCurves(
        curves=suppress_survival_curve(adjusted.curves, threshold),
        risk_table=risk,
        at_365=at_365,
        covariates=adjusted.covariates,
        n_dropped=hide_small(adjusted.n_dropped, threshold),
    )
