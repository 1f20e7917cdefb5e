"""Seeded synthetic clinic data with a known ground truth (``retention demo``).

Eight clinics of different size and practice (one heroin-assisted treatment service, two
buprenorphine clinics, methadone clinics with low-dose and adequate-dose policies), five years
of admissions up to ``as_of``, and every table of the store: daily dosing visits with missed
days and earned take-homes, urine screens, assessments (MSPSS, Family APGAR, the 48-factor
checklist, TOP outcome profiles), family education, discharges (many dropouts have none) and
re-admissions, some at another clinic.

Dropout follows a known proportional-hazards model (``TRUE_LOG_HAZARD_RATIOS``,
``BASELINE_HAZARD``, ``REFERENCE_PROFILE``; see ``analytics.demo.model``) with take-homes and
family education as time-varying covariates; completion, transfer, incarceration and death are
competing exits with their own hazards (``COMPETING_DAILY_HAZARDS``). ``DemoData.truth`` holds
the true episodes with the covariates; ``to_counting_process`` turns it into (start, stop] rows
for a Cox fit that recovers the coefficients.

Example
-------
>>> demo = generate_demo(n_patients=500, seed=1)
>>> sorted(demo.tables) == sorted(TABLES)
True

Big sizes: ``generate_demo(..., tables=[...])`` builds only the tables asked for, and
``iter_dosing_visit_chunks`` (or ``DemoData.iter_dosing_visit_chunks``) yields the dosing
visits in chunks of patients; the chunks concatenate to exactly the rows of a single pass.
About 1 GB of memory per 30 million visit rows held; ids and codes are categorical.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.demo import _random
from analytics.demo.assessments import ASSESSMENT_TABLES, assessment_tables
from analytics.demo.cohort import Plan, plan_cohort
from analytics.demo.model import (
    BASELINE_COVARIATES,
    BASELINE_HAZARD,
    CLINIC_LOG_HAZARD_RATIOS,
    CLINICS,
    COMPETING_DAILY_HAZARDS,
    REFERENCE_PROFILE,
    TIME_VARYING_COVARIATES,
    TRUE_LOG_HAZARD_RATIOS,
)
from analytics.demo.records import (
    admissions_table,
    clinics_table,
    discharges_table,
    family_education_table,
    patients_table,
    truth_table,
)
from analytics.demo.screens import urine_screens_table
from analytics.demo.visits import iter_plan_visit_chunks
from analytics.errors import RetentionError

__all__ = [
    "BASELINE_COVARIATES",
    "BASELINE_HAZARD",
    "CLINICS",
    "CLINIC_LOG_HAZARD_RATIOS",
    "COMPETING_DAILY_HAZARDS",
    "DEFAULT_AS_OF",
    "DEFAULT_SEED",
    "REFERENCE_PROFILE",
    "TABLES",
    "TIME_VARYING_COVARIATES",
    "TRUE_LOG_HAZARD_RATIOS",
    "DemoData",
    "generate_demo",
    "iter_dosing_visit_chunks",
    "to_counting_process",
]

DEFAULT_AS_OF = datetime.date(2026, 6, 30)
DEFAULT_SEED = 20261124
DEFAULT_PATIENTS_PER_CHUNK = 5_000
_BUILD_PATIENTS_PER_CHUNK = 2_000  # small chunks stay in cache: faster than one pass

#: Store tables the generator fills, in load order (parents first).
TABLES = (
    "clinics", "patients", "admissions", "discharges", "dosing_visits", "urine_screens",
    "mspss_responses", "apgar_responses", "checklist_responses", "outcome_profiles",
    "family_education",
)  # fmt: skip


@dataclass(eq=False)
class DemoData:
    """Generated tables, the true episodes, and the data cut-off.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Keyed by store table name, each with exactly the columns of that table in
        ``sql/schema`` (dates datetime64[ns], ids and codes categorical, nullable items Int64).
    truth : pandas.DataFrame
        One row per true episode (see ``analytics.demo.records.truth_table``).
    as_of : datetime.date
        Data cut-off: nothing is dated after it; episodes running then are open.
    seed : int
    plan : the internal cohort plan (used to expand visits in chunks).
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    as_of: datetime.date
    seed: int
    plan: Plan = field(repr=False, compare=False)

    def iter_dosing_visit_chunks(
        self, patients_per_chunk: int = DEFAULT_PATIENTS_PER_CHUNK
    ) -> Iterator[pd.DataFrame]:
        """Dosing visits in chunks of consecutive patients (same rows as the full table)."""
        return iter_plan_visit_chunks(self.plan, patients_per_chunk)


