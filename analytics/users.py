"""User accounts, sign-in with lock-out, and sessions (pure: every function takes ``now``).

Passwords are hashed with argon2id (argon2-cffi's defaults; tests pass a cheap ``hasher``).
A store without users (no users file, or an empty one) is in the local single-user mode and
the dashboard runs as ``store.LOCAL_ADMIN``; once a user exists, nobody sees data without
signing in. There is no default password: accounts are created with ``retention users add``,
except the labelled demo accounts of a demo store (:func:`create_demo_accounts`), which only
work while the store holds nothing but demo data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analytics import store
from analytics.access import ROLES, check_clinic_scope, viewer_from_user
from analytics.audit import AuditEntry, append_entry
from analytics.errors import AccessDenied, RetentionError
from analytics.userfile import (
    SessionLimits,
    open_users_file,
    session_limits,
    setting,
    users_path,
    utc_naive,
)

USER_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
DEFAULT_LIMITS = SessionLimits()
SIGN_IN_FAILED = "Unknown user name or wrong password."
DEMO_ACCOUNTS = (
    # user name, role, how many clinics (managers), password: printed by `retention demo` and
    # shown on the sign-in page of a demo store only
    ("demo-admin", "admin", 0, "oat-admin-demo-2026"),
    ("demo-manager", "clinic_manager", 2, "oat-manager-demo-2026"),
    ("demo-researcher", "researcher", 0, "oat-researcher-demo-2026"),
)


class UserError(RetentionError):
    """A user account cannot be created or changed as asked."""


@dataclass(frozen=True)
class UserRecord:
    """An account as stored, without its password hash."""

    user_name: str
    role: str
    clinic_ids: tuple[str, ...]
    is_demo: bool
    created_at: dt.datetime
    password_set_at: dt.datetime

    @property
    def viewer(self) -> store.Viewer:
        return viewer_from_user(self.user_name, self.role, self.clinic_ids)


@dataclass(frozen=True)
class Session:
    """A signed-in session. ``started_at``/``last_seen_at`` are naive UTC."""

    user: UserRecord
    started_at: dt.datetime
    last_seen_at: dt.datetime

    @property
    def viewer(self) -> store.Viewer:
        return self.user.viewer


def _hasher(hasher: PasswordHasher | None) -> PasswordHasher:
    return hasher or PasswordHasher()


def check_user_name(user_name: str) -> str:
    """The user name, checked: lower-case letters, digits and ``. _ @ -``, 2–64 characters."""
    if not isinstance(user_name, str) or not USER_NAME_PATTERN.match(user_name):
        raise UserError(
            f"{str(user_name)[:40]!r} is not a valid user name: use 2-64 lower-case letters, "
            "digits and . _ @ - (starting with a letter or digit)."
        )
    return user_name


def check_password(password: str, user_name: str) -> None:
    """Refuse passwords that are short, very long, or the user name."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
    if user_name.lower() in password.lower():
        raise UserError("The password must not contain the user name.")


def _store_clinics(store_path: str | os.PathLike) -> set[str]:
    if not os.path.exists(store_path):
        return set()
    con = store.connect(store_path, read_only=True)
    try:
        return {row[0] for row in con.execute("select clinic_id from clinics").fetchall()}
    finally:
        con.close()


