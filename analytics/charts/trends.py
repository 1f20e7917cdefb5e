"""Simple trends and counts: a monthly line chart and a bar chart (e.g. exits by reason)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.curves import ALL_GROUPS
from analytics.charts.style import OKABE_ITO, Palette, apply_layout, group_colours


def _check(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")


def trend_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    x: str = "month",
    y: str = "n_patients",
    group: str | None = None,
    y_title: str = "Patients in treatment",
    x_title: str = "Month",
    palette: Palette = None,
    percent: bool = False,
    height: int = 460,
    legend_title: str | None = None,
) -> go.Figure:
    """A line per group over time, e.g. patients in treatment per month.

    Parameters
    ----------
    frame : DataFrame
        One row per time point (per group): columns ``x`` (dates or month starts), ``y`` and
        optionally ``group``.
    title : str
        What is shown, e.g. "Patients in treatment per month".
    x, y, group : str
        Column names.
    y_title, x_title : str
        Axis titles (with units).
    palette : mapping or sequence, optional
        Group colours (see :func:`group_colours`).
    percent : bool
        Format the y axis as percentages (for proportions).
    height : int
        Figure height in pixels.
    legend_title : str, optional
        Words above the legend (not the column's name), e.g. "Episode ended by".

    Returns
    -------
    plotly.graph_objects.Figure
        One ``lines+markers`` trace per group (``meta["role"] == "trend"``), sorted by ``x``.
    """
    _check(frame, [x, y] + ([group] if group else []))
    data = frame.copy()
    data["_group"] = data[group].astype(str) if group else ALL_GROUPS
    groups = sorted(data["_group"].unique())
    colours = group_colours(groups, palette)
    fig = go.Figure()
    for name in groups:
        part = data[data["_group"] == name].sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="lines+markers",
                line={"color": colours[name], "width": 2.5},
                marker={"size": 6},
                name=name,
                meta={"role": "trend", "group": name},
            )
        )
    apply_layout(fig, title=title, height=height, legend_title=legend_title)
    fig.update_layout(showlegend=len(groups) > 1, hovermode="x unified")
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, rangemode="tozero", tickformat=".0%" if percent else None)
    return fig


def bar_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    category: str = "reason",
    value: str = "n_exits",
    group: str | None = None,
    value_title: str = "Exits (n)",
    category_title: str | None = None,
    palette: Palette = None,
    sort: bool = True,
    labels: Mapping[str, str] | None = None,
    height: int | None = None,
) -> go.Figure:
    """Horizontal bars, e.g. exits by reason; grouped side by side when ``group`` is given.

    Parameters
    ----------
    frame : DataFrame
        Columns ``category``, ``value`` and optionally ``group``.
    title : str
        What is shown, e.g. "Exits from treatment by reason, 2025".
    category, value, group : str
        Column names.
    value_title, category_title : str
        Axis titles.
    palette : mapping or sequence, optional
        Group colours (see :func:`group_colours`).
    sort : bool
        Largest total on top; otherwise the frame's order.
    labels : mapping, optional
        Readable category names (``{"dropped_out": "Dropped out"}``); by default codes are
        shown with underscores as spaces and a capital first letter.
    height : int, optional
        Default grows with the number of categories.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per group (``meta["role"] == "bars"``) with the values as text.
    """
    _check(frame, [category, value] + ([group] if group else []))
    data = frame.copy()
    names = dict(labels or {})
    data[category] = [
        names.get(c, c.replace("_", " ").capitalize()) for c in data[category].astype(str)
    ]
    data["_group"] = data[group].astype(str) if group else ALL_GROUPS
    order = list(dict.fromkeys(data[category]))
    if sort:
        order = list(data.groupby(category)[value].sum().sort_values(ascending=False).index)
    groups = sorted(data["_group"].unique())
    colours = group_colours(groups, palette) if group else {ALL_GROUPS: OKABE_ITO[0]}
    fig = go.Figure()
    for name in groups:
        part = data[data["_group"] == name].set_index(category).reindex(order)
        fig.add_trace(
            go.Bar(
                x=part[value],
                y=order,
                orientation="h",
                marker_color=colours[name],
                name=name,
                text=part[value],
                textposition="outside",
                cliponaxis=False,
                meta={"role": "bars", "group": name},
            )
        )
    rows = len(order) * max(1, len(groups))
    apply_layout(fig, title=title, height=height or 140 + 26 * rows, top_margin=95 if group else 60)
    fig.update_layout(showlegend=bool(group), barmode="group")
    fig.update_xaxes(title_text=value_title, rangemode="tozero")
    fig.update_yaxes(title_text=category_title, autorange="reversed", showgrid=False, ticks="")
    return fig
