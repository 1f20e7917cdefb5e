"""Open the DuckDB store, build its SQL layers, run named queries, and write atomically.

The store is one DuckDB file. Readers (the dashboard) open it read-only. Writers (imports, the
demo generator) never write the live file: they copy it, write the copy in one transaction,
checkpoint, and swap it into place with ``os.replace``. A writer killed half-way therefore leaves
the store exactly as it was, and a dashboard holding the old file keeps a consistent snapshot
until it notices the new data version and reopens.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import hashlib
import inspect
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.cohort_spec import GAP_DAYS_CHOICES
from analytics.errors import StoreError

_log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_DIR / "sql"
BUILD_ORDER_FILE = SQL_DIR / "build_order.txt"
CODEBOOK_DIR = Path(__file__).resolve().parent / "codebook"
BUILT_LAYERS = ("schema", "macros", "staging", "intermediate", "marts")
SCHEMA_VERSION = "1"

_QUERY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NULLABLE_DTYPES = {
    pa.bool_(): pd.BooleanDtype(),
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}
# pandas' Arrow-backed "str" dtype (pandas 3's default): missing text is NaN and comparisons
# give numpy booleans, as with object columns of Python strings
_ARROW_TEXT = {
    kind: pd.StringDtype("pyarrow", na_value=np.nan) for kind in (pa.string(), pa.large_string())
}


def execute(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None
) -> None:
    """Run a statement for its effect and drain its result, so the connection is free again
    (DuckDB refuses new work, e.g. registering a frame, while a result is pending)."""
    con.execute(sql, params or {}).fetchall()


def build_order() -> list[Path]:
    """The .sql files that build the store, in order (from ``sql/build_order.txt``)."""
    lines = BUILD_ORDER_FILE.read_text(encoding="utf-8").splitlines()
    entries = [line.strip() for line in lines]
    return [SQL_DIR / entry for entry in entries if entry and not entry.startswith("#")]


def build(con: duckdb.DuckDBPyConnection) -> None:
    """Create base tables if absent and (re)create every view and macro; load the codebook."""
    for path in build_order():
        execute(con, path.read_text(encoding="utf-8"))
    _load_codebook(con)
    execute(
        con,
        "insert or replace into store_settings values ('schema_version', $v)",
        {"v": SCHEMA_VERSION},
    )
    execute(
        con,
        "insert or replace into store_settings values ('layers_hash', $h)",
        {"h": layers_hash()},
    )


def layers_hash() -> str:
    """A fingerprint of the SQL that builds the store, to notice a store built by older code."""
    digest = hashlib.sha256()
    for path in build_order():
        digest.update(path.read_bytes())
    # and what a writer materialises: a change there must rebuild the stored marts too
    digest.update(repr((MATERIALIZED_GAP_DAYS, CACHED_MARTS, MART_ROW_ORDER)).encode())
    digest.update(inspect.getsource(materialize_marts).encode())
    digest.update(inspect.getsource(_shadow_macro_sql).encode())
    return digest.hexdigest()[:16]


def stored_layers_hash(con: duckdb.DuckDBPyConnection) -> str | None:
    return stored_setting(con, "layers_hash")


def ensure_current_layers(path: str | os.PathLike) -> bool:
    """Rebuild the views, macros and marts of a store written by an older version, or only its
    stored model results when just the code computing them changed (atomically either way).

    Returns True if the store was rebuilt. Base tables and data are untouched.
    """
    with connect(path, read_only=True) as con:
        layers_current = stored_layers_hash(con) == layers_hash()
        results_current = stored_setting(con, "results_hash") == results_hash()
    if layers_current and results_current:
        return False
    if not layers_current:
        with writable_copy(path):
            pass
        return True
    try:
        with writable_copy(path, rematerialize=False):
            pass
    except OSError as exc:
        # the store itself is current: without its stored results (a disk too full for the
        # copy) the pages compute those live, slower but the same
        _log.warning("stored results not refreshed: %s", exc.strerror or type(exc).__name__)
        return False
    return True


def stored_setting(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    rows = con.execute(
        "select setting_value from store_settings where setting_key = $k", {"k": key}
    ).fetchall()
    return rows[0][0] if rows else None


# Model results a writer stores beside the marts: the clinic comparison of every setting a clinic
# manager can choose (``analytics.clinic_comparison.store_comparisons``). Like the marts when the
# SQL changes, they are computed again when the code computing them changes: these modules (and
# the SQL) are fingerprinted.
RESULT_SOURCES = (
    "access.py",
    "clinic_comparison.py",
    "cohort_spec.py",
    "episodes.py",
    "risk_models.py",
    "store.py",
    "survival",
)


@functools.cache
def results_hash() -> str:
    """A fingerprint of the code that computes the stored model results."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(layers_hash().encode())
    for name in RESULT_SOURCES:
        source = package / name
        for path in sorted(source.rglob("*.py")) if source.is_dir() else [source]:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def store_results(con: duckdb.DuckDBPyConnection) -> None:
    """Compute and store the model results of a store just written (a writer's last step, after
    the marts, which it reads)."""
    from analytics import clinic_comparison  # the analytics build on this module

    clinic_comparison.store_comparisons(con)
    execute(
        con,
        "insert or replace into store_settings values ('results_hash', $h)",
        {"h": results_hash()},
    )


