"""The manager's flow in a real browser: the overview opens first, then the at-risk list."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def test_overview_then_patients_at_risk(app_url: str, page) -> None:
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_role("heading", name="Clinic overview").wait_for()
    page.get_by_text("In treatment now").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    assert page.locator('[data-testid="stMetric"]').count() == 5
    assert page.get_by_text("Data cut-off").count() >= 1
    screenshot(page, "manager_overview")

    started = time.monotonic()
    page.get_by_role("link", name="Patients at risk").click()
    page.get_by_role("heading", name="Patients at risk").wait_for()
    wait_for_app(page)
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    assert time.monotonic() - started < 30
    assert page.get_by_text("With a chosen sign").count() == 1
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "manager_at_risk")
