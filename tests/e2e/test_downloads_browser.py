"""The Reports page in a real browser: every download button delivers a file of the right type."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAVED = "analysis_version: 2\nkind: retention_curves\nsettings: {group_by: modality}\n"


def _download(page, label: str, *, exact: bool = False):
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name=label, exact=exact).first.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_reports_page_downloads(app_url: str, page, tmp_path) -> None:
    page.goto(app_url + "/reports")
    wait_for_app(page)
    page.get_by_role("button", name="Build report").click()
    page.get_by_text("The report is ready.").wait_for(timeout=120_000)
    name, content = _download(page, "Download HTML")
    assert name.endswith(".html")
    assert b"<svg" in content
    name, content = _download(page, "Download PDF")
    assert name.endswith(".pdf")
    assert content.startswith(b"%PDF")
    name, content = _download(page, "Save this analysis (YAML)")
    assert name.endswith(".yaml")
    assert b"analysis_version: 2" in content

    spec = tmp_path / "saved.yaml"
    spec.write_text(SAVED)
    page.locator('input[type="file"]').set_input_files(str(spec))
    page.get_by_role("button", name="All tables (Excel)").wait_for(timeout=120_000)
    name, content = _download(page, "All tables (Excel)")
    assert name.endswith(".xlsx")
    assert content[:2] == b"PK"
    name, content = _download(page, "PNG")
    assert name.endswith(".png")
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    name, content = _download(page, "SVG")
    assert name.endswith(".svg")
    assert b"<svg" in content[:500]
    screenshot(page, "reports_page")


def test_table_downloads_are_written_when_clicked(app_url: str, page) -> None:
    page.goto(app_url + "/at-risk")
    wait_for_app(page)
    name, content = _download(page, "CSV", exact=True)  # not the table's own toolbar button
    assert name == "patients_at_risk.csv"
    lines = content.decode("utf-8").splitlines()
    assert lines[0].startswith("patient_id,clinic_id,")
    assert len(lines) > 100  # every patient with a chosen sign, not a page of them
    wait_for_app(page)  # the page settles before the second button is looked up
    name, content = _download(page, "Excel", exact=True)
    assert name == "patients_at_risk.xlsx"
    assert content[:2] == b"PK"
