"""Roles, clinic scope, de-identification, and the one guarded way to patient-level rows.

Roles
-----
``admin``
    Every clinic, identifiable rows, user management, imports, the audit log.
``clinic_manager``
    Identifiable rows of their own clinics only (including the at-risk list); other clinics
    only as suppressed aggregates (:func:`suppress_for_viewer`).
``researcher``
    Pooled, de-identified rows only (:func:`deidentify`) and suppressed aggregates.

Every named query runs through :func:`guarded_query` (``StoreReader.scoped_query`` calls it):
clinic filters a caller passes (``clinic_id``, ``clinic_ids``, ``scope_clinic_ids``) are checked
against the viewer's scope, queries listed in :data:`PATIENT_LEVEL_QUERIES` are refused to
viewers without identifiable access (they use :func:`patient_rows`, which de-identifies) and
audited for the others, and queries in :data:`AGGREGATE_QUERIES` are small-cell suppressed for
viewers without identifiable access. Refusals are audited too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.audit import AuditEntry, record_audit
from analytics.errors import AccessDenied
from analytics.store import StoreReader, Viewer
from analytics.suppression import DEFAULT_THRESHOLD, suppress_counts, suppression_threshold
from analytics.userfile import pseudonym_secret

ROLES = ("admin", "clinic_manager", "researcher")
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "view_aggregates",
            "view_identifiable",
            "view_all_clinics",
            "export_identifiable",
            "manage_users",
            "import",
            "view_audit",
        }
    ),
    "clinic_manager": frozenset({"view_aggregates", "view_identifiable", "export_identifiable"}),
    "researcher": frozenset({"view_aggregates", "view_deidentified"}),
}
ROLE_LABELS = {
    "admin": "administrator",
    "clinic_manager": "clinic manager",
    "researcher": "researcher",
}
CLINIC_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
# Parameters that name clinics: a value outside the viewer's scope is refused, never ignored.
CLINIC_PARAMS = ("clinic_id", "clinic_ids", "scope_clinic_ids")


@dataclass(frozen=True)
class QueryAccess:
    """How a patient-level named query may be used. ``all_clinics`` queries (rows without a
    clinic, e.g. quarantined raw rows) need the ``view_all_clinics`` permission."""

    description: str
    all_clinics: bool = False


# Named queries (sql/queries/q_<name>.sql) that return one row per patient or per record of a
# patient. Add a query here when you write one; StoreReader.scoped_query then guards it.
PATIENT_LEVEL_QUERIES: dict[str, QueryAccess] = {
    "patient_admissions": QueryAccess("admissions with the patient's sex and age"),
    "quarantine_rows": QueryAccess("quarantined rows as sent", all_clinics=True),
    "cohort_episodes": QueryAccess("treatment episodes with outcome and baseline covariates"),
    "episode_periods": QueryAccess("episode periods with time-varying covariates"),
    "model_periods": QueryAccess("episode periods with covariates for the at-risk model"),
    "open_episode_signs": QueryAccess(
        "recent missed doses, screens, relapses and take-homes per open episode"
    ),
    "screen_weeks": QueryAccess("weekly urine results per episode"),
    "relapse_events": QueryAccess("relapse events per episode"),
    "first_relapse_weeks": QueryAccess("week of the first relapse per episode"),
    "missed_dose_days": QueryAccess("missed dose days per episode"),
    "patient_months": QueryAccess("missed doses per episode and month"),
    "support_assessments": QueryAccess("family and social support scores per episode"),
    "outcome_profiles_by_episode": QueryAccess("TOP-style outcome profiles per episode"),
}


@dataclass(frozen=True)
class AggregateAccess:
    """Count columns of an aggregate named query and which totals are published with it."""

    count_columns: tuple[str, ...]
    complementary: str = "columns"
    by: tuple[str, ...] | None = None


# Aggregate named queries whose counts are suppressed for viewers without identifiable access.
AGGREGATE_QUERIES: dict[str, AggregateAccess] = {
    "rows_per_table_clinic": AggregateAccess(
        (
            "patients",
            "admissions",
            "discharges",
            "dosing_visits",
            "urine_screens",
            "mspss_responses",
            "apgar_responses",
            "checklist_responses",
            "outcome_profiles",
            "family_education",
        )
    ),
    "data_date_ranges": AggregateAccess(("n_rows",), complementary="none"),
    "quarantine_summary": AggregateAccess(("n_rows",), complementary="none"),
}

# Columns never shown de-identified: free text, raw rows, exact birth year.
FREE_TEXT_COLUMNS = frozenset(
    {"raw_row", "reason", "note", "notes", "comment", "comments", "free_text", "description"}
)
FREE_TEXT_SUFFIXES = ("_text", "_note", "_notes", "_comment", "_comments")
DROPPED_COLUMNS = frozenset({"birth_year", "birth_date", "date_of_birth"})
# *_id columns that identify no person and stay as they are.
NON_PERSONAL_IDS = frozenset({"clinic_id", "import_id", "audit_id"})
AGE_PATTERN = re.compile(r"^(age|age_.*|.*_age|.*_age_years)$")


def viewer_from_user(user_name: str, role: str, clinic_ids: Iterable[str] | None = None) -> Viewer:
    """The Viewer of a user record: managers are scoped to their clinics, researchers see
    de-identified rows only, administrators see everything."""
    if role not in ROLES:
        raise AccessDenied(f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.")
    if role == "clinic_manager":
        clinics = frozenset(clinic_ids or ())
        if not clinics:
            raise AccessDenied(f"Clinic manager {user_name!r} has no clinics; give --clinics.")
        return Viewer(role=role, clinic_ids=clinics, identifiable=True, user_name=user_name)
    return Viewer(role=role, clinic_ids=None, identifiable=role == "admin", user_name=user_name)


def can(viewer: Viewer, permission: str) -> bool:
    """Whether the viewer's role grants ``permission``."""
    return permission in PERMISSIONS.get(viewer.role, frozenset())


