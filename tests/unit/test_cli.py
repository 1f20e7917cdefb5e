"""The `retention` command as a user runs it: exit codes and messages."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb

from analytics.cli import main

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_import_prints_counts_and_exit_zero(tmp_path: Path, capsys) -> None:
    (tmp_path / "clinics.csv").write_text(
        "clinic_id,clinic_name,offers_mmt,offers_bmt,offers_hat\nC01,North,true,false,false\n"
    )
    store = tmp_path / "s.duckdb"
    code = main(
        ["import", str(tmp_path / "clinics.csv"), "--store", str(store), "--cutoff", "2026-01-31"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == (
        "Import #1: 1 rows loaded, 0 quarantined, 0 already in the store (cut-off 2026-01-31)."
    )
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("select data_cutoff_date from import_log").fetchall() == [
        (dt.date(2026, 1, 31),)
    ]
    con.close()


def test_import_error_is_a_sentence_and_exit_two(tmp_path: Path, capsys) -> None:
    (tmp_path / "people.csv").write_text("a\n1\n")
    code = main(["import", str(tmp_path / "people.csv"), "--store", str(tmp_path / "s.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: people.csv: cannot tell which table this file holds.")
    assert "Traceback" not in err


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "retention"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("import", "demo", "demo-files", "serve", "data-dictionary"):
        assert command in result.stdout
