"""Static export (kaleido + Debian's Chromium) and table downloads.

Static exports cost a render each, so they are few and share one warm Chromium for the whole
test session (``export_server``).
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import export
from analytics.charts import survival_chart
from analytics.export import (
    FigureExportError,
    export_server_running,
    export_size,
    figure_bytes,
    start_export_server,
    stop_export_server,
    table_to_csv,
    tables_to_excel,
)
from tests.unit.test_charts import ADDICTS, R_N_RISK, TICKS, at_risk, km_frame

needs_chromium = pytest.mark.skipif(
    export.browser_path() is None and shutil.which("chromium") is None,
    reason="figure export needs Chromium (make chromium)",
)
TITLE = "Retention in methadone maintenance by clinic"


@pytest.fixture(scope="session")
def export_server():
    """One warm Chromium for every export test in this process."""
    start_export_server()
    yield
    stop_export_server()


@pytest.fixture(scope="module")
def km_figure() -> go.Figure:
    data = pd.read_csv(ADDICTS)
    return survival_chart(
        km_frame(data), at_risk(data, TICKS), title=TITLE, caption="Log-rank p < 0.0001"
    )


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", png[16:24])


def png_dpi(png: bytes) -> float | None:
    position = png.find(b"pHYs")
    if position < 0:
        return None
    per_metre_x, _, unit = struct.unpack(">IIB", png[position + 4 : position + 13])
    assert unit == 1
    return per_metre_x * 0.0254


# --- static export -----------------------------------------------------------------------------


@needs_chromium
def test_svg_holds_the_title_and_the_numbers_at_risk(export_server, km_figure) -> None:
    svg = figure_bytes(km_figure, "svg").decode("utf-8")
    assert svg.startswith("<svg")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert TITLE in texts
    assert "Log-rank p &#60; 0.0001" in texts
    for numbers in R_N_RISK.values():
        assert {str(n) for n in numbers} <= set(texts)
    assert any("Number at risk" in t for t in re.findall(r"<text.*?</text>", svg))


@needs_chromium
def test_png_has_the_pixel_size_and_resolution_of_the_dpi(export_server) -> None:
    width, height, scale = export_size(7, 5, 300)
    assert (width, height, scale) == (672, 480, 3.125)
    data = pd.read_csv(ADDICTS)
    fig = survival_chart(km_frame(data), at_risk(data, TICKS), title=TITLE, height=height)
    png = figure_bytes(fig, "png", width=width, dpi=300)
    assert png_size(png) == (2100, 1500)
    assert png_dpi(png) == pytest.approx(300, abs=0.01)


@needs_chromium
def test_pdf_and_the_server_stays_warm(export_server, km_figure) -> None:
    renderer = export._RENDERER._kaleido
    pdf = figure_bytes(km_figure, "pdf", width=672, height=480)
    assert pdf.startswith(b"%PDF")
    # a 672 x 480 CSS-pixel page is 7 x 5 inches = 504 x 360 points
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box is not None
    assert (float(box[1]), float(box[2])) == pytest.approx((504, 360), abs=1)
    assert export_server_running()
    assert export._RENDERER._kaleido is renderer  # reused, not restarted


@needs_chromium
def test_concurrent_exports_each_get_their_own_image(export_server) -> None:
    sizes, errors = {}, []

    def render(width: int) -> None:
        try:
            fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
            sizes[width] = png_size(figure_bytes(fig, "png", width=width, height=200))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=render, args=(w,)) for w in (300, 400)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sizes == {300: (300, 200), 400: (400, 200)}


def test_export_arguments_are_checked_before_rendering() -> None:
    fig = go.Figure()
    with pytest.raises(ValueError, match="fmt must be one of png, svg, pdf"):
        figure_bytes(fig, "eps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either scale or dpi"):
        figure_bytes(fig, "png", scale=2, dpi=300)


def test_a_missing_browser_is_reported_with_what_to_do(monkeypatch) -> None:
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    renderer = export._Renderer()
    with pytest.raises(FigureExportError, match="make chromium"):
        renderer.start(timeout=20)
    assert not renderer.running


def test_browser_defaults_to_debian_chromium(monkeypatch) -> None:
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    expected = "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None
    assert export.browser_path() == expected
    monkeypatch.setenv("BROWSER_PATH", "/opt/chrome/chrome")
    assert export.browser_path() == "/opt/chrome/chrome"


# --- tables ------------------------------------------------------------------------------------


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    retention = pd.DataFrame(
        {
            "group": ["Clinic 1", "Clinic 2"],
            "time": [365.0, 365.0],
            "survival": [0.5321, 0.7012],
            "n_risk": [75, 47],
        }
    )
    cox = pd.DataFrame(
        {"hr": [0.70, 1.39], "p": [1e-8, 0.051]},
        index=pd.Index(["dose10", "prison"], name="term"),
    )
    return {"one-year retention": retention, "cox": cox}


def test_excel_has_one_sheet_per_table_and_the_settings(tables) -> None:
    settings = {
        "as_of": date(2026, 6, 30),
        "gap_days": 7,
        "outcome": "any exit",
        "groups": ["Clinic 1", "Clinic 2"],
        "suppression_threshold": 11,
    }
    content = tables_to_excel(tables, settings)
    sheets = pd.read_excel(io.BytesIO(content), sheet_name=None)
    assert list(sheets) == ["one-year retention", "cox", "analysis_settings"]
    # Excel stores every number as a double: 365.0 comes back as int64, so compare values
    pd.testing.assert_frame_equal(
        sheets["one-year retention"], tables["one-year retention"], check_dtype=False
    )
    pd.testing.assert_frame_equal(sheets["cox"], tables["cox"].reset_index())
    written = dict(
        zip(
            sheets["analysis_settings"]["setting"],
            sheets["analysis_settings"]["value"],
            strict=True,
        )
    )
    assert written == {
        "as_of": "2026-06-30",
        "gap_days": 7,
        "outcome": "any exit",
        "groups": '["Clinic 1", "Clinic 2"]',
        "suppression_threshold": 11,
    }


def test_excel_sheet_names_are_made_valid_and_distinct() -> None:
    frame = pd.DataFrame({"a": [1]})
    long = "Retention by clinic/modality: one year [all]"
    content = tables_to_excel({long: frame, long[:31]: frame, "analysis_settings": frame}, {})
    names = list(pd.read_excel(io.BytesIO(content), sheet_name=None))
    assert len(names) == 4
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert len({n.lower() for n in names}) == 4
    assert names[-1] == "analysis_settings"


def test_excel_accepts_time_zone_aware_dates() -> None:
    frame = pd.DataFrame({"imported_at": pd.to_datetime(["2026-01-02 10:00"]).tz_localize("UTC")})
    sheets = pd.read_excel(io.BytesIO(tables_to_excel({"imports": frame}, {})), sheet_name=None)
    assert sheets["imports"]["imported_at"].iloc[0] == pd.Timestamp("2026-01-02 10:00")


def test_csv_round_trips(tables) -> None:
    content = table_to_csv(tables["one-year retention"])
    assert content.startswith(b"group,time,survival,n_risk\n")
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(content)), tables["one-year retention"])
    cox = pd.read_csv(io.BytesIO(table_to_csv(tables["cox"])))
    assert list(cox.columns) == ["term", "hr", "p"]
    np.testing.assert_allclose(cox["hr"], [0.70, 1.39])
    assert table_to_csv(tables["cox"], excel_bom=True).startswith("\ufeff".encode())


@needs_chromium
def test_a_failed_export_is_tried_once_more_with_a_new_browser() -> None:
    """Under load kaleido's page is sometimes not ready ("kaleido_scopes is not defined"):
    the renderer restarts Chromium and renders again instead of failing the download."""
    renderer = export._Renderer()
    renderer.start(timeout=60)
    first = renderer._kaleido

    async def not_ready(*args, **kwargs):
        raise RuntimeError("ReferenceError: kaleido_scopes is not defined")

    first.calc_fig = not_ready  # the real browser, made to fail its next render once
    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 0])).to_dict()
    png = renderer.render(figure, {"format": "png", "width": 200, "height": 150}, timeout=60)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert renderer._kaleido is not first  # a new browser rendered it
    # a browser that fails every time: the second failure is the user's error
    renderer._kaleido.calc_fig = not_ready
    renderer._start_locked = _failing_start(renderer, not_ready)
    with pytest.raises(FigureExportError, match="kaleido_scopes"):
        renderer.render(figure, {"format": "png", "width": 200, "height": 150}, timeout=60)
    renderer.stop()


def _failing_start(renderer, not_ready):
    start = renderer._start_locked

    def started(timeout):
        start(timeout)
        renderer._kaleido.calc_fig = not_ready

    return started
