"""The Research pages headless (AppTest): every page runs without exceptions, with default and
changed settings, and shows the analytics layer's numbers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import cohort_analysis as ca
from analytics import risk_models as rm
from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = (
    "cohort_page.py",
    "curves_page.py",
    "risk_factors_page.py",
    "family_page.py",
    "relapse_page.py",
    "outcomes_page.py",
)


@pytest.fixture(scope="module")
def app_store(demo_store, tmp_path_factory):
    copy = tmp_path_factory.mktemp("research_app") / "demo.duckdb"
    shutil.copy(demo_store, copy)
    old = os.environ.get("RETENTION_STORE")
    os.environ["RETENTION_STORE"] = str(copy)
    yield copy
    if old is None:
        os.environ.pop("RETENTION_STORE", None)
    else:
        os.environ["RETENTION_STORE"] = old


@pytest.fixture(scope="module")
def episodes(app_store):
    return cohort_episodes(store.StoreReader(app_store), store.LOCAL_ADMIN, CohortSpec())


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(f"app_pages/{name}")
    at.run()
    return at


# Pages whose sections are tabs that run only when open (widgets.sections): key and labels.
SECTIONS = {
    "curves_page.py": (
        "curves_section",
        ["Kaplan–Meier", "Competing exits", "Restricted mean time", "Gap rule sensitivity"],
    ),
    "risk_factors_page.py": (
        "risk_section",
        ["Hazard ratios", "Proportional hazards", "Dropout (Fine–Gray)", "Adjusted curves"],
    ),
    "family_page.py": (
        "family_section",
        ["By family support", "Family education", "Support over time"],
    ),
    "relapse_page.py": (
        "relapse_section",
        ["Lasagna plot", "Positive by week", "First relapse", "Missed doses before exit"],
    ),
}


def open_section(at: AppTest, key: str, label: str) -> None:
    at.session_state[key] = label
    at.run()
    assert_clean(at)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("name", PAGES)
def test_page_runs_with_defaults(app_store, name):
    at = open_page(name)
    assert_clean(at)
    assert at.title[0].value


def test_cohort_builder_applies_filters(app_store, episodes):
    at = open_page("cohort_page.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Episodes"] == f"{len(episodes):,}"
    assert metrics["Patients"] == f"{episodes['patient_id'].nunique():,}"
    at.multiselect(key="cohort_form_modalities").set_value(["MMT"])
    at.selectbox(key="cohort_form_gap_days").set_value(14)
    next(b for b in at.button if b.label == "Apply").click()
    at.run()
    assert_clean(at)
    spec = CohortSpec(modalities=("MMT",), gap_days=14)
    expected = cohort_episodes(store.StoreReader(app_store), store.LOCAL_ADMIN, spec)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Episodes"] == f"{len(expected):,}"
    assert at.query_params["modalities"] in ("MMT", ["MMT"])
    at.selectbox(key="cohort_table_group").set_value("sex").run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert {"Overall", "female", "male"} <= set(table.columns)
    assert table.iloc[0]["Overall"] == f"{len(expected):,}"


def test_curves_page_numbers_equal_analytics(app_store, episodes):
    at = open_page("curves_page.py")
    at.selectbox(key="curves_group_by").set_value("dose_band").run()
    at.radio(key="curves_conf_type").set_value("log-log").run()
    assert_clean(at)
    expected = ca.retention_curves(episodes, "dose_band", conf_type="log-log").summary
    shown = at.dataframe[0].value
    assert list(shown["group"]) == list(expected["group"])
    assert shown["s365"].to_numpy() == pytest.approx(expected["s365"].to_numpy())
    assert shown["s365_lower"].to_numpy() == pytest.approx(expected["s365_lower"].to_numpy())
    tests = at.dataframe[1].value
    assert any(m.startswith("log-rank trend") for m in tests["method"])
    open_section(at, "curves_section", "Gap rule sensitivity")
    sensitivity = at.dataframe[-1].value
    assert list(sensitivity["gap_days"]) == [7, 14, 30]
    expected = ca.gap_sensitivity_for(store.StoreReader(app_store), store.LOCAL_ADMIN, CohortSpec())
    assert sensitivity["s365"].to_numpy() == pytest.approx(expected["s365"].to_numpy())


def test_risk_factors_page_fits_the_chosen_terms(app_store, episodes):
    at = open_page("risk_factors_page.py")
    assert_clean(at)
    terms = ["age_years", "dose_band", "is_take_home"]
    at.multiselect(key="risk_terms").set_value(terms).run()
    assert_clean(at)
    shown = at.dataframe[0].value
    expected = rm.fit_risk_model_for(
        store.StoreReader(app_store), store.LOCAL_ADMIN, CohortSpec(), terms=tuple(terms)
    )
    assert shown["hr"].to_numpy() == pytest.approx(expected.coefficients["hr"].to_numpy())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events"] == f"{expected.n_events:,}"


def test_risk_factors_page_explains_a_bad_model(app_store):
    at = open_page("risk_factors_page.py")
    at.multiselect(key="risk_terms").set_value([]).run()
    assert not at.exception
    assert any("at least one term" in e.value for e in at.error)
    # clinics without methadone: the default dose-band term has one value; a sentence says so
    at.multiselect(key="risk_terms").set_value(["age_years", "dose_band"]).run()
    at.sidebar.multiselect(key="sidebar_clinics").set_value(["C01", "C02"]).run()
    assert not at.exception
    assert any("has only not applicable" in e.value for e in at.error)


def test_outcomes_and_family_options(app_store):
    at = open_page("outcomes_page.py")
    at.selectbox(key="outcomes_measure").set_value("acute_housing_problem").run()
    at.selectbox(key="outcomes_group").set_value("none").run()
    assert_clean(at)
    at = open_page("family_page.py")
    open_section(at, "family_section", "Support over time")
    at.selectbox(key="family_measure").set_value("apgar_total").run()
    at.selectbox(key="family_trend_group").set_value("has_family_education_before").run()
    assert_clean(at)


def test_empty_cohort_is_a_message(app_store):
    at = open_page("cohort_page.py")
    at.slider(key="cohort_form_ages").set_value((16, 17))
    next(b for b in at.button if b.label == "Apply").click()
    at.run()
    assert not at.exception
    at.switch_page("app_pages/curves_page.py")
    at.run()
    assert not at.exception
    assert any("no episodes" in e.value for e in at.error)


@pytest.mark.parametrize("name", PAGES)
def test_page_runs_for_a_single_monthly_screening_clinic(app_store, name):
    # C05 screens monthly and is small: pages must show numbers or sentences, never a traceback
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["clinic_ids"] = "C05"
    at.run()
    at.switch_page(f"app_pages/{name}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value


@pytest.mark.parametrize(
    ("name", "label"),
    [(name, label) for name, (_, labels) in SECTIONS.items() for label in labels],
)
def test_every_section_runs_with_default_and_changed_filters(app_store, name, label):
    key, labels = SECTIONS[name]
    at = open_page(name)
    assert [t.label for t in at.tabs] == labels
    open_section(at, key, label)
    shown = len(at.get("plotly_chart")) + len(at.dataframe)
    assert shown > 0, f"{label}: nothing drawn"
    at.sidebar.selectbox(key="sidebar_gap_days").set_value(14).run()
    assert_clean(at)
    at.sidebar.radio(key="sidebar_outcome").set_value("dropout").run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) + len(at.dataframe) > 0
    # two small clinics: numbers, or a sentence saying what to change (never a traceback)
    at.sidebar.multiselect(key="sidebar_clinics").set_value(["C03", "C04"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) + len(at.dataframe) + len(at.error) > 0
    assert at.session_state[key] == label  # the section stays open while filters change


def test_only_the_open_section_runs(app_store):
    at = open_page("risk_factors_page.py")
    # the default section: the Cox model, without the Fine–Gray or weighting sections
    assert "Dropout with competing exits (Fine–Gray)" not in [h.value for h in at.subheader]
    assert not any(c.proto.id.endswith("risk_fg") for c in at.get("plotly_chart"))
    open_section(at, "risk_section", "Dropout (Fine–Gray)")
    assert "Dropout with competing exits (Fine–Gray)" in [h.value for h in at.subheader]
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == ["risk_fg"]


def test_a_shared_link_opens_its_section_and_keeps_it_with_new_filters(app_store, episodes):
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["risk_section"] = "Dropout (Fine–Gray)"
    at.query_params["gap_days"] = "14"
    at.run()
    at.switch_page("app_pages/risk_factors_page.py").run()
    assert_clean(at)
    assert "Dropout with competing exits (Fine–Gray)" in [h.value for h in at.subheader]
    fg, _ = rm.fit_dropout_model_for(
        store.StoreReader(app_store), store.LOCAL_ADMIN, CohortSpec(gap_days=14),
        terms=("mspss_family", "apgar_total", "dose_band", "age_years", "sex", "has_no_income"),
    )  # fmt: skip
    shown = at.dataframe[0].value
    assert shown["hr"].to_numpy() == pytest.approx(fg["hr"].to_numpy())
    # a filter change rewrites the cohort's parameters, never the section's (Streamlit refuses
    # writes to a parameter bound to a widget)
    at.sidebar.selectbox(key="sidebar_gap_days").set_value(30).run()
    assert_clean(at)
    assert at.query_params["gap_days"] in ("30", ["30"])
    assert at.session_state["risk_section"] == "Dropout (Fine–Gray)"


@pytest.mark.parametrize("clinic", ["C01", "C05"], ids=["heroin-assisted", "monthly-screens"])
@pytest.mark.parametrize(
    ("name", "label"),
    [(name, label) for name, (_, labels) in SECTIONS.items() for label in labels],
)
def test_every_section_runs_for_a_single_unusual_clinic(app_store, name, label, clinic):
    # C01 treats with heroin only (no methadone dose bands); C05 screens monthly and is small:
    # each section shows numbers or sentences, never a traceback
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["clinic_ids"] = clinic
    at.query_params[SECTIONS[name][0]] = label
    at.run()
    at.switch_page(f"app_pages/{name}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[SECTIONS[name][0]] == label
    assert len(at.get("plotly_chart")) + len(at.dataframe) + len(at.error) > 0
    if clinic == "C01" and label in ("Hazard ratios", "Dropout (Fine–Gray)"):
        # the default model leaves out the methadone dose band (always "not applicable" here)
        # and says so; chosen on purpose, a sentence names it, by its label
        assert not at.error
        assert any("Left out of the default terms: Methadone dose at day 30" in c.value
                   for c in at.caption)  # fmt: skip
        terms = at.multiselect(key="risk_terms")
        assert "dose_band" not in terms.value
        terms.set_value([*terms.value, "dose_band"]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("Methadone dose at day 30 has only not applicable" in e.value for e in at.error)