def require(viewer: Viewer, permission: str) -> None:
    """Raise AccessDenied unless the viewer's role grants ``permission``."""
    if not can(viewer, permission):
        role = ROLE_LABELS.get(viewer.role, viewer.role)
        allowed = [ROLE_LABELS[r] for r in ROLES if permission in PERMISSIONS[r]]
        raise AccessDenied(
            f"{viewer.user_name!r} is signed in as a {role} and may not {_verb(permission)}; "
            f"this needs the role of {' or '.join(allowed) or 'nobody'}."
        )


def _verb(permission: str) -> str:
    return permission.replace("_", " ")


def _as_clinic_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]


def check_clinic_scope(viewer: Viewer, clinic_ids: str | Iterable[str] | None) -> list[str]:
    """Raise AccessDenied naming the first clinic outside the viewer's scope; return the list.

    ``clinic_ids`` is one clinic id or several (e.g. from a filter a user could craft). Values
    that are not clinic ids at all (SQL, spaces, quotes) are refused as well.
    """
    clinics = _as_clinic_list(clinic_ids)
    for clinic in clinics:
        if not CLINIC_ID_PATTERN.match(clinic):
            raise AccessDenied(
                f"{clinic[:40]!r} is not a clinic id (letters, digits, '_', '.', '-' only)."
            )
        if viewer.clinic_ids is not None and clinic not in viewer.clinic_ids:
            scope = ", ".join(sorted(viewer.clinic_ids))
            raise AccessDenied(
                f"Clinic {clinic} is outside the clinics of {viewer.user_name!r} ({scope}); "
                "ask an administrator if you need it."
            )
    return clinics


def _check_params(viewer: Viewer, params: Mapping[str, Any]) -> list[str]:
    asked: list[str] = []
    for key in CLINIC_PARAMS:
        if key in params:
            asked += check_clinic_scope(viewer, params[key])
    return asked


def _audit(reader: StoreReader, viewer: Viewer, action, what, clinics, n_rows, detail, now):
    record_audit(
        reader.path,
        AuditEntry(
            user_name=viewer.user_name,
            role=viewer.role,
            action=action,
            what=what,
            clinic_ids=tuple(sorted({str(c) for c in clinics})),
            n_rows=int(n_rows),
            detail=detail,
        ),
        now=now or dt.datetime.now(dt.UTC),
    )


def _returned_clinics(frame: pd.DataFrame, viewer: Viewer) -> list[str]:
    if "clinic_id" in frame.columns:
        return [str(c) for c in frame["clinic_id"].dropna().unique()]
    return sorted(viewer.clinic_ids) if viewer.clinic_ids is not None else []


