"""Shared widgets: error panel, metric row, table downloads."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator

import pandas as pd
import streamlit as st

from analytics.errors import RetentionError

P_VALUE_COLUMNS = ("p", "p_value")


def with_readable_p_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for display: p-values as researchers write them ("< 0.0001", "0.012"), not
    0 or 1.2e-43; the table's downloads keep every digit."""
    from analytics.charts import format_p_value

    shown = frame.copy()
    for column in P_VALUE_COLUMNS:
        if column in shown.columns:
            shown[column] = [
                "—" if pd.isna(p) else format_p_value(float(p), prefix="").strip(" =")
                for p in shown[column]
            ]
    return shown


def show_tests(frame: pd.DataFrame, **kwargs) -> None:
    """``st.dataframe`` of test or model results with readable p-values."""
    kwargs.setdefault("hide_index", True)
    st.dataframe(with_readable_p_values(frame), width="stretch", **kwargs)


@contextlib.contextmanager
def error_panel() -> Iterator[None]:
    """Show a domain error as a sentence (st.error), never as a traceback."""
    try:
        yield
    except RetentionError as exc:
        st.error(str(exc))


def empty_note(frame: pd.DataFrame, what: str, threshold: int | None) -> None:
    """A sentence under a chart with nothing to draw: why (small counts hidden, or no data)."""
    if not frame.empty:
        return
    if threshold:
        st.info(
            f"No {what} to show: every value here counts fewer than {threshold} patients or "
            "episodes, and small counts are hidden for de-identified access."
        )
    else:
        st.info(f"No {what} in this selection.")


def sections(labels: list[str], *, key: str) -> list:
    """Tabs of which only the open one runs (``if tab.open:``): a page computes and draws one
    section per run, not every model and chart at once. The open tab is in the URL under
    ``key``, so a shared link opens the same section."""
    return list(st.tabs(labels, key=key, bind="query-params"))


def metric_row(metrics: list[tuple[str, str]]) -> None:
    columns = st.columns(len(metrics))
    for column, (label, value) in zip(columns, metrics, strict=True):
        column.metric(label, value)


PATIENT_COLUMNS = ("patient_id", "admission_id")
"""Columns that make a table identifiable patient rows (when the viewer is identifiable)."""


def holds_identifiable_rows(frame: pd.DataFrame, viewer) -> bool:
    """True when ``frame`` has patient rows as stored (a patient id column and a viewer with
    identifiable access; de-identified viewers only ever get pseudonyms)."""
    return bool(viewer.identifiable) and any(c in frame.columns for c in PATIENT_COLUMNS)


def audited_download(frame: pd.DataFrame, what: str, make: Callable[[], bytes]):
    """A download button's deferred ``data``: ``make()``'s bytes, and for identifiable patient
    rows an ``export`` audit entry written as the file is made (so only real downloads are
    audited, and no rerun is needed: a rerun while the browser fetches a deferred file can
    lose the download)."""
    from dashboard import data

    viewer, store_file = data.current_viewer(), data.store_path()
    identifiable = holds_identifiable_rows(frame, viewer)

    def produce() -> bytes:
        content = make()
        if identifiable:
            data.audit_export(what, frame, viewer=viewer, store_file=store_file)
        return content

    return produce


def table_downloads(frame: pd.DataFrame, *, name: str, key: str) -> None:
    """CSV and Excel downloads of a table, side by side, written only when clicked (an Excel
    file of a large table takes seconds). Downloading identifiable patient rows is written to
    the audit log (``export``, what = ``download:<name>.<csv|xlsx>``)."""
    left, right, _ = st.columns([1, 1, 4])
    left.download_button(
        "CSV",
        audited_download(
            frame, f"download:{name}.csv", lambda: frame.to_csv(index=False).encode("utf-8")
        ),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
    )
    right.download_button(
        "Excel",
        audited_download(frame, f"download:{name}.xlsx", lambda: excel_bytes(frame, sheet=name)),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click="ignore",
    )


def excel_bytes(frame: pd.DataFrame, *, sheet: str) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


def figure_downloads(fig, *, name: str, key: str) -> None:
    """PNG and SVG downloads of a plotly figure, rendered only when clicked
    (``analytics.export.figure_bytes``; the first render starts Chromium, ~2 s)."""
    from analytics.export import figure_bytes

    left, right, _ = st.columns([1, 1, 4])
    left.download_button(
        "PNG",
        lambda: figure_bytes(fig, "png", scale=2),
        file_name=f"{name}.png",
        mime="image/png",
        key=f"{key}_png",
        on_click="ignore",
    )
    right.download_button(
        "SVG",
        lambda: figure_bytes(fig, "svg"),
        file_name=f"{name}.svg",
        mime="image/svg+xml",
        key=f"{key}_svg",
        on_click="ignore",
    )
