"""Clinic report: sections and methods text in the PDF, counts only, CLI outputs."""

from __future__ import annotations

import subprocess

import pytest

from analytics import store
from analytics.cli import main
from analytics.cohort_spec import CohortSpec
from analytics.report import SECTIONS, build_report


@pytest.fixture(scope="module")
def built(demo_store, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("report")
    reader = store.StoreReader(demo_store)
    paths = build_report(
        reader, store.LOCAL_ADMIN, CohortSpec(gap_days=14), clinic_id="C01", out_dir=out_dir
    )
    return paths


def _pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_pdf_has_every_section_and_the_methods_text(built):
    pdf = built["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "A4" in info
    text = _pdf_text(pdf)
    for title in SECTIONS:
        assert title in text, title
    flat = " ".join(text.split())
    assert "gap of more than 14 days" in flat
    assert "conf_type 'log'" in flat
    assert "ties 'efron'" in flat
    assert "Data cut-off: 2026-" in flat or "Data cut-off:" in flat
    for package in ("python", "duckdb", "lifelines", "pandas", "plotly"):
        assert package in flat
    assert "Number at risk" in flat


def test_page_one_renders(built, tmp_path):
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(built["pdf"]),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    pages = list(tmp_path.glob("p*.png"))
    assert pages
    assert pages[0].stat().st_size > 10_000


def test_html_is_self_contained_and_names_nobody(built, demo_store):
    page = built["html"].read_text()
    assert "<svg" in page
    assert 'src="http' not in page
    assert 'href="http' not in page
    assert "P0" not in page  # patient ids look like P000123


def test_cli_clinic_report_and_saved_analysis(demo_store, tmp_path):
    out = tmp_path / "c01.html"
    assert (
        main(["clinic-report", "--store", str(demo_store), "--clinic", "C01", "--out", str(out)])
        == 0
    )
    assert "Methods" in out.read_text()
    spec = tmp_path / "a.yaml"
    spec.write_text("analysis_version: 2\nkind: retention_curves\nsettings: {group_by: sex}\n")
    xlsx = tmp_path / "tables.xlsx"
    assert main(["report", str(spec), "--store", str(demo_store), "--out", str(xlsx)]) == 0
    assert xlsx.read_bytes()[:2] == b"PK"
    png = tmp_path / "km.png"
    assert main(["report", str(spec), "--store", str(demo_store), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        main(["report", str(spec), "--store", str(demo_store), "--out", str(tmp_path / "x.doc")])
        == 2
    )
