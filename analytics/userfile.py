"""The users file: accounts, sign-in attempts, settings and the audit log, beside the store.

Decision: users live in a sibling DuckDB file ``<store>.users.duckdb`` (``data/demo.duckdb`` →
``data/demo.duckdb.users.duckdb``), not in the store, because

- the dashboard opens the store read-only, yet sign-in attempts and audit entries are written
  while it runs;
- an import writes a private copy of the store and swaps it in (``os.replace``): users and the
  audit log written meanwhile would be lost with the old file;
- the per-store pseudonym secret must not travel with a copy of the data.

DuckDB lets only one process hold a read-write handle, so every operation opens the file, does
its work in one transaction and closes it again, under an advisory lock file
(``<users file>.lock``). The dashboard and ``retention users ...`` can therefore run together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics.errors import StoreError

USERS_SUFFIX = ".users.duckdb"

USERS_FILE_SQL = """
create table if not exists users_settings (
    setting_key varchar primary key,
    setting_value varchar not null
);
create table if not exists users (
    user_name varchar primary key,
    role varchar not null,                 -- admin | clinic_manager | researcher
    clinic_ids varchar[],                  -- clinic managers only: the clinics they may see
    password_hash varchar not null,        -- argon2id, PHC string
    is_demo boolean not null,              -- a labelled demo account (works on demo stores only)
    created_at timestamp not null,         -- UTC
    password_set_at timestamp not null     -- UTC; sessions that started before it end
);
create table if not exists sign_in_attempts (
    user_name varchar not null,            -- as typed (bound, never interpolated)
    attempted_at timestamp not null,       -- UTC
    succeeded boolean not null
);
create sequence if not exists audit_id_seq start 1;
create table if not exists audit_log (
    audit_id bigint primary key,
    recorded_at timestamp not null,        -- UTC
    user_name varchar not null,
    role varchar not null,
    action varchar not null,               -- view | export | view_deidentified | denied | ...
    what varchar not null,                 -- page, query or export name
    clinic_ids varchar[] not null,
    n_rows bigint not null,
    detail varchar,
    previous_sha256 varchar not null,      -- hash chain: a changed or deleted row breaks it
    entry_sha256 varchar not null
);
"""

DEFAULT_SETTINGS = {
    "session_idle_minutes": "30",
    "session_absolute_minutes": "480",
    "lockout_failures": "5",
    "lockout_minutes": "15",
}


def users_path(store_path: str | os.PathLike) -> Path:
    """The users file of a store: ``<store>.users.duckdb`` in the same folder."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + USERS_SUFFIX)


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """``moment`` as a naive UTC timestamp (how the users file stores times)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


@contextlib.contextmanager
def open_users_file(store_path: str | os.PathLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the users file (created if absent), in one transaction,
    under the users file's lock. Commits on success, rolls back on any exception."""
    path = users_path(store_path)
    if not path.parent.exists():
        raise StoreError(f"No folder {path.parent} for the users file of the store.")
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            raise StoreError(f"Cannot open the users file {path}: {exc}") from exc
        try:
            if not _is_built(con):
                con.execute(USERS_FILE_SQL)
                _ensure_settings(con)
            con.execute("begin transaction")
            try:
                yield con
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        finally:
            con.close()


def _is_built(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'audit_log'"
    ).fetchall()
    return rows[0][0] > 0


def _ensure_settings(con: duckdb.DuckDBPyConnection) -> None:
    defaults = {**DEFAULT_SETTINGS, "pseudonym_secret": secrets.token_hex(32)}
    for key, value in defaults.items():
        con.execute(
            "insert into users_settings values ($k, $v) on conflict do nothing",
            {"k": key, "v": value},
        )


def has_users(store_path: str | os.PathLike) -> bool:
    """True when the store has a users file with at least one account (sign-in required);
    False means the local single-user mode."""
    if not users_path(store_path).exists():
        return False
    with open_users_file(store_path) as con:
        return con.execute("select count(*) from users").fetchall()[0][0] > 0


def setting(con: duckdb.DuckDBPyConnection, key: str) -> str:
    rows = con.execute(
        "select setting_value from users_settings where setting_key = $k", {"k": key}
    ).fetchall()
    if not rows:
        raise StoreError(f"The users file has no setting {key!r}.")
    return rows[0][0]


def pseudonym_secret(store_path: str | os.PathLike) -> bytes:
    """The per-store secret keying researchers' pseudonyms and date shifts (created once)."""
    with open_users_file(store_path) as con:
        return bytes.fromhex(setting(con, "pseudonym_secret"))


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lasts: ``idle`` without activity, ``absolute`` since sign-in."""

    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=8)


def session_limits(store_path: str | os.PathLike) -> SessionLimits:
    """Session limits from the users file's settings (defaults 30 min idle, 8 h absolute)."""
    with open_users_file(store_path) as con:
        return SessionLimits(
            idle=dt.timedelta(minutes=int(setting(con, "session_idle_minutes"))),
            absolute=dt.timedelta(minutes=int(setting(con, "session_absolute_minutes"))),
        )


def set_setting(store_path: str | os.PathLike, key: str, value: str) -> None:
    """Change a users-file setting (session and lock-out limits); the secret is not settable."""
    if key not in DEFAULT_SETTINGS:
        raise StoreError(f"Unknown setting {key!r}; choose one of: {', '.join(DEFAULT_SETTINGS)}.")
    if not value.isdigit() or int(value) < 1:
        raise StoreError(f"{key} must be a whole number of at least 1, got {value!r}.")
    with open_users_file(store_path) as con:
        con.execute(
            "update users_settings set setting_value = $v where setting_key = $k",
            {"k": key, "v": value},
        )
