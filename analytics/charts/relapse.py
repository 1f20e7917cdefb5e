"""Urine-screen pictures: the lasagna (patients × weeks) and the proportion positive by week."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.curves import ALL_GROUPS
from analytics.charts.style import OKABE_ITO, Palette, apply_layout, group_colours, point_band_trace

SCREEN_COLOURS: dict[str, str] = {
    "negative": OKABE_ITO[0],  # blue
    "positive": OKABE_ITO[1],  # vermillion
    "missed": "#9E9E9E",  # grey: no result although a test was due
    "other": OKABE_ITO[3],  # reddish purple (refused, invalid ...)
    "none": "#F2F2F2",  # not in treatment / no test due
}
"""Colour per screen result category, in legend order."""
LASAGNA_COLUMNS = ("row_label", "week", "result")
WEEKLY_COLUMNS = ("week", "n", "n_positive", "proportion", "lower", "upper")
SORT_ORDERS = ("retention", "label", "input")


def _row_order(frame: pd.DataFrame, sort_by: str) -> list[str]:
    labels = list(dict.fromkeys(frame["row_label"]))
    if sort_by == "input":
        return labels
    if sort_by == "label":
        return sorted(labels)
    active = frame[frame["result"] != "none"]
    last_week = active.groupby("row_label")["week"].max().reindex(labels).fillna(-1)
    # longest retained first; ties keep the label order so the picture is reproducible
    order = sorted(labels, key=lambda label: (-last_week[label], label))
    return order


def lasagna_chart(
    frame: pd.DataFrame,
    *,
    title: str = "Urine screen results by week since admission",
    sort_by: str = "retention",
    colours: Mapping[str, str] | None = None,
    row_title: str = "Patient",
    height: int | None = None,
) -> go.Figure:
    """A lasagna plot: one row per patient (or episode), one column per week, colour = result.

    Parameters
    ----------
    frame : DataFrame
        Long: ``row_label, week, result`` with ``result`` among the keys of ``colours``
        (default ``negative, positive, missed, other, none``). Missing cells are "none".
    title : str
        Figure title.
    sort_by : {"retention", "label", "input"}
        Row order: longest in treatment first (last week with a result other than "none"),
        by label, or as first seen in ``frame``.
    colours : mapping, optional
        Result → colour; default :data:`SCREEN_COLOURS` (colour-blind safe).
    row_title : str
        y-axis title.
    height : int, optional
        Default grows with the number of rows (capped at 1,400 px).

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap trace (``meta["role"] == "lasagna"``) whose ``z`` holds category codes
        (index into ``meta["categories"]``), rows in ``y`` order top to bottom, plus one legend
        key per category.
    """
    missing = [c for c in LASAGNA_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")
    if sort_by not in SORT_ORDERS:
        raise ValueError(f"sort_by must be one of {', '.join(SORT_ORDERS)}; got {sort_by!r}")
    colours = dict(colours or SCREEN_COLOURS)
    categories = list(colours)
    data = frame.assign(
        row_label=frame["row_label"].astype(str), result=frame["result"].astype(str)
    )
    unknown = sorted(set(data["result"]) - set(categories))
    if unknown:
        raise ValueError(
            f"result has value(s) {', '.join(unknown)} not among {', '.join(categories)}; "
            "map them to one of these categories first."
        )
    rows = _row_order(data, sort_by)
    weeks = np.arange(int(data["week"].min()), int(data["week"].max()) + 1)
    codes = data.assign(code=data["result"].map({c: i for i, c in enumerate(categories)}))
    grid = codes.pivot_table(index="row_label", columns="week", values="code", aggfunc="max")
    grid = grid.reindex(index=rows, columns=weeks).fillna(categories.index("none"))
    labels = np.asarray(categories, dtype=object)[grid.to_numpy(int)]
    steps = len(categories)
    scale = []
    for i, category in enumerate(categories):
        scale += [[i / steps, colours[category]], [(i + 1) / steps, colours[category]]]
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(int),
            x=weeks,
            y=rows,
            zmin=-0.5,
            zmax=steps - 0.5,
            colorscale=scale,
            showscale=False,
            xgap=1 if len(weeks) <= 60 else 0,
            ygap=1 if len(rows) <= 60 else 0,
            customdata=labels,
            hovertemplate=f"{row_title} %{{y}}<br>Week %{{x}}: %{{customdata}}<extra></extra>",
            meta={"role": "lasagna", "categories": categories},
        )
    )
    for category in categories:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"symbol": "square", "size": 13, "color": colours[category]},
                name=category.capitalize(),
                meta={"role": "legend_key"},
            )
        )
    height = height or int(min(1400, max(360, 160 + 14 * len(rows))))
    apply_layout(fig, title=title, height=height)
    fig.update_xaxes(
        title_text="Weeks since admission", showgrid=False, range=[weeks[0] - 0.5, weeks[-1] + 0.5]
    )
    fig.update_yaxes(
        title_text=row_title,
        autorange="reversed",
        showgrid=False,
        showticklabels=len(rows) <= 40,
        type="category",
    )
    return fig


def proportion_by_week_chart(
    frame: pd.DataFrame,
    *,
    title: str = "Proportion of urine screens positive for opioids, by week since admission",
    palette: Palette = None,
    y_title: str = "Screens positive",
    legend_title: str | None = None,
    height: int = 500,
) -> go.Figure:
    """Proportion positive per week with its confidence band, one line per group.

    Parameters
    ----------
    frame : DataFrame
        ``week, n, n_positive, proportion, lower, upper`` and optionally ``group``.
    title, y_title, legend_title : str
        Titles.
    palette : mapping or sequence, optional
        Group colours (see :func:`group_colours`).
    height : int
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Per group a band (``meta["role"] == "ci_band"``) then a line with markers
        (``"proportion"``, ``y`` = ``proportion``); the y axis in percent.
    """
    missing = [c for c in WEEKLY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")
    data = frame.copy()
    data["group"] = data["group"].astype(str) if "group" in data.columns else ALL_GROUPS
    groups = list(pd.unique(data["group"]))  # as the analysis ordered them
    colours = group_colours(groups, palette)
    fig = go.Figure()
    for group in groups:
        part = data[data["group"] == group].sort_values("week")
        band = part.dropna(subset=["lower", "upper"])
        fig.add_trace(
            point_band_trace(
                band["week"], band["lower"], band["upper"], colour=colours[group], group=group
            )
        )
        fig.add_trace(
            go.Scatter(
                x=part["week"],
                y=part["proportion"],
                mode="lines+markers",
                line={"color": colours[group], "width": 2.5},
                marker={"size": 6},
                name=group,
                legendgroup=group,
                customdata=np.column_stack(
                    [part["n_positive"], part["n"], part["lower"], part["upper"]]
                ),
                hovertemplate=f"<b>{group}</b><br>Week %{{x}}: %{{y:.1%}} positive "
                "(%{customdata[0]:.0f} of %{customdata[1]:.0f}; "
                "95% CI %{customdata[2]:.1%}–%{customdata[3]:.1%})<extra></extra>",
                meta={"role": "proportion", "group": group},
            )
        )
    apply_layout(fig, title=title, height=height, legend_title=legend_title)
    fig.update_layout(showlegend=len(groups) > 1)
    fig.update_xaxes(title_text="Weeks since admission")
    fig.update_yaxes(title_text=y_title, tickformat=".0%", range=[0, 1.02])
    return fig
