"""The server's start-up warm-up: the shared reader holds the landing page's cohort."""

from __future__ import annotations

import shutil
from pathlib import Path

from analytics import audit, store
from dashboard.serve import warm_up
from tests.accounts import add_accounts


def _remembered(reader: store.StoreReader) -> list[str]:
    return [key[1] for key in reader._memo]


def test_warm_up_derives_the_default_cohort_in_the_shared_reader(demo_store, tmp_path) -> None:
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_store, path)
    warm_up(path)
    reader = store.shared_reader(path)
    assert reader is store.shared_reader(Path(str(path)))  # one per store and process
    assert "cohort_episodes" in _remembered(reader)
    reader.close()


def test_with_users_warm_up_reads_no_patient_rows(demo_store, tmp_path) -> None:
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_store, path)
    add_accounts(path)
    before = len(audit.read_audit(path))
    warm_up(path)
    assert _remembered(store.shared_reader(path)) == []
    assert len(audit.read_audit(path)) == before
    store.shared_reader(path).close()
