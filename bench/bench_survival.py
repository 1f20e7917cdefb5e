"""Benchmark analytics.survival against R's survival package on the same data.

Fits Kaplan–Meier by 20 groups and Cox with 8 covariates (Efron and Breslow ties, with and
without 5 strata) at each size, times R's ``survfit``/``coxph`` on the same CSV in the same run
(skipped when ``Rscript`` is not on PATH) and prints seconds and peak memory as a table.

    .venv/bin/python bench/bench_survival.py --sizes 10000 100000 1000000 [--repeat 3] [--no-r]

Seconds are the best of ``--repeat`` runs for both Python and R (the first run in a process
pays one-off costs such as page faults and lazy imports).

Python memory is the tracemalloc peak of a second, separate run of each task (numpy reports its
buffers to tracemalloc); R memory is the "max used" of ``gc()`` after ``gc(reset = TRUE)``.
R's coxph is run with its defaults (it also computes the concordance; ours is computed lazily on
first access and is not part of the timed fit).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.survival import cox_ph, kaplan_meier  # noqa: E402

COVARIATES = [f"x{i}" for i in range(1, 9)]
SEED = 12345

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
form <- "Surv(duration_days, event_observed) ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8"
tasks <- list(
  km_20_groups = function() survfit(Surv(duration_days, event_observed) ~ clinic, data = d),
  cox_efron = function() coxph(as.formula(form), data = d),
  cox_breslow = function() coxph(as.formula(form), data = d, ties = "breslow"),
  cox_efron_strata = function() coxph(as.formula(paste(form, "+ strata(site)")), data = d),
  cox_breslow_strata = function() coxph(as.formula(paste(form, "+ strata(site)")), data = d, ties = "breslow")
)
repeats <- as.integer(args[2])
for (nm in names(tasks)) {
  best <- Inf
  for (i in seq_len(repeats)) best <- min(best, system.time(fit <- tasks[[nm]]())[["elapsed"]])
  rm(fit)
  invisible(gc(reset = TRUE))
  base <- sum(gc()[, 2])
  fit <- tasks[[nm]]()
  peak <- sum(gc()[, 6]) - base
  cat(nm, best, peak, "\n", sep = ",")
  rm(fit)
}
"""


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    """n episodes: 8 covariates, 20 clinics, 5 sites (strata), integer-day times (many ties)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    x[:, 0] = rng.integers(0, 2, size=n)  # a binary covariate, as a real model has
    beta = np.array([0.3, -0.2, 0.1, 0.05, -0.1, 0.2, 0.0, 0.15])
    site = rng.integers(1, 6, size=n)
    rate = np.exp(x @ beta) / 400 * (1 + 0.1 * site)
    t_event = rng.exponential(1 / rate)
    t_censor = rng.uniform(30, 1100, size=n)
    frame = pd.DataFrame(x, columns=COVARIATES)
    frame["clinic"] = rng.integers(1, 21, size=n)
    frame["site"] = site
    frame["duration_days"] = np.ceil(np.minimum(t_event, t_censor))
    frame["event_observed"] = (t_event <= t_censor).astype(int)
    return frame


def python_tasks(data: pd.DataFrame) -> dict[str, Callable[[], object]]:
    common = {"duration": "duration_days", "event": "event_observed"}
    return {
        "km_20_groups": lambda: kaplan_meier(data, group="clinic", **common),
        "cox_efron": lambda: cox_ph(data, covariates=COVARIATES, **common),
        "cox_breslow": lambda: cox_ph(data, covariates=COVARIATES, ties="breslow", **common),
        "cox_efron_strata": lambda: cox_ph(data, covariates=COVARIATES, strata="site", **common),
        "cox_breslow_strata": lambda: cox_ph(
            data, covariates=COVARIATES, strata="site", ties="breslow", **common
        ),
    }


def time_python(task: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best seconds of ``repeats`` runs, and the tracemalloc peak (MB) of one more run."""
    seconds = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        task()
        seconds = min(seconds, time.perf_counter() - start)
    tracemalloc.start()
    task()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def time_r(data: pd.DataFrame, repeats: int) -> dict[str, tuple[float, float]]:
    """Run R on the same data; {task: (seconds, peak MB)}; empty when R is unavailable."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        script = Path(tmp) / "bench.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        run = subprocess.run(
            [rscript, str(script), str(csv), str(repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
    out = {}
    for line in run.stdout.splitlines():
        parts = line.strip().strip(",").split(",")
        if len(parts) == 3:
            out[parts[0]] = (float(parts[1]), float(parts[2]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per task; best is kept")
    parser.add_argument("--no-r", action="store_true", help="skip the R timings")
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        data = make_data(n)
        r_times = {} if args.no_r else time_r(data, args.repeat)
        for name, task in python_tasks(data).items():
            seconds, peak = time_python(task, args.repeat)
            r_sec, r_mem = r_times.get(name, (np.nan, np.nan))
            rows.append(
                {
                    "rows": n,
                    "task": name,
                    "python_s": seconds,
                    "python_peak_mb": peak,
                    "r_s": r_sec,
                    "r_peak_mb": r_mem,
                    "python_vs_r": seconds / r_sec if r_sec else np.nan,
                }
            )
            print(f"{n:>9} {name:<20} python {seconds:8.3f} s   R {r_sec:8.3f} s", flush=True)
    table = pd.DataFrame(rows)
    print(
        "\nseconds = best of",
        args.repeat,
        "runs; peak memory in MB; python_vs_r = ratio of seconds",
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
