"""Research flow in a real browser: cohort builder → retention curves → PNG download, and the
risk-factor model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import SCREENSHOTS, screenshot, wait_for_app, wait_for_charts

pytestmark = pytest.mark.e2e
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_cohort_to_curves_and_png_download(app_url: str, page) -> None:
    page.goto(app_url + "/cohort")
    wait_for_app(page)
    page.get_by_text("Table 1: baseline characteristics").wait_for()
    screenshot(page, "research_cohort")

    page.get_by_role("link", name="Retention curves").click()
    wait_for_app(page)
    page.get_by_text("Median, 3-month and one-year retention").wait_for()
    wait_for_charts(page)
    screenshot(page, "research_curves")

    with page.expect_download(timeout=90_000) as info:
        page.locator('[data-testid="stDownloadButton"]').filter(has_text="PNG").first.click()
    download = info.value
    assert download.suggested_filename == "retention_curves.png"
    content = Path(download.path()).read_bytes()
    assert content.startswith(PNG_SIGNATURE)
    assert len(content) > 20_000
    (SCREENSHOTS / "research_curves_download.png").write_bytes(content)


def test_risk_factor_model(app_url: str, page) -> None:
    page.goto(app_url + "/risk-factors")
    wait_for_app(page)
    page.get_by_text("Episodes in the model").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    wait_for_charts(page)
    screenshot(page, "research_risk_factors")

    # each section runs when its tab opens, and the URL names it so the view can be shared
    page.get_by_role("tab", name="Proportional hazards").click()
    page.get_by_text("Residual plots for").wait_for()
    wait_for_app(page)
    wait_for_charts(page)
    assert "risk_section=Proportional" in page.url
    screenshot(page, "research_risk_ph")

    started = time.monotonic()
    page.get_by_role("tab", name="Dropout (Fine–Gray)").click()
    page.get_by_text("Dropout with competing exits (Fine–Gray)").wait_for()
    assert time.monotonic() - started < 60
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0

    page.goto(page.url)  # the shared link opens the same section
    wait_for_app(page)
    page.get_by_text("Dropout with competing exits (Fine–Gray)").wait_for()