def _check_role_clinics(store_path, role: str, clinic_ids: Iterable[str] | None) -> tuple[str, ...]:
    if role not in ROLES:
        raise UserError(f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.")
    clinics = tuple(sorted(set(clinic_ids or ())))
    if role != "clinic_manager":
        if clinics:
            raise UserError(f"Only clinic managers have clinics; a {role} sees every clinic.")
        return ()
    if not clinics:
        raise UserError("A clinic manager needs --clinics, e.g. --clinics C01,C02.")
    check_clinic_scope(store.LOCAL_ADMIN, clinics)
    unknown = sorted(set(clinics) - _store_clinics(store_path))
    if unknown:
        raise UserError(
            f"Clinic(s) {', '.join(unknown)} are not in the store; import them first "
            "(see the Data page for the clinics it holds)."
        )
    return clinics


def _record(row) -> UserRecord:
    name, role, clinics, is_demo, created_at, password_set_at = row
    return UserRecord(name, role, tuple(clinics or ()), bool(is_demo), created_at, password_set_at)


_USER_COLUMNS = "user_name, role, clinic_ids, is_demo, created_at, password_set_at"


def _get(con: duckdb.DuckDBPyConnection, user_name: str) -> tuple[UserRecord, str] | None:
    rows = con.execute(
        f"select {_USER_COLUMNS}, password_hash from users where user_name = $name",
        {"name": user_name},
    ).fetchall()
    if not rows:
        return None
    return _record(rows[0][:-1]), rows[0][-1]


def _audit_admin(con, actor: store.Viewer, action: str, user_name: str, now) -> None:
    append_entry(
        con,
        AuditEntry(actor.user_name, actor.role, action, f"user:{user_name}"),
        now=now,
    )


def add_user(
    store_path: str | os.PathLike,
    user_name: str,
    password: str,
    *,
    role: str,
    clinic_ids: Iterable[str] | None = None,
    now: dt.datetime,
    actor: store.Viewer = store.LOCAL_ADMIN,
    hasher: PasswordHasher | None = None,
    is_demo: bool = False,
) -> UserRecord:
    """Create an account. Managers need clinics that exist in the store."""
    check_user_name(user_name)
    check_password(password, user_name)
    clinics = _check_role_clinics(store_path, role, clinic_ids)
    password_hash = _hasher(hasher).hash(password)
    moment = utc_naive(now)
    with open_users_file(store_path) as con:
        if _get(con, user_name) is not None:
            raise UserError(
                f"User {user_name!r} exists; use `retention users reset {user_name}` to give a "
                "new password, or remove it first."
            )
        con.execute(
            "insert into users values ($name, $role, $clinics, $hash, $demo, $at, $at)",
            {
                "name": user_name,
                "role": role,
                "clinics": list(clinics) or None,
                "hash": password_hash,
                "demo": is_demo,
                "at": moment,
            },
        )
        _audit_admin(con, actor, "user_added", user_name, now)
        record, _ = _get(con, user_name)
    return record


def remove_user(
    store_path: str | os.PathLike,
    user_name: str,
    *,
    now: dt.datetime,
    actor: store.Viewer = store.LOCAL_ADMIN,
) -> None:
    """Delete an account (its sessions end at their next page load). The last administrator
    cannot be removed while other users remain: nobody could manage them."""
    check_user_name(user_name)
    with open_users_file(store_path) as con:
        found = _get(con, user_name)
        if found is None:
            raise UserError(f"No user {user_name!r}; `retention users list` shows them.")
        admins, others = con.execute(
            "select count(*) filter (role = 'admin'), count(*) filter (role != 'admin')"
            " from users where user_name != $name",
            {"name": user_name},
        ).fetchall()[0]
        if found[0].role == "admin" and admins == 0 and others > 0:
            raise UserError(
                f"{user_name!r} is the last administrator; add another administrator first."
            )
        con.execute("delete from users where user_name = $name", {"name": user_name})
        _audit_admin(con, actor, "user_removed", user_name, now)


def reset_password(
    store_path: str | os.PathLike,
    user_name: str,
    password: str,
    *,
    now: dt.datetime,
    actor: store.Viewer = store.LOCAL_ADMIN,
    hasher: PasswordHasher | None = None,
) -> None:
    """Set a new password; ends the user's sessions and lifts a lock-out."""
    check_user_name(user_name)
    check_password(password, user_name)
    password_hash = _hasher(hasher).hash(password)
    with open_users_file(store_path) as con:
        if _get(con, user_name) is None:
            raise UserError(f"No user {user_name!r}; `retention users list` shows them.")
        con.execute(
            "update users set password_hash = $hash, password_set_at = $at where user_name = $name",
            {"hash": password_hash, "at": utc_naive(now), "name": user_name},
        )
        con.execute("delete from sign_in_attempts where user_name = $name", {"name": user_name})
        _audit_admin(con, actor, "password_reset", user_name, now)


def list_users(store_path: str | os.PathLike) -> pd.DataFrame:
    """Accounts without hashes: ``user_name, role, clinic_ids`` (comma-separated),
    ``is_demo, created_at, password_set_at``."""
    if not users_path(store_path).exists():
        return pd.DataFrame(columns=_USER_COLUMNS.split(", "))
    with open_users_file(store_path) as con:
        return con.execute(
            "select user_name, role, array_to_string(clinic_ids, ',') as clinic_ids, is_demo,"
            " created_at, password_set_at from users order by user_name"
        ).df()


def get_user(store_path: str | os.PathLike, user_name: str) -> UserRecord | None:
    with open_users_file(store_path) as con:
        found = _get(con, user_name)
    return found[0] if found else None


# --- sign-in ---------------------------------------------------------------------------------


def is_demo_store(store_path: str | os.PathLike) -> bool:
    """True when every import of the store was the demo generator (demo accounts work only
    then: real data imported into a demo store locks them out)."""
    if not os.path.exists(store_path):
        return False
    con = store.connect(store_path, read_only=True)
    try:
        sources = {row[0] for row in con.execute("select source from import_log").fetchall()}
    finally:
        con.close()
    return sources == {"demo"}


def _retry_at(con, user_name: str, now: dt.datetime) -> dt.datetime | None:
    """When a locked account may try again, or None if it is not locked."""
    limit = int(setting(con, "lockout_failures"))
    window = dt.timedelta(minutes=int(setting(con, "lockout_minutes")))
    rows = con.execute(
        "select attempted_at from sign_in_attempts"
        " where user_name = $name and not succeeded and attempted_at > $since"
        " and attempted_at > coalesce((select max(attempted_at) from sign_in_attempts"
        "   where user_name = $name and succeeded), '-infinity'::timestamp)"
        " order by attempted_at desc",
        {"name": user_name, "since": now - window},
    ).fetchall()
    if len(rows) < limit:
        return None
    return rows[limit - 1][0] + window


def _refuse(con, user_name: str, action: str, message: str, now: dt.datetime, record: bool):
    if record:
        con.execute(
            "insert into sign_in_attempts values ($name, $at, false)",
            {"name": user_name, "at": now},
        )
    append_entry(con, AuditEntry(user_name, "-", action, "sign-in", detail=message), now=now)
    return AccessDenied(message)


_DUMMY_HASH: dict[int, str] = {}


def _verify(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    if password_hash is None:  # unknown user: spend the same time as a real check
        key = id(hasher)
        _DUMMY_HASH.setdefault(key, hasher.hash("not-a-password-of-anyone"))
        password_hash = _DUMMY_HASH[key]
        password = password + "\x00"
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def sign_in(
    store_path: str | os.PathLike,
    user_name: str,
    password: str,
    *,
    now: dt.datetime,
    hasher: PasswordHasher | None = None,
) -> Session:
    """Check a user name and password; return a new Session or raise AccessDenied.

    After ``lockout_failures`` (5) failures within ``lockout_minutes`` (15) the account is
    locked until the oldest of those failures is 15 minutes old; the message says when.
    Unknown users and wrong passwords get the same message. Every refusal is audited.
    """
    hasher = _hasher(hasher)
    moment = utc_naive(now)
    name = str(user_name).strip().lower()[:64]
    password = str(password)[:MAX_PASSWORD_LENGTH]
    demo_store = is_demo_store(store_path)
    with open_users_file(store_path) as con:
        retry_at = _retry_at(con, name, moment)
        if retry_at is not None:
            message = (
                f"Too many failed sign-ins for {name!r}: try again after "
                f"{retry_at:%Y-%m-%d %H:%M} UTC, or ask an administrator to reset the password."
            )
            exc = _refuse(con, name, "sign_in_locked", message, moment, record=False)
        else:
            found = _get(con, name) if USER_NAME_PATTERN.match(name) else None
            ok = _verify(hasher, found[1] if found else None, password)
            if not ok or found is None:
                exc = _refuse(con, name, "sign_in_failed", SIGN_IN_FAILED, moment, record=True)
            elif found[0].is_demo and not demo_store:
                message = "Demo accounts work only on a demo store; this store holds real data."
                exc = _refuse(con, name, "sign_in_failed", message, moment, record=True)
            else:
                exc = None
                con.execute(
                    "insert into sign_in_attempts values ($name, $at, true)",
                    {"name": name, "at": moment},
                )
                if hasher.check_needs_rehash(found[1]):
                    con.execute(
                        "update users set password_hash = $hash where user_name = $name",
                        {"hash": hasher.hash(password), "name": name},
                    )
    if exc is not None:
        raise exc
    return Session(found[0], moment, moment)


def check_session(
    session: Session, *, now: dt.datetime, limits: SessionLimits = DEFAULT_LIMITS
) -> Session:
    """The session with ``last_seen_at`` moved to ``now``, or AccessDenied if it expired
    (``limits.idle`` without activity, or ``limits.absolute`` since sign-in)."""
    moment = utc_naive(now)
    if moment - session.started_at >= limits.absolute:
        hours = limits.absolute.total_seconds() / 3600
        raise AccessDenied(f"Your session ended {hours:g} hours after sign-in; sign in again.")
    if moment - session.last_seen_at >= limits.idle:
        minutes = limits.idle.total_seconds() / 60
        raise AccessDenied(
            f"Your session expired after {minutes:g} minutes without activity; sign in again."
        )
    return Session(session.user, session.started_at, moment)


def refresh_session(
    store_path: str | os.PathLike, session: Session, *, now: dt.datetime
) -> Session:
    """:func:`check_session` with the store's limits, ending sessions of removed accounts, of
    changed roles or clinics, and of passwords reset since sign-in."""
    checked = check_session(session, now=now, limits=session_limits(store_path))
    current = get_user(store_path, session.user.user_name)
    if current is None:
        raise AccessDenied("Your account was removed; ask an administrator.")
    if current.password_set_at > session.started_at or current.viewer != session.viewer:
        raise AccessDenied("Your account was changed since you signed in; sign in again.")
    return Session(current, checked.started_at, checked.last_seen_at)


# --- demo accounts ---------------------------------------------------------------------------


def create_demo_accounts(
    store_path: str | os.PathLike, *, now: dt.datetime, hasher: PasswordHasher | None = None
) -> list[tuple[str, str, str, str]]:
    """(Re)create the labelled demo accounts of a demo store; return ``(user, role, clinics,
    password)`` rows to print. The manager gets the store's first clinics."""
    if not is_demo_store(store_path):
        raise UserError("Demo accounts can only be added to a demo store (`retention demo`).")
    clinics = sorted(_store_clinics(store_path))
    created = []
    for user_name, role, n_clinics, password in DEMO_ACCOUNTS:
        own = clinics[:n_clinics] if role == "clinic_manager" else []
        with open_users_file(store_path) as con:
            con.execute("delete from users where user_name = $name", {"name": user_name})
            con.execute("delete from sign_in_attempts where user_name = $name", {"name": user_name})
        add_user(
            store_path,
            user_name,
            password,
            role=role,
            clinic_ids=own,
            now=now,
            hasher=hasher,
            is_demo=True,
        )
        created.append((user_name, role, ",".join(own) or "all", password))
    return created


def demo_credentials(store_path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """``(user, role, password)`` of the demo accounts, for the sign-in page of a demo store
    only (empty for any other store)."""
    if not is_demo_store(store_path) or not users_path(store_path).exists():
        return []
    with open_users_file(store_path) as con:
        demo = {
            row[0] for row in con.execute("select user_name from users where is_demo").fetchall()
        }
    return [(name, role, pw) for name, role, _, pw in DEMO_ACCOUNTS if name in demo]
