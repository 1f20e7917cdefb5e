"""Saved analyses: a small versioned file (YAML or JSON) that re-runs to the same numbers.

An analysis is ``{analysis_version, kind, cohort, settings}``:

``kind``
    ``"retention_curves"`` (Kaplan–Meier, survival at chosen times, medians, RMST, log-rank),
    ``"cox_model"`` (hazard ratios, proportional-hazards test) or ``"clinic_report"`` (the
    clinic report of :mod:`analytics.report`).
``cohort``
    :meth:`analytics.cohort_spec.CohortSpec.to_dict` (filters, gap rule, outcome, cut-off).
``settings``
    See :data:`SETTINGS_DEFAULTS`; unknown names fail with their name.

Example file::

    analysis_version: 2
    kind: retention_curves
    cohort: {spec_version: 1, clinic_ids: [C01, C02], gap_days: 7, outcome: any_exit}
    settings: {group_by: clinic_id, conf_type: log, times: [90, 180, 365], tau: 365}

Versions
--------
1. The cohort's gap rule was called ``gap``.
2. ``gap`` renamed ``gap_days`` (as in :class:`CohortSpec`). Version-1 files are migrated on
   load (:func:`migrate`); files from a newer version fail with a message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml

from analytics import store
from analytics.cohort_spec import CohortSpec, SpecError
from analytics.errors import RetentionError

ANALYSIS_VERSION = 2
KINDS = ("retention_curves", "cox_model", "clinic_report")
CONF_TYPES = ("log", "log-log", "plain")
TIES = ("efron", "breslow")
GROUP_BY_CHOICES = (
    "clinic_id",
    "modality",
    "sex",
    "dose_band",
    "family_support",
    "apgar_category",
    "referral_source",
    "is_first_episode",
)
COX_TERMS = (
    "age_years",
    "sex",
    "modality",
    "dose_band",
    "dose_day30_mg",
    "family_support",
    "mspss_total",
    "n_prior_episodes",
    "is_first_episode",
    "n_obstacles",
    "n_facilitators",
    "has_drug_using_friends",
    "has_no_income",
    "referral_source",
    "clinic_id",
)
SETTINGS_DEFAULTS: dict[str, Any] = {
    "title": None,
    "group_by": None,
    "conf_type": "log",
    "conf_level": 0.95,
    "times": [90, 180, 365],
    "tau": 365,
    "x_max": 730,
    "ties": "efron",
    "terms": ["age_years", "sex", "modality"],
    "strata": None,
    "clinic_id": None,
    "period_from": None,
    "period_to": None,
}
"""Every setting with its default; a kind uses the ones it needs and ignores the others."""

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class AnalysisError(RetentionError):
    """A saved analysis cannot be read or run; the message names the field."""


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 called the gap rule ``gap`` (in the cohort, or in the settings)."""
    cohort = dict(data.get("cohort") or {})
    settings = dict(data.get("settings") or {})
    for part in (cohort, settings):
        if "gap" in part:
            if "gap_days" in cohort and cohort["gap_days"] != part["gap"]:
                raise AnalysisError(
                    "Version-1 field 'gap' was renamed 'gap_days' in analysis_version 2; this "
                    "file has both with different values: keep one."
                )
            cohort["gap_days"] = part.pop("gap")
    return {**data, "cohort": cohort, "settings": settings, "analysis_version": 2}


MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2}
"""``MIGRATIONS[v]`` turns a version-``v`` dict into version ``v + 1``."""


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a saved analysis dict up to :data:`ANALYSIS_VERSION`, one step at a time."""
    data = dict(data)
    version = data.get("analysis_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise AnalysisError(
            f"analysis_version must be a whole number (this software writes "
            f"{ANALYSIS_VERSION}), not {version!r}."
        )
    if version > ANALYSIS_VERSION:
        raise AnalysisError(
            f"This analysis has analysis_version {version}, newer than this software "
            f"({ANALYSIS_VERSION}): update the software to read it."
        )
    while version < ANALYSIS_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise AnalysisError(
                f"analysis_version {version} cannot be migrated; versions "
                f"{min(MIGRATIONS)}-{ANALYSIS_VERSION} can."
            )
        data = step(data)
        version = data["analysis_version"]
    return data


@dataclass(frozen=True)
class Analysis:
    """A saved analysis: what kind, on which cohort, with which settings."""

    kind: str = "retention_curves"
    cohort: CohortSpec = field(default_factory=CohortSpec)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AnalysisError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}.")
        object.__setattr__(self, "settings", _checked_settings(self.settings))

    def setting(self, name: str) -> Any:
        return self.settings.get(name, SETTINGS_DEFAULTS[name])

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON values; only settings that differ from the defaults are kept."""
        settings = {k: v for k, v in self.settings.items() if SETTINGS_DEFAULTS.get(k) != v}
        return {
            "analysis_version": ANALYSIS_VERSION,
            "kind": self.kind,
            "cohort": self.cohort.to_dict(),
            "settings": settings,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Analysis:
        """Read a saved analysis (migrating older versions); unknown fields fail by name."""
        if not isinstance(data, Mapping):
            raise AnalysisError("A saved analysis must be a mapping of fields to values.")
        data = migrate(data)
        known = {"analysis_version", "kind", "cohort", "settings"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AnalysisError(
                f"Unknown field(s) in the analysis: {', '.join(unknown)}. Known fields: "
                f"{', '.join(sorted(known))}."
            )
        try:
            cohort = CohortSpec.from_dict(data.get("cohort") or {})
        except SpecError as exc:
            raise AnalysisError(f"cohort: {exc}") from exc
        return cls(
            kind=data.get("kind", "retention_curves"),
            cohort=cohort,
            settings=data.get("settings") or {},
        )

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def describe(self) -> dict[str, Any]:
        """Flat ``setting -> value`` rows for a workbook's settings sheet or a methods section."""
        out: dict[str, Any] = {"analysis_version": ANALYSIS_VERSION, "kind": self.kind}
        out.update({f"cohort.{k}": v for k, v in self.cohort.to_dict().items()})
        out.update({f"settings.{k}": self.setting(k) for k in SETTINGS_DEFAULTS})
        return out


def _checked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(settings, Mapping):
        raise AnalysisError("settings must be a mapping of setting names to values.")
    unknown = sorted(set(settings) - set(SETTINGS_DEFAULTS))
    if unknown:
        raise AnalysisError(
            f"Unknown field(s) in settings: {', '.join(map(str, unknown))}. Known settings: "
            f"{', '.join(SETTINGS_DEFAULTS)}."
        )
    out = dict(settings)
    _check_choice(out, "conf_type", CONF_TYPES)
    _check_choice(out, "ties", TIES)
    if out.get("group_by") is not None:
        _check_choice(out, "group_by", GROUP_BY_CHOICES)
    for name in ("terms",):
        if name in out:
            terms = [str(t) for t in (out[name] or [])]
            bad = [t for t in terms if t not in COX_TERMS]
            if bad or not terms:
                raise AnalysisError(
                    f"terms: {', '.join(bad) or 'empty'} not usable; choose from "
                    f"{', '.join(COX_TERMS)}."
                )
            out[name] = terms
    if out.get("strata") is not None:
        _check_choice(out, "strata", GROUP_BY_CHOICES)
    _coerce_numbers(out)
    if not 0 < out.get("conf_level", 0.95) < 1:
        raise AnalysisError(f"conf_level must lie between 0 and 1, not {out['conf_level']}.")
    return out


def _coerce_numbers(out: dict[str, Any]) -> None:
    """Times, tau, x_max and conf_level as floats, period dates as dates (in place)."""
    try:
        if "times" in out:
            out["times"] = [float(t) for t in out["times"]]
            if not out["times"] or min(out["times"]) < 0:
                raise ValueError("times must be a non-empty list of days >= 0")
        for name in ("tau", "x_max", "conf_level"):
            if out.get(name) is not None:
                out[name] = float(out[name])
        for name in ("period_from", "period_to"):
            if out.get(name) is not None and not isinstance(out[name], dt.date):
                out[name] = dt.date.fromisoformat(str(out[name]))
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"settings: {exc}") from exc


def _check_choice(values: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    if name in values and values[name] not in allowed:
        raise AnalysisError(f"{name}: {values[name]!r} is not one of {', '.join(allowed)}.")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def save_analysis(analysis: Analysis, path: str | Path) -> Path:
    """Write an analysis as YAML (``.yaml``/``.yml``) or JSON (``.json``)."""
    path = Path(path)
    data = _plain(analysis.to_dict())
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif path.suffix.lower() in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        raise AnalysisError(f"Save an analysis as .yaml or .json, not {path.suffix or path.name}.")
    path.write_text(text, encoding="utf-8")
    return path


def analysis_from_text(text: str | bytes) -> Analysis:
    """Read an analysis from YAML or JSON text (JSON is valid YAML)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AnalysisError(f"The file is not valid YAML or JSON: {exc}") from exc
    return Analysis.from_dict(data or {})


def load_analysis(path: str | Path) -> Analysis:
    """Read a saved analysis file (YAML or JSON), migrating older versions."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"No analysis file at {path}.")
    return analysis_from_text(path.read_text(encoding="utf-8"))


@dataclass
class AnalysisResult:
    """Tables (name → DataFrame) and figures (name → plotly figure) of a run analysis.

    ``main_figure`` names the figure exported when one image is asked for; ``settings`` are
    flat ``setting -> value`` rows (for the workbook's settings sheet and the methods text).
    """

    analysis: Analysis
    tables: dict[str, pd.DataFrame]
    figures: dict[str, go.Figure]
    settings: dict[str, Any]
    main_figure: str | None = None
    n_episodes: int = 0


def _suppress(viewer: store.Viewer, reader: store.StoreReader, curves, risk):
    """Small-cell suppression for viewers other than administrators (as clinic_comparison)."""
    if viewer.role == "admin":
        return curves, risk, None
    from analytics import suppression

    with reader.cursor() as cur:
        threshold = suppression.suppression_threshold(cur)
    return (
        suppression.suppress_survival_curve(curves, threshold),
        suppression.suppress_risk_table(risk, threshold),
        threshold,
    )


def suppress_retention_tables(
    tables: dict[str, pd.DataFrame], curves: pd.DataFrame, threshold: int
) -> dict[str, pd.DataFrame]:
    """The other tables of :func:`retention_tables` for a viewer whose counts are suppressed
    (``curves`` already suppressed): S(t) at times and medians from where the group's
    suppressed curve stops are hidden, log-rank group counts suppressed.

    (S(t) rows follow the curve: their ``n_event`` and ``n_censor`` count what happened since
    the previous time asked for, so the curve's own rule, applied to them, hid estimates with
    hundreds at risk.)"""
    from analytics import suppression

    out = dict(tables)
    hidden = curves[curves["survival"].isna()] if "survival" in curves.columns else curves[:0]
    stops = hidden.groupby(hidden["group"].astype(str) if "group" in hidden.columns else 0)[
        "time"
    ].min()

    def stop_of(table: pd.DataFrame) -> np.ndarray:
        keys = table["group"].astype(str) if "group" in table.columns else pd.Series(0, table.index)
        return keys.map(lambda k: stops.get(k, np.inf)).to_numpy(float)

    if "survival_at_times" in out:
        at_times = out["survival_at_times"].copy()
        past = at_times["time"].to_numpy(float) >= stop_of(at_times)
        for column in (*suppression.KM_COUNT_COLUMNS, *suppression.KM_VALUE_COLUMNS):
            if column in at_times.columns:
                at_times[column] = at_times[column].astype(float).where(~past)
        at_times.attrs.update(
            suppressed_columns=[c for c in suppression.KM_COUNT_COLUMNS if c in at_times],
            suppression_threshold=threshold,
        )
        out["survival_at_times"] = at_times
    if "median" in out:
        median = out["median"].copy()
        stop = stop_of(median)
        for column in ("median", "lower", "upper"):
            if column in median.columns:
                values = median[column].astype(float)
                median[column] = values.where(~(values.to_numpy() >= stop))
        out["median"] = median
    if "logrank_groups" in out:
        out["logrank_groups"] = suppression.suppress_counts(
            out["logrank_groups"], ["n", "observed"], threshold, complementary="columns"
        )
    return out


def _grouped(frame: pd.DataFrame, group_by: str | None) -> tuple[pd.DataFrame, str | None]:
    if group_by is None:
        return frame, None
    out = frame.copy()
    out["group"] = out[group_by].astype(str).fillna("missing")
    return out, "group" if out["group"].nunique() > 1 else None


def retention_tables(
    episodes: pd.DataFrame, analysis: Analysis
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Kaplan–Meier, S(t) at the settings' times, medians, RMST and log-rank of a cohort.

    Returns ``(tables, curves, risk_table)``; curves and risk table feed
    :func:`analytics.charts.survival_chart`.
    """
    from analytics.charts import risk_table_times
    from analytics.survival import kaplan_meier, logrank_test, median_survival, rmst, survival_at

    if episodes.empty:
        raise AnalysisError("The cohort has no episodes: widen the filters.")
    data, group = _grouped(episodes, analysis.setting("group_by"))
    common = {"duration": "duration_days", "event": "event", "group": group}
    conf = {
        "conf_type": analysis.setting("conf_type"),
        "conf_level": analysis.setting("conf_level"),
    }
    curves = kaplan_meier(data, **common, **conf)
    x_max = analysis.setting("x_max") or float(data["duration_days"].max())
    risk = survival_at(data, **common, times=risk_table_times(x_max), extend=True, **conf)
    tables = {
        "km": curves,
        "survival_at_times": survival_at(data, **common, times=analysis.setting("times"), **conf),
        "median": median_survival(data, **common, **conf),
        "rmst": rmst(
            data, duration="duration_days", event="event", tau=analysis.setting("tau"), group=group
        ).assign(tau=analysis.setting("tau")),
        "risk_table": risk[["group", "time", "n_risk"]],
    }
    if group is not None:
        test = logrank_test(data, duration="duration_days", event="event", group=group)
        tables["logrank"] = test.to_frame()
        tables["logrank_groups"] = test.table
    return tables, curves, risk


def _retention(reader, viewer, analysis: Analysis, episodes: pd.DataFrame) -> AnalysisResult:
    from analytics.charts import format_p_value, survival_chart

    tables, curves, risk = retention_tables(episodes, analysis)
    curves, risk, threshold = _suppress(viewer, reader, curves, risk)
    if threshold is not None:
        tables = suppress_retention_tables(tables, curves, threshold)
    tables["km"], tables["risk_table"] = curves, risk[["group", "time", "n_risk"]]
    caption = None
    if "logrank" in tables:
        caption = f"Log-rank {format_p_value(float(tables['logrank']['p_value'].iloc[0]))}"
    title = analysis.setting("title") or "Retention in treatment (Kaplan–Meier, 95% CI)"
    fig = survival_chart(
        curves, risk, title=title, x_max=analysis.setting("x_max"), caption=caption
    )
    settings = {**analysis.describe(), "suppression_threshold": threshold}
    return AnalysisResult(analysis, tables, {"km": fig}, settings, "km", len(episodes))


def _cox(reader, viewer, analysis: Analysis, episodes: pd.DataFrame) -> AnalysisResult:
    from analytics.charts import forest_chart
    from analytics.survival import cox_ph

    terms = list(analysis.setting("terms"))
    strata = analysis.setting("strata")
    needed = terms + ([strata] if strata else [])
    data = episodes.copy()
    for term in terms:  # booleans and nullable ints become plain numbers
        if data[term].dtype == bool or str(data[term].dtype) in ("boolean", "Int8", "Int64"):
            data[term] = data[term].astype(float)
    complete = data.dropna(subset=needed)
    result = cox_ph(
        complete,
        duration="duration_days",
        event="event",
        covariates=terms,
        ties=analysis.setting("ties"),
        strata=strata,
        conf_level=analysis.setting("conf_level"),
    )
    coefficients = result.coefficients.reset_index()
    fit = pd.DataFrame(
        [
            {
                "n": result.n,
                "n_events": result.n_events,
                "n_excluded_missing": len(data) - len(complete),
                "ties": result.ties,
                "lr_statistic": result.lr_test.statistic,
                "lr_df": result.lr_test.df,
                "lr_p": result.lr_test.p_value,
                "concordance": result.concordance,
            }
        ]
    )
    tables = {
        "cox_coefficients": coefficients,
        "model_fit": fit,
        "ph_test": result.ph_test().rename_axis("term").reset_index(),
    }
    title = analysis.setting("title") or "Hazard of leaving treatment (Cox model)"
    figures = {"forest": forest_chart(result.coefficients, title=title)}
    return AnalysisResult(analysis, tables, figures, analysis.describe(), "forest", len(episodes))


def run_analysis(
    reader: store.StoreReader, viewer: store.Viewer, analysis: Analysis
) -> AnalysisResult:
    """Run a saved analysis on the store, within the viewer's scope.

    ``retention_curves`` and ``cox_model`` use :mod:`analytics.survival` and
    :mod:`analytics.charts` only; ``clinic_report`` returns the report's tables and figures
    (:func:`analytics.report.report_content`).
    """
    from analytics.episodes import cohort_episodes, resolve_as_of

    with reader.cursor() as cur:
        as_of = resolve_as_of(cur, analysis.cohort)
    if analysis.cohort.as_of is None:  # pin the cut-off so the result is reproducible
        analysis = dataclasses.replace(analysis, cohort=analysis.cohort.replace(as_of=as_of))
    if analysis.kind == "clinic_report":
        from analytics.report import report_content

        content = report_content(
            reader,
            viewer,
            analysis.cohort,
            clinic_id=analysis.setting("clinic_id"),
            period=(analysis.setting("period_from"), analysis.setting("period_to")),
            analysis=analysis,
        )
        return content.as_result(analysis)
    episodes = cohort_episodes(reader, viewer, analysis.cohort)
    if episodes.empty:
        raise AnalysisError("The cohort has no episodes: widen the filters.")
    runner = _retention if analysis.kind == "retention_curves" else _cox
    return runner(reader, viewer, analysis, episodes)


def tables_equal(left: Mapping[str, pd.DataFrame], right: Mapping[str, pd.DataFrame]) -> bool:
    """Same table names and the same numbers (NaN equal to NaN)."""
    if list(left) != list(right):
        return False
    for name in left:
        a, b = left[name].reset_index(drop=True), right[name].reset_index(drop=True)
        if list(a.columns) != list(b.columns) or a.shape != b.shape:
            return False
        for column in a.columns:
            x, y = a[column].to_numpy(), b[column].to_numpy()
            if x.dtype.kind in "fiu" and y.dtype.kind in "fiu":
                if not np.allclose(x, y, equal_nan=True, rtol=0, atol=0):
                    return False
            elif not pd.Series(x).equals(pd.Series(y)):
                return False
    return True
