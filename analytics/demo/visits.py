"""Dosing visits expanded from the episode plan, vectorised, in chunks of patients.

Each episode is expanded to one row per day in treatment (``np.repeat``), then per day:

* the supervised phase (daily observed doses; MMT, BMT before depot or take-homes, all of
  HAT): a visit unless the day is missed (5-10% of days, more in the 3 weeks before a dropout;
  runs of missed days capped at 4 so an episode never breaks in the data). The first and last
  days and the first take-home day are always attended;
* the take-home phase (from the first take-home day): a visit every 2 days with 1 take-home
  day for 8 weeks, then every k + 1 days with k take-home days (k of the episode: 1-6). The
  covered days have no visit row;
* the depot phase (monthly buprenorphine depot): a visit every 28 days, take_home_days 27.

HAT attended days give two diamorphine visits (08:30 and 17:30; the evening one missed on 2%
of days) and, for patients with a top-up, an oral methadone dose at 17:30. Coverage always ends
on the episode's last day (the last take-home is shortened if needed), so gaps between
episodes are exactly the true ones.

Row-level randomness is counter-based (``hash_uniform``): chunks give the same rows as one pass.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from analytics.demo import _random
from analytics.demo.cohort import Plan
from analytics.demo.records import CLINIC_DTYPE, MEDICATIONS, as_dates, categorical, patient_dtype

VISIT_TIMES = tuple(f"{9 + m // 60:02d}:{m % 60:02d}:00" for m in range(0, 7 * 60 + 1, 5))
TIME_DTYPE = pd.CategoricalDtype((*VISIT_TIMES, "08:30:00", "17:30:00"))
MEDICATION_DTYPE = pd.CategoricalDtype(MEDICATIONS)
_HAT_MORNING, _HAT_EVENING = len(VISIT_TIMES), len(VISIT_TIMES) + 1
_METHADONE, _BUPRENORPHINE, _DEPOT, _DIAMORPHINE = range(4)
_NEVER = np.int64(1 << 40)
MAX_MISSED_RUN = 4
FIRST_TAKE_HOME_WEEKS = 8


def _expand_days(plan: Plan, rows: np.ndarray) -> dict[str, np.ndarray]:
    """One entry per (episode, day in treatment) for the given episode rows."""
    duration = plan.ep["duration_days"][rows]
    first = np.cumsum(duration) - duration
    local = np.repeat(np.arange(len(rows)), duration)
    day = np.arange(int(duration.sum()), dtype=np.int64) - first[local]
    g = rows[local]
    return {"g": g, "day": day, "days_left": duration[local] - 1 - day}


def _missed_days(plan: Plan, d: dict[str, np.ndarray], supervised: np.ndarray) -> np.ndarray:
    """Missed supervised days; never the first or last day; runs capped at MAX_MISSED_RUN."""
    ep, g = plan.ep, d["g"]
    near_dropout = (ep["cause"][g] == 1) & (d["days_left"] <= 21)
    p_miss = ep["miss_p"][g] + 0.2 * near_dropout
    u = _random.hash_uniform(plan.seed, _random.VISIT_MISSED, g, d["day"])
    missed = supervised & (u < p_miss) & (d["day"] > 0) & (d["days_left"] > 0)
    idx = np.arange(len(missed))
    last_attended = np.maximum.accumulate(np.where(missed, -1, idx))
    return missed & (idx - last_attended <= MAX_MISSED_RUN)


def _schedule(plan: Plan, d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per day: is there a visit, days covered by it, phase flags."""
    ep, g, day = plan.ep, d["g"], d["day"]
    th = np.where(ep["th_day"][g] >= 0, ep["th_day"][g], _NEVER)
    depot_start = np.where(ep["is_depot"][g], ep["depot_start"][g], _NEVER)
    depot = day >= depot_start
    supervised = (day < th) & ~depot
    rel = day - th
    first_weeks = rel < 7 * FIRST_TAKE_HOME_WEEKS
    k = np.where(first_weeks, 1, ep["th_k"][g])
    take_home_visit = np.where(
        first_weeks, rel % 2 == 0, (rel - 7 * FIRST_TAKE_HOME_WEEKS) % (k + 1) == 0
    )
    missed = _missed_days(plan, d, supervised)
    visit = np.where(
        supervised, ~missed, np.where(depot, (day - depot_start) % 28 == 0, take_home_visit)
    )
    cover = np.where(supervised, 0, np.where(depot, 27, k))
    return {
        "visit": visit,
        "take_home_days": np.minimum(cover, d["days_left"]),
        "depot": depot,
        "supervised": supervised,
    }


