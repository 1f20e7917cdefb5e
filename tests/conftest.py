"""Shared fixtures: one canonical demo store, seeded, reused by unit, SQL, page and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO_PATIENTS = 600
DEMO_SEED = 20261124


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store (600 patients, fixed seed), built once per test process.

    Tests must not write to it: copy it first (``writable_demo_store``) to change anything.
    """
    from analytics.demo_store import build_demo_store

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_store(path, n_patients=DEMO_PATIENTS, seed=DEMO_SEED)
    return path


@pytest.fixture
def writable_demo_store(demo_store: Path, tmp_path: Path) -> Path:
    """A private copy of the demo store that a test may import into."""
    copy = tmp_path / "demo_copy.duckdb"
    copy.write_bytes(demo_store.read_bytes())
    return copy


@pytest.fixture(scope="session")
def demo_as_of():
    from analytics.demo import DEFAULT_AS_OF

    return DEFAULT_AS_OF
