"""Project-wide promises: documentation in step with code, every page registered."""

from __future__ import annotations

from pathlib import Path

from analytics.data_dictionary import render_data_dictionary
from dashboard.registry import GATE_PAGES, PAGES, PAGES_DIR

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_data_dictionary_is_up_to_date() -> None:
    written = (PROJECT_DIR / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert written == render_data_dictionary(), (
        "docs/data_dictionary.md is stale: run `retention data-dictionary "
        "--out docs/data_dictionary.md`"
    )


def test_every_page_file_is_registered() -> None:
    registered = {entry.file for pages in PAGES.values() for entry in pages}
    registered |= {entry.file for entry in GATE_PAGES}  # the sign-in page, shown by app.py
    on_disk = {p.name for p in PAGES_DIR.glob("*.py") if p.name != "__init__.py"}
    assert on_disk == registered


def test_readme_names_the_run_and_test_commands() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme
    assert "make test" in readme
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_analytics_never_imports_streamlit() -> None:
    offenders = [
        str(path.relative_to(PROJECT_DIR))
        for path in (PROJECT_DIR / "analytics").rglob("*.py")
        if "import streamlit" in path.read_text(encoding="utf-8")
        or "from streamlit" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
