"""The Reports page headlessly: build a report, save and load an analysis."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "reports_page.py")


@pytest.fixture
def app(demo_store, monkeypatch):
    monkeypatch.setenv("RETENTION_STORE", str(demo_store))
    return AppTest.from_file(PAGE, default_timeout=120)


def test_build_report_offers_html_and_pdf(app):
    app.run()
    assert not app.exception
    app.selectbox(key="reports_clinic").set_value("C01")
    app.button(key="reports_build").click().run()
    assert not app.exception
    assert not app.error
    assert any("ready" in s.value for s in app.success)


def test_save_analysis_yaml_is_offered(app):
    app.run()
    assert not app.exception
    assert "Save this analysis" in [s.value for s in app.subheader]
