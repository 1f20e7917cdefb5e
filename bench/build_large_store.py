"""Write a large demo store directly, for page benchmarks at scale (e.g. 1M patients).

The validated import holds a file's rows in pandas (~360 MB per million visit rows), so a store
of hundreds of millions of rows is written here instead: the demo generator runs on independent
chunks of patients (seed + chunk number, ids prefixed by the chunk), each chunk's frames are
appended with DuckDB, and the store ends as an import's does: one ``import_log`` row (the data
version and cut-off), the materialised marts and the stored results. Demo data passes the
strict import (a test), so skipping validation changes the time and memory, not the rows.

    .venv/bin/python bench/build_large_store.py --patients 1000000 --store /tmp/big.duckdb
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

ID_COLUMNS = ("patient_id", "admission_id", "discharge_id")


def _prefixed(frame, prefix: str):
    out = frame.copy()
    for column in ID_COLUMNS:
        if column in out.columns:
            out[column] = prefix + out[column].astype(str)
    return out


def _append(con, name: str, frame) -> None:
    from analytics import store

    con.register("chunk_frame", frame)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    store.execute(con, f"insert into {name} ({columns}) select {columns} from chunk_frame")
    con.unregister("chunk_frame")


def build(path: Path, n_patients: int, chunk: int, seed: int, memory_limit: str) -> None:
    import duckdb

    from analytics import store
    from analytics.demo import TABLES, generate_demo

    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
        raise SystemExit(f"--memory-limit must look like 16GB, not {memory_limit!r}")
    writing = path.with_name(path.name + ".writing")
    writing.unlink(missing_ok=True)
    spill = path.with_name(path.name + ".spill")
    spill.mkdir(exist_ok=True)
    con = duckdb.connect(str(writing))
    # SET takes no bound parameters: the limit is checked above, the folder is ours
    store.execute(con, f"set memory_limit = '{memory_limit}'")
    store.execute(con, f"set temp_directory = '{spill}'")
    store.execute(con, "set preserve_insertion_order = false")
    store.build(con)
    started = time.perf_counter()
    rows = 0
    as_of = None
    for number, first in enumerate(range(0, n_patients, chunk)):
        size = min(chunk, n_patients - first)
        demo = generate_demo(n_patients=size, seed=seed + number)
        as_of = demo.as_of
        for name in TABLES:
            if name == "clinics" and number > 0:
                continue
            frame = _prefixed(demo.tables[name], f"K{number:03d}-")
            _append(con, name, frame)
            rows += len(frame)
        print(
            f"  patients {first + size:>9,}  rows {rows:>13,}  {time.perf_counter() - started:7.1f} s",
            flush=True,
        )
    now = dt.datetime.now()
    store.execute(
        con,
        "insert into import_log values (nextval('import_id_seq'), $now, $now, 'demo', true,"
        " $cutoff, $n_files, $rows, 0, 0)",
        {"now": now, "cutoff": as_of, "n_files": len(TABLES), "rows": rows},
    )
    loaded = time.perf_counter() - started
    store.materialize_marts(con)
    materialised = time.perf_counter() - started - loaded
    store.store_results(con)  # as every writer does: the stored clinic comparisons
    results = time.perf_counter() - started - loaded - materialised
    store.execute(con, "checkpoint")
    con.close()
    os.replace(writing, path)
    size_gib = path.stat().st_size / 2**30
    print(
        f"{n_patients:,} patients, {rows:,} rows: generate + load {loaded:.0f} s, materialise "
        f"marts {materialised:.0f} s, store results {results:.0f} s, store {size_gib:.1f} GiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=25_000, help="patients per chunk")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--memory-limit", default="16GB")
    ns = parser.parse_args()
    build(ns.store, ns.patients, ns.chunk, ns.seed, ns.memory_limit)


if __name__ == "__main__":
    main()