def _check_arguments(
    n_patients: int, seed: int, as_of: datetime.date, tables: Collection[str]
) -> None:
    if (
        isinstance(n_patients, bool)
        or not isinstance(n_patients, int | np.integer)
        or n_patients < 1
    ):
        raise RetentionError(
            f"n_patients must be a whole number of at least 1, got {n_patients!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise RetentionError(f"seed must be a non-negative whole number, got {seed!r}.")
    if isinstance(as_of, datetime.datetime) or not isinstance(as_of, datetime.date):
        raise RetentionError(f"as_of must be a datetime.date (the data cut-off), got {as_of!r}.")
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise RetentionError(f"Unknown demo tables {unknown}; choose among {list(TABLES)}.")


def _dosing_visits_frame(plan: Plan) -> pd.DataFrame:
    chunks = list(iter_plan_visit_chunks(plan, _BUILD_PATIENTS_PER_CHUNK))
    return pd.concat(chunks, ignore_index=True)


def _build_tables(plan: Plan, wanted: Collection[str]) -> dict[str, pd.DataFrame]:
    rng = _random.stream_rng(plan.seed, _random.RECORDS)
    builders = {
        "clinics": clinics_table,
        "patients": lambda: patients_table(plan),
        "admissions": lambda: admissions_table(plan, rng),
        "discharges": lambda: discharges_table(plan),
        "dosing_visits": lambda: _dosing_visits_frame(plan),
        "urine_screens": lambda: urine_screens_table(plan),
        "family_education": lambda: family_education_table(
            plan, _random.stream_rng(plan.seed, _random.FAMILY_EDUCATION)
        ),
    }
    tables = {name: build() for name, build in builders.items() if name in wanted}
    if set(ASSESSMENT_TABLES) & set(wanted):
        assessed = assessment_tables(plan)
        tables.update({name: frame for name, frame in assessed.items() if name in wanted})
    return {name: tables[name] for name in TABLES if name in tables}


def generate_demo(
    *,
    n_patients: int = 3000,
    seed: int = DEFAULT_SEED,
    as_of: datetime.date = DEFAULT_AS_OF,
    tables: Collection[str] | None = None,
) -> DemoData:
    """Generate the demo clinics' records and their true episodes.

    Parameters
    ----------
    n_patients : int
        Patients to generate (about 1.3 episodes and 300 dosing visits each).
    seed : int
        Same seed, same data (numpy PCG64 streams and counter-based row draws).
    as_of : datetime.date
        Data cut-off; nothing is dated after it.
    tables : collection of str, optional
        Build only these store tables (default: all of ``TABLES``); the truth is always built.

    Returns
    -------
    DemoData
    """
    wanted = TABLES if tables is None else tuple(tables)
    _check_arguments(n_patients, seed, as_of, wanted)
    plan = plan_cohort(int(n_patients), int(seed), as_of)
    return DemoData(_build_tables(plan, wanted), truth_table(plan), as_of, int(seed), plan)


def iter_dosing_visit_chunks(
    *,
    n_patients: int = 3000,
    seed: int = DEFAULT_SEED,
    as_of: datetime.date = DEFAULT_AS_OF,
    patients_per_chunk: int = DEFAULT_PATIENTS_PER_CHUNK,
) -> Iterator[pd.DataFrame]:
    """The ``dosing_visits`` table of ``generate_demo`` with the same arguments, in chunks.

    Each chunk holds the visits of ``patients_per_chunk`` consecutive patients; memory stays
    bounded by one chunk (about 300 visits per patient) plus the episode plan. Use it for
    benchmark sizes (100M rows), e.g. appending each chunk to the store.
    """
    _check_arguments(n_patients, seed, as_of, ())
    plan = plan_cohort(int(n_patients), int(seed), as_of)
    return iter_plan_visit_chunks(plan, patients_per_chunk)


def to_counting_process(truth: pd.DataFrame) -> pd.DataFrame:
    """Counting-process rows (start, stop] of the true episodes for a time-varying Cox model.

    Each episode is split at its ``take_home_start_day`` and ``family_education_day``.

    Returns
    -------
    pandas.DataFrame
        Columns: admission_id, patient_id, clinic_id, start, stop, event_observed (dropout at
        stop), the covariates of ``BASELINE_COVARIATES``, ``clinic_log_hr``, ``take_home`` and
        ``family_education`` (0/1 over the interval).
    """
    duration = truth["duration_days"].to_numpy()
    switches = [
        truth[c].to_numpy(dtype=float, na_value=np.nan)
        for c in ("take_home_start_day", "family_education_day")
    ]
    starts = np.concatenate([np.zeros(len(truth)), *switches])
    episode = np.tile(np.arange(len(truth)), 3)
    keep = ~np.isnan(starts)
    episode, starts = episode[keep], starts[keep]
    order = np.lexsort((starts, episode))
    episode, starts = episode[order], starts[order]
    unique = np.ones(len(starts), dtype=bool)
    unique[1:] = (episode[1:] != episode[:-1]) | (starts[1:] != starts[:-1])
    episode, starts = episode[unique], starts[unique]
    last = np.ones(len(starts), dtype=bool)
    last[:-1] = episode[1:] != episode[:-1]
    stops = np.where(last, duration[episode], np.roll(starts, -1))
    rows = truth.iloc[episode].reset_index(drop=True)
    out = rows[["admission_id", "patient_id", "clinic_id"]].copy()
    out["start"] = starts
    out["stop"] = stops.astype(float)
    out["event_observed"] = (rows["event_observed"].to_numpy() & last).astype(int)
    for name in (*BASELINE_COVARIATES, "clinic_log_hr"):
        out[name] = rows[name].to_numpy(dtype=float)
    out["take_home"] = (starts >= switches[0][episode]).astype(int)
    out["family_education"] = (starts >= switches[1][episode]).astype(int)
    return out
