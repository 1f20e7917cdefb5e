"""The synthetic survival fixture: generated here with a fixed seed, read by R and the tests.

Regenerate with ``.venv/bin/python tests/unit/test_survival_data.py`` (then rerun
``Rscript scripts/r_reference.R``). The test checks that the CSV still matches the generator.
"""

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"
SYNTHETIC = DATA / "survival_synthetic.csv"
SYNTHETIC_TV = DATA / "survival_synthetic_tv.csv"
SEED = 20241124


def make_synthetic(n: int = 400, seed: int = SEED) -> pd.DataFrame:
    """Episodes with integer-day times (many ties), 3 clinics, 2 sites (strata), repeated
    patients (clusters) and a competing event (status 2 = transferred out)."""
    rng = np.random.default_rng(seed)
    clinic = rng.choice(["A", "B", "C"], size=n, p=[0.4, 0.35, 0.25])
    site = rng.integers(1, 3, size=n)
    dose = rng.normal(60, 20, size=n).round(0)
    female = rng.integers(0, 2, size=n)
    age = rng.integers(18, 65, size=n)
    lin = -0.02 * (dose - 60) + 0.4 * (clinic == "B") - 0.3 * (clinic == "C") + 0.2 * female
    t_leave = rng.exponential(300 * np.exp(-lin) * np.where(site == 2, 0.7, 1.0))
    t_transfer = rng.exponential(900, size=n)
    t_censor = rng.uniform(30, 700, size=n)
    time = np.minimum.reduce([t_leave, t_transfer, t_censor])
    status = np.select([time == t_leave, time == t_transfer], [1, 2], 0)
    # coarsen to weeks (in days) so that ties are frequent
    days = np.maximum(7 * np.ceil(time / 7), 7).astype(int)
    return pd.DataFrame(
        {
            "episode_id": np.arange(1, n + 1),
            "patient_id": rng.integers(1, n // 2 + 1, size=n),
            "clinic": clinic,
            "site": site,
            "dose_mg": dose,
            "female": female,
            "age": age,
            "duration_days": days,
            "status": status,
            "event_observed": (status == 1).astype(int),
        }
    )


def split_at(data: pd.DataFrame, cut: int = 90) -> pd.DataFrame:
    """Counting-process form: episodes longer than ``cut`` days are split at ``cut`` and the
    dose changes (+10 mg) after it, a time-varying covariate."""
    early = data.assign(start_day=0, stop_day=np.minimum(data["duration_days"], cut))
    early["event_observed"] = np.where(data["duration_days"] <= cut, data["event_observed"], 0)
    late = data[data["duration_days"] > cut].assign(
        start_day=cut, stop_day=lambda d: d["duration_days"]
    )
    late = late.assign(dose_mg=late["dose_mg"] + 10)
    cols = [
        "episode_id",
        "patient_id",
        "clinic",
        "site",
        "dose_mg",
        "female",
        "age",
        "start_day",
        "stop_day",
        "event_observed",
    ]
    out = pd.concat([early[cols], late[cols]]).sort_values(["episode_id", "start_day"])
    return out.reset_index(drop=True)


def test_synthetic_csv_matches_generator():
    pd.testing.assert_frame_equal(pd.read_csv(SYNTHETIC), make_synthetic(), check_dtype=False)
    pd.testing.assert_frame_equal(
        pd.read_csv(SYNTHETIC_TV), split_at(make_synthetic()), check_dtype=False
    )


if __name__ == "__main__":
    make_synthetic().to_csv(SYNTHETIC, index=False)
    split_at(make_synthetic()).to_csv(SYNTHETIC_TV, index=False)
