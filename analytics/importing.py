"""Files -> validated rows -> store, atomically.

One import is one transaction on a private copy of the store (``store.writable_copy``): it lands
whole or not at all, even if the process is killed. Every file is read as text, checked column by
column inside DuckDB (vectorised, so 10M-row files are fine), and:

- problems with a file as a whole (unreadable, not UTF-8, ragged CSV, unknown table, missing
  required columns) reject the whole import with ``ImportRejected`` naming the file;
- problems with a row (wrong type, impossible value, unknown patient/clinic/code, duplicate key,
  date after the cut-off) send that row to ``quarantine`` with file, row, column and reason, while
  valid rows load; with ``strict=True`` any such problem rejects the whole import instead;
- a row identical to one already stored is skipped (so importing a file twice adds nothing), and a
  file whose content hash was imported before is skipped whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from analytics import store
from analytics.errors import ImportRejected
from analytics.store import execute
from analytics.tables import LOAD_ORDER, TABLES, Column, Table, table_for_file

SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet")
MAX_PROBLEMS_IN_MESSAGE = 10


@dataclass
class FileResult:
    """What happened to one file (or in-memory frame) of an import."""

    file_name: str
    table_name: str
    content_sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    skipped_reason: str | None = None


@dataclass
class ImportResult:
    """The outcome of an import. ``import_id`` is None when nothing new was found."""

    import_id: int | None
    data_cutoff_date: dt.date
    files: list[FileResult] = field(default_factory=list)
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        return sum(f.rows_duplicate for f in self.files)

    def summary(self) -> str:
        """A few lines for a terminal or a page; counts only, never row contents."""
        head = f"Import #{self.import_id}" if self.import_id is not None else "Nothing new imported"
        lines = [
            f"{head}: {self.rows_loaded} rows loaded, {self.rows_quarantined} quarantined, "
            f"{self.rows_duplicate} already in the store (cut-off {self.data_cutoff_date})."
        ]
        for f in self.files:
            note = f" [{f.skipped_reason}]" if f.skipped_reason else ""
            lines.append(
                f"  {f.file_name} -> {f.table_name}: {f.rows_loaded} loaded, "
                f"{f.rows_quarantined} quarantined, {f.rows_duplicate} duplicate{note}"
            )
        return "\n".join(lines)


class _NothingNew(Exception):
    """Raised inside the write transaction to discard a copy that would change nothing."""


@dataclass
class _Source:
    """One input: a file on disk or a DataFrame, with the table it feeds."""

    name: str
    table: Table
    sha256: str
    path: Path | None = None
    frame: pd.DataFrame | None = None


# ---------------------------------------------------------------------------------------------
# Public entry points


def import_files(
    store_path: str | Path,
    paths: Iterable[str | Path],
    *,
    cutoff: dt.date | None = None,
    strict: bool = False,
    source: str = "import",
    now: dt.datetime | None = None,
) -> ImportResult:
    """Import CSV / Excel (.xlsx) / Parquet files, one table per file, named after the table.

    ``cutoff`` is the data cut-off (the date the records were extracted): rows dated after it are
    quarantined, and analyses censor open episodes at it. Default: the import's own date.
    """
    sources = [_file_source(Path(p)) for p in paths]
    if not sources:
        raise ImportRejected("No files given: name one or more CSV, Excel or Parquet files.")
    return _run_import(store_path, sources, cutoff=cutoff, strict=strict, source=source, now=now)


def import_frames(
    store_path: str | Path,
    frames: Mapping[str, pd.DataFrame],
    *,
    cutoff: dt.date | None = None,
    strict: bool = False,
    source: str = "demo",
    now: dt.datetime | None = None,
) -> ImportResult:
    """Import DataFrames keyed by table name through the same validation as files."""
    sources = []
    for table_name, frame in frames.items():
        if table_name not in TABLES:
            raise ImportRejected(f"Unknown table {table_name!r}; tables: {', '.join(TABLES)}.")
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
        sources.append(
            _Source(f"<{table_name}>", TABLES[table_name], digest.hexdigest(), frame=frame)
        )
    return _run_import(store_path, sources, cutoff=cutoff, strict=strict, source=source, now=now)


# ---------------------------------------------------------------------------------------------
# The transaction


def _run_import(store_path, sources, *, cutoff, strict, source, now) -> ImportResult:
    now = now or dt.datetime.now()
    cutoff = cutoff or now.date()
    sources = sorted(sources, key=lambda s: LOAD_ORDER.index(s.table.name))
    result = ImportResult(import_id=None, data_cutoff_date=cutoff)
    try:
        with store.writable_copy(store_path) as con:
            import_id = _next_import_id(con)
            for src in sources:
                result.files.append(_import_source(con, src, import_id, cutoff))
            if not any(f.rows_loaded or f.rows_quarantined for f in result.files):
                raise _NothingNew
            result.problems = _problems_of(con, import_id)
            if strict and result.rows_quarantined:
                raise ImportRejected(_strict_message(result))
            _log_import(con, import_id, result, source=source, strict=strict, started_at=now)
            result.import_id = import_id
    except _NothingNew:
        result.import_id = None
    return result


def _next_import_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(
        con.execute("select coalesce(max(import_id), 0) + 1 from import_log").fetchall()[0][0]
    )


def _import_source(con, src: _Source, import_id: int, cutoff: dt.date) -> FileResult:
    result = FileResult(src.name, src.table.name, src.sha256)
    earlier = con.execute(
        "select min(import_id) from import_files where content_sha256 = $h and table_name = $t",
        {"h": src.sha256, "t": src.table.name},
    ).fetchall()[0][0]
    if earlier is not None:
        result.skipped_reason = f"identical file already imported in import #{earlier}"
        return result
    _read_raw(con, src)
    result.rows_read = con.execute("select count(*) from raw_rows").fetchall()[0][0]
    _find_row_problems(con, src.table, cutoff)
    _type_valid_rows(con, src.table)
    _find_duplicates(con, src.table)
    result.rows_duplicate = con.execute("select count(*) from same_as_stored").fetchall()[0][0]
    result.rows_quarantined = con.execute(
        "select count(distinct row_number) from row_problems"
    ).fetchall()[0][0]
    result.rows_loaded = _insert_valid_rows(con, src.table)
    _quarantine_rows(con, src, import_id)
    return result


# ---------------------------------------------------------------------------------------------
# Reading: every source becomes the temp table raw_rows(row_number, <columns as text>)


def _file_source(path: Path) -> _Source:
    if not path.exists():
        raise ImportRejected(f"{path}: no such file.")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ImportRejected(
            f"{path.name}: unsupported file type {path.suffix!r}; use .csv, .xlsx or .parquet."
        )
    table = table_for_file(path.stem)
    if table is None:
        raise ImportRejected(
            f"{path.name}: cannot tell which table this file holds. Name it after its table "
            f"(e.g. dosing_visits.csv or dosing_visits_2024.xlsx); tables: {', '.join(TABLES)}."
        )
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return _Source(path.name, table, digest.hexdigest(), path=path)


def _read_raw(con, src: _Source) -> None:
    if src.frame is not None:
        columns = _normalised_names(list(src.frame.columns), src.name)
        frame = src.frame.set_axis(columns, axis=1)
        _check_columns(src, columns)
        con.register("raw_frame", frame)
        _create_raw(con, "raw_frame", columns, src.table, row_expr="row_number() over ()")
        con.unregister("raw_frame")
        return
    suffix = src.path.suffix.lower()
    if suffix in (".csv", ".txt"):
        _read_csv(con, src)
    elif suffix == ".xlsx":
        _read_excel(con, src)
    else:
        _read_parquet(con, src)


def _normalised_names(names: list, file_name: str) -> list[str]:
    normal = [str(n).strip().lower().replace(" ", "_") for n in names]
    repeated = sorted({n for n in normal if normal.count(n) > 1})
    if repeated:
        raise ImportRejected(
            f"{file_name}: column(s) {', '.join(repeated)} appear more than once in the header; "
            "keep one of each and import again."
        )
    return normal


def _check_columns(src: _Source, columns: list[str]) -> None:
    missing = [c for c in src.table.required_columns if c not in columns]
    if missing:
        raise ImportRejected(
            f"{src.name}: missing required column(s) {', '.join(missing)} for table "
            f"{src.table.name} (found: {', '.join(columns) or 'none'}). Add them, or see "
            "docs/data_dictionary.md for the expected columns."
        )


def _csv_header(path: Path) -> tuple[list[str], str]:
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected(_encoding_message(path.name, 1)) from exc
    if not line.strip():
        raise ImportRejected(f"{path.name}: the file is empty or its first line is blank.")
    delimiter = max([",", ";", "\t", "|"], key=line.count)
    header = next(csv.reader(io.StringIO(line), delimiter=delimiter))
    return header, delimiter


def _encoding_message(file_name: str, line: int | str) -> str:
    return (
        f"{file_name}: not UTF-8 text (line {line}). Save it as 'CSV UTF-8' (Excel: Save As > "
        "CSV UTF-8) and import again."
    )


def _read_csv(con, src: _Source) -> None:
    header, delimiter = _csv_header(src.path)
    columns = _normalised_names(header, src.name)
    _check_columns(src, columns)
    # Our own header parse and explicit dialect: DuckDB's sniffer gives up on small ragged files.
    spec = dict.fromkeys(columns, "VARCHAR")
    try:
        _create_raw(
            con,
            "read_csv($path, auto_detect=false, header=true, delim=$delim, quote='\"',"
            " escape='\"', columns=$columns, encoding='utf-8')",
            columns,
            src.table,
            row_expr="row_number() over ()",
            params={"path": str(src.path), "delim": delimiter, "columns": spec},
        )
    except duckdb.Error as exc:
        raise ImportRejected(_csv_error_message(src.name, str(exc))) from exc


def _csv_error_message(file_name: str, error: str) -> str:
    line = _after(error, "CSV Error on Line: ")
    if "unicode" in error.lower() or "utf-8" in error.lower():
        return _encoding_message(file_name, line or "?")
    expected = _after(error, "Expected Number of Columns: ")
    found = _after(error, "Found: ")
    if expected and found:
        return (
            f"{file_name}: line {line} has {found} fields where the header has {expected}. Fix "
            "that line (put a value containing the separator in double quotes) and import again."
        )
    first = error.strip().splitlines()[0] if error.strip() else "unknown error"
    return f"{file_name}: cannot read the file ({first}). Check it opens as CSV and import again."


def _after(text: str, marker: str) -> str | None:
    if marker not in text:
        return None
    rest = text.split(marker, 1)[1]
    return rest.split()[0] if rest.split() else None


def _read_excel(con, src: _Source) -> None:
    try:
        frame = pd.read_excel(src.path, sheet_name=0, dtype=str, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise ImportRejected(
            f"{src.name}: cannot read the workbook ({type(exc).__name__}). Check it opens in "
            "Excel and is saved as .xlsx, and import again."
        ) from exc
    columns = _normalised_names(list(frame.columns), src.name)
    _check_columns(src, columns)
    frame = frame.set_axis(columns, axis=1).reset_index(drop=True)
    frame.insert(0, "excel_row_number", range(1, len(frame) + 1))
    con.register("raw_frame", frame)
    _create_raw(con, "raw_frame", columns, src.table, row_expr="excel_row_number")
    con.unregister("raw_frame")


def _read_parquet(con, src: _Source) -> None:
    try:
        names = [
            row[0]
            for row in con.execute(
                "describe select * from read_parquet($path)", {"path": str(src.path)}
            ).fetchall()
        ]
    except duckdb.Error as exc:
        raise ImportRejected(
            f"{src.name}: cannot read the Parquet file ({str(exc).splitlines()[0]}). "
            "Export it again and import it."
        ) from exc
    columns = _normalised_names(names, src.name)
    _check_columns(src, columns)
    renames = ", ".join(
        f"{_q(original)} as {_q(normal)}" for original, normal in zip(names, columns, strict=True)
    )
    _create_raw(
        con,
        "(select file_row_number + 1 as parquet_row_number, "
        + renames
        + " from read_parquet($path, file_row_number=true))",
        columns,
        src.table,
        row_expr="parquet_row_number",
        params={"path": str(src.path)},
    )


def _create_raw(
    con, relation: str, present: list[str], table: Table, *, row_expr: str, params=None
) -> None:
    """raw_rows: row_number plus every column of the table as trimmed text (absent ones null).
    Columns the table does not know (a name, an address) are dropped here and never stored."""
    parts = []
    for column in table.columns:
        if column.name in present:
            parts.append(
                f"nullif(trim(cast({_q(column.name)} as varchar)), '') as {_q(column.name)}"
            )
        else:
            parts.append(f"cast(null as varchar) as {_q(column.name)}")
    execute(
        con,
        "create or replace temp table raw_rows as select "
        + row_expr
        + " as row_number, "
        + ", ".join(parts)
        + " from "
        + relation,
        params or {},
    )


def _q(identifier: str) -> str:
    """Quote an identifier. Only names from analytics.tables (or a file header, already
    normalised, used only as a source column name) reach here."""
    return '"' + str(identifier).replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------
# Validation: row_problems(row_number, column_name, reason)

_TYPE_MESSAGES = {
    "date": "is not a date; use YYYY-MM-DD",
    "time": "is not a time; use HH:MM",
    "integer": "is not a whole number",
    "number": "is not a number",
    "boolean": "is not true or false",
}
_TRUE_WORDS = ["true", "t", "yes", "y", "1"]
_FALSE_WORDS = ["false", "f", "no", "n", "0"]


def _typed_expr(column: Column, source: str = "raw_rows") -> str:
    """SQL turning the text column into its type; null where it does not parse."""
    ref = f"{source}.{_q(column.name)}"
    if column.default is not None:
        ref = f"coalesce({ref}, '{column.default}')"
    kind = column.kind
    if kind == "date":
        return f"try_cast({ref} as date)"
    if kind == "time":
        return f"try_cast({ref} as time)"
    if kind == "number":
        return f"try_cast({ref} as double)"
    if kind == "integer":
        as_double = f"try_cast({ref} as double)"
        return f"case when {as_double} = round({as_double}) then cast({as_double} as bigint) end"
    if kind == "boolean":
        return (
            f"case when lower({ref}) in ('true', 't', 'yes', 'y', '1') then true"
            f" when lower({ref}) in ('false', 'f', 'no', 'n', '0') then false end"
        )
    if kind == "code":
        return f"{_q(column.name + '__code')}"
    return ref


def _codes_for(con, column: Column) -> list[str]:
    if column.codes == ("codebook",):
        return [
            r[0] for r in con.execute("select factor_code from risk_factor_codebook").fetchall()
        ]
    return list(column.codes or ())


def _find_row_problems(con, table: Table, cutoff: dt.date) -> None:
    execute(
        con,
        "create or replace temp table row_problems"
        " (row_number bigint, column_name varchar, reason varchar)",
    )
    _add_code_columns(con, table)
    for column in table.columns:
        _check_column(con, table, column, cutoff)


def _add_code_columns(con, table: Table) -> None:
    """Canonical spelling of code values (matched case-insensitively) in extra columns."""
    for column in table.columns:
        if column.kind != "code":
            continue
        execute(con, "alter table raw_rows add column " + _q(column.name + "__code") + " varchar")
        execute(
            con,
            "update raw_rows set "
            + _q(column.name + "__code")
            + " = c.code from (select unnest($codes) as code) c where lower(c.code) = lower("
            + _q(column.name)
            + ")",
            {"codes": _codes_for(con, column)},
        )


def _insert_problems(con, where: str, column: Column, reason_sql: str, params=None) -> None:
    execute(
        con,
        "insert into row_problems select row_number, $column_name, "
        + reason_sql
        + " from raw_rows where "
        + where,
        {"column_name": column.name, **(params or {})},
    )


def _check_column(con, table: Table, column: Column, cutoff: dt.date) -> None:
    raw = _q(column.name)
    typed = _typed_expr(column)
    if column.required and column.default is None:
        _insert_problems(con, f"{raw} is null", column, "'required value is missing'")
    if column.kind == "code":
        codes = _codes_for(con, column)
        shown = ", ".join(codes) if len(codes) <= 10 else ", ".join(codes[:10]) + ", ..."
        _insert_problems(
            con,
            f"{raw} is not null and {typed} is null",
            column,
            "format('unknown code ''{}''; expected one of: {}', " + raw + ", $shown)",
            {"shown": shown},
        )
    elif column.kind in _TYPE_MESSAGES:
        _insert_problems(
            con,
            f"{raw} is not null and {typed} is null",
            column,
            "format('''{}'' " + _TYPE_MESSAGES[column.kind] + "', " + raw + ")",
        )
    if column.min_value is not None:
        _insert_problems(
            con,
            f"{typed} < $low or {typed} > $high",
            column,
            "format('value {} is outside the range {} to {}', " + raw + ", $low_text, $high_text)",
            {
                "low": column.min_value,
                "high": column.max_value,
                "low_text": _number_text(column.min_value),
                "high_text": _number_text(column.max_value),
            },
        )
    if column.not_after_cutoff:
        _insert_problems(
            con,
            f"{typed} > $cutoff",
            column,
            "format('date {} is after the data cut-off {}', " + typed + ", $cutoff)",
            {"cutoff": cutoff},
        )
    if column.references:
        _check_reference(con, table, column)


def _number_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _check_reference(con, table: Table, column: Column) -> None:
    referenced = column.references
    key = "patient_id" if referenced == "patients" else "clinic_id"
    noun = "patient" if referenced == "patients" else "clinic"
    _insert_problems(
        con,
        f"{_q(column.name)} is not null and {_q(column.name)} not in"
        f" (select {key} from {referenced})",
        column,
        "format('unknown "
        + noun
        + " ''{}'': not in the "
        + referenced
        + " table (import the "
        + referenced
        + " file first, or in the same import)', "
        + _q(column.name)
        + ")",
    )


def _type_valid_rows(con, table: Table) -> None:
    """valid_rows: the typed values of rows with no problem so far."""
    typed = ", ".join(f"{_typed_expr(c)} as {_q(c.name)}" for c in table.columns)
    execute(
        con,
        "create or replace temp table valid_rows as select raw_rows.row_number, "
        + typed
        + " from raw_rows anti join row_problems using (row_number)",
    )


def _find_duplicates(con, table: Table) -> None:
    """Within the file the first row of a key wins; a row equal to a stored row is skipped; a row
    whose key is stored with other values is a problem."""
    key_cols = ", ".join(_q(k) for k in table.key)
    key_names = ", ".join(table.key)
    execute(
        con,
        "insert into row_problems select row_number, $key_names,"
        " format('duplicate key ({}): same as row {} of this file', $key_names, first_row)"
        " from (select row_number, min(row_number) over (partition by "
        + key_cols
        + ") as first_row from valid_rows) where row_number <> first_row",
        {"key_names": key_names},
    )
    key_match = " and ".join(f"v.{_q(k)} is not distinct from s.{_q(k)}" for k in table.key)
    same_values = " and ".join(
        f"v.{_q(c)} is not distinct from s.{_q(c)}" for c in table.column_names
    )
    execute(
        con,
        "create or replace temp table same_as_stored as select v.row_number from valid_rows v"
        " semi join " + _q(table.name) + " s on " + same_values,
    )
    execute(
        con,
        "insert into row_problems select v.row_number, $key_names,"
        " format('duplicate key ({}): a different row with this key is already in the store',"
        " $key_names) from valid_rows v semi join "
        + _q(table.name)
        + " s on "
        + key_match
        + " where v.row_number not in (select row_number from same_as_stored)",
        {"key_names": key_names},
    )


def _insert_valid_rows(con, table: Table) -> int:
    cols = ", ".join(_q(c) for c in table.column_names)
    before = con.execute("select count(*) from " + _q(table.name)).fetchall()[0][0]
    execute(
        con,
        "insert into "
        + _q(table.name)
        + " ("
        + cols
        + ") select "
        + cols
        + " from valid_rows where row_number not in (select row_number from row_problems)"
        " and row_number not in (select row_number from same_as_stored) order by row_number",
    )
    return con.execute("select count(*) from " + _q(table.name)).fetchall()[0][0] - before


def _quarantine_rows(con, src: _Source, import_id: int) -> None:
    packed = ", ".join(f"{_q(c)} := raw_rows.{_q(c)}" for c in src.table.column_names)
    execute(
        con,
        "insert into quarantine select $import_id, $file_name, $table_name, p.row_number,"
        " p.column_name, p.reason, to_json(struct_pack(" + packed + "))"
        " from row_problems p join raw_rows using (row_number)"
        " order by p.row_number, p.column_name",
        {"import_id": import_id, "file_name": src.name, "table_name": src.table.name},
    )


# ---------------------------------------------------------------------------------------------
# Logging and messages


def _log_import(con, import_id, result: ImportResult, *, source, strict, started_at) -> None:
    for f in result.files:
        if f.skipped_reason:
            continue
        execute(
            con,
            "insert into import_files values ($id, $file, $table, $sha, $read, $loaded, $quar,"
            " $dup)",
            {
                "id": import_id,
                "file": f.file_name,
                "table": f.table_name,
                "sha": f.content_sha256,
                "read": f.rows_read,
                "loaded": f.rows_loaded,
                "quar": f.rows_quarantined,
                "dup": f.rows_duplicate,
            },
        )
    execute(
        con,
        "insert into import_log values ($id, $started, now()::timestamp, $source, $strict,"
        " $cutoff, $n_files, $loaded, $quarantined, $duplicate)",
        {
            "id": import_id,
            "started": started_at,
            "source": source,
            "strict": strict,
            "cutoff": result.data_cutoff_date,
            "n_files": sum(1 for f in result.files if not f.skipped_reason),
            "loaded": result.rows_loaded,
            "quarantined": result.rows_quarantined,
            "duplicate": result.rows_duplicate,
        },
    )


def _problems_of(con, import_id: int) -> pd.DataFrame:
    return con.execute(
        "select file_name, row_number, column_name, reason from quarantine"
        " where import_id = $id order by file_name, row_number, column_name",
        {"id": import_id},
    ).df()


def _strict_message(result: ImportResult) -> str:
    problems = result.problems.head(MAX_PROBLEMS_IN_MESSAGE)
    lines = [
        f"Strict import rejected: {result.rows_quarantined} row(s) have problems; nothing was "
        "imported. Fix them and import again (or import without --strict to load the valid "
        "rows and quarantine the rest). First problems:"
    ]
    lines += [
        f"  {p.file_name} row {p.row_number}, column {p.column_name}: {p.reason}"
        for p in problems.itertuples()
    ]
    return "\n".join(lines)
