"""The audit log: who viewed or exported identifiable rows (and who was refused), append-only.

Entries live in the users file (``analytics.userfile``), table ``audit_log``. This module offers
only two ways in: :func:`record_audit` appends, :func:`read_audit` reads. There is no update or
delete function, by design. Each entry also carries the SHA-256 of the previous entry and of
itself, so a row changed or deleted outside this API (e.g. with the DuckDB shell) is detected by
:func:`verify_audit_chain`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from analytics.userfile import open_users_file, users_path, utc_naive

GENESIS = "0" * 64
AUDIT_COLUMNS = (
    "audit_id",
    "recorded_at",
    "user_name",
    "role",
    "action",
    "what",
    "clinic_ids",
    "n_rows",
    "detail",
)


@dataclass(frozen=True)
class AuditEntry:
    """One audited event.

    ``action`` is what happened: ``view`` / ``export`` (identifiable rows), ``view_deidentified``,
    ``denied`` (a refused request), ``sign_in_failed``, ``sign_in_locked``, ``user_added``,
    ``user_removed``, ``password_reset``. ``what`` names the page, query or export;
    ``clinic_ids`` the clinics whose rows were returned (or asked for).
    """

    user_name: str
    role: str
    action: str
    what: str
    clinic_ids: tuple[str, ...] = ()
    n_rows: int = 0
    detail: str | None = None


def _entry_hash(previous: str, audit_id: int, recorded_at: dt.datetime, entry: AuditEntry) -> str:
    payload = json.dumps(
        [
            previous,
            audit_id,
            recorded_at.isoformat(),
            entry.user_name,
            entry.role,
            entry.action,
            entry.what,
            list(entry.clinic_ids),
            int(entry.n_rows),
            entry.detail,
        ],
        ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_entry(con: duckdb.DuckDBPyConnection, entry: AuditEntry, *, now: dt.datetime) -> int:
    """Append ``entry`` on an open users-file connection (for callers already holding it)."""
    recorded_at = utc_naive(now)
    audit_id = con.execute("select nextval('audit_id_seq')").fetchall()[0][0]
    rows = con.execute(
        "select entry_sha256 from audit_log order by audit_id desc limit 1"
    ).fetchall()
    previous = rows[0][0] if rows else GENESIS
    con.execute(
        "insert into audit_log values ($id, $at, $user, $role, $action, $what, $clinics, $n,"
        " $detail, $previous, $hash)",
        {
            "id": audit_id,
            "at": recorded_at,
            "user": entry.user_name,
            "role": entry.role,
            "action": entry.action,
            "what": entry.what,
            "clinics": list(entry.clinic_ids),
            "n": int(entry.n_rows),
            "detail": entry.detail,
            "previous": previous,
            "hash": _entry_hash(previous, audit_id, recorded_at, entry),
        },
    )
    return int(audit_id)


def record_audit(store_path: str | os.PathLike, entry: AuditEntry, *, now: dt.datetime) -> int:
    """Append one entry to the store's audit log; return its id. Entries cannot be changed."""
    with open_users_file(store_path) as con:
        return append_entry(con, entry, now=now)


def read_audit(
    store_path: str | os.PathLike,
    *,
    user_name: str | None = None,
    actions: Iterable[str] | None = None,
    clinic_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 10_000,
) -> pd.DataFrame:
    """Audit entries, newest first, optionally filtered (all filters are bound parameters).

    Returns
    -------
    DataFrame
        ``audit_id, recorded_at, user_name, role, action, what, clinic_ids`` (comma-separated),
        ``n_rows, detail``. Empty when the store has no users file yet.
    """
    if not users_path(store_path).exists():
        return pd.DataFrame(columns=list(AUDIT_COLUMNS))
    params = {
        "user": user_name,
        "actions": list(actions) if actions is not None else None,
        "clinic": clinic_id,
        "since": utc_naive(since) if since else None,
        "until": utc_naive(until) if until else None,
        "limit": int(limit),
    }
    with open_users_file(store_path) as con:
        frame = con.execute(
            "select audit_id, recorded_at, user_name, role, action, what,"
            " array_to_string(clinic_ids, ',') as clinic_ids, n_rows, detail"
            " from audit_log"
            " where ($user is null or user_name = $user)"
            " and ($actions is null or list_contains($actions, action))"
            " and ($clinic is null or list_contains(clinic_ids, $clinic))"
            " and ($since is null or recorded_at >= $since)"
            " and ($until is null or recorded_at <= $until)"
            " order by audit_id desc limit $limit",
            params,
        ).df()
    return frame


def verify_audit_chain(store_path: str | os.PathLike) -> list[int]:
    """Ids of audit entries whose hash chain is broken (changed, inserted or deleted outside
    this module). An empty list means the log is intact."""
    if not users_path(store_path).exists():
        return []
    with open_users_file(store_path) as con:
        rows = con.execute(
            "select audit_id, recorded_at, user_name, role, action, what, clinic_ids, n_rows,"
            " detail, previous_sha256, entry_sha256 from audit_log order by audit_id"
        ).fetchall()
    broken = []
    previous = GENESIS
    for row in rows:
        audit_id, recorded_at, *fields, stored_previous, stored_hash = row
        entry = AuditEntry(*fields[:4], tuple(fields[4] or ()), fields[5], fields[6])
        expected = _entry_hash(previous, audit_id, recorded_at, entry)
        if stored_previous != previous or stored_hash != expected:
            broken.append(int(audit_id))
        previous = stored_hash
    return broken
