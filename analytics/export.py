"""Figures and tables as downloadable files: PNG/SVG/PDF through kaleido, Excel and CSV.

Static export
-------------
Plotly figures are rendered by kaleido ≥ 1, which drives a headless Chromium through
choreographer. Starting Chromium takes a few seconds, so one renderer is kept warm per process:
the first :func:`figure_bytes` call starts it, later calls reuse it (well under a second each),
and it is closed at interpreter exit (or by :func:`stop_export_server`).

The browser is Debian's ``/usr/bin/chromium`` unless ``BROWSER_PATH`` (choreographer's own
variable) names another one. The path is passed to kaleido explicitly because choreographer
would otherwise prefer a Chrome it downloaded itself over ``BROWSER_PATH``. Chromium runs
headless and without its sandbox (``--no-sandbox``, required when running as root in a
container). MathJax is disabled so that rendering never waits on a CDN; plotly.js comes from
the installed plotly package.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import json
import os
import struct
import threading
import zlib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go

DEFAULT_BROWSER = "/usr/bin/chromium"
CSS_DPI = 96
"""Plotly lays figures out in CSS pixels: 96 per inch."""
FORMATS = ("png", "svg", "pdf")
SETTINGS_SHEET = "analysis_settings"
_EXCEL_BAD_CHARS = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))

ImageFormat = Literal["png", "svg", "pdf"]


class FigureExportError(RuntimeError):
    """A figure could not be rendered to a static image (browser missing or crashed)."""


def browser_path() -> str | None:
    """The Chromium used for export: ``$BROWSER_PATH``, else ``/usr/bin/chromium`` if present.

    Returns None when neither exists (kaleido then searches for a browser itself).
    """
    from_env = os.environ.get("BROWSER_PATH")
    if from_env:
        return from_env
    return DEFAULT_BROWSER if Path(DEFAULT_BROWSER).is_file() else None


class _Renderer:
    """A kaleido browser living in its own thread and event loop, shared by all callers.

    Calls are serialised with a lock; one Chromium tab renders one figure at a time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None

    @property
    def running(self) -> bool:
        return self._kaleido is not None

    def _submit(self, coroutine, timeout: float):
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _start_locked(self, timeout: float) -> None:
        if self._kaleido is not None:
            return
        import kaleido  # imported late: it starts nothing, but costs ~0.3 s

        path = browser_path()

        async def open_browser():
            options = {"path": path} if path else {}
            renderer = kaleido.Kaleido(
                n=1, timeout=timeout, mathjax=False, headless=True, enable_sandbox=False, **options
            )
            await renderer.open()
            return renderer

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kaleido-export", daemon=True
        )
        self._thread.start()
        try:
            self._kaleido = self._submit(open_browser(), timeout)
        except Exception as error:
            self._stop_loop()
            raise FigureExportError(
                f"Could not start Chromium for figure export ({path or 'browser not found'}): "
                f"{str(error).rstrip('.')}. Install it with `make chromium` or set BROWSER_PATH."
            ) from error

    def _stop_loop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._loop is not None and not self._loop.is_running():
            self._loop.close()
        self._loop = self._thread = None

    def _stop_locked(self) -> None:
        if self._kaleido is not None:
            try:
                self._submit(self._kaleido.close(), 20)
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
            self._kaleido = None
        self._stop_loop()

    def start(self, timeout: float = 60) -> None:
        with self._lock:
            self._start_locked(timeout)

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def render(self, figure: dict, opts: dict, timeout: float) -> bytes:
        with self._lock:
            for attempt in (1, 2):
                self._start_locked(timeout)
                try:
                    return self._submit(self._kaleido.calc_fig(figure, opts=opts), timeout)
                except Exception as error:
                    self._stop_locked()  # a crashed or hung browser is restarted
                    # once more with a new browser: under load kaleido's page is sometimes
                    # not ready yet ("kaleido_scopes is not defined", seen in the test suite)
                    if attempt == 2:
                        raise FigureExportError(f"Figure export failed: {error!r}") from error
        raise AssertionError("unreachable")


_RENDERER = _Renderer()
atexit.register(_RENDERER.stop)


def start_export_server(timeout: float = 60) -> None:
    """Start the shared Chromium renderer now (otherwise the first export starts it).

    Useful at application start-up or in a test-session fixture. Calling it again is a no-op.
    """
    _RENDERER.start(timeout)


def stop_export_server() -> None:
    """Close the shared Chromium renderer; the next export starts a new one."""
    _RENDERER.stop()


def export_server_running() -> bool:
    """True while a warm renderer is available."""
    return _RENDERER.running


def export_size(width_in: float, height_in: float, dpi: float) -> tuple[int, int, float]:
    """CSS-pixel size and scale for a figure of ``width_in`` × ``height_in`` inches at ``dpi``.

    Examples
    --------
    A 7 × 5 inch journal figure at 300 dpi is laid out at 672 × 480 CSS pixels and rendered
    at scale 3.125, giving a 2100 × 1500 pixel PNG:

    >>> export_size(7, 5, 300)
    (672, 480, 3.125)
    """
    return round(width_in * CSS_DPI), round(height_in * CSS_DPI), dpi / CSS_DPI


