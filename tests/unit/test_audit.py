"""The audit log is append-only through the API, filterable, and tampering is detected."""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path

import duckdb
import pytest

from analytics import audit
from analytics.userfile import users_path
from tests.accounts import NOW


@pytest.fixture
def logged(tmp_path: Path) -> Path:
    store = tmp_path / "s.duckdb"
    for i, (user, action, clinics) in enumerate(
        [("ann", "view", ("C01",)), ("mo", "export", ("C02",)), ("mo", "denied", ())]
    ):
        entry = audit.AuditEntry(user, "admin", action, f"page:{i}", clinics, n_rows=10 * i)
        audit.record_audit(store, entry, now=NOW + dt.timedelta(minutes=i))
    return store


def test_the_api_offers_no_way_to_change_or_delete() -> None:
    public = [name for name, _ in inspect.getmembers(audit, inspect.isfunction)]
    assert not [n for n in public if any(w in n for w in ("update", "delete", "remove", "edit"))]


def test_entries_cannot_be_changed_through_the_api(logged: Path) -> None:
    before = audit.read_audit(logged)
    audit.record_audit(
        logged, audit.AuditEntry("ann", "admin", "view", "page:0", ("C09",), 1), now=NOW
    )
    after = audit.read_audit(logged)
    assert len(after) == len(before) + 1
    assert after.iloc[1:].reset_index(drop=True).equals(before)  # old rows exactly as they were
    assert after["audit_id"].is_unique
    assert audit.verify_audit_chain(logged) == []


def test_filters_are_bound_parameters(logged: Path) -> None:
    assert audit.read_audit(logged, user_name="mo")["action"].tolist() == ["denied", "export"]
    assert audit.read_audit(logged, clinic_id="C01")["user_name"].tolist() == ["ann"]
    assert len(audit.read_audit(logged, actions=["view", "export"])) == 2
    assert len(audit.read_audit(logged, since=NOW + dt.timedelta(minutes=1))) == 2
    assert audit.read_audit(logged, user_name="x' or '1'='1").empty
    assert audit.read_audit(logged, clinic_id="'); delete from audit_log; --").empty
    assert len(audit.read_audit(logged)) == 3


def test_tampering_outside_the_api_is_detected(logged: Path) -> None:
    con = duckdb.connect(str(users_path(logged)))
    con.execute("update audit_log set n_rows = 0 where audit_id = 2")
    con.close()
    assert audit.verify_audit_chain(logged) == [2]
    con = duckdb.connect(str(users_path(logged)))
    con.execute("delete from audit_log where audit_id = 2")
    con.close()
    assert audit.verify_audit_chain(logged) == [3]


def test_no_users_file_means_an_empty_log(tmp_path: Path) -> None:
    assert audit.read_audit(tmp_path / "none.duckdb").empty
    assert audit.verify_audit_chain(tmp_path / "none.duckdb") == []
