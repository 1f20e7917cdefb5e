"""Each role signs in through the sign-in page and opens Patients at risk in a real browser:
the administrator sees every clinic's rows, the manager only C01/C02, the researcher no
patient at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.accounts import PASSWORDS, add_accounts
from tests.e2e.conftest import screenshot, start_server, wait_for_app

pytestmark = pytest.mark.e2e

PATIENT_ID = re.compile(r"\bP\d{6}\b")
CLINIC_ID = re.compile(r"\bC\d{2}\b")


@pytest.fixture(scope="module")
def roles_url(demo_store: Path, tmp_path_factory):
    store = tmp_path_factory.mktemp("roles") / "demo.duckdb"
    store.write_bytes(demo_store.read_bytes())
    add_accounts(store)
    process, url = start_server(store)
    yield url
    process.terminate()
    process.wait(timeout=20)


def _sign_in(page, url: str, user_name: str) -> None:
    page.goto(url)
    wait_for_app(page)
    page.get_by_role("heading", name="Sign in").wait_for()
    page.get_by_role("textbox", name="User name").fill(user_name)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[user_name])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    wait_for_app(page)


def _at_risk_rows(page) -> str:
    page.get_by_role("link", name="Patients at risk").click()
    page.get_by_role("heading", name="Patients at risk").wait_for()
    wait_for_app(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    # the grid is a canvas: read its rows from the CSV download's data instead of pixels
    with page.expect_download() as download:
        page.locator('[data-testid="stDownloadButton"]').first.click()
    return Path(download.value.path()).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("user_name", "clinics"),
    [("ann-admin", None), ("mo-manager", {"C01", "C02"})],
)
def test_identifiable_roles_see_their_clinics_at_risk(roles_url, page, user_name, clinics) -> None:
    _sign_in(page, roles_url, user_name)
    csv = _at_risk_rows(page)
    lines = csv.strip().splitlines()
    header = lines[0].split(",")
    assert "patient_id" in header
    column = header.index("clinic_id")
    shown = {line.split(",")[column] for line in lines[1:]}
    assert len(lines) > 1
    if clinics is None:
        assert len(shown) > 2  # rows of every clinic, not just a manager's
    else:
        assert shown <= clinics
    assert PATIENT_ID.search(csv)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, f"roles_at_risk_{user_name}")


def test_researcher_sees_no_patient_at_risk(roles_url, page) -> None:
    _sign_in(page, roles_url, "rita-research")
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_role("link", name="Patients at risk").count() == 0
    # the page address itself: a new session (sign in again), then the at-risk URL
    page.goto(roles_url + "/at-risk")
    wait_for_app(page)
    screenshot(page, "roles_at_risk_researcher_url")
    page.keyboard.press("Escape")  # Streamlit's "page not found" dialog, if any
    page.wait_for_timeout(300)
    text = page.locator('[data-testid="stApp"]').inner_text()
    if "Sign in" in text and page.get_by_role("textbox", name="User name").count():
        page.get_by_role("textbox", name="User name").fill("rita-research")
        page.get_by_role("textbox", name="Password").fill(PASSWORDS["rita-research"])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for()
        wait_for_app(page)
        text = page.locator('[data-testid="stApp"]').inner_text()
    if "Patients at risk" in text:  # reached the page: its own refusal
        assert "not available for de-identified access" in text
    assert page.locator('[data-testid="stDataFrame"]').filter(has_text="P0").count() == 0
    assert not PATIENT_ID.search(text)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "roles_at_risk_researcher")
