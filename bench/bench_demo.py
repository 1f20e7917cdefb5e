"""Benchmark the demo generator: seconds and peak memory to generate N dosing-visit rows.

Each measurement runs in a fresh subprocess so the peak resident memory (getrusage maxrss) is
its own. The number of patients for a target row count comes from a pilot run (visits per
patient at the default seed).

Modes:
  frame   generate_demo(tables=["dosing_visits"]): the whole visits frame held in memory
  chunks  iter_dosing_visit_chunks(): visits streamed in chunks of 50,000 patients (the way to
          load 100M rows), only the episode plan and one chunk held
  all     generate_demo(): every table

Usage:
  .venv/bin/python bench/bench_demo.py                      # 100k, 1M, 10M visits, frame mode
  .venv/bin/python bench/bench_demo.py --mode chunks --rows 1e8
  .venv/bin/python bench/bench_demo.py --mode all --rows 1e5 1e6
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PILOT_PATIENTS = 5000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _run_one(mode: str, n_patients: int) -> dict:
    """Generate once in this process; return rows, seconds and peak memory."""
    from analytics.demo import generate_demo, iter_dosing_visit_chunks

    baseline_mb = _peak_mb()
    started = time.perf_counter()
    if mode == "chunks":
        rows = sum(len(chunk) for chunk in iter_dosing_visit_chunks(n_patients=n_patients))
        total_rows = rows
    else:
        tables = ["dosing_visits"] if mode == "frame" else None
        demo = generate_demo(n_patients=n_patients, tables=tables)
        rows = len(demo.tables["dosing_visits"])
        total_rows = sum(len(frame) for frame in demo.tables.values())
    seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "n_patients": n_patients,
        "visit_rows": rows,
        "all_rows": total_rows,
        "seconds": round(seconds, 2),
        "peak_mb": round(_peak_mb(), 1),
        "import_mb": round(baseline_mb, 1),
    }


def _visits_per_patient() -> float:
    """Pilot run in a subprocess (this process stays small: maxrss is inherited by children)."""
    return _measure("frame", PILOT_PATIENTS)["visit_rows"] / PILOT_PATIENTS


def _measure(mode: str, n_patients: int) -> dict:
    command = [sys.executable, __file__, "--one", mode, str(n_patients)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", nargs="+", type=float, default=[1e5, 1e6, 1e7], help="target visit rows"
    )
    parser.add_argument("--mode", choices=["frame", "chunks", "all"], default="frame")
    parser.add_argument("--one", nargs=2, metavar=("MODE", "N_PATIENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_run_one(args.one[0], int(args.one[1]))))
        return
    per_patient = _visits_per_patient()
    print(
        f"pilot: {per_patient:.1f} dosing visits per patient ({PILOT_PATIENTS} patients, default seed)"
    )
    header = f"{'target':>12} {'mode':>6} {'patients':>10} {'visits':>12} {'visits/pt':>9} {'all rows':>12} {'s':>8} {'peak MB':>9} {'visits/s':>11}"
    print(header)
    for target in args.rows:
        n_patients = max(1, round(target / per_patient))
        r = _measure(args.mode, n_patients)
        rate = r["visit_rows"] / r["seconds"] if r["seconds"] else float("nan")
        print(
            f"{int(target):>12,} {r['mode']:>6} {r['n_patients']:>10,} {r['visit_rows']:>12,}"
            f" {r['visit_rows'] / r['n_patients']:>9.1f} {r['all_rows']:>12,} {r['seconds']:>8.2f}"
            f" {r['peak_mb']:>9.0f} {rate:>11,.0f}"
        )


if __name__ == "__main__":
    main()