def _check_patient_query(viewer: Viewer, name: str, spec: QueryAccess) -> None:
    if not viewer.identifiable:
        raise AccessDenied(
            f"The query {name!r} returns identifiable patient rows and "
            f"{viewer.user_name!r} ({ROLE_LABELS.get(viewer.role, viewer.role)}) may see "
            "de-identified rows only; use analytics.access.patient_rows."
        )
    if spec.all_clinics and not can(viewer, "view_all_clinics"):
        raise AccessDenied(
            f"The query {name!r} ({spec.description}) spans every clinic and is for "
            "administrators only."
        )


def guarded_query(
    reader: StoreReader,
    name: str,
    viewer: Viewer,
    params: Mapping[str, Any] | None = None,
    *,
    what: str | None = None,
    now: dt.datetime | None = None,
    columns: Sequence[str] | None = None,
    text_as_arrow: bool = False,
) -> pd.DataFrame:
    """Run a named query for ``viewer``: check clinic filters, refuse or audit patient-level
    queries, suppress aggregate counts for viewers without identifiable access.

    ``what`` names the page or export for the audit log (default ``query:<name>``); ``now``
    stamps audit entries (default: the clock, as this is where a person looks at data);
    ``columns`` reads only those columns and ``text_as_arrow`` keeps text in Arrow
    (``store.run_query``).
    """
    params = dict(params or {})
    what = what or f"query:{name}"
    spec = PATIENT_LEVEL_QUERIES.get(name)
    try:
        _check_params(viewer, params)
        params.pop("scope_clinic_ids", None)
        if spec is not None:
            _check_patient_query(viewer, name, spec)
    except AccessDenied as exc:
        _audit(reader, viewer, "denied", what, [], 0, str(exc)[:500], now)
        raise
    frame = reader.unguarded_scoped_query(
        name, viewer, params, columns=columns, text_as_arrow=text_as_arrow
    )
    if spec is not None:
        _audit(
            reader, viewer, "view", what, _returned_clinics(frame, viewer), len(frame), None, now
        )
    elif name in AGGREGATE_QUERIES and not viewer.identifiable:
        frame = _suppress_aggregate(reader, frame, AGGREGATE_QUERIES[name])
    return frame


def _suppress_aggregate(
    reader: StoreReader, frame: pd.DataFrame, spec: AggregateAccess
) -> pd.DataFrame:
    with reader.cursor() as cur:
        threshold = suppression_threshold(cur)
    columns = [c for c in spec.count_columns if c in frame.columns]
    return suppress_counts(frame, columns, threshold, complementary=spec.complementary, by=spec.by)


def patient_rows(
    reader: StoreReader,
    viewer: Viewer,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    what: str | None = None,
    now: dt.datetime | None = None,
    date_mode: str = "shift",
    columns: Sequence[str] | None = None,
    text_as_arrow: bool = True,
) -> pd.DataFrame:
    """Rows of a patient-level named query as the viewer may see them, audited (``columns``,
    ``text_as_arrow``: as :func:`guarded_query`; text stays in Arrow by default, so that
    every patient-level frame holds its ids alike and frames join and align on them).

    Identifiable viewers get their clinics' rows as stored; viewers without identifiable
    access get :func:`deidentify`'d rows of every clinic in scope. Either way the access is
    written to the audit log (``view`` or ``view_deidentified``), and a refused request
    (a clinic outside scope, an unknown query) is audited as ``denied`` and raises AccessDenied.
    """
    what = what or f"query:{name}"
    if name not in PATIENT_LEVEL_QUERIES:
        exc = AccessDenied(
            f"{name!r} is not a patient-level query; patient-level queries are: "
            f"{', '.join(sorted(PATIENT_LEVEL_QUERIES))}."
        )
        _audit(reader, viewer, "denied", what, [], 0, str(exc), now)
        raise exc
    if viewer.identifiable:
        return guarded_query(
            reader, name, viewer, params, what=what, now=now, columns=columns,
            text_as_arrow=text_as_arrow,
        )  # fmt: skip
    params = dict(params or {})
    try:
        _check_params(viewer, params)
        params.pop("scope_clinic_ids", None)
        if PATIENT_LEVEL_QUERIES[name].all_clinics or not can(viewer, "view_deidentified"):
            raise AccessDenied(f"{viewer.user_name!r} may not see the rows of {name!r}.")
    except AccessDenied as exc:
        _audit(reader, viewer, "denied", what, [], 0, str(exc)[:500], now)
        raise
    frame = reader.unguarded_scoped_query(
        name, viewer, params, columns=columns, text_as_arrow=text_as_arrow
    )
    out = deidentify(frame, viewer, pseudonym_secret(reader.path), date_mode=date_mode)
    _audit(
        reader,
        viewer,
        "view_deidentified",
        what,
        _returned_clinics(frame, viewer),
        len(out),
        None,
        now,
    )
    return out


