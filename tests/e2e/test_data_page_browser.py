"""The Data page in a real browser: counts shown, an upload imports a file."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def test_data_page_shows_counts_and_history(app_url: str, page) -> None:
    page.goto(app_url + "/data")
    wait_for_app(page)
    page.get_by_text("Rows per clinic").wait_for()
    page.get_by_text("Import history").wait_for()
    page.get_by_text("Dosing visits").first.wait_for()  # the metrics come after the headers
    screenshot(page, "data_page")
    assert page.get_by_text("Dosing visits").count() >= 1
