"""The Clinic pages (overview, patients at risk, compare clinics) driven headlessly by AppTest:
default and changed filters, no exceptions, and the numbers shown equal the analytics output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import at_risk, clinic_comparison, clinic_overview, store
from analytics.cohort_spec import CohortSpec
from tests.accounts import PASSWORDS, add_accounts

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TIMEOUT = 90


@pytest.fixture
def app(writable_demo_store, monkeypatch) -> AppTest:
    monkeypatch.setenv("RETENTION_STORE", str(writable_demo_store))
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


@pytest.fixture(scope="module")
def reader(demo_store):
    reader = store.StoreReader(demo_store)
    yield reader
    reader.close()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _ok(at: AppTest, title: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == [title]


def test_overview_is_the_default_page_and_follows_the_filters(app, reader) -> None:
    _ok(app, "Clinic overview")
    expected = clinic_overview.clinic_overview(reader, store.LOCAL_ADMIN, CohortSpec())
    shown = _metrics(app)
    assert shown["In treatment now"] == f"{expected.n_in_treatment:,}"
    assert shown["One-year retention"] == f"{expected.headline()['s365']:.1%}"
    assert "30 June 2026" in app.caption[0].value

    app.sidebar.multiselect(key="sidebar_clinics").set_value(["C04"]).run()
    app.sidebar.selectbox(key="sidebar_gap_days").set_value(14).run()
    _ok(app, "Clinic overview")
    spec = CohortSpec(clinic_ids=("C04",), gap_days=14)
    expected = clinic_overview.clinic_overview(reader, store.LOCAL_ADMIN, spec)
    shown = _metrics(app)
    assert shown["In treatment now"] == f"{expected.n_in_treatment:,}"
    assert shown["Exits, Jun 2026"] == f"{expected.n_exits_month:,}"
    assert shown["90-day retention"] == f"{expected.headline()['s90']:.1%}"
    assert len(app.get("plotly_chart")) == 4


def test_at_risk_and_compare_pages_for_an_administrator(app, reader) -> None:
    app.switch_page("app_pages/at_risk_page.py").run()
    _ok(app, "Patients at risk")
    expected = at_risk.at_risk_patients(reader, store.LOCAL_ADMIN, CohortSpec())
    assert _metrics(app)["In treatment now"] == f"{len(expected.patients):,}"
    app.multiselect(key="at_risk_signs").set_value(["relapse", "no_take_homes"]).run()
    _ok(app, "Patients at risk")
    chosen = at_risk.filter_by_signs(expected.patients, ["relapse", "no_take_homes"])
    assert _metrics(app)["With a chosen sign"] == f"{len(chosen):,}"
    assert len(app.dataframe[0].value) == len(chosen)

    app.switch_page("app_pages/compare_page.py").run()
    _ok(app, "Compare clinics")
    comparison = clinic_comparison.compare_clinics(reader, store.LOCAL_ADMIN, CohortSpec())
    assert _metrics(app)["Pooled one-year retention"] == f"{comparison.target:.1%}"
    app.selectbox(key="compare_clinic").set_value("C04").run()
    _ok(app, "Compare clinics")
    assert len(app.get("plotly_chart")) == 2
    # a clinic chosen in the sidebar becomes the curve's clinic, whatever was picked before
    app.sidebar.multiselect(key="sidebar_clinics").set_value(["C05"]).run()
    _ok(app, "Compare clinics")
    assert app.selectbox(key="compare_clinic_C05").value == "C05"


def test_a_manager_sees_own_patients_and_other_clinics_anonymously(app) -> None:
    add_accounts(Path(os.environ["RETENTION_STORE"]))
    app.run()
    app.text_input(key="sign_in_user").input("mo-manager")
    app.text_input(key="sign_in_password").input(PASSWORDS["mo-manager"])
    app.button[0].click().run()
    _ok(app, "Clinic overview")

    app.switch_page("app_pages/at_risk_page.py").run()
    _ok(app, "Patients at risk")
    rows = app.dataframe[0].value
    assert set(rows["clinic_id"]) <= {"C01", "C02"}

    app.switch_page("app_pages/compare_page.py").run()
    _ok(app, "Compare clinics")
    clinics = list(app.dataframe[0].value["Clinic"])
    assert {"C01", "C02"} <= set(clinics)
    assert not {"C03", "C04", "C05"} & set(clinics)
    assert any(c.startswith("Clinic ") for c in clinics)