def suppress_for_viewer(
    frame: pd.DataFrame,
    viewer: Viewer,
    count_columns: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    clinic_column: str = "clinic_id",
    complementary: str = "columns",
) -> pd.DataFrame:
    """Suppress an aggregate frame as ``viewer`` may see it.

    Viewers without identifiable access: every row. Clinic managers: the rows of other clinics
    (suppressed among themselves, as the manager knows their own counts; their own rows are
    untouched). Administrators: unchanged.
    """
    if not viewer.identifiable:
        return suppress_counts(frame, count_columns, threshold, complementary=complementary)
    if viewer.clinic_ids is None or clinic_column not in frame.columns:
        return frame.copy()
    own = frame[clinic_column].isin(viewer.clinic_ids).to_numpy()
    others = suppress_counts(frame[~own], count_columns, threshold, complementary=complementary)
    out = frame.copy()
    for column in count_columns:
        out[column] = out[column].astype(float)
        out.loc[~own, column] = others[column].to_numpy()
    out.attrs.update(others.attrs)
    return out


# --- de-identification -------------------------------------------------------------------


def _digest(secret: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).digest()


def pseudonym(
    patient_id: str, secret: bytes, *, prefix: str = "R-", purpose: str = "patient_id"
) -> str:
    """A stable pseudonym: ``R-`` + the first 16 hex digits of HMAC-SHA256(secret, id).

    Without the per-store secret (kept in the users file, never exported) the stored id
    cannot be recovered or confirmed from the pseudonym.
    """
    return prefix + _digest(secret, purpose, str(patient_id)).hex()[:16]


def date_offset_days(patient_id: str, secret: bytes, max_shift_days: int) -> int:
    """The patient's stable date shift, uniform in ``[-max_shift_days, max_shift_days]``."""
    number = int.from_bytes(_digest(secret, "date-shift", str(patient_id))[:8], "big")
    return number % (2 * max_shift_days + 1) - max_shift_days


def _is_free_text(column: str) -> bool:
    return column in FREE_TEXT_COLUMNS or column.endswith(FREE_TEXT_SUFFIXES)


def _id_prefix(column: str) -> str:
    if column == "patient_id":
        return "R-"
    return "R" + column[0].upper() + "-"


def _age_labels(values: pd.Series) -> list[str | None]:
    numbers = pd.to_numeric(values, errors="coerce")
    return [None if pd.isna(v) else "90+" if v >= 90 else str(int(v)) for v in numbers]


def _shift_dates(
    column: pd.Series, offsets: np.ndarray | None, date_mode: str, *, to_month: bool = False
) -> pd.Series:
    as_objects = not pd.api.types.is_datetime64_any_dtype(column)
    moments = pd.to_datetime(column, errors="coerce")
    month = moments.dt.to_period("M").dt.to_timestamp().astype(moments.dtype)
    if date_mode == "month" or offsets is None:
        shifted = month
    else:
        # rows without a patient (no offset) fall back to the month
        shifted = (moments + pd.to_timedelta(offsets, unit="D")).where(~np.isnan(offsets), month)
        if to_month:
            shifted = shifted.dt.to_period("M").dt.to_timestamp().astype(moments.dtype)
    return shifted.dt.date if as_objects else shifted.astype(column.dtype)


