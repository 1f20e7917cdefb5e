"""Benchmark: generate demo records and import them, at given numbers of dosing-visit rows.

Each step runs in its own process so its peak memory (max RSS) is its own.

    .venv/bin/python bench/bench_import.py --visits 100000 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def visits_per_patient(seed: int) -> float:
    from analytics.demo import generate_demo

    sample = generate_demo(n_patients=2000, seed=seed)
    return len(sample.tables["dosing_visits"]) / 2000


def step_generate(folder: Path, n_patients: int, seed: int) -> dict:
    from analytics.demo import generate_demo

    started = time.perf_counter()
    demo = generate_demo(n_patients=n_patients, seed=seed)
    generated = time.perf_counter() - started
    for name, frame in demo.tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return {
        "visit_rows": len(demo.tables["dosing_visits"]),
        "all_rows": sum(len(f) for f in demo.tables.values()),
        "generate_s": generated,
        "write_parquet_s": time.perf_counter() - started - generated,
        "generate_peak_mib": _peak_mib(),
        "as_of": demo.as_of.isoformat(),
    }


def step_import(folder: Path, as_of: str) -> dict:
    import datetime as dt

    from analytics.importing import import_files

    files = sorted(folder.glob("*.parquet"))
    started = time.perf_counter()
    result = import_files(folder / "bench.duckdb", files, cutoff=dt.date.fromisoformat(as_of))
    return {
        "import_s": time.perf_counter() - started,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "import_peak_mib": _peak_mib(),
        "store_mib": (folder / "bench.duckdb").stat().st_size / 2**20,
    }


def _child(step: str, *args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--step", step, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--step", choices=["generate", "import", "rate"])
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args()
    if ns.step == "rate":
        print(json.dumps({"visits_per_patient": visits_per_patient(ns.seed)}))
        return
    if ns.step == "generate":
        print(json.dumps(step_generate(Path(ns.args[0]), int(ns.args[1]), ns.seed)))
        return
    if ns.step == "import":
        print(json.dumps(step_import(Path(ns.args[0]), ns.args[1])))
        return
    rate = _child("rate")["visits_per_patient"]
    print(f"{rate:.1f} dosing visits per demo patient")
    header = (
        f"{'target':>11} {'visits':>11} {'all rows':>11} {'gen s':>7} {'gen MiB':>8} "
        f"{'import s':>8} {'imp MiB':>8} {'rows/s':>10} {'store MiB':>9}"
    )
    print(header)
    for target in ns.visits:
        folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
        try:
            n_patients = max(50, round(target / rate))
            gen = _child("generate", str(folder), str(n_patients))
            imp = _child("import", str(folder), gen["as_of"])
            print(
                f"{target:>11,} {gen['visit_rows']:>11,} {gen['all_rows']:>11,} "
                f"{gen['generate_s']:>7.1f} {gen['generate_peak_mib']:>8.0f} "
                f"{imp['import_s']:>8.1f} {imp['import_peak_mib']:>8.0f} "
                f"{gen['all_rows'] / imp['import_s']:>10,.0f} {imp['store_mib']:>9.0f}",
                flush=True,
            )
            assert imp["rows_quarantined"] == 0, "demo rows must all pass validation"
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
