"""The only place with Streamlit caches: thin wrappers over analytics/.

Cached results are keyed on the store's data version (the latest import id) and the parameters,
never on a large DataFrame, so a new import refreshes every page at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics import store
from analytics.importing import ImportResult, import_files

DEFAULT_STORE = Path(__file__).resolve().parent.parent / "data" / "demo.duckdb"


def store_path() -> Path:
    return Path(os.environ.get("RETENTION_STORE", DEFAULT_STORE))


@st.cache_resource
def _reader(path: str) -> store.StoreReader:
    return store.StoreReader(path)


def reader() -> store.StoreReader:
    return _reader(str(store_path()))


def current_viewer() -> store.Viewer:
    """The signed-in viewer; the local single-user mode is an administrator."""
    return st.session_state.get("viewer", store.LOCAL_ADMIN)


def data_version() -> int:
    return reader().data_version()


@st.cache_data(show_spinner=False, max_entries=256)
def _scoped(name: str, viewer: store.Viewer, version: int, params: tuple) -> pd.DataFrame:
    del version  # part of the cache key only
    return reader().scoped_query(name, viewer, dict(params))


def scoped_query(name: str, **params) -> pd.DataFrame:
    """A named query restricted to the current viewer's clinics, cached on the data version."""
    return _scoped(name, current_viewer(), data_version(), tuple(sorted(params.items())))


def store_summary() -> dict:
    """Data version and cut-off date, for the sidebar."""
    with reader().cursor() as cur:
        return {"data_version": store.data_version(cur), "data_cutoff": store.data_cutoff(cur)}


def import_uploaded(files: list[tuple[str, bytes]], *, cutoff, strict: bool) -> ImportResult:
    """Write uploaded files to a private folder under their own names and import them."""
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
