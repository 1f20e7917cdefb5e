"""Import: validation messages, quarantine, strictness, idempotence, atomicity."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import store
from analytics.errors import ImportRejected
from analytics.importing import import_files

CUTOFF = dt.date(2026, 6, 30)
PROJECT_DIR = Path(__file__).resolve().parents[2]

CLINICS = """clinic_id,clinic_name,region,offers_mmt,offers_bmt,offers_hat,dose_policy
C01,North,N,true,false,false,adequate
C02,South,S,yes,yes,no,
"""
PATIENTS = """patient_id,birth_year,sex
P1,1980,M
P2,1975,F
"""
VISITS_HEADER = (
    "patient_id,clinic_id,visit_date,visit_time,medication,dose_mg,is_supervised,take_home_days\n"
)


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def base_files(tmp_path: Path) -> list[Path]:
    return [write(tmp_path, "clinics.csv", CLINICS), write(tmp_path, "patients.csv", PATIENTS)]


@pytest.fixture
def store_path(tmp_path: Path, base_files: list[Path]) -> Path:
    path = tmp_path / "store.duckdb"
    import_files(path, base_files, cutoff=CUTOFF)
    return path


def table(path: Path, sql: str) -> pd.DataFrame:
    con = store.connect(path)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def problems_for(store_path: Path, tmp_path: Path, rows: str) -> list[tuple]:
    """Import dosing visits and return (row, column, reason) of every quarantined problem."""
    visits = write(tmp_path, "dosing_visits.csv", VISITS_HEADER + rows)
    result = import_files(store_path, [visits], cutoff=CUTOFF)
    return [
        (p.row_number, p.column_name, p.reason) for p in result.problems.itertuples(index=False)
    ]


def test_valid_files_load_with_codes_and_booleans_normalised(store_path: Path) -> None:
    clinics = table(store_path, "select * from clinics order by clinic_id")
    assert clinics["offers_bmt"].tolist() == [False, True]
    assert clinics["dose_policy"].isna().tolist() == [False, True]
    log = table(store_path, "select * from import_log")
    assert log[["import_id", "rows_loaded", "rows_quarantined"]].values.tolist() == [[1, 4, 0]]
    assert log["data_cutoff_date"].dt.date.tolist() == [CUTOFF]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "P1,C01,2024-13-01,09:00,methadone,60,true,0",
            [(1, "visit_date", "'2024-13-01' is not a date; use YYYY-MM-DD")],
        ),
        (
            "P1,C01,2024-01-01,25:61,methadone,60,true,0",
            [(1, "visit_time", "'25:61' is not a time; use HH:MM")],
        ),
        (
            "P1,C01,2024-01-01,09:00,methadone,sixty,true,0",
            [(1, "dose_mg", "'sixty' is not a number")],
        ),
        (
            "P1,C01,2024-01-01,09:00,methadone,60,maybe,0",
            [(1, "is_supervised", "'maybe' is not true or false")],
        ),
        (
            "P1,C01,2024-01-01,09:00,methadone,60,true,1.5",
            [(1, "take_home_days", "'1.5' is not a whole number")],
        ),
        (
            "P1,C01,2024-01-01,09:00,methadone,2500,true,0",
            [(1, "dose_mg", "value 2500 is outside the range 0 to 1500")],
        ),
        (
            "P1,C01,2024-01-01,09:00,heroin,60,true,0",
            [
                (
                    1,
                    "medication",
                    "unknown code 'heroin'; expected one of: methadone, buprenorphine, "
                    "buprenorphine_depot, diamorphine",
                )
            ],
        ),
        (
            "P9,C01,2024-01-01,09:00,methadone,60,true,0",
            [
                (
                    1,
                    "patient_id",
                    "unknown patient 'P9': not in the patients table (import the patients file "
                    "first, or in the same import)",
                )
            ],
        ),
        (
            "P1,C77,2024-01-01,09:00,methadone,60,true,0",
            [
                (
                    1,
                    "clinic_id",
                    "unknown clinic 'C77': not in the clinics table (import the clinics file "
                    "first, or in the same import)",
                )
            ],
        ),
        (
            "P1,C01,2026-07-01,09:00,methadone,60,true,0",
            [(1, "visit_date", "date 2026-07-01 is after the data cut-off 2026-06-30")],
        ),
        (
            "P1,C01,,09:00,methadone,60,true,0",
            [(1, "visit_date", "required value is missing")],
        ),
    ],
)
def test_row_problem_is_quarantined_with_its_reason(
    store_path: Path, tmp_path: Path, row: str, expected: list[tuple]
) -> None:
    good = "P2,C02,2024-01-01,09:00,methadone,80,true,0\n"
    assert problems_for(store_path, tmp_path, good + row + "\n") == [
        (r + 1, c, m) for r, c, m in expected
    ]
    visits = table(store_path, "select patient_id, dose_mg from dosing_visits")
    assert visits.values.tolist() == [["P2", 80.0]]


def test_duplicate_key_in_file_keeps_first_row(store_path: Path, tmp_path: Path) -> None:
    rows = (
        "P1,C01,2024-01-01,09:00,methadone,60,true,0\nP1,C01,2024-01-01,09:00,methadone,65,true,0\n"
    )
    assert problems_for(store_path, tmp_path, rows) == [
        (
            2,
            "patient_id, clinic_id, visit_date, visit_time, medication",
            "duplicate key (patient_id, clinic_id, visit_date, visit_time, medication): "
            "same as row 1 of this file",
        )
    ]
    assert table(store_path, "select dose_mg from dosing_visits")["dose_mg"].tolist() == [60.0]


def test_two_visits_a_day_are_distinct_rows(store_path: Path, tmp_path: Path) -> None:
    rows = (
        "P1,C01,2024-01-01,08:30,diamorphine,200,true,0\n"
        "P1,C01,2024-01-01,17:30,diamorphine,200,true,0\n"
    )
    assert problems_for(store_path, tmp_path, rows) == []
    assert len(table(store_path, "select * from dosing_visits")) == 2


def test_conflicting_row_already_stored_is_quarantined(store_path: Path, tmp_path: Path) -> None:
    problems_for(store_path, tmp_path, "P1,C01,2024-01-01,09:00,methadone,60,true,0\n")
    second = write(
        tmp_path,
        "dosing_visits_b.csv",
        VISITS_HEADER + "P1,C01,2024-01-01,09:00,methadone,90,true,0\n",
    )
    result = import_files(store_path, [second], cutoff=CUTOFF)
    assert result.problems["reason"].tolist() == [
        "duplicate key (patient_id, clinic_id, visit_date, visit_time, medication): "
        "a different row with this key is already in the store"
    ]
    assert table(store_path, "select dose_mg from dosing_visits")["dose_mg"].tolist() == [60.0]


def test_quarantine_keeps_the_raw_row_without_unknown_columns(tmp_path: Path) -> None:
    clinics = write(tmp_path, "clinics.csv", CLINICS)
    patients = write(
        tmp_path, "patients.csv", "patient_id,birth_year,sex,full_name\nP1,19x0,M,John Smith\n"
    )
    path = tmp_path / "s.duckdb"
    result = import_files(path, [clinics, patients], cutoff=CUTOFF)
    assert result.rows_quarantined == 1
    row = table(path, "select * from quarantine")
    assert row[["file_name", "row_number", "column_name"]].values.tolist() == [
        ["patients.csv", 1, "birth_year"]
    ]
    assert json.loads(row["raw_row"][0]) == {"patient_id": "P1", "birth_year": "19x0", "sex": "M"}
    assert "John" not in path.read_bytes().decode("latin-1")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "patients.csv",
            "patient_id,sex\nP1,M\n",
            "patients.csv: missing required column(s) birth_year for table patients (found: "
            "patient_id, sex). Add them, or see docs/data_dictionary.md for the expected columns.",
        ),
        (
            "patients.csv",
            "patient_id,birth_year,sex\nP1,1980,M,extra\n",
            "patients.csv: line 2 has 4 fields where the header has 3. Fix that line (put a "
            "value containing the separator in double quotes) and import again.",
        ),
        (
            "people.csv",
            "patient_id,birth_year,sex\nP1,1980,M\n",
            "people.csv: cannot tell which table this file holds. Name it after its table (e.g. "
            "dosing_visits.csv or dosing_visits_2024.xlsx); tables: clinics, patients, "
            "admissions, discharges, dosing_visits, urine_screens, mspss_responses, "
            "apgar_responses, checklist_responses, outcome_profiles, family_education.",
        ),
        (
            "patients.json",
            "{}",
            "patients.json: unsupported file type '.json'; use .csv, .xlsx or .parquet.",
        ),
        (
            "patients.csv",
            "patient_id,birth_year,Patient_ID\nP1,1980,P1\n",
            "patients.csv: column(s) patient_id appear more than once in the header; keep one "
            "of each and import again.",
        ),
        (
            "patients.xlsx",
            "this is not a workbook",
            "patients.xlsx: cannot read the workbook (BadZipFile). Check it opens in Excel and is "
            "saved as .xlsx, and import again.",
        ),
        ("patients.csv", "", "patients.csv: the file is empty or its first line is blank."),
    ],
)
def test_file_level_problem_rejects_import_and_keeps_store(
    store_path: Path, tmp_path: Path, name: str, content: str, message: str
) -> None:
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    (tmp_path / "in").mkdir()
    bad = write(tmp_path / "in", name, content)
    visits = write(
        tmp_path, "dosing_visits.csv", VISITS_HEADER + "P1,C01,2024-01-01,,methadone,60,1,0\n"
    )
    with pytest.raises(ImportRejected) as raised:
        import_files(store_path, [visits, bad], cutoff=CUTOFF)
    assert str(raised.value) == message
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before


def test_wrong_encoding_names_file_and_line(store_path: Path, tmp_path: Path) -> None:
    clinics = write(
        tmp_path, "clinics_latin.csv", CLINICS + "C03,Clínica Sur,S,true,false,false,\n", "latin-1"
    )
    with pytest.raises(ImportRejected, match=r"^clinics_latin\.csv: not UTF-8 text \(line 4\)"):
        import_files(store_path, [clinics], cutoff=CUTOFF)


def test_semicolon_separated_file_with_bom_loads(store_path: Path, tmp_path: Path) -> None:
    text = "\ufeffpatient_id;birth_year;sex\nP3;1990;X\n"
    result = import_files(store_path, [write(tmp_path, "patients_eu.csv", text)], cutoff=CUTOFF)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)


def test_strict_import_rejects_everything_and_lists_problems(
    store_path: Path, tmp_path: Path
) -> None:
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    visits = write(
        tmp_path,
        "dosing_visits.csv",
        VISITS_HEADER
        + "P1,C01,2024-01-01,09:00,methadone,60,true,0\nP1,C01,2024-01-02,09:00,methadone,-5,true,0\n",
    )
    with pytest.raises(ImportRejected) as raised:
        import_files(store_path, [visits], cutoff=CUTOFF, strict=True)
    assert str(raised.value).splitlines() == [
        "Strict import rejected: 1 row(s) have problems; nothing was imported. Fix them and "
        "import again (or import without --strict to load the valid rows and quarantine the "
        "rest). First problems:",
        "  dosing_visits.csv row 2, column dose_mg: value -5 is outside the range 0 to 1500",
    ]
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before


def test_importing_the_same_file_twice_adds_nothing(store_path: Path, base_files) -> None:
    before = table(store_path, "select count(*) as n from import_log")["n"][0]
    again = import_files(store_path, base_files, cutoff=CUTOFF)
    assert again.import_id is None
    assert [f.skipped_reason for f in again.files] == [
        "identical file already imported in import #1"
    ] * 2
    assert table(store_path, "select count(*) as n from import_log")["n"][0] == before


def test_same_rows_in_another_file_are_skipped_as_duplicates(
    store_path: Path, tmp_path: Path
) -> None:
    copy = write(tmp_path, "patients_copy.csv", PATIENTS + "P3,1999,F\n")
    result = import_files(store_path, [copy], cutoff=CUTOFF)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_quarantined) == (1, 2, 0)
    assert result.import_id == 2
    assert len(table(store_path, "select * from patients")) == 3


def test_excel_and_parquet_load_like_csv(store_path: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "clinic_id": ["C01", "C02"],
            "visit_date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "visit_time": ["09:00", None],
            "medication": ["methadone", "buprenorphine"],
            "dose_mg": [60, 8.5],
            "is_supervised": [True, False],
            "take_home_days": [0, 6],
        }
    )
    frame.to_excel(tmp_path / "dosing_visits_a.xlsx", index=False)
    frame.assign(visit_date=frame["visit_date"] + pd.Timedelta(days=7)).to_parquet(
        tmp_path / "dosing_visits_b.parquet", index=False
    )
    result = import_files(
        store_path,
        [tmp_path / "dosing_visits_a.xlsx", tmp_path / "dosing_visits_b.parquet"],
        cutoff=CUTOFF,
    )
    assert (result.rows_loaded, result.rows_quarantined) == (4, 0)
    stored = table(store_path, "select * from dosing_visits order by visit_date, patient_id")
    assert stored["take_home_days"].tolist() == [0, 6, 0, 6]
    assert stored["dose_mg"].tolist() == [60.0, 8.5, 60.0, 8.5]
    assert stored["visit_time"].isna().tolist() == [False, True, False, True]


def test_parquet_row_numbers_point_at_the_bad_row(store_path: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"patient_id": ["P5", "P6", "P7"], "birth_year": [1980, 1850, 1990], "sex": list("FMF")}
    )
    frame.to_parquet(tmp_path / "patients_more.parquet", index=False)
    result = import_files(store_path, [tmp_path / "patients_more.parquet"], cutoff=CUTOFF)
    assert result.problems[["row_number", "column_name"]].values.tolist() == [[2, "birth_year"]]


def test_data_version_follows_imports(store_path: Path, tmp_path: Path) -> None:
    reader = store.StoreReader(store_path)
    assert reader.data_version() == 1
    import_files(
        store_path,
        [write(tmp_path, "patients_x.csv", "patient_id,birth_year,sex\nP8,1970,M\n")],
        cutoff=CUTOFF,
    )
    assert reader.data_version() == 2
    with reader.cursor() as cur:
        assert cur.execute("select count(*) from patients").fetchone()[0] == 3
    reader.close()


def test_a_killed_import_leaves_the_store_as_it_was(store_path: Path, tmp_path: Path) -> None:
    """Kill -9 an import in the middle of writing; the store must be byte-for-byte unchanged."""
    days = pd.date_range("2000-01-01", "2026-06-30", freq="D")
    times = [f"{hour:02d}:{minute:02d}" for hour in range(6, 13) for minute in (0, 20, 40)]
    grid = pd.MultiIndex.from_product(
        [["P1", "P2"], days, times], names=["patient_id", "visit_date", "visit_time"]
    ).to_frame(index=False)
    visits = grid.assign(
        clinic_id=grid["patient_id"].map({"P1": "C01", "P2": "C02"}),
        medication="methadone",
        dose_mg=60,
        is_supervised=True,
        take_home_days=0,
    )
    big = tmp_path / "dosing_visits.parquet"
    visits.to_parquet(big, index=False)
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    script = (
        "import datetime as dt, sys\n"
        "from analytics.importing import import_files\n"
        "import_files(sys.argv[1], [sys.argv[2]], cutoff=dt.date(2026, 6, 30))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(store_path), str(big)], cwd=PROJECT_DIR
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob("*.writing")):
        time.sleep(0.005)
    assert list(tmp_path.glob("*.writing")), "the import never started writing"
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before
    con = duckdb.connect(str(store_path), read_only=True)
    assert con.execute("select count(*) from dosing_visits").fetchone()[0] == 0
    con.close()
    # The next import is not blocked by the leftover lock or copy.
    result = import_files(store_path, [big], cutoff=CUTOFF)
    assert (result.rows_loaded, result.rows_quarantined) == (len(visits), 0)


def test_every_import_stores_the_marts_of_the_offered_gap_rules_at_its_cutoff(
    store_path: Path, tmp_path: Path
) -> None:
    rows = "".join(
        f"P1,C01,{day:%Y-%m-%d},09:00,methadone,60,true,0\n"
        for day in pd.date_range("2026-01-01", "2026-01-20")
    )
    later = dt.date(2026, 9, 30)
    import_files(
        store_path, [write(tmp_path, "dosing_visits.csv", VISITS_HEADER + rows)], cutoff=later
    )
    stored = table(
        store_path,
        "select cache_gap_days, cache_as_of, duration_days, is_open from materialized_fct_episodes"
        " order by 1",
    )
    assert stored["cache_gap_days"].tolist() == list(store.MATERIALIZED_GAP_DAYS)
    assert set(stored["cache_as_of"].dt.date) == {later}
    assert stored["duration_days"].tolist() == [20, 20, 20]  # closed: 20 days of visits
    assert not stored["is_open"].any()
    weeks = table(store_path, "select count(*) as n from materialized_fct_screen_weeks")
    assert weeks["n"].tolist() == [3 * 3]  # 20 days = 3 weeks, per gap rule
