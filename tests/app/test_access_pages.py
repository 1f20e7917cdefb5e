"""Sign-in gate, role-dependent navigation and the admin pages, driven headlessly by AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import audit, users
from dashboard import registry
from tests.accounts import FAST_HASHER, NOW, PASSWORDS, add_accounts

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TIMEOUT = 60


def _app(store: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("RETENTION_STORE", str(store))
    # Pages registered while still being written elsewhere are left out of these tests (the
    # gate is what is tested here); test_project checks the registry against the files.
    on_disk = {
        section: [page for page in pages if Path(page.path).exists()]
        for section, pages in registry.PAGES.items()
    }
    monkeypatch.setattr(registry, "PAGES", on_disk)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    return at.run()


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()


def _title(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def _on_data_page(at: AppTest) -> AppTest:
    at.switch_page("app_pages/data_page.py").run()
    assert not at.exception
    assert _title(at) == ["Data"]
    return at


def _texts(at: AppTest) -> str:
    parts = [
        e.value for e in [*at.title, *at.caption, *at.info, *at.error, *at.warning, *at.success]
    ]
    return "\n".join(str(p) for p in parts)


def test_single_user_mode_shows_pages_and_a_note(writable_demo_store, monkeypatch) -> None:
    at = _on_data_page(_app(writable_demo_store, monkeypatch))
    assert "Single-user mode" in at.sidebar.info[0].value


def test_with_users_nothing_is_shown_before_sign_in(writable_demo_store, monkeypatch) -> None:
    add_accounts(writable_demo_store)
    at = _app(writable_demo_store, monkeypatch)
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.dataframe  # no demo accounts on this store: none were created as demo
    at = _sign_in(at, "ann-admin", "wrong password!")
    assert "Unknown user name or wrong password." in [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Sign in"]
    at = _sign_in(at, "x' or '1'='1", "' or 1=1 --")
    assert "Unknown user name or wrong password." in [e.value for e in at.error]
    assert len(audit.read_audit(writable_demo_store, actions=["sign_in_failed"])) == 2


def test_demo_store_lists_demo_accounts_and_admin_sees_admin_pages(
    writable_demo_store, monkeypatch
) -> None:
    accounts = users.create_demo_accounts(writable_demo_store, now=NOW, hasher=FAST_HASHER)
    at = _app(writable_demo_store, monkeypatch)
    shown = at.dataframe[0].value
    assert shown["User name"].tolist() == ["demo-admin", "demo-manager", "demo-researcher"]
    at = _on_data_page(_sign_in(at, "demo-admin", accounts[0][3]))
    assert "Signed in as **demo-admin** (administrator)" in _texts(at)
    at.switch_page("app_pages/users_page.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Users"]
    assert set(at.dataframe[0].value["user_name"]) == {a[0] for a in accounts}
    at.switch_page("app_pages/audit_page.py").run()
    assert [t.value for t in at.title] == ["Audit log"]
    assert "hash chain is intact" in _texts(at)
    at.sidebar.button(key="app_sign_out").click().run()
    assert [t.value for t in at.title] == ["Sign in"]


@pytest.mark.parametrize("who", ["mo-manager", "rita-research"])
def test_other_roles_cannot_open_admin_pages(writable_demo_store, monkeypatch, who) -> None:
    add_accounts(writable_demo_store)
    at = _app(writable_demo_store, monkeypatch)
    at = _on_data_page(_sign_in(at, who, PASSWORDS[who]))
    for page in ("users_page.py", "audit_page.py"):  # not in this role's navigation at all
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"app_pages/{page}")


def test_admin_adds_a_user_on_the_users_page(writable_demo_store, monkeypatch) -> None:
    add_accounts(writable_demo_store)
    at = _app(writable_demo_store, monkeypatch)
    at = _sign_in(at, "ann-admin", PASSWORDS["ann-admin"])
    at.switch_page("app_pages/users_page.py").run()
    at.text_input(key="users_add_name").input("new-researcher")
    at.selectbox(key="users_add_role").select("researcher")
    at.text_input(key="users_add_password").input("a fresh pass phrase")
    at.text_input(key="users_add_password2").input("a fresh pass phrase")
    at.button(key="FormSubmitter:users_add_form-Add user").click().run()
    assert not at.exception
    assert "Added new-researcher." in [s.value for s in at.success]
    assert users.get_user(writable_demo_store, "new-researcher").role == "researcher"


def test_a_researcher_is_told_why_a_small_clinics_charts_are_empty(
    writable_demo_store, monkeypatch
) -> None:
    add_accounts(writable_demo_store)
    at = _app(writable_demo_store, monkeypatch)
    at = _sign_in(at, "rita-research", PASSWORDS["rita-research"])
    at.sidebar.multiselect(key="sidebar_clinics").set_value(["C01"]).run()
    assert not at.exception
    notes = [i.value for i in at.info if "small counts are hidden" in i.value]
    assert any(n.startswith("No quarterly retention to show") for n in notes)
    # an administrator sees the same clinic's charts drawn, with no such note
    at.sidebar.button(key="app_sign_out").click().run()
    at = _sign_in(at, "ann-admin", PASSWORDS["ann-admin"])
    at.sidebar.multiselect(key="sidebar_clinics").set_value(["C01"]).run()
    assert not [i.value for i in at.info if "small counts are hidden" in i.value]