def _png_with_dpi(png: bytes, dpi: float) -> bytes:
    """Insert a pHYs chunk so that image software reads the intended print resolution."""
    per_metre = round(dpi / 0.0254)
    payload = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + payload + struct.pack(">I", zlib.crc32(payload))
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


def figure_bytes(
    fig: go.Figure,
    fmt: ImageFormat = "png",
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
    dpi: float | None = None,
    timeout: float = 60,
) -> bytes:
    """Render a plotly figure to PNG, SVG or PDF bytes with the warm Chromium renderer.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure shown on screen.
    fmt : {"png", "svg", "pdf"}
        Output format. SVG and PDF are vector: ``scale`` and ``dpi`` do not change them, and a
        PDF page is ``width`` × ``height`` CSS pixels at 96 per inch.
    width, height : int, optional
        Layout size in CSS pixels; default the figure's own ``layout.width``/``height``, else
        700 × 500. Use :func:`export_size` to convert inches.
    scale : float, optional
        PNG pixel multiplier (default 1, or ``dpi / 96`` when ``dpi`` is given).
    dpi : float, optional
        Print resolution for PNG: sets ``scale = dpi / 96`` and records the resolution in the
        file (pHYs chunk). Give either ``scale`` or ``dpi``.
    timeout : float
        Seconds to wait for the browser to start and for one render.

    Returns
    -------
    bytes
        The file content (PNG signature, ``<svg``, or ``%PDF``).

    Raises
    ------
    ValueError
        Unknown format, or both ``scale`` and ``dpi`` given.
    FigureExportError
        Chromium could not be started or failed while rendering.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if scale is not None and dpi is not None:
        raise ValueError("give either scale or dpi, not both (scale = dpi / 96)")
    if dpi is not None:
        scale = dpi / CSS_DPI
    figure = fig.to_dict()
    layout = figure.get("layout", {})
    opts = {
        "format": fmt,
        "width": width or layout.get("width") or 700,
        "height": height or layout.get("height") or 500,
        "scale": scale or 1,
    }
    content = _RENDERER.render(figure, opts, timeout)
    if fmt == "png" and dpi is not None:
        content = _png_with_dpi(content, dpi)
    return content


def table_to_csv(frame: pd.DataFrame, *, excel_bom: bool = False) -> bytes:
    """A table as UTF-8 CSV bytes (comma-separated, ``\\n`` line ends, no index column).

    A non-default index (e.g. Cox terms) is written as the first column(s).
    ``excel_bom=True`` prefixes a byte-order mark so that Excel detects UTF-8.
    """
    text = _with_index_columns(frame).to_csv(index=False, lineterminator="\n")
    return ("\ufeff" if excel_bom else "").encode() + text.encode("utf-8")


def _with_index_columns(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        return frame
    return frame.reset_index()


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cannot store time zones: convert aware datetimes to naive UTC."""
    out = _with_index_columns(frame).copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _sheet_names(names: list[str]) -> list[str]:
    """Valid, distinct Excel sheet names (≤ 31 characters, no []:*?/\\)."""
    taken = {SETTINGS_SHEET}
    result = []
    for name in names:
        base = (str(name).translate(_EXCEL_BAD_CHARS).strip("'") or "table")[:31]
        candidate, i = base, 2
        while candidate.lower() in {t.lower() for t in taken}:
            suffix = f" ({i})"
            candidate, i = base[: 31 - len(suffix)] + suffix, i + 1
        taken.add(candidate)
        result.append(candidate)
    return result


def _setting_value(value: Any) -> str | float | int | bool:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value, default=str, ensure_ascii=False)


def settings_frame(settings: Mapping[str, Any]) -> pd.DataFrame:
    """Analysis settings as ``setting, value`` rows (lists and dicts as JSON, dates ISO)."""
    return pd.DataFrame(
        {
            "setting": [str(k) for k in settings],
            "value": [_setting_value(v) for v in settings.values()],
        }
    )


def _fit_columns(sheet, frame: pd.DataFrame) -> None:
    from openpyxl.utils import get_column_letter

    for i, column in enumerate(frame.columns, start=1):
        values = [str(column)] + [str(v) for v in frame[column].head(200)]
        width = min(max(len(v) for v in values) + 2, 60)
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"


def tables_to_excel(tables: Mapping[str, pd.DataFrame], settings: Mapping[str, Any]) -> bytes:
    """An Excel workbook: one sheet per table, then a sheet ``analysis_settings``.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Sheet name → table, in order. Names are made valid for Excel (≤ 31 characters, no
        ``[]:*?/\\``, distinct). A non-default index is written as the first column(s).
    settings : mapping
        What produced the tables (data version, ``as_of``, gap days, outcome definition,
        groups, suppression threshold ...), written as ``setting, value`` rows.

    Returns
    -------
    bytes
        The ``.xlsx`` file content.
    """
    buffer = io.BytesIO()
    names = _sheet_names(list(tables))
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        sheets = [*zip(names, tables.values(), strict=True)]
        sheets.append((SETTINGS_SHEET, settings_frame(settings)))
        for name, table in sheets:
            frame = _excel_ready(table)
            frame.to_excel(writer, sheet_name=name, index=False)
            _fit_columns(writer.sheets[name], frame)
    return buffer.getvalue()
