"""Test helpers for users and roles: a cheap argon2 hasher and accounts on a store copy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher

from analytics import users

# Low-cost argon2id for tests only; production uses argon2-cffi's defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
NOW = dt.datetime(2026, 3, 1, 12, 0)
PASSWORDS = {
    "ann-admin": "correct horse battery",
    "mo-manager": "manager pass phrase",
    "rita-research": "research pass phrase",
}


def add_accounts(store: Path) -> dict[str, users.UserRecord]:
    """An administrator, a manager of C01 and C02, and a researcher."""
    roles = {
        "ann-admin": ("admin", None),
        "mo-manager": ("clinic_manager", ["C01", "C02"]),
        "rita-research": ("researcher", None),
    }
    return {
        name: users.add_user(
            store,
            name,
            PASSWORDS[name],
            role=role,
            clinic_ids=clinics,
            now=NOW,
            hasher=FAST_HASHER,
        )
        for name, (role, clinics) in roles.items()
    }
