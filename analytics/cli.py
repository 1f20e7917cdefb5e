"""The `retention` command: import files, build the demo store, write templates, manage users,
serve.

Every sub-command prints counts and file names, never patient identifiers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
from pathlib import Path

from analytics.errors import RetentionError
from analytics.report_cli import add_report_parser

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_STORE = Path("data/demo.duckdb")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc


def _import(args: argparse.Namespace) -> int:
    from analytics.importing import import_files

    result = import_files(args.store, args.files, cutoff=args.cutoff, strict=args.strict)
    print(result.summary())
    if result.rows_quarantined:
        print(
            f"{result.rows_quarantined} row(s) quarantined with their reasons: see the Data page "
            "or the store's quarantine table."
        )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from analytics.demo_store import build_demo_store

    store_path = Path(args.store)
    if store_path.exists() and not args.force:
        print(f"{store_path} exists; keeping it (use --force to rebuild the demo store).")
        return 0
    result = build_demo_store(
        store_path, n_patients=args.patients, seed=args.seed, replace=args.force
    )
    print(result.summary())
    _print_demo_accounts(store_path)
    return 0


def _print_demo_accounts(store_path: Path) -> None:
    from analytics.users import create_demo_accounts

    accounts = create_demo_accounts(store_path, now=dt.datetime.now(dt.UTC))
    print("Demo accounts (synthetic data only; they stop working if real data is imported):")
    for user_name, role, clinics, password in accounts:
        print(f"  {user_name:<16} {role:<15} clinics: {clinics:<8} password: {password}")


def _read_password(args: argparse.Namespace) -> str:
    """The new password from stdin (--password-stdin) or a prompt typed twice; never echoed."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise RetentionError("The two passwords differ; nothing was changed.")
    return first


def _users(args: argparse.Namespace) -> int:
    from analytics import users

    now = dt.datetime.now(dt.UTC)
    if args.users_command == "list":
        table = users.list_users(args.store)
        print(table.to_string(index=False) if len(table) else "No users: single-user mode.")
    elif args.users_command == "add":
        clinics = [c.strip() for c in args.clinics.split(",") if c.strip()] if args.clinics else []
        users.check_user_name(args.user_name)
        record = users.add_user(
            args.store,
            args.user_name,
            _read_password(args),
            role=args.role,
            clinic_ids=clinics,
            now=now,
        )
        print(f"Added {record.user_name} ({record.role}).")
    elif args.users_command == "reset":
        users.check_user_name(args.user_name)
        users.reset_password(args.store, args.user_name, _read_password(args), now=now)
        print(f"New password set for {args.user_name}; their sessions have ended.")
    else:
        users.remove_user(args.store, args.user_name, now=now)
        print(f"Removed {args.user_name}.")
    return 0


def _demo_files(args: argparse.Namespace) -> int:
    from analytics.demo_store import write_demo_files

    paths = write_demo_files(
        Path(args.directory), n_patients=args.patients, seed=args.seed, file_format=args.format
    )
    for path in paths:
        print(path)
    return 0


def _serve(args: argparse.Namespace) -> int:
    store_path = Path(args.store).resolve()
    if not store_path.exists():
        raise RetentionError(
            f"No store at {store_path}. Build the demo with `retention demo --store {args.store}`."
        )
    # the launcher lives with the UI (analytics/ never imports streamlit)
    serve = importlib.import_module("dashboard.serve")
    return serve.serve(store_path, port=args.port)


def _data_dictionary(args: argparse.Namespace) -> int:
    from analytics.data_dictionary import render_data_dictionary

    text = render_data_dictionary()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(args.out)
    else:
        print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retention", description="Retention analytics for opioid-agonist treatment clinics."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", help="import CSV / Excel / Parquet files into a store")
    imp.add_argument("files", nargs="+", help="files named after their table, e.g. patients.csv")
    imp.add_argument("--store", required=True, help="the DuckDB store (created if absent)")
    imp.add_argument("--strict", action="store_true", help="reject the import if any row is bad")
    imp.add_argument(
        "--cutoff",
        type=_date,
        default=None,
        help="data cut-off date (YYYY-MM-DD): records are complete up to it; default today",
    )
    imp.set_defaults(func=_import)

    demo = sub.add_parser("demo", help="build a store filled with realistic synthetic clinics")
    demo.add_argument("--store", default=str(DEFAULT_STORE))
    demo.add_argument("--patients", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=20261124)
    demo.add_argument("--force", action="store_true", help="replace an existing store")
    demo.set_defaults(func=_demo)

    files = sub.add_parser("demo-files", help="write demo data as ready-to-edit import files")
    files.add_argument("directory")
    files.add_argument("--patients", type=int, default=300)
    files.add_argument("--seed", type=int, default=20261124)
    files.add_argument("--format", choices=["csv", "xlsx", "parquet"], default="csv")
    files.set_defaults(func=_demo_files)

    serve = sub.add_parser("serve", help="start the dashboard on a store")
    serve.add_argument("--store", default=str(DEFAULT_STORE))
    serve.add_argument("--port", type=int, default=8501)
    serve.set_defaults(func=_serve)

    _add_users_parser(sub)
    add_report_parser(sub)

    dictionary = sub.add_parser("data-dictionary", help="print the import file format")
    dictionary.add_argument("--out", default=None)
    dictionary.set_defaults(func=_data_dictionary)
    return parser


def _add_users_parser(sub) -> None:
    users = sub.add_parser(
        "users", help="manage dashboard users (sign-in is required once one exists)"
    )
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="add a user (password prompted, never echoed)")
    add.add_argument("user_name")
    add.add_argument("--role", required=True, choices=["admin", "clinic_manager", "researcher"])
    add.add_argument("--clinics", default=None, help="clinic managers: C01,C02")
    reset = actions.add_parser("reset", help="set a new password (ends the user's sessions)")
    reset.add_argument("user_name")
    for action in (add, reset):
        action.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("user_name")
    listing = actions.add_parser("list", help="list users (no passwords)")
    for action in (add, reset, remove, listing):
        action.add_argument("--store", default=str(DEFAULT_STORE))
    users.set_defaults(func=_users)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RetentionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
