"""The clinic overview: counts against direct SQL, retention against survival_at."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics import clinic_overview as co
from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes
from analytics.errors import RetentionError
from analytics.relapse import clinic_months
from analytics.survival import survival_at


@pytest.fixture(scope="module")
def reader(demo_store):
    reader = store.StoreReader(demo_store)
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def overview(reader):
    return co.clinic_overview(reader, store.LOCAL_ADMIN, CohortSpec(clinic_ids=("C04",)))


def test_in_treatment_now_equals_a_direct_sql_count(reader, overview, demo_as_of):
    with reader.cursor() as cur:
        (expected,) = cur.execute(
            "select count(distinct patient_id) from fct_episodes(7, $as_of)"
            " where is_open and clinic_id = 'C04'",
            {"as_of": demo_as_of},
        ).fetchone()
    assert overview.as_of == demo_as_of
    assert overview.n_in_treatment == expected > 0


def test_month_flow_matches_clinic_months(reader, overview):
    months = clinic_months(reader, store.LOCAL_ADMIN, CohortSpec(clinic_ids=("C04",)))
    last = months[pd.to_datetime(months["month_start"]) == pd.Timestamp("2026-06-01")].iloc[0]
    assert overview.n_admissions_month == last["n_admissions"]
    assert overview.n_exits_month == last["n_exits"]
    for row in overview.exits_month.itertuples():
        assert row.n_exits == last[f"n_exits_{row.end_status}"]


def test_retention_equals_survival_at_on_the_same_episodes(reader, overview):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec(clinic_ids=("C04",)))
    # R: summary(survfit(Surv(duration_days, event) ~ 1, data = episodes), times = c(90, 365))
    reference = survival_at(episodes, duration="duration_days", event="event", times=[90, 365])
    row = overview.headline()
    assert row["n_episodes"] == len(episodes)
    np.testing.assert_allclose(
        [row["s90"], row["s365"]], reference["survival"].to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        [row["s365_lower"], row["s365_upper"]], reference[["lower", "upper"]].iloc[1], rtol=1e-12
    )
    everyone = overview.headline("All clinics")
    assert everyone["n_episodes"] > row["n_episodes"]
    assert 0 < row["s365"] < row["s90"] < 1


def test_last_year_window_has_no_one_year_retention(overview):
    last_year = overview.headline(window="last_year")
    previous = overview.headline(window="previous_year")
    assert np.isnan(last_year["s365"])
    assert 0 < last_year["s90"] < 1
    assert 0 < previous["s365"] < 1
    assert overview.retention_display()["Retained one year (95% CI)"].iloc[1] == "—"


def test_admission_windows_split_by_cut_off():
    as_of = dt.date(2026, 6, 30)
    episodes = pd.DataFrame(
        {"start_date": pd.to_datetime(["2026-06-30", "2025-07-01", "2025-06-30", "2024-07-01"])}
    )
    assert len(co.admission_window(episodes, as_of, "last_year")) == 2
    assert list(co.admission_window(episodes, as_of, "previous_year").index) == [2, 3]
    with pytest.raises(RetentionError, match="Unknown admission window"):
        co.admission_window(episodes, as_of, "decade")


def test_trends_sum_over_clinics(overview):
    in_treatment = overview.trend("In treatment")
    assert (in_treatment["value"] >= 0).all()
    assert len(in_treatment) == 36
    retention = overview.cohort_retention
    assert retention["value"].between(0, 1).all()
    assert set(retention["measure"]) == {"90 days", "one year"}


def test_empty_cohort_is_a_clear_error(reader):
    with pytest.raises(RetentionError, match="No treatment episodes"):
        co.clinic_overview(reader, store.LOCAL_ADMIN, CohortSpec(age_min=120))
