"""Input validation: one actionable message naming the column and the count of bad rows."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.errors import RetentionError, SurvivalInputError
from analytics.survival import (
    adjusted_survival,
    cox_ph,
    cumulative_incidence,
    fine_gray,
    kaplan_meier,
    logrank_test,
    rmst,
    rmst_difference,
)


@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "days": [5, 8, 8, 12, 20, 25, 30, 31],
            "left": [1, 0, 1, 1, 0, 1, 1, 0],
            "clinic": ["a", "a", "b", "b", "a", "b", "a", "b"],
            "dose": [40, 50, 60, 55, 70, 65, 45, 80],
            "site": [1, 1, 1, 1, 1, 1, 1, 1],
        }
    )


def test_error_is_a_retention_error():
    assert issubclass(SurvivalInputError, RetentionError)
    assert issubclass(SurvivalInputError, ValueError)


def test_empty_cohort(cohort):
    with pytest.raises(SurvivalInputError, match="cohort is empty"):
        kaplan_meier(cohort.iloc[:0], duration="days", event="left")


def test_all_censored(cohort):
    with pytest.raises(SurvivalInputError, match=r"'left' has no events: all 8 rows are censored"):
        kaplan_meier(cohort.assign(left=0), duration="days", event="left")


def test_negative_durations(cohort):
    cohort.loc[:2, "days"] = -1
    with pytest.raises(SurvivalInputError, match=r"duration column 'days' has 3 negative values"):
        cox_ph(cohort, duration="days", event="left", covariates=["dose"])


def test_missing_values(cohort):
    cohort.loc[[1, 4], "dose"] = np.nan
    with pytest.raises(SurvivalInputError, match=r"'dose' has 2 missing \(NaN\) values"):
        cox_ph(cohort, duration="days", event="left", covariates=["dose"])


def test_missing_column(cohort):
    with pytest.raises(SurvivalInputError, match=r"\['weight'\] not found"):
        cox_ph(cohort, duration="days", event="left", covariates=["weight"])


def test_covariate_without_variance(cohort):
    with pytest.raises(SurvivalInputError, match=r"\['site'\] have no variance in these 8 rows"):
        cox_ph(cohort, duration="days", event="left", covariates=["dose", "site"])


def test_categorical_covariate_with_one_level(cohort):
    # one level present gives no column to estimate: an error, as R's model.matrix, not a fit
    # whose proportional-hazards test then fails on an empty term
    one_level = cohort.assign(clinic=pd.Categorical(["a"] * 8, categories=["a", "b"]))
    for frame in (one_level, cohort.assign(clinic="a")):
        with pytest.raises(SurvivalInputError, match=r"'clinic' has one value \(a\) in these 8"):
            cox_ph(frame, duration="days", event="left", covariates=["dose", "clinic"])


def test_group_without_events(cohort):
    cohort.loc[cohort["clinic"] == "b", "left"] = 0
    with pytest.raises(SurvivalInputError, match=r"'clinic' has 1 group\(s\) with no events"):
        cox_ph(cohort, duration="days", event="left", covariates=["clinic"])


def test_event_coding(cohort):
    cohort.loc[0, "left"] = 2
    with pytest.raises(SurvivalInputError, match=r"'left' has 1 values other than 0/1"):
        logrank_test(cohort, duration="days", event="left", group="clinic")


def test_entry_after_exit(cohort):
    cohort["entry"] = [0, 0, 9, 0, 0, 0, 0, 0]
    with pytest.raises(SurvivalInputError, match=r"'entry' has 1 rows with entry >= 'days'"):
        kaplan_meier(cohort, duration="days", event="left", entry="entry")


def test_options(cohort):
    with pytest.raises(SurvivalInputError, match="conf_type"):
        kaplan_meier(cohort, duration="days", event="left", conf_type="arcsin")
    with pytest.raises(SurvivalInputError, match="ties must be"):
        cox_ph(cohort, duration="days", event="left", covariates=["dose"], ties="exact")
    with pytest.raises(SurvivalInputError, match="tau must be"):
        rmst(cohort, duration="days", event="left", tau=-1)
    with pytest.raises(SurvivalInputError, match="exactly two"):
        rmst_difference(
            cohort.assign(clinic=list("abcabcab")),
            duration="days",
            event="left",
            tau=10,
            group="clinic",
        )


def test_single_group(cohort):
    with pytest.raises(SurvivalInputError, match="single value"):
        logrank_test(cohort.assign(clinic="a"), duration="days", event="left", group="clinic")


def test_cause_not_present(cohort):
    with pytest.raises(SurvivalInputError, match=r"no rows with cause 3"):
        cumulative_incidence(cohort, duration="days", status="left", cause=3)
    with pytest.raises(SurvivalInputError, match=r"no rows with cause 3"):
        fine_gray(cohort, duration="days", status="left", cause=3, covariates=["dose"])


def test_unknown_profile_level(cohort):
    fit = cox_ph(cohort, duration="days", event="left", covariates=["clinic"])
    with pytest.raises(SurvivalInputError, match="not seen when fitting"):
        fit.predict_survival(pd.DataFrame({"clinic": ["z"]}), [10])


def test_non_numeric_duration(cohort):
    with pytest.raises(SurvivalInputError, match="must be numeric"):
        adjusted_survival(
            cohort.assign(days=cohort["days"].astype(str)),
            duration="days",
            event="left",
            group="clinic",
            covariates=["dose"],
        )


def test_collinear_covariates(cohort):
    cohort["dose_g"] = cohort["dose"] / 1000
    with pytest.raises(SurvivalInputError, match=r"\['dose', 'dose_g'\] are collinear"):
        cox_ph(cohort, duration="days", event="left", covariates=["dose", "dose_g"])


def test_infinite_coefficient():
    data = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "addicts.csv")
    data["early_leaver"] = ((data["survt"] < 300) & (data["status"] == 1)).astype(int)
    with pytest.raises(SurvivalInputError, match=r"coefficient of \['early_leaver'\] is infinite"):
        cox_ph(data, duration="survt", event="status", covariates=["early_leaver", "dose"])


def test_adjusted_survival_of_a_small_group_that_reaches_zero_has_undefined_limits() -> None:
    # every member of group "b" has the event: S reaches 0 and log S is -inf; the variance
    # there is undefined (NaN limits, as R's NA), never a warning turned error
    import numpy as np
    import pandas as pd

    from analytics.survival import adjusted_survival

    rng = np.random.default_rng(1)
    n = 200
    data = pd.DataFrame(
        {
            "t": rng.exponential(100, n).round() + 1,
            "e": rng.integers(0, 2, n),
            "g": ["a"] * 193 + ["b"] * 7,
            "x": rng.normal(size=n),
        }
    )
    data.loc[data["g"] == "b", "e"] = 1
    out = adjusted_survival(data, duration="t", event="e", group="g", covariates=["x"])
    last = out[out["group"] == "b"].iloc[-1]
    assert last["survival"] == 0.0
    assert np.isnan(last["lower"])
    assert np.isnan(last["upper"])
    earlier = out[(out["group"] == "b") & (out["survival"] > 0)]
    assert earlier["lower"].notna().all()
