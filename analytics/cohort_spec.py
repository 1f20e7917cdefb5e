"""A cohort and its analysis settings, as one small value: filters + gap rule + outcome + cut-off.

The same spec travels in the dashboard's URL query string (so a view can be shared), in saved
analyses (YAML/JSON) and into every query. Values are checked here, once, against allowlists,
so nothing a user typed reaches SQL except as a bound parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics.errors import RetentionError
from analytics.tables import MODALITIES, SEXES

SPEC_VERSION = 1

OUTCOMES = ("any_exit", "dropout")
GAP_DAYS_CHOICES = (7, 14, 30)
# Methadone dose at day 30; buprenorphine and heroin-assisted episodes are "not_applicable".
DOSE_BANDS = ("<60", "60-79", ">=80", "unknown", "not_applicable")
# MSPSS family subscale bands after Zimet's usual cut-points on the 1-7 mean score.
FAMILY_SUPPORT_LEVELS = ("low", "moderate", "high", "unknown")
EPISODE_KINDS = ("all", "first", "repeat")
OBSTACLE_THEMES = (
    "personality_mood",
    "cognitive",
    "skill",
    "family",
    "socio_economic",
    "treatment",
)
ECOLOGICAL_LEVELS = ("individual", "interpersonal", "organisational", "community", "policy")


class SpecError(RetentionError):
    """A cohort spec field has a value we cannot use; the message names the field."""


@dataclass(frozen=True)
class CohortSpec:
    """Which episodes, and how retention is defined for them.

    Empty tuples mean "no restriction". ``as_of`` None means the store's data cut-off.
    """

    clinic_ids: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()
    admitted_from: dt.date | None = None
    admitted_to: dt.date | None = None
    age_min: int | None = None
    age_max: int | None = None
    sexes: tuple[str, ...] = ()
    dose_bands: tuple[str, ...] = ()
    family_support: tuple[str, ...] = ()
    obstacle_themes: tuple[str, ...] = ()
    ecological_levels: tuple[str, ...] = ()
    episode_kind: str = "all"
    gap_days: int = 7
    outcome: str = "any_exit"
    as_of: dt.date | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_subset("modalities", self.modalities, MODALITIES)
        _check_subset("sexes", self.sexes, SEXES)
        _check_subset("dose_bands", self.dose_bands, DOSE_BANDS)
        _check_subset("family_support", self.family_support, FAMILY_SUPPORT_LEVELS)
        _check_subset("obstacle_themes", self.obstacle_themes, OBSTACLE_THEMES)
        _check_subset("ecological_levels", self.ecological_levels, ECOLOGICAL_LEVELS)
        _check_choice("episode_kind", self.episode_kind, EPISODE_KINDS)
        _check_choice("outcome", self.outcome, OUTCOMES)
        if not 1 <= self.gap_days <= 365:
            raise SpecError(f"gap_days must be between 1 and 365 days, not {self.gap_days}.")
        for name in ("age_min", "age_max"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 120:
                raise SpecError(f"{name} must be between 0 and 120, not {value}.")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise SpecError(f"age_min ({self.age_min}) is above age_max ({self.age_max}).")
        if self.admitted_from and self.admitted_to and self.admitted_from > self.admitted_to:
            raise SpecError(
                f"admitted_from ({self.admitted_from}) is after admitted_to ({self.admitted_to})."
            )

    def replace(self, **changes: Any) -> CohortSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready values (dates as ISO text, tuples as lists)."""
        out: dict[str, Any] = {"spec_version": SPEC_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                if value:
                    out["extra"] = dict(value)
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CohortSpec:
        """Build a spec from saved values; unknown or renamed fields fail with their name."""
        data = dict(data)
        version = data.pop("spec_version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise SpecError(
                f"This spec has spec_version {version}; this version of the software reads "
                f"spec_version {SPEC_VERSION}."
            )
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise SpecError(
                f"Unknown field(s) in the cohort spec: {', '.join(unknown)}. Known fields: "
                f"{', '.join(sorted(known))}."
            )
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[name] = _coerce(name, value, known[name].default)
        return cls(**values)

    def to_query_params(self) -> dict[str, str]:
        """Only the fields that differ from the defaults, as short strings for a URL."""
        default = CohortSpec()
        params = {}
        for name, value in self.to_dict().items():
            if name in ("spec_version", "extra") or getattr(default, name) == getattr(self, name):
                continue
            params[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return params

    @classmethod
    def from_query_params(cls, params: Mapping[str, str]) -> CohortSpec:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for name, text in params.items():
            if name not in known:
                continue  # other pages' parameters share the URL
            default = getattr(CohortSpec(), name)
            if isinstance(default, tuple):
                values[name] = [part for part in str(text).split(",") if part]
            else:
                values[name] = text
        return cls.from_dict(values)


def _check_subset(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise SpecError(
            f"{name}: unknown value(s) {', '.join(map(repr, bad))}; choose from "
            f"{', '.join(allowed)}."
        )


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SpecError(f"{name}: {value!r} is not one of {', '.join(allowed)}.")


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Saved text -> the field's type, with the field named on failure."""
    if value is None or default is dataclasses.MISSING:
        return value
    try:
        if isinstance(default, tuple):
            return tuple(str(v) for v in value)
        if name in ("admitted_from", "admitted_to", "as_of"):
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if name in ("age_min", "age_max", "gap_days"):
            return int(value)
        return str(value) if isinstance(default, str) else value
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name}: cannot read {value!r} ({exc}).") from exc
