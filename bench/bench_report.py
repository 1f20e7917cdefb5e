"""Seconds to export one figure (cold and warm) and to build a full clinic report.

    .venv/bin/retention demo --store /tmp/rep/demo.duckdb --patients 3000
    .venv/bin/python bench/bench_report.py /tmp/rep/demo.duckdb

Targets: warm figure export < 1 s, full clinic report (HTML + PDF) < 15 s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from analytics import store
from analytics.analysis import Analysis, run_analysis
from analytics.export import figure_bytes, stop_export_server
from analytics.report import build_report


def main(path: str = "/tmp/rep/demo.duckdb") -> None:
    if not Path(path).exists():
        from analytics.demo_store import build_demo_store

        path = str(Path(tempfile.mkdtemp(prefix="bench-report-")) / "demo.duckdb")
        build_demo_store(path, n_patients=3000)
    reader = store.StoreReader(path)
    result = run_analysis(reader, store.LOCAL_ADMIN, Analysis(settings={"group_by": "modality"}))
    fig = result.figures["km"]
    stop_export_server()
    start = time.perf_counter()
    figure_bytes(fig, "png", dpi=300)
    cold = time.perf_counter() - start
    warm = []
    for fmt in ("png", "svg", "pdf"):
        start = time.perf_counter()
        figure_bytes(fig, fmt)
        warm.append((fmt, time.perf_counter() - start))
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        build_report(reader, store.LOCAL_ADMIN, Analysis().cohort, clinic_id="C01", out_dir=out_dir)
        report = time.perf_counter() - start
    print(f"figure export cold (png 300 dpi): {cold:.2f} s")
    for fmt, seconds in warm:
        print(f"figure export warm ({fmt}): {seconds:.2f} s (target < 1 s)")
    print(f"clinic report html+pdf: {report:.2f} s (target < 15 s)")


if __name__ == "__main__":
    main(*sys.argv[1:])