def _shift_date_columns(out: pd.DataFrame, offsets: np.ndarray | None, date_mode: str) -> None:
    """Shift (or reduce to the month) the ``*_date`` columns of ``out`` in place; a patient's
    month (``*month_start``) moves with their dates, then is taken to its first day."""
    for column in list(out.columns):
        if column.endswith("_date"):
            out[column] = _shift_dates(out[column], offsets, date_mode)
        elif column.endswith("month_start"):
            out[column] = _shift_dates(out[column], offsets, date_mode, to_month=True)


def deidentify(
    frame: pd.DataFrame,
    viewer: Viewer,
    secret: bytes,
    *,
    date_mode: str = "shift",
    max_shift_days: int = 182,
) -> pd.DataFrame:
    """Patient-level rows as a viewer without identifiable access may see them.

    Unchanged (a copy) for identifiable viewers. Otherwise:

    - ``patient_id`` → :func:`pseudonym` (``R-…``); other record ids (``*_id`` except
      ``clinic_id``) → pseudonyms too (``RA-…`` for ``admission_id``);
    - ``*_date`` columns (and ``*month_start``, shifted then taken to the month's first day)
      shifted by the patient's stable offset in ±``max_shift_days`` days
      (intervals within a patient are kept) with ``date_mode="shift"``, or reduced to the
      first of the month with ``"month"`` (also used when there is no ``patient_id``), or
      kept with ``"keep"``: only for analyses that publish suppressed aggregates of calendar
      dates (admissions this month, retention by admission year), never rows (a shifted
      date against the true cut-off would count the wrong patients);
    - age columns (``age``, ``age_*``, ``*_age``): 90 and over become ``"90+"`` (text);
    - free-text columns (``raw_row``, ``notes``, ``*_text``…) and exact birth dates or years
      are dropped.

    Returns
    -------
    DataFrame
        The same rows with the columns above transformed or dropped.
    """
    if viewer.identifiable:
        return frame.copy()
    if date_mode not in {"shift", "month", "keep"}:
        raise ValueError(f"date_mode must be 'shift', 'month' or 'keep', got {date_mode!r}")
    drop = [c for c in frame.columns if _is_free_text(c) or c in DROPPED_COLUMNS]
    out = frame.drop(columns=drop)
    offsets = None
    if "patient_id" in out.columns:
        unique_ids = out["patient_id"].dropna().unique()
        offset_of = {p: date_offset_days(str(p), secret, max_shift_days) for p in unique_ids}
        offsets = out["patient_id"].map(offset_of).to_numpy(dtype=float, na_value=np.nan)
    if date_mode != "keep":
        _shift_date_columns(out, offsets, date_mode)
    for column in list(out.columns):
        if AGE_PATTERN.match(column):
            out[column] = _age_labels(out[column])
    for column in list(out.columns):
        if column.endswith("_id") and column not in NON_PERSONAL_IDS:
            prefix = _id_prefix(column)
            names = {
                v: pseudonym(str(v), secret, prefix=prefix, purpose=column)
                for v in out[column].dropna().unique()
            }
            kind = out[column].dtype  # Arrow text stays Arrow text: frames still join alike
            out[column] = (
                out[column].map(names).astype(kind if isinstance(kind, pd.StringDtype) else object)
            )
    if "patient_id" in out.columns:  # the stored order (by true date) would hint at the shifts
        out = out.sort_values("patient_id", kind="stable").reset_index(drop=True)
    return out


@dataclass(frozen=True)
class ScopeReport:
    """What a viewer may see, for the sidebar."""

    role_label: str
    clinics: str
    identifiable: bool
    notes: list[str] = field(default_factory=list)


def describe_viewer(viewer: Viewer) -> ScopeReport:
    """A one-line description of the viewer's access for display."""
    clinics = "all clinics" if viewer.clinic_ids is None else ", ".join(sorted(viewer.clinic_ids))
    notes = [] if viewer.identifiable else ["de-identified rows, small counts suppressed"]
    return ScopeReport(
        ROLE_LABELS.get(viewer.role, viewer.role), clinics, viewer.identifiable, notes
    )


def viewer_threshold(reader: StoreReader, viewer: Viewer) -> int | None:
    """The small-cell threshold applied to ``viewer``'s aggregates: None for viewers with
    identifiable access (nothing is suppressed), else the store's threshold."""
    if viewer.identifiable:
        return None
    with reader.cursor() as cur:
        return suppression_threshold(cur)
