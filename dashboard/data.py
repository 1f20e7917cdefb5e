"""The only place with Streamlit caches: thin wrappers over analytics/.

Cached results are keyed on the store's data version (the latest import id) and the parameters,
never on a large DataFrame, so a new import refreshes every page at once.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics import access, audit, episodes, store, userfile, users
from analytics.cohort_spec import CohortSpec
from analytics.errors import AccessDenied
from analytics.importing import ImportResult, import_files

DEFAULT_STORE = Path(__file__).resolve().parent.parent / "data" / "demo.duckdb"


def store_path() -> Path:
    return Path(os.environ.get("RETENTION_STORE", DEFAULT_STORE))


def reader() -> store.StoreReader:
    return store.shared_reader(store_path())


SESSION_KEY = "auth_session"


@st.cache_data(show_spinner=False, max_entries=16)
def _users_required(path: str, users_file_mtime_ns: int) -> bool:
    del users_file_mtime_ns  # part of the cache key only: a new user changes the file
    return userfile.has_users(path)


def users_required() -> bool:
    """True once the store has users: then nobody sees data without signing in."""
    users_file = userfile.users_path(store_path())
    if not users_file.exists():
        return False
    return _users_required(str(store_path()), users_file.stat().st_mtime_ns)


def current_viewer() -> store.Viewer:
    """The signed-in viewer. Without users (local single-user mode) an administrator; with
    users and nobody signed in, AccessDenied (app.py shows the sign-in page first)."""
    session = st.session_state.get(SESSION_KEY)
    if session is not None:
        return session.viewer
    if not users_required():
        return store.LOCAL_ADMIN
    raise AccessDenied("Sign in to see this page.")


def sign_in(user_name: str, password: str) -> users.Session:
    """Check the password (AccessDenied with the reason if refused) and start a session."""
    session = users.sign_in(store_path(), user_name, password, now=dt.datetime.now(dt.UTC))
    st.session_state[SESSION_KEY] = session
    return session


def sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)


def refresh_session() -> users.Session | None:
    """Keep a signed-in session alive, or end it (AccessDenied) when it expired or the account
    changed; None when nobody is signed in."""
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        return None
    try:
        session = users.refresh_session(store_path(), session, now=dt.datetime.now(dt.UTC))
    except AccessDenied:
        sign_out()
        raise
    st.session_state[SESSION_KEY] = session
    return session


def demo_credentials() -> list[tuple[str, str, str]]:
    """Demo accounts to show on the sign-in page; empty unless the store is a demo store."""
    return users.demo_credentials(store_path())


def require(permission: str) -> None:
    """AccessDenied unless the current viewer's role grants ``permission``."""
    access.require(current_viewer(), permission)


def list_users() -> pd.DataFrame:
    require("manage_users")
    return users.list_users(store_path())


def _same_password(first: str, second: str) -> str:
    if first != second:
        raise AccessDenied("The two passwords differ; nothing was changed.")
    return first


def add_user(user_name: str, first: str, second: str, *, role: str, clinic_ids) -> None:
    require("manage_users")
    users.add_user(
        store_path(),
        user_name.strip(),
        _same_password(first, second),
        role=role,
        clinic_ids=clinic_ids,
        now=dt.datetime.now(dt.UTC),
        actor=current_viewer(),
    )


def reset_password(user_name: str, first: str, second: str) -> None:
    require("manage_users")
    users.reset_password(
        store_path(),
        user_name,
        _same_password(first, second),
        now=dt.datetime.now(dt.UTC),
        actor=current_viewer(),
    )


def remove_user(user_name: str) -> None:
    require("manage_users")
    viewer = current_viewer()
    if user_name == viewer.user_name:
        raise AccessDenied("You cannot remove yourself; ask another administrator.")
    users.remove_user(store_path(), user_name, now=dt.datetime.now(dt.UTC), actor=viewer)


def audit_entries(**filters) -> pd.DataFrame:
    """Audit entries (administrators only), newest first; filters as ``audit.read_audit``."""
    require("view_audit")
    return audit.read_audit(store_path(), **filters)


def audit_chain_breaks() -> list[int]:
    require("view_audit")
    return audit.verify_audit_chain(store_path())


