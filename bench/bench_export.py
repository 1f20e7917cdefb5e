"""Benchmark: seconds to export one figure, cold (Chromium starting) and warm (server reused).

The figure is the Kaplan–Meier-with-risk-table chart of the public ``addicts`` data (two
clinics, 238 patients), laid out at 7 × 5 inches; PNG at 300 dpi. For each format the renderer
is stopped first, so "cold" includes starting Chromium (and, for the first format, importing
kaleido); "warm" is the median of the following exports.

    .venv/bin/python bench/bench_export.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))


def addicts_figure():
    import pandas as pd
    from lifelines import KaplanMeierFitter

    from analytics.charts import risk_table_times, survival_chart
    from analytics.export import export_size

    data = pd.read_csv(PROJECT_DIR / "tests" / "data" / "addicts.csv")
    curves, tables = [], []
    for clinic, rows in data.groupby("clinic"):
        fitter = KaplanMeierFitter().fit(rows["survt"], rows["status"])
        events = fitter.event_table
        ci = fitter.confidence_interval_
        curves.append(
            pd.DataFrame(
                {
                    "group": f"Clinic {clinic}",
                    "time": events.index.to_numpy(float),
                    "n_risk": events["at_risk"].to_numpy(),
                    "n_event": events["observed"].to_numpy(),
                    "n_censor": events["censored"].to_numpy(),
                    "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
                    "lower": ci.iloc[:, 0].to_numpy(),
                    "upper": ci.iloc[:, 1].to_numpy(),
                }
            )
        )
        times = risk_table_times(data["survt"].max())
        n_risk = [int((rows["survt"] >= t).sum()) for t in times]
        tables.append(pd.DataFrame({"group": f"Clinic {clinic}", "time": times, "n_risk": n_risk}))
    return survival_chart(
        pd.concat(curves),
        pd.concat(tables),
        title="Retention by clinic (addicts data)",
        height=export_size(7, 5, 300)[1],
    )


def measure(fig, fmt: str, repeats: int) -> dict:
    from analytics.export import export_size, figure_bytes, stop_export_server

    width, height, _ = export_size(7, 5, 300)
    options = {"width": width, "height": height, "dpi": 300 if fmt == "png" else None}
    stop_export_server()
    started = time.perf_counter()
    content = figure_bytes(fig, fmt, **options)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        figure_bytes(fig, fmt, **options)
        warm.append(time.perf_counter() - started)
    return {
        "format": fmt,
        "cold_s": round(cold, 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_max_s": round(max(warm), 3),
        "bytes": len(content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm exports per format")
    parser.add_argument("--formats", nargs="+", default=["png", "svg", "pdf"])
    args = parser.parse_args()
    started = time.perf_counter()
    fig = addicts_figure()
    build = time.perf_counter() - started
    rows = [measure(fig, fmt, args.repeats) for fmt in args.formats]
    print(json.dumps({"build_figure_s": round(build, 3), "exports": rows}, indent=2))
    print(f"\n{'format':<7}{'cold s':>9}{'warm s':>9}{'max s':>9}{'bytes':>10}")
    for row in rows:
        print(
            f"{row['format']:<7}{row['cold_s']:>9.3f}{row['warm_median_s']:>9.3f}"
            f"{row['warm_max_s']:>9.3f}{row['bytes']:>10,}"
        )


if __name__ == "__main__":
    main()
