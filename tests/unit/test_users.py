"""Accounts, sign-in with lock-out, sessions, demo accounts and the `retention users` command."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import sys
from pathlib import Path

import duckdb
import pytest

from analytics import audit, users
from analytics.cli import main
from analytics.errors import AccessDenied, RetentionError
from analytics.userfile import SessionLimits, has_users, set_setting, users_path
from tests.accounts import FAST_HASHER, NOW, PASSWORDS, add_accounts

INJECTIONS = ("x' or '1'='1", "admin'; drop table users; --", "ann-admin' --")


@pytest.fixture
def shop(writable_demo_store: Path) -> Path:
    add_accounts(writable_demo_store)
    return writable_demo_store


def _sign_in(store: Path, name: str, password: str, minutes: float = 0) -> users.Session:
    return users.sign_in(
        store, name, password, now=NOW + dt.timedelta(minutes=minutes), hasher=FAST_HASHER
    )


def test_users_live_beside_the_store_and_passwords_are_argon2(shop: Path) -> None:
    assert users_path(shop) == shop.with_name(shop.name + ".users.duckdb")
    con = duckdb.connect(str(users_path(shop)), read_only=True)
    hashes = dict(con.execute("select user_name, password_hash from users").fetchall())
    con.close()
    for name, password in PASSWORDS.items():
        assert hashes[name].startswith("$argon2id$")
        assert password not in hashes[name]
    listed = users.list_users(shop)
    assert "password_hash" not in listed.columns
    assert listed.set_index("user_name").loc["mo-manager", "clinic_ids"] == "C01,C02"


def test_production_hasher_uses_library_defaults(shop: Path) -> None:
    users.add_user(shop, "prod-user", "a long production pass", role="researcher", now=NOW)
    con = duckdb.connect(str(users_path(shop)), read_only=True)
    (hash_,) = con.execute(
        "select password_hash from users where user_name = 'prod-user'"
    ).fetchall()[0]
    con.close()
    assert "m=65536,t=3" in hash_


def test_sign_in_returns_the_viewer(shop: Path) -> None:
    session = _sign_in(shop, "mo-manager", PASSWORDS["mo-manager"])
    assert session.viewer.clinic_ids == frozenset({"C01", "C02"})
    assert session.started_at == NOW


@pytest.mark.parametrize("name", ["ann-admin", "nobody", *INJECTIONS])
def test_wrong_password_or_unknown_user_has_one_message_and_is_audited(shop, name) -> None:
    with pytest.raises(AccessDenied, match="Unknown user name or wrong password"):
        _sign_in(shop, name, "wrong password!")
    entries = audit.read_audit(shop, actions=["sign_in_failed"])
    assert len(entries) == 1
    assert users.get_user(shop, "ann-admin") is not None  # nothing dropped


@pytest.mark.parametrize("password", ["' or '1'='1", "x'); delete from users; --"])
def test_injection_in_password_fails_cleanly(shop, password) -> None:
    with pytest.raises(AccessDenied, match="wrong password"):
        _sign_in(shop, "ann-admin", password)
    assert len(users.list_users(shop)) == 3


def test_five_failures_lock_the_account_with_a_retry_time(shop: Path) -> None:
    for minute in range(5):
        with pytest.raises(AccessDenied, match="wrong password"):
            _sign_in(shop, "ann-admin", "wrong password!", minutes=minute)
    with pytest.raises(AccessDenied, match=r"try again after 2026-03-01 12:15 UTC"):
        _sign_in(shop, "ann-admin", PASSWORDS["ann-admin"], minutes=6)
    assert len(audit.read_audit(shop, actions=["sign_in_locked"])) == 1
    _sign_in(shop, "ann-admin", PASSWORDS["ann-admin"], minutes=15.5)  # oldest failure expired


def test_a_success_resets_the_failure_count(shop: Path) -> None:
    for minute in range(4):
        with pytest.raises(AccessDenied):
            _sign_in(shop, "ann-admin", "wrong password!", minutes=minute)
    _sign_in(shop, "ann-admin", PASSWORDS["ann-admin"], minutes=4)
    for minute in range(4):
        with pytest.raises(AccessDenied, match="wrong password"):
            _sign_in(shop, "ann-admin", "wrong password!", minutes=5 + minute)


def test_reset_unlocks_and_ends_sessions(shop: Path) -> None:
    session = _sign_in(shop, "mo-manager", PASSWORDS["mo-manager"])
    for _ in range(5):
        with pytest.raises(AccessDenied):
            _sign_in(shop, "mo-manager", "wrong password!", minutes=1)
    users.reset_password(
        shop,
        "mo-manager",
        "a brand new phrase",
        now=NOW + dt.timedelta(minutes=2),
        hasher=FAST_HASHER,
    )
    with pytest.raises(AccessDenied, match="changed since you signed in"):
        users.refresh_session(shop, session, now=NOW + dt.timedelta(minutes=3))
    _sign_in(shop, "mo-manager", "a brand new phrase", minutes=3)


def test_session_expires_when_idle_or_too_old() -> None:
    record = users.UserRecord("a", "admin", (), False, NOW, NOW)
    session = users.Session(record, NOW, NOW)
    limits = SessionLimits()
    later = users.check_session(session, now=NOW + dt.timedelta(minutes=29), limits=limits)
    assert later.last_seen_at == NOW + dt.timedelta(minutes=29)
    with pytest.raises(AccessDenied, match="30 minutes without activity"):
        users.check_session(session, now=NOW + dt.timedelta(minutes=30), limits=limits)
    active = session
    for minute in range(20, 8 * 60, 20):
        active = users.check_session(active, now=NOW + dt.timedelta(minutes=minute), limits=limits)
    with pytest.raises(AccessDenied, match="8 hours after sign-in"):
        users.check_session(active, now=NOW + dt.timedelta(hours=8), limits=limits)
    aware = dt.datetime(2026, 3, 1, 13, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert users.check_session(
        session, now=aware, limits=limits
    ).last_seen_at == NOW + dt.timedelta(minutes=10)


def test_session_limits_are_settings(shop: Path) -> None:
    set_setting(shop, "session_idle_minutes", "5")
    session = _sign_in(shop, "ann-admin", PASSWORDS["ann-admin"])
    with pytest.raises(AccessDenied, match="5 minutes"):
        users.refresh_session(shop, session, now=NOW + dt.timedelta(minutes=6))
    with pytest.raises(RetentionError, match="Unknown setting"):
        set_setting(shop, "pseudonym_secret", "00")


def test_removed_user_session_ends(shop: Path) -> None:
    session = _sign_in(shop, "rita-research", PASSWORDS["rita-research"])
    users.remove_user(shop, "rita-research", now=NOW)
    with pytest.raises(AccessDenied, match="removed"):
        users.refresh_session(shop, session, now=NOW + dt.timedelta(minutes=1))


def test_last_admin_cannot_be_removed(shop: Path) -> None:
    with pytest.raises(RetentionError, match="last administrator"):
        users.remove_user(shop, "ann-admin", now=NOW)


@pytest.mark.parametrize("name", ["Bad Name", "a", "x' or 1=1 --", "robert'); drop table users;--"])
def test_invalid_user_names_are_refused(shop, name) -> None:
    with pytest.raises(RetentionError, match="not a valid user name"):
        users.add_user(shop, name, "long enough pass", role="admin", now=NOW, hasher=FAST_HASHER)


@pytest.mark.parametrize(
    ("clinics", "message"),
    [
        (["C99"], "not in the store"),
        (["C01' or '1'='1"], "is not a clinic id"),
        ([], "needs --clinics"),
    ],
)
def test_manager_clinics_are_checked(shop, clinics, message) -> None:
    with pytest.raises(RetentionError, match=message):
        users.add_user(
            shop,
            "new-manager",
            "long enough pass",
            role="clinic_manager",
            clinic_ids=clinics,
            now=NOW,
            hasher=FAST_HASHER,
        )


def test_weak_passwords_and_duplicates_are_refused(shop: Path) -> None:
    with pytest.raises(RetentionError, match="at least 12"):
        users.add_user(shop, "bob", "short", role="admin", now=NOW, hasher=FAST_HASHER)
    with pytest.raises(RetentionError, match="must not contain the user name"):
        users.add_user(shop, "bobby", "bobby-is-great-1", role="admin", now=NOW, hasher=FAST_HASHER)
    with pytest.raises(RetentionError, match="exists"):
        users.add_user(
            shop, "ann-admin", "another long one", role="admin", now=NOW, hasher=FAST_HASHER
        )


def test_demo_accounts_only_on_a_demo_store(writable_demo_store: Path, tmp_path: Path) -> None:
    accounts = users.create_demo_accounts(writable_demo_store, now=NOW, hasher=FAST_HASHER)
    assert [a[0] for a in accounts] == ["demo-admin", "demo-manager", "demo-researcher"]
    assert accounts[1][2] == "C01,C02"
    assert [c[0] for c in users.demo_credentials(writable_demo_store)] == [a[0] for a in accounts]
    session = _sign_in(writable_demo_store, "demo-researcher", accounts[2][3])
    assert not session.viewer.identifiable
    # real data imported into the demo store: demo accounts stop working and are not shown
    (tmp_path / "clinics.csv").write_text(
        "clinic_id,clinic_name,offers_mmt,offers_bmt,offers_hat\nC77,Real,true,false,false\n"
    )
    assert main(["import", str(tmp_path / "clinics.csv"), "--store", str(writable_demo_store)]) == 0
    assert users.demo_credentials(writable_demo_store) == []
    with pytest.raises(AccessDenied, match="Demo accounts work only on a demo store"):
        _sign_in(writable_demo_store, "demo-admin", accounts[0][3])
    with pytest.raises(RetentionError, match="only be added to a demo store"):
        users.create_demo_accounts(writable_demo_store, now=NOW, hasher=FAST_HASHER)


def test_no_users_means_single_user_mode(writable_demo_store: Path) -> None:
    assert not has_users(writable_demo_store)
    add_accounts(writable_demo_store)
    assert has_users(writable_demo_store)


def test_cli_users_add_list_reset_remove(writable_demo_store: Path, monkeypatch, capsys) -> None:
    store = str(writable_demo_store)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a secret pass phrase\n"))
    assert (
        main(
            [
                "users",
                "add",
                "lee",
                "--role",
                "clinic_manager",
                "--clinics",
                "C03,C04",
                "--password-stdin",
                "--store",
                store,
            ]
        )
        == 0
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("admin pass phrase!\n"))
    assert (
        main(
            ["users", "add", "root-admin", "--role", "admin", "--password-stdin", "--store", store]
        )
        == 0
    )
    assert main(["users", "list", "--store", store]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("another pass phrase\n"))
    assert main(["users", "reset", "lee", "--password-stdin", "--store", store]) == 0
    assert main(["users", "remove", "lee", "--store", store]) == 0
    assert main(["users", "remove", "lee", "--store", store]) == 2
    captured = capsys.readouterr()
    assert "Added lee (clinic_manager)." in captured.out
    assert "C03,C04" in captured.out
    assert "No user 'lee'" in captured.err
    for secret in ("a secret pass phrase", "admin pass phrase!", "another pass phrase"):
        assert secret not in captured.out + captured.err
    assert users.get_user(writable_demo_store, "root-admin").role == "admin"


def test_cli_prompts_twice_and_refuses_a_mismatch(writable_demo_store, monkeypatch, capsys) -> None:
    answers = iter(["first pass phrase", "other pass phrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code = main(
        ["users", "add", "kim", "--role", "researcher", "--store", str(writable_demo_store)]
    )
    assert code == 2
    assert "The two passwords differ" in capsys.readouterr().err


def test_no_patient_ids_in_logs_or_output(tmp_path: Path, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    store = tmp_path / "demo.duckdb"
    assert main(["demo", "--store", str(store), "--patients", "80", "--seed", "7"]) == 0
    assert main(["demo-files", str(tmp_path / "files"), "--patients", "40", "--seed", "8"]) == 0
    files = sorted(str(p) for p in (tmp_path / "files").glob("*.csv"))
    imported = tmp_path / "imported.duckdb"
    assert main(["import", *files, "--store", str(imported), "--cutoff", "2026-01-31"]) == 0
    assert main(["users", "list", "--store", str(store)]) == 0
    captured = capsys.readouterr()
    text = caplog.text + captured.out + captured.err
    ids = set()
    for path in (store, imported):
        con = duckdb.connect(str(path), read_only=True)
        ids |= {row[0] for row in con.execute("select patient_id from patients").fetchall()}
        con.close()
    assert ids
    stdout_lines = [
        line for line in captured.out.splitlines() if not line.startswith(str(tmp_path))
    ]
    assert not [pid for pid in ids if pid in caplog.text or pid in "\n".join(stdout_lines)]
    assert not re.search(r"\bP\d{6}\b", caplog.text + "\n".join(stdout_lines) + captured.err)
    assert "demo-manager" in text  # the demo accounts are printed