def _main_dose(plan: Plan, g: np.ndarray, day: np.ndarray, depot: np.ndarray) -> np.ndarray:
    """Dose of the episode's main medication on a day: methadone induction +10 mg every 3 days
    from 30 mg; buprenorphine 8 mg on day 1; depot 64-160 mg; diamorphine +20 mg every 2 days
    from 100 mg (per session)."""
    maint = plan.ep["dose_mg"][g]
    modality = plan.ep["modality"][g]
    methadone = np.minimum(maint, 30.0 + 10.0 * (day // 3))
    bup = np.where(day == 0, np.minimum(8.0, maint), maint)
    bup = np.where(
        depot, np.array([64.0, 96.0, 128.0, 160.0])[np.searchsorted([10, 18, 26], maint)], bup
    )
    diamorphine = np.minimum(maint, 100.0 + 20.0 * (day // 2))
    return np.choose(modality, [methadone, bup, diamorphine])


def _visit_rows(
    plan: Plan, d: dict[str, np.ndarray], s: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Output rows: one per visit day, three per full HAT day with a methadone top-up."""
    ep, g = plan.ep, d["g"]
    is_hat = ep["modality"][g] == 2
    evening = _random.hash_uniform(plan.seed, _random.VISIT_SESSION, g, d["day"]) >= 0.02
    n_out = np.where(
        s["visit"], np.where(is_hat, 1 + evening * (1 + (ep["topup_mg"][g] > 0)), 1), 0
    )
    src = np.repeat(np.arange(len(g)), n_out)
    slot = np.arange(len(src)) - np.repeat(np.cumsum(n_out) - n_out, n_out)
    return {"src": src, "slot": slot}


def dosing_visits_for(plan: Plan, rows: np.ndarray) -> pd.DataFrame:
    """Dosing visits of the given episode rows (indices into the plan), in episode-day order.

    Returns
    -------
    pandas.DataFrame
        Columns of the store's ``dosing_visits`` table (ids and codes categorical).
    """
    d = _expand_days(plan, np.asarray(rows, dtype=np.int64))
    s = _schedule(plan, d)
    out = _visit_rows(plan, d, s)
    src, slot = out["src"], out["slot"]
    g, day, depot = d["g"][src], d["day"][src], s["depot"][src]
    ep = plan.ep
    modality = ep["modality"][g]
    main_medication = np.choose(
        modality, [_METHADONE, np.where(depot, _DEPOT, _BUPRENORPHINE), _DIAMORPHINE]
    )
    medication = np.choose(slot, [main_medication, _DIAMORPHINE, _METHADONE])
    jitter = (
        np.floor(_random.hash_uniform(plan.seed, _random.VISIT_TIME, g, day) * 13).astype(np.int64)
        - 6
    )
    day_time = np.clip(ep["time_slot"][g] + jitter, 0, len(VISIT_TIMES) - 1)
    hat_time = np.where(slot == 0, _HAT_MORNING, _HAT_EVENING)
    dose = np.where(slot == 2, ep["topup_mg"][g], _main_dose(plan, g, day, depot))
    take_home = np.where(slot == 0, s["take_home_days"][src], 0)
    supervised = s["supervised"][src] | depot | (take_home == 0)
    return pd.DataFrame(
        {
            "patient_id": categorical(ep["patient"][g], patient_dtype(len(plan.patients))),
            "clinic_id": categorical(ep["clinic"][g], CLINIC_DTYPE),
            "visit_date": as_dates(ep["start_day"][g] + day),
            "visit_time": categorical(
                np.where(modality == 2, hat_time, day_time).astype(np.int8), TIME_DTYPE
            ),
            "medication": categorical(medication.astype(np.int8), MEDICATION_DTYPE),
            "dose_mg": dose.astype(np.float64),
            "is_supervised": supervised,
            "take_home_days": take_home.astype(np.int32),
        }
    )


def iter_plan_visit_chunks(plan: Plan, patients_per_chunk: int = 5_000) -> Iterator[pd.DataFrame]:
    """Dosing visits of a plan in chunks of ``patients_per_chunk`` consecutive patients.

    Concatenating the chunks gives the full table (the same rows whatever the chunk size).
    """
    if patients_per_chunk < 1:
        raise ValueError(f"patients_per_chunk must be at least 1, got {patients_per_chunk}")
    patient = plan.ep["patient"]
    for first in range(0, len(plan.patients), patients_per_chunk):
        lo, hi = np.searchsorted(patient, [first, first + patients_per_chunk])
        yield dosing_visits_for(plan, np.arange(lo, hi))
