"""Episode and relapse rows through the access layer: scope, de-identification, audit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import store
from analytics.access import viewer_from_user
from analytics.audit import read_audit
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes
from analytics.errors import AccessDenied
from analytics.relapse import EXIT_COLUMNS, clinic_months, screen_strings

ADMIN = viewer_from_user("ann-admin", "admin")
MANAGER = viewer_from_user("mo-manager", "clinic_manager", ["C01", "C02"])
RESEARCHER = viewer_from_user("rita-research", "researcher")


@pytest.fixture
def reader(writable_demo_store: Path):
    reader = store.StoreReader(writable_demo_store)
    yield reader
    reader.close()


def test_researchers_get_pseudonyms_and_the_same_durations(reader):
    admin = cohort_episodes(reader, ADMIN, CohortSpec())
    research = cohort_episodes(reader, RESEARCHER, CohortSpec())
    assert len(research) == len(admin)
    assert research["patient_id"].str.startswith("R-").all()
    assert not set(research["patient_id"]) & set(admin["patient_id"])
    for clinic in admin["clinic_id"].unique():
        ours = np.sort(research.loc[research["clinic_id"] == clinic, "duration_days"].to_numpy())
        theirs = np.sort(admin.loc[admin["clinic_id"] == clinic, "duration_days"].to_numpy())
        assert (ours == theirs).all()
    assert research["age_years"].max() <= 90
    assert "birth_year" not in research.columns


def test_researcher_relapse_rows_join_their_own_episodes(reader):
    strings = screen_strings(reader, RESEARCHER, CohortSpec())
    assert strings["patient_id"].str.startswith("R-").all()
    assert len(strings) == len(cohort_episodes(reader, RESEARCHER, CohortSpec()))


def test_managers_see_only_their_clinics(reader):
    rows = cohort_episodes(reader, MANAGER, CohortSpec())
    assert set(rows["clinic_id"]) == {"C01", "C02"}
    assert rows["patient_id"].str.startswith("P").all()


@pytest.mark.parametrize(
    "clinics", [("C03",), ("C01", "C03"), ("C01' or '1'='1",), ("C01; drop table patients",)]
)
def test_a_crafted_clinic_filter_is_refused_and_audited(reader, clinics):
    with pytest.raises(AccessDenied):
        cohort_episodes(reader, MANAGER, CohortSpec(clinic_ids=clinics))
    denied = read_audit(reader.path)
    denied = denied[(denied["action"] == "denied") & (denied["user_name"] == "mo-manager")]
    assert len(denied) == 1


def test_identifiable_episode_views_are_audited(reader):
    rows = cohort_episodes(reader, MANAGER, CohortSpec())
    log = read_audit(reader.path)
    viewed = log[(log["action"] == "view") & (log["what"] == "query:cohort_episodes")]
    assert viewed["n_rows"].tolist() == [len(rows)]


def test_clinic_months_are_suppressed_for_researchers(reader):
    months = clinic_months(reader, RESEARCHER, CohortSpec())
    counts = months[["n_in_treatment", "n_admissions", *EXIT_COLUMNS, "n_exits"]]
    visible = counts.to_numpy(dtype=float)
    assert not ((visible > 0) & (visible < 11)).any()
    assert np.isnan(visible).any()
    exits = months[[*EXIT_COLUMNS, "n_exits"]].to_numpy(dtype=float)
    # never exactly one hidden cell in a row of exits: it could be recomputed from the total
    assert not (np.isnan(exits).sum(axis=1) == 1).any()


@pytest.mark.parametrize("viewer", [ADMIN, MANAGER, RESEARCHER], ids=lambda v: v.role)
def test_a_few_cohort_columns_are_the_full_cohorts_columns(reader, viewer):
    """A page reading a few columns gets the same rows, in the same order, and values as the
    full cohort (scoped, pseudonymised and date-shifted alike, with the outcome), and its
    read is audited."""
    spec = CohortSpec(gap_days=14, sexes=("F", "M"), outcome="dropout")
    columns = ["patient_id", "clinic_id", "start_date", "duration_days", "event", "age_years"]
    before = len(read_audit(reader.path))
    few = cohort_episodes(reader, viewer, spec, columns=columns)
    full = cohort_episodes(reader, viewer, spec)
    assert len(read_audit(reader.path)) > before
    assert list(few.columns)[: len(columns) - 1] == [c for c in columns if c != "event"]
    assert {"event", "status"} <= set(few.columns)
    assert len(few.columns) < 12
    shown = [*columns, "status"]
    pd.testing.assert_frame_equal(few[shown], full[shown])
    assert 0 < few["event"].sum() < len(few)
    with pytest.raises(store.StoreError, match="Unknown column"):
        cohort_episodes(reader, viewer, spec, columns=["patient_id", "no_such_column"])
    # once the whole cohort is remembered, a few columns are taken from it: the same frame
    # as the read, and nothing is read (or audited) again
    fresh = store.StoreReader(reader.path)
    read = cohort_episodes(fresh, viewer, spec, columns=columns)
    cohort_episodes(fresh, viewer, spec)
    before = len(read_audit(reader.path))
    taken = cohort_episodes(fresh, viewer, spec, columns=["age_years", "patient_id", "event"])
    expected = read[["age_years", "patient_id", *read.columns[-4:]]]
    pd.testing.assert_frame_equal(taken, expected)
    assert len(read_audit(reader.path)) == before
    with pytest.raises(store.StoreError, match="Unknown column"):
        cohort_episodes(fresh, viewer, spec, columns=["patient_id", "no_such_column"])
    fresh.close()
