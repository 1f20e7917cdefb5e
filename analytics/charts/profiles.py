"""Means over time with their confidence band, one line per group (e.g. wellbeing score or
MSPSS family subscale by months since admission)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.curves import ALL_GROUPS
from analytics.charts.style import Palette, apply_layout, group_colours, point_band_trace

MEAN_COLUMNS = ("month", "n", "mean", "lower", "upper")


def mean_over_time_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    y_title: str,
    x_title: str = "Months since admission",
    palette: Palette = None,
    percent: bool = False,
    legend_title: str | None = None,
    height: int = 480,
) -> go.Figure:
    """Mean (markers and line) with its 95% CI band per group, against months.

    Parameters
    ----------
    frame : DataFrame
        ``month, n, mean, lower, upper`` and optionally ``group`` (as returned by
        ``analytics.trends.mean_by_month``).
    title, y_title, x_title, legend_title : str
        Titles; say the unit in ``y_title``.
    palette : mapping or sequence, optional
        Group colours (see :func:`group_colours`).
    percent : bool
        Show the y axis as percentages (for 0/1 measures).

    Returns
    -------
    plotly.graph_objects.Figure
        Per group a band (``meta["role"] == "ci_band"``) and a line (``"mean"``).
    """
    missing = [c for c in MEAN_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")
    data = frame.copy()
    data["group"] = data["group"].astype(str) if "group" in data.columns else ALL_GROUPS
    groups = sorted(data["group"].unique())
    colours = group_colours(groups, palette)
    fig = go.Figure()
    fmt = ".1%" if percent else ".2f"
    for group in groups:
        part = data[data["group"] == group].sort_values("month")
        band = part.dropna(subset=["lower", "upper"])
        fig.add_trace(
            point_band_trace(
                band["month"], band["lower"], band["upper"], colour=colours[group], group=group
            )
        )
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part["mean"],
                mode="lines+markers",
                line={"color": colours[group], "width": 2.5},
                marker={"size": 7},
                name=group,
                legendgroup=group,
                customdata=np.column_stack([part["n"], part["lower"], part["upper"]]),
                hovertemplate=f"<b>{group}</b><br>Month %{{x}}: %{{y:{fmt}}} "
                f"(95% CI %{{customdata[1]:{fmt}}}–%{{customdata[2]:{fmt}}}), "
                "n = %{customdata[0]}<extra></extra>",
                meta={"role": "mean", "group": group},
            )
        )
    apply_layout(fig, title=title, height=height, legend_title=legend_title)
    months = sorted(data["month"].unique())
    fig.update_xaxes(title_text=x_title, tickvals=months)
    fig.update_yaxes(title_text=y_title, rangemode="tozero", tickformat=".0%" if percent else None)
    fig.update_layout(showlegend=len(groups) > 1)
    return fig
