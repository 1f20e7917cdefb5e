"""Benchmark: episode derivation in DuckDB against just reading and sorting the same rows.

For each size, generated dosing visits are written to a DuckDB file (not timed), then, each in
its own process (so peak memory is its own), we time:

* read + sort: ``create table t as select patient_id, clinic_id, visit_date, take_home_days
  from stg_dosing_visits order by patient_id, clinic_id, visit_date``;
* episodes: ``create table t as select * from int_episode_spans(7, as_of)`` (the episode
  contract: coverage, gap rule, open episodes), and the full ``fct_episodes`` with discharge
  reasons, admissions and episode numbers.

DuckDB may spill to a temporary folder; its memory limit is ``--memory-limit`` (default 20GB).

    .venv/bin/python bench/bench_episodes.py --visits 1000000 10000000 100000000
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

VISITS_PER_PATIENT = 358  # measured by bench_import.py on the demo generator
QUERIES = {
    "read_sort": (
        "select patient_id, clinic_id, visit_date, take_home_days from stg_dosing_visits "
        "order by patient_id, clinic_id, visit_date"
    ),
    "episode_spans": "select * from int_episode_spans(7, $as_of)",
    "fct_episodes": "select * from fct_episodes(7, $as_of)",
}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_build(path: Path, n_patients: int, seed: int) -> dict:
    """Write the generated visits (and discharges, admissions) into a store, in chunks."""
    import duckdb

    from analytics import store
    from analytics.demo import generate_demo

    demo = generate_demo(
        n_patients=n_patients, seed=seed, tables=["clinics", "patients", "admissions", "discharges"]
    )
    con = duckdb.connect(str(path))
    store.build(con)
    for name in ("clinics", "patients", "admissions", "discharges"):
        frame = demo.tables[name]
        con.register("frame", frame)
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        store.execute(con, f"insert into {name} ({columns}) select {columns} from frame")
        con.unregister("frame")
    n_rows = 0
    for chunk in demo.iter_dosing_visit_chunks(patients_per_chunk=20_000):
        con.register("chunk", chunk)
        columns = ", ".join(f'"{c}"' for c in chunk.columns)
        store.execute(con, f"insert into dosing_visits ({columns}) select {columns} from chunk")
        con.unregister("chunk")
        n_rows += len(chunk)
    store.execute(con, "checkpoint")
    con.close()
    return {"visit_rows": n_rows, "as_of": demo.as_of.isoformat()}


def step_query(path: Path, query: str, as_of: str, memory_limit: str, spill: str) -> dict:
    import datetime as dt

    import duckdb

    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
        raise SystemExit(f"--memory-limit must look like 20GB, not {memory_limit!r}")
    con = duckdb.connect(str(path))
    # SET takes no bound parameters: the values are checked (limit) or made here (folder)
    con.execute(f"set memory_limit = '{memory_limit}'").fetchall()
    con.execute(f"set temp_directory = '{spill}'").fetchall()
    # the sorted read must keep its order (DuckDB drops ORDER BY in CTAS otherwise); the
    # episode queries need no output order
    order = "true" if query == "read_sort" else "false"
    con.execute(f"set preserve_insertion_order = {order}").fetchall()
    sql = QUERIES[query]
    params = {"as_of": dt.date.fromisoformat(as_of)} if "$as_of" in sql else {}
    started = time.perf_counter()
    con.execute(f"create or replace temp table result as {sql}", params).fetchall()
    seconds = time.perf_counter() - started
    rows = con.execute("select count(*) from result").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "rows": rows, "peak_mib": _peak_mib()}


def _child(*args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run(sizes: list[int], seed: int, memory_limit: str) -> list[dict]:
    rows = []
    header = (
        f"{'visits':>12} {'read+sort s':>11} {'MiB':>6} {'spans s':>8} {'MiB':>6} {'ratio':>6} "
        f"{'fct s':>7} {'MiB':>6} {'episodes':>10}"
    )
    print(header, flush=True)
    for target in sizes:
        folder = Path(tempfile.mkdtemp(prefix="bench-episodes-"))
        try:
            path = folder / "bench.duckdb"
            spill = str(folder / "spill")
            n_patients = max(10, round(target / VISITS_PER_PATIENT))
            built = _child("--step", "build", str(path), str(n_patients), str(seed))
            result = {"target": target, **built}
            for query in QUERIES:
                result[query] = _child(
                    "--step", "query", str(path), query, built["as_of"], memory_limit, spill
                )
            ratio = result["episode_spans"]["seconds"] / result["read_sort"]["seconds"]
            result["ratio"] = ratio
            print(
                f"{built['visit_rows']:>12,} {result['read_sort']['seconds']:>11.2f} "
                f"{result['read_sort']['peak_mib']:>6.0f} "
                f"{result['episode_spans']['seconds']:>8.2f} "
                f"{result['episode_spans']['peak_mib']:>6.0f} {ratio:>6.2f} "
                f"{result['fct_episodes']['seconds']:>7.2f} "
                f"{result['fct_episodes']['peak_mib']:>6.0f} "
                f"{result['fct_episodes']['rows']:>10,}",
                flush=True,
            )
            rows.append(result)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="20GB")
    parser.add_argument("--step", choices=["build", "query"])
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args()
    if ns.step == "build":
        print(json.dumps(step_build(Path(ns.args[0]), int(ns.args[1]), int(ns.args[2]))))
    elif ns.step == "query":
        print(json.dumps(step_query(Path(ns.args[0]), *ns.args[1:5])))
    else:
        run(ns.visits, ns.seed, ns.memory_limit)


if __name__ == "__main__":
    main()
