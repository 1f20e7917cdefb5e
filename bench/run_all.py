"""Run every benchmark in turn (``make bench``); each prints its own table.

    .venv/bin/python bench/run_all.py            # the sizes quoted in the issues' notes
    .venv/bin/python bench/run_all.py --quick    # small sizes, a minute or two

Benchmarks are measurements, not tests: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

FULL = {
    "bench_demo.py": [],
    "bench_import.py": ["--visits", "100000", "1000000", "10000000"],
    "bench_episodes.py": ["--visits", "1000000", "10000000", "100000000"],
    "bench_survival.py": ["--sizes", "10000", "100000", "1000000"],
    "bench_export.py": [],
    "bench_report.py": [],
    "bench_pages.py": ["--patients", "3000"],
}
QUICK = {
    "bench_import.py": ["--visits", "100000"],
    "bench_episodes.py": ["--visits", "1000000"],
    "bench_survival.py": ["--sizes", "10000", "100000", "--repeat", "1"],
    "bench_export.py": ["--repeats", "2"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("only", nargs="*", help="run only these scripts (e.g. bench_episodes)")
    ns = parser.parse_args()
    plan = QUICK if ns.quick else FULL
    for script, args in plan.items():
        if ns.only and Path(script).stem not in ns.only:
            continue
        if not (BENCH_DIR / script).exists():
            print(f"== {script}: not present, skipped")
            continue
        print(f"== {script} {' '.join(args)}", flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(BENCH_DIR / script), *args], check=True)
        print(f"   ({time.perf_counter() - started:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