def _load_codebook(con: duckdb.DuckDBPyConnection) -> None:
    risk_factors = pd.read_csv(CODEBOOK_DIR / "risk_factors.csv", dtype=str)
    instruments = pd.read_csv(CODEBOOK_DIR / "instruments.csv", dtype={"item": str})
    con.register("codebook_csv", risk_factors)
    con.register("instruments_csv", instruments)
    execute(con, "delete from risk_factor_codebook")
    execute(
        con,
        "insert into risk_factor_codebook select code, direction, main_theme, organizing_theme,"
        " first_order_category, ecological_level from codebook_csv",
    )
    execute(con, "delete from instrument_items")
    execute(
        con,
        'insert into instrument_items select instrument, item, subscale, "min", "max",'
        " scoring_note from instruments_csv",
    )
    con.unregister("codebook_csv")
    con.unregister("instruments_csv")


def connect(path: str | os.PathLike, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open an existing store. Read-only by default: a read-write handle locks out every other
    process, so only the atomic writer (``writable_copy``) opens one, and on a private copy."""
    path = Path(path)
    if not path.exists():
        raise StoreError(
            f"No store at {path}. Create one with `retention demo --store {path}` or "
            f"`retention import FILE... --store {path}`."
        )
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise StoreError(f"Cannot open the store {path}: {exc}") from exc


@contextlib.contextmanager
def writable_copy(
    path: str | os.PathLike, *, rematerialize: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-write connection to a private copy of the store; swap it in on success.

    One writer at a time (an advisory lock file beside the store). On any exception, or if the
    process dies, the copy is discarded and the store is untouched. The schema is built (or
    brought up to date) on the copy before the caller writes; after it, the marts are
    materialised (``rematerialize=False``: only when they are current and the caller writes no
    data) and the model results stored.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".writing", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        tmp.unlink()
        try:
            if path.exists():
                shutil.copyfile(path, tmp)
            con = duckdb.connect(str(tmp))
            try:
                execute(con, "set enable_progress_bar = false")  # no bars in import logs
                build(con)
                yield con
                if rematerialize:
                    materialize_marts(con)
                store_results(con)
                execute(con, "checkpoint")
            finally:
                con.close()
            _fsync(tmp)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_store(path: str | os.PathLike) -> Path:
    """Create an empty store with every table, view and the codebook (no-op if it exists)."""
    with writable_copy(path):
        pass
    return Path(path)


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's data version: the latest import id (0 for an empty store). Caches key on it."""
    return int(con.execute("select coalesce(max(import_id), 0) from import_log").fetchall()[0][0])


def data_cutoff(con: duckdb.DuckDBPyConnection):
    """The data cut-off date recorded by the latest import, or None for an empty store."""
    rows = con.execute(
        "select data_cutoff_date from import_log order by import_id desc limit 1"
    ).fetchall()
    return rows[0][0] if rows else None


def query_sql(name: str) -> str:
    """The text of the named query ``sql/queries/q_<name>.sql``."""
    if not _QUERY_NAME.match(name):
        raise StoreError(f"Invalid query name {name!r}: use lower-case letters, digits and _.")
    path = SQL_DIR / "queries" / f"q_{name}.sql"
    if not path.exists():
        raise StoreError(f"No named query {name!r} (expected {path}).")
    return path.read_text(encoding="utf-8")


def run_query(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    columns: Sequence[str] | None = None,
    text_as_arrow: bool = False,
) -> pd.DataFrame:
    """Run a named query with values bound as ``$name`` parameters; return a DataFrame.

    Only the parameters the query mentions are bound, so callers may pass a common set
    (e.g. the viewer's scope) to every query. ``columns``: only these of its columns (our
    own names, checked; the query's ORDER BY still applies beneath the projection); a page
    that reads eight of sixty columns of a million rows converts only those.
    ``text_as_arrow``: text columns stay in Arrow (pandas' ``str`` dtype, missing as NaN)
    instead of becoming millions of Python strings, for a large read (converting the ids was
    most of its time).
    """
    sql = query_sql(name)
    named = set(_PARAMETER.findall(sql))
    bound = {key: value for key, value in (params or {}).items() if key in named}
    if "gap_days" in bound and "as_of" in bound:
        fill_mart_cache(con, bound["gap_days"], bound["as_of"], sql)
    relation = con.sql(sql, params=bound)
    if columns is not None:
        wanted = ", ".join(quote_identifier(c, frozenset(relation.columns)) for c in columns)
        relation = con.sql(f"select {wanted} from ({sql}) as named_query", params=bound)
    return frame_of(relation, text_as_arrow=text_as_arrow)


def frame_of(relation: duckdb.DuckDBPyRelation, *, text_as_arrow: bool = False) -> pd.DataFrame:
    """The relation's rows as DuckDB's ``.df()`` gives them (same dtypes: dates as
    datetime64[us], integers and booleans with nulls as pandas' nullable types, decimals as
    float64), converted through Arrow: several times faster on a million patient rows, where
    ``.df()`` was most of a page's time. Dates and decimals are cast in Arrow and the frame's
    blocks built at once; only integers and booleans with nulls are converted again."""
    table = relation.to_arrow_table()
    names = table.column_names
    if len(set(names)) != len(names):  # duplicate names: DuckDB's own conversion
        return relation.df()
    cast, redo = {}, {}
    for position, (field, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        kind = field.type
        if pa.types.is_date(kind):
            cast[position] = column.cast(pa.timestamp("us"))
        elif pa.types.is_decimal(kind):
            cast[position] = column.cast(pa.float64())
        elif (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and column.null_count:
            redo[field.name] = column.to_pandas(types_mapper=_NULLABLE_DTYPES.get)
        elif not _converts_alike(kind):  # a type not checked against .df(): DuckDB converts
            return relation.df()
    for position, column in cast.items():
        table = table.set_column(position, names[position], column)
    if len(redo) == len(names):
        frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    else:
        frame = table.drop_columns(list(redo)).to_pandas(
            types_mapper=_ARROW_TEXT.get if text_as_arrow else None
        )
    for position, name in enumerate(names):  # in order, so each lands at its own place
        if name in redo:
            frame.insert(position, name, redo[name].array)
    return frame


def _converts_alike(kind: pa.DataType) -> bool:
    """Arrow types whose plain pandas conversion is what ``.df()`` gives (integers and
    booleans only without nulls: the caller handles those with nulls first)."""
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_timestamp(kind) and kind.unit == "us" and kind.tz is None)
    )


# Episodes and the marts built on them are derived once per (gap rule, cut-off) and shared by
# every query. Two layers, both read through shadow macros of the same name and signature as the
# store's (the marts and queries call them by their plain names, so a shadow on the search path
# wins):
# * materialised in the store by every writer, for the gap rules the dashboard offers at the
#   data cut-off (``materialize_marts``): the default views cost a table scan at any size;
# * cached in a reader's in-memory main database for any other (gap rule, cut-off), filled on
#   first use (``fill_mart_cache``): fct_episodes and fct_episode_covariates before any query
#   with a gap rule and cut-off, the others when a query names them or a mart built on them.
# A test runs every named query against both layers and against the plain macros.
ALWAYS_CACHED_MARTS = ("fct_episodes", "fct_episode_covariates")
ON_DEMAND_MARTS: dict[str, tuple[str, ...]] = {
    "fct_episode_periods": ("fct_episode_periods",),
    "fct_missed_dose_days": ("fct_missed_dose_days", "fct_patient_months"),
    "fct_screen_weeks": ("fct_screen_weeks", "fct_relapse_events"),
    "fct_relapse_events": ("fct_relapse_events",),
}
CACHED_MARTS = (*ALWAYS_CACHED_MARTS, *ON_DEMAND_MARTS)  # in dependency order
MATERIALIZED_GAP_DAYS = GAP_DAYS_CHOICES
_KEY_COLUMNS = "cache_gap_days, cache_as_of"
_CACHE_FILL_LOCK = threading.Lock()


# The order rows are stored in. Episodes in the order their queries return them, so the ORDER BY
# finds them sorted: q_cohort_episodes' sort of a million wide rows went from 0.9 to 0.3 s.
# (Without the ORDER BY, a filter over the union of both layers returned row groups out of
# order.) Days and weeks by date and periods by the sample key, so that a filter on a recent
# window or a patient sample skips the row groups outside it: the at-risk list's signs read the
# last weeks of a million patients' days instead of all of them. (Weeks and days store the sample
# key as well: in date order a patient's rows no longer sit together, and hashing fifty million
# ids for a sample took 0.8 s more than comparing a stored integer.)
MART_ROW_ORDER = {
    "fct_episode_covariates": "clinic_id, start_date, patient_id, episode_no",
    "fct_episode_periods": "patient_sample_key, patient_id, episode_no, start_day",
    "fct_missed_dose_days": "missed_date",
    "fct_screen_weeks": "week_start_date",
    "fct_relapse_events": "week_start_date",
}


def _ordered(mart: str) -> str:
    order = MART_ROW_ORDER.get(mart)
    return f" order by {order}" if order else ""


def _cache_order(mart: str) -> str:
    """A reader's cache sorts only the episodes: sorting fifty million weeks or days would cost
    a first look at another cut-off more than the windows it speeds up save."""
    return _ordered(mart) if mart in ALWAYS_CACHED_MARTS else ""


def _empty_mart_sql(mart: str) -> str:
    return (
        f"select 0 as cache_gap_days, null::date as cache_as_of, *"
        f" from {mart}(7, date '1900-01-01') limit 0"
    )


def _shadow_macro_sql(macro: str, sources: list[str]) -> str:
    """``create macro <macro>`` returning the rows of ``sources`` for one (gap rule, cut-off)."""
    union = " union all ".join(f"select * from {source}" for source in sources)
    select = f"select mart_rows.* exclude ({_KEY_COLUMNS}) from ({union}) as mart_rows"
    keys = "cache_gap_days = gap_days and cache_as_of = as_of::date"
    return f"create or replace {macro}(gap_days, as_of) as table {select} where {keys}"


def materialize_marts(con: duckdb.DuckDBPyConnection) -> None:
    """Store the marts of every offered gap rule at the data cut-off (a writer's last step),
    listed in ``materialized_marts``.

    Each mart is computed from the materialised marts before it (temporary shadow macros), so
    episodes are derived once per gap rule.
    """
    cutoff = data_cutoff(con)
    # rows keep MART_ROW_ORDER only if insertion order is kept (a bulk loader may turn it off)
    execute(con, "set preserve_insertion_order = true")
    execute(
        con,
        "create or replace table materialized_marts"
        " (mart varchar, cache_gap_days integer, cache_as_of date)",
    )
    for mart in CACHED_MARTS:
        execute(con, f"drop table if exists materialized_{mart}")
    for mart in CACHED_MARTS:
        execute(con, f"create table materialized_{mart} as {_empty_mart_sql('main.' + mart)}")
        for gap_days in MATERIALIZED_GAP_DAYS if cutoff is not None else ():
            params = {"g": gap_days, "a": cutoff}
            execute(
                con,
                f"insert into materialized_{mart} select $g, $a::date, *"
                f" from {mart}($g, $a::date){_ordered(mart)}",
                params,
            )
            execute(
                con,
                "insert into materialized_marts values ($m, $g, $a::date)",
                {**params, "m": mart},
            )
        execute(con, _shadow_macro_sql(f"temp macro {mart}", [f"main.materialized_{mart}"]))
    for mart in CACHED_MARTS:
        execute(con, f"drop macro temp.{mart}")


@contextlib.contextmanager
def reading_materialized_marts(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """On a writer's connection, have the marts read their materialised rows (temporary shadow
    macros, as readers have) instead of deriving them again."""
    for mart in CACHED_MARTS:
        execute(con, _shadow_macro_sql(f"temp macro {mart}", [f"main.materialized_{mart}"]))
    try:
        yield
    finally:
        for mart in CACHED_MARTS:
            execute(con, f"drop macro if exists temp.{mart}")


def open_reader_connection(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A connection for readers: in-memory main database with the store attached read-only,
    shadow macros over its materialised marts and empty in-memory caches (``fill_mart_cache``).
    ``memory.main.cache_index`` lists the (mart, gap rule, cut-off) either layer holds.
    Use its cursors via ``reader_cursor``."""
    path = Path(path)
    if not path.exists():
        connect(path)  # raises the usual "No store at ..." error
    con = duckdb.connect()
    quoted = "'" + str(path).replace("'", "''") + "'"
    try:
        execute(con, f"attach {quoted} as store (read_only)")
    except duckdb.IOException as exc:
        raise StoreError(f"Cannot open the store {path}: {exc}") from exc
    execute(con, "use store")
    stored = {
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() where database_name = 'store'"
        ).fetchall()
    }
    execute(
        con,
        "create table memory.main.cache_index"
        " (mart varchar, cache_gap_days integer, cache_as_of date)",
    )
    materialized = "materialized_marts" in stored  # absent in a read-only store of older code
    if materialized:
        execute(
            con, "insert into memory.main.cache_index select * from store.main.materialized_marts"
        )
    for mart in CACHED_MARTS:
        execute(
            con,
            f"create table memory.main.cache_{mart} as {_empty_mart_sql('store.main.' + mart)}",
        )
        sources = [f"memory.main.cache_{mart}"]
        if materialized:
            sources.append(f"store.main.materialized_{mart}")
        execute(con, _shadow_macro_sql(f"macro memory.main.{mart}", sources))
    return con


def reader_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    cur = con.cursor()
    execute(cur, "use store")
    execute(cur, "set search_path = 'memory.main,store.main'")
    return cur


def fill_mart_cache(con: duckdb.DuckDBPyConnection, gap_days: int, as_of, sql: str = "") -> None:
    """Derive the marts for (gap_days, as_of) that ``sql`` needs into the reader's in-memory
    cache, unless materialised or cached already (a no-op on any other connection)."""
    params = {"g": int(gap_days), "a": as_of}
    held_sql = (
        "select mart from memory.main.cache_index"
        " where cache_gap_days = $g and cache_as_of = $a::date"
    )
    try:
        held = {row[0] for row in con.execute(held_sql, params).fetchall()}
    except duckdb.CatalogException:
        return  # not a reader connection: the store's own macros derive everything
    wanted = [
        mart
        for mart in CACHED_MARTS
        if mart in ALWAYS_CACHED_MARTS or any(name in sql for name in ON_DEMAND_MARTS[mart])
    ]
    if all(mart in held for mart in wanted):
        return
    with _CACHE_FILL_LOCK:
        held = {row[0] for row in con.execute(held_sql, params).fetchall()}
        for mart in wanted:  # in order: the later marts read the cached episodes
            if mart not in held:
                execute(
                    con,
                    f"insert into memory.main.cache_{mart}"
                    f" select $g, $a::date, * from store.main.{mart}($g, $a){_cache_order(mart)}",
                    params,
                )
                execute(
                    con,
                    "insert into memory.main.cache_index values ($m, $g, $a::date)",
                    {**params, "m": mart},
                )


def quote_identifier(name: str, allowed: set[str] | frozenset[str]) -> str:
    """Quote a column or table name a user chose, after checking it against an allowlist."""
    if name not in allowed:
        raise StoreError(f"Unknown column {name!r}; choose one of: {', '.join(sorted(allowed))}.")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and so which rows every query may return.

    ``clinic_ids`` None means every clinic in the store. ``identifiable`` False means
    de-identified output only (pseudonyms, coarse dates, suppressed small cells).
    """

    role: str = "admin"
    clinic_ids: frozenset[str] | None = None
    identifiable: bool = True
    user_name: str = "local"


LOCAL_ADMIN = Viewer()


def scope_params(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> dict[str, Any]:
    """Query parameters that restrict rows to the viewer's clinics: ``$scope_clinic_ids``."""
    stored = [row[0] for row in con.execute("select clinic_id from clinics order by 1").fetchall()]
    if viewer.clinic_ids is None:
        allowed = stored
    else:
        allowed = [clinic for clinic in stored if clinic in viewer.clinic_ids]
    return {"scope_clinic_ids": allowed}


class StoreReader:
    """A read-only view of the store that follows atomic swaps.

    Each query opens a short-lived cursor. When the file on disk is replaced by an import, the
    next query closes the old connection and opens the new file, so readers never block writers
    and never see a half-written store.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.exists() and os.access(self.path.parent, os.W_OK):
            ensure_current_layers(self.path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._signature: tuple[int, int, int] | None = None
        self._memo: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
        self._memo_lock = threading.Lock()

    def _file_signature(self) -> tuple[int, int, int]:
        stat = os.stat(self.path)
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            signature = self._file_signature()
            if signature != self._signature or self._con is None:
                if self._con is not None:
                    self._con.close()
                self._con = open_reader_connection(self.path)
                self._signature = signature
            cur = reader_cursor(self._con)
        try:
            yield cur
        finally:
            cur.close()

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.cursor() as cur:
            return run_query(cur, name, params)

    def data_version(self) -> int:
        with self.cursor() as cur:
            return data_version(cur)

    def memoized(self, key: tuple, compute: Callable[[], Any], *, max_entries: int = 16) -> Any:
        """``compute()``, remembered for ``key`` and the current data version (a few entries),
        so that analytics functions building on the same cohort do not derive it again.
        ``key`` must include everything the result depends on (viewer, spec, parameters)."""
        full_key = (self.data_version(), *key)
        with self._memo_lock:
            if full_key in self._memo:
                self._memo.move_to_end(full_key)
                return self._memo[full_key]
        value = compute()
        with self._memo_lock:
            self._memo[full_key] = value
            while len(self._memo) > max_entries:
                self._memo.popitem(last=False)
        return value

    def remembered_matching(self, wanted: Callable[[tuple, Any], bool]) -> tuple[tuple, Any] | None:
        """(key, value) of the newest entry remembered at the current data version whose key
        (without the version) and value satisfy ``wanted``, or None (nothing is computed)."""
        version = self.data_version()
        with self._memo_lock:
            entries = list(self._memo.items())
        for full_key, value in reversed(entries):
            if full_key[0] == version and wanted(full_key[1:], value):
                return full_key[1:], value
        return None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = None
            self._signature = None

    def scoped_query(
        self,
        name: str,
        viewer: Viewer,
        params: Mapping[str, Any] | None = None,
        *,
        what: str | None = None,
    ) -> pd.DataFrame:
        """Run a named query restricted to the viewer's clinics (``$scope_clinic_ids``), as
        ``analytics.access.guarded_query`` allows: clinic filters outside the viewer's scope
        and patient-level queries for viewers without identifiable access raise AccessDenied;
        identifiable patient rows are audited (``what`` names the page or export); aggregate
        counts are suppressed for viewers without identifiable access."""
        from analytics.access import guarded_query  # access builds on this module

        return guarded_query(self, name, viewer, params, what=what)

    def unguarded_scoped_query(
        self,
        name: str,
        viewer: Viewer,
        params: Mapping[str, Any] | None = None,
        *,
        columns: Sequence[str] | None = None,
        text_as_arrow: bool = False,
    ) -> pd.DataFrame:
        """The clinic-scoped query with no role checks, audit or suppression: only for
        ``analytics.access``, which adds them."""
        with self.cursor() as cur:
            scoped = {**(params or {}), **scope_params(cur, viewer)}
            return run_query(cur, name, scoped, columns=columns, text_as_arrow=text_as_arrow)


_SHARED_READERS: dict[Path, StoreReader] = {}
_SHARED_READERS_LOCK = threading.Lock()


def shared_reader(path: str | os.PathLike) -> StoreReader:
    """The process's one reader of the store at ``path`` (the dashboard's sessions and its
    start-up warm-up share its connection, caches and remembered results)."""
    key = Path(path).resolve()
    with _SHARED_READERS_LOCK:
        if key not in _SHARED_READERS:
            _SHARED_READERS[key] = StoreReader(key)
        return _SHARED_READERS[key]