def patient_rows(name: str, *, what: str, **params) -> pd.DataFrame:
    """Patient-level rows as the viewer may see them (de-identified for researchers). Never
    cached: every view is written to the audit log."""
    return access.patient_rows(reader(), current_viewer(), name, params, what=what)


def audit_export(
    what: str,
    frame: pd.DataFrame,
    *,
    viewer: store.Viewer | None = None,
    store_file: Path | None = None,
) -> None:
    """Record that ``viewer`` (default: the session's) downloaded ``frame``. A deferred
    download runs outside the session, so it passes the viewer and store it was drawn for."""
    viewer = viewer or current_viewer()
    clinics = frame["clinic_id"].dropna().unique() if "clinic_id" in frame.columns else ()
    audit.record_audit(
        store_file or store_path(),
        audit.AuditEntry(
            viewer.user_name,
            viewer.role,
            "export",
            what,
            tuple(sorted(str(c) for c in clinics)),
            len(frame),
        ),
        now=dt.datetime.now(dt.UTC),
    )


def data_version() -> int:
    return reader().data_version()


@st.cache_data(show_spinner=False, max_entries=256)
def _scoped(name: str, viewer: store.Viewer, version: int, params: tuple) -> pd.DataFrame:
    del version  # part of the cache key only
    return reader().scoped_query(name, viewer, dict(params))


def scoped_query(name: str, **params) -> pd.DataFrame:
    """A named query restricted to the current viewer's clinics, cached on the data version.

    Patient-level queries are not cached, so that every view of identifiable rows is audited.
    """
    if name in access.PATIENT_LEVEL_QUERIES:
        return reader().scoped_query(name, current_viewer(), params, what=f"query:{name}")
    return _scoped(name, current_viewer(), data_version(), tuple(sorted(params.items())))


@st.cache_data(show_spinner=False, max_entries=64)
def _cohort(viewer: store.Viewer, version: int, spec: CohortSpec) -> pd.DataFrame:
    del version
    return episodes.cohort_episodes(reader(), viewer, spec)


def cohort_episodes(spec: CohortSpec) -> pd.DataFrame:
    """The cohort's episodes with outcome and covariates (``analytics.episodes``), cached."""
    return _cohort(current_viewer(), data_version(), spec)


@st.cache_data(show_spinner=False, max_entries=32)
def _periods(viewer: store.Viewer, version: int, spec: CohortSpec) -> pd.DataFrame:
    return episodes.cohort_periods(reader(), viewer, spec, _cohort(viewer, version, spec))


def cohort_periods(spec: CohortSpec) -> pd.DataFrame:
    """Counting-process rows with time-varying covariates for the cohort's episodes, cached."""
    return _periods(current_viewer(), data_version(), spec)


@st.cache_data(show_spinner=False, max_entries=256)
def _computed(
    function: str, viewer: store.Viewer, version: int, spec: CohortSpec | None, params: tuple
):
    del version
    module_name, _, attribute = function.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    return target(reader(), viewer, spec, **dict(params))


def computed(function: str, spec: CohortSpec | None = None, **params):
    """Call ``function(reader, viewer, spec, **params)`` from analytics, cached on the data
    version, the viewer, the spec and the (hashable) parameters.

    ``function`` is ``"analytics.module:name"``; only analytics functions may be named.
    """
    if not function.startswith("analytics."):
        raise ValueError(f"{function!r} is not an analytics function")
    return _computed(
        function, current_viewer(), data_version(), spec, tuple(sorted(params.items()))
    )


def store_summary() -> dict:
    """Data version and cut-off date, for the sidebar."""
    with reader().cursor() as cur:
        return {"data_version": store.data_version(cur), "data_cutoff": store.data_cutoff(cur)}


def import_uploaded(files: list[tuple[str, bytes]], *, cutoff, strict: bool) -> ImportResult:
    """Write uploaded files to a private folder under their own names and import them
    (administrators only)."""
    access.require(current_viewer(), "import")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="upload-") as folder:
        paths = []
        for name, content in files:
            path = Path(folder) / Path(name).name
            path.write_bytes(content)
            paths.append(path)
        result = import_files(store_path(), paths, cutoff=cutoff, strict=strict, source="upload")
    st.cache_data.clear()
    return result
