"""Kaplan–Meier and cumulative-incidence curves with a number-at-risk table under the time axis.

Inputs follow the contract of ``analytics.survival`` (tidy frames, one row per time per group);
this module only draws them. The same figure is shown on screen and exported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.style import (
    MUTED_COLOUR,
    TEXT_COLOUR,
    Palette,
    apply_layout,
    band_trace,
    caption_annotation,
    group_colours,
    time_axis_title,
)
from analytics.errors import RetentionError

KM_COLUMNS = ("group", "time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper")
CIF_COLUMNS = ("group", "cause", "time", "cif", "lower", "upper")
RISK_TABLE_COLUMNS = ("group", "time", "n_risk")
ALL_GROUPS = "All patients"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
_TICK_STEPS = {
    "days": (7, 14, 30, 60, 90, 180, 365, 730),
    "weeks": (1, 2, 4, 8, 13, 26, 52, 104),
    "months": (1, 2, 3, 6, 12, 24),
    "years": (0.5, 1, 2, 5, 10),
}

_MAIN_PX = 420  # default height of the curve panel, CSS pixels
_COMPACT_BELOW_PX = 620  # print sizes (e.g. 7 x 5 in = 480 px) use tighter spacing


@dataclass(frozen=True)
class _Series:
    """One line of a curve figure: a group (KM) or a group and cause (CIF)."""

    name: str
    group: str
    colour: str
    dash: str
    frame: pd.DataFrame  # time, value, lower, upper, n_risk?, n_censor?


@dataclass(frozen=True)
class _Options:
    title: str
    time_unit: str
    x_max: float | None
    y_title: str
    value_label: str
    percent: bool
    y_max: float
    show_ci: bool
    show_censor_marks: bool
    median_lines: bool
    caption: str | None
    suppressed_label: str
    legend_title: str | None
    height: int | None


def risk_table_times(x_max: float, time_unit: str = "days") -> list[float]:
    """Evenly spaced times (0, step, 2·step, ...) up to ``x_max`` for axis ticks and risk tables.

    Pass the result to ``survival_at(..., times=...)`` so the number-at-risk table lines up with
    the x-axis ticks of :func:`survival_chart`.

    Parameters
    ----------
    x_max : float
        Last time to show (e.g. the longest follow-up, or 365 for one year).
    time_unit : {"days", "weeks", "months", "years"}
        Picks round steps for the unit (days: 30, 90, 180, 365 ...).

    Returns
    -------
    list of float
        Between 4 and 9 times starting at 0.
    """
    time_axis_title(time_unit)  # validates the unit
    if not x_max > 0:
        raise ValueError(f"x_max must be positive, got {x_max!r}")
    steps = _TICK_STEPS[time_unit]
    step = next((s for s in steps if x_max / s <= 8), steps[-1] * math.ceil(x_max / steps[-1] / 8))
    return [float(i * step) for i in range(int(x_max // step) + 1)]


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns and c != "group"]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {', '.join(missing)}; it needs {', '.join(columns)} "
            "(as returned by analytics.survival)."
        )


def _with_group(frame: pd.DataFrame) -> pd.DataFrame:
    """Frames without a ``group`` column describe one cohort; label it and stringify groups."""
    out = frame.copy()
    out["group"] = out["group"].astype(str) if "group" in out.columns else ALL_GROUPS
    return out


def _curve_points(frame: pd.DataFrame, value: str, start: float) -> pd.DataFrame:
    """Sort one curve by time, drop suppressed (NaN) steps and start it at time 0."""
    columns = ["time", value, "lower", "upper"] + [
        c for c in ("n_risk", "n_censor") if c in frame.columns
    ]
    points = frame.loc[frame[value].notna(), columns].sort_values("time", kind="stable")
    points = points.rename(columns={value: "value"}).reset_index(drop=True)
    if points.empty or points["time"].iloc[0] > 0:
        first = {"time": 0.0, "value": start, "lower": start, "upper": start, "n_censor": 0}
        first = {k: v for k, v in first.items() if k in points.columns}
        if "n_risk" in points.columns and not points.empty:
            first["n_risk"] = points["n_risk"].iloc[0]
        points = pd.concat([pd.DataFrame([first]), points], ignore_index=True)
    return points


def _step_polygon(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Closed outline of a step-function confidence band (upper edge forward, lower back)."""
    band = points.dropna(subset=["lower", "upper"])
    t = band["time"].to_numpy(float)
    x = np.repeat(t, 2)[1:]
    upper = np.repeat(band["upper"].to_numpy(float), 2)[:-1]
    lower = np.repeat(band["lower"].to_numpy(float), 2)[:-1]
    return np.concatenate([x, x[::-1]]), np.concatenate([upper, lower[::-1]])


def _format_count(value: float, suppressed_label: str) -> str:
    return suppressed_label if pd.isna(value) else f"{int(round(value)):,}"


def _hover_text(series: _Series, options: _Options) -> list[str]:
    frame = series.frame
    unit = options.time_unit[:-1].capitalize()
    fmt = (lambda v: f"{v:.1%}") if options.percent else (lambda v: f"{v:.3f}")
    texts = []
    for row in frame.itertuples(index=False):
        ci = "" if pd.isna(row.lower) else f" (95% CI {fmt(row.lower)}–{fmt(row.upper)})"
        at_risk = ""
        if "n_risk" in frame.columns:
            at_risk = f"<br>At risk: {_format_count(row.n_risk, options.suppressed_label)}"
        texts.append(
            f"<b>{series.name}</b><br>{unit} {row.time:g}<br>"
            f"{options.value_label}: {fmt(row.value)}{ci}{at_risk}"
        )
    return texts


def _band_trace(series: _Series) -> go.Scatter:
    x, y = _step_polygon(series.frame)
    return band_trace(x, y, colour=series.colour, name=series.name, group=series.group)


def _curve_trace(series: _Series, options: _Options) -> go.Scatter:
    return go.Scatter(
        x=series.frame["time"].to_numpy(float),
        y=series.frame["value"].to_numpy(float),
        mode="lines",
        line={"shape": "hv", "color": series.colour, "width": 2.5, "dash": series.dash},
        name=series.name,
        legendgroup=series.name,
        text=_hover_text(series, options),
        hovertemplate="%{text}<extra></extra>",
        meta={"role": "curve", "group": series.group},
    )


CROWDED_CENSOR_MARKS = 80
CENSOR_MARK_BINS = 200  # one mark per 1/200 of the time axis: ~5 px at page width, < a mark


def thin_censor_marks(marks: pd.DataFrame, x_end: float) -> pd.DataFrame:
    """One mark per narrow slice of the time axis (at the slice's first censoring, with the
    slice's count and last time), and none past its end.

    A large cohort has a censoring at nearly every day; a mark per day draws thousands of
    overlapping crosses that look the same as one per slice, but cost the browser most of
    the chart's drawing time.
    """
    shown = marks[marks["time"] <= x_end * 1.015]
    slices = np.floor(shown["time"].to_numpy(float) / (x_end / CENSOR_MARK_BINS))
    grouped = shown.groupby(slices, sort=True)
    return pd.DataFrame(
        {
            "time": grouped["time"].first().to_numpy(float),
            "value": grouped["value"].first().to_numpy(float),
            "n_censor": grouped["n_censor"].sum().to_numpy(float),
            "last_time": grouped["time"].last().to_numpy(float),
        }
    )


def _censor_trace(series: _Series, x_end: float) -> go.Scatter | None:
    frame = series.frame
    if "n_censor" not in frame.columns:
        return None
    marks = thin_censor_marks(frame[frame["n_censor"].fillna(0) > 0], x_end)
    if marks.empty:
        return None
    # hundreds of marks hide the curve they sit on: draw them smaller and lighter
    crowded = len(marks) > CROWDED_CENSOR_MARKS
    return go.Scatter(
        x=marks["time"].to_numpy(float),
        y=marks["value"].to_numpy(float),
        mode="markers",
        opacity=0.55 if crowded else 1.0,
        marker={
            "symbol": "cross-thin",
            "size": 6 if crowded else 9,
            "color": series.colour,
            "line": {"width": 1.0 if crowded else 1.6, "color": series.colour},
        },
        name=f"{series.name} censored",
        legendgroup=series.name,
        showlegend=False,
        customdata=marks[["n_censor", "last_time"]].to_numpy(float),
        hovertemplate=(
            f"{series.name}: %{{customdata[0]:.0f}} censored at %{{x:g}}–%{{customdata[1]:g}}"
            "<extra></extra>"
        ),
        meta={"role": "censor", "group": series.group},
    )


def median_time(times: np.ndarray, survival: np.ndarray) -> float | None:
    """First time the survival curve is at or below 0.5 (R's ``survfit`` median), or None."""
    below = np.flatnonzero(np.asarray(survival, float) <= 0.5)
    return float(np.asarray(times, float)[below[0]]) if below.size else None


def _median_trace(series: _Series) -> go.Scatter | None:
    median = median_time(series.frame["time"].to_numpy(), series.frame["value"].to_numpy())
    if median is None:
        return None
    return go.Scatter(
        x=[0.0, median, median],
        y=[0.5, 0.5, 0.0],
        mode="lines",
        line={"color": series.colour, "width": 1.2, "dash": "dash"},
        name=f"{series.name} median",
        legendgroup=series.name,
        showlegend=False,
        hovertemplate=f"{series.name}: median {median:g}<extra></extra>",
        meta={"role": "median", "group": series.group, "median": median},
    )


def _censor_legend_trace() -> go.Scatter:
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        marker={
            "symbol": "cross-thin",
            "size": 9,
            "color": MUTED_COLOUR,
            "line": {"width": 1.6, "color": MUTED_COLOUR},
        },
        name="Censored",
        meta={"role": "legend_key"},
    )


def _risk_rows(
    risk_table: pd.DataFrame, groups: list[str], times_max: float, suppressed_label: str
) -> dict[str, pd.DataFrame]:
    """Per group: the tick times and their formatted counts (NaN shown as suppressed)."""
    _require(risk_table, RISK_TABLE_COLUMNS, "risk_table")
    table = _with_group(risk_table)
    table = table[table["time"] <= times_max + 1e-9]
    ticks = np.sort(table["time"].unique())
    rows = {}
    for group in groups:
        part = table[table["group"] == group].sort_values("time")
        # a tick after the group's last row (R's summary drops those times): nobody at risk;
        # not for a group without rows or whose last count is hidden (it may not be zero)
        known_last = len(part) > 0 and pd.notna(part["n_risk"].iloc[-1])
        later = ticks[ticks > part["time"].max()] if known_last else ticks[:0]
        rows[group] = pd.DataFrame(
            {
                "time": np.r_[part["time"].to_numpy(float), later],
                "label": [_format_count(v, suppressed_label) for v in part["n_risk"]]
                + ["0"] * len(later),
            }
        )
    return rows


def _risk_table_traces(rows: dict[str, pd.DataFrame], colours: dict[str, str]) -> list:
    return [
        go.Scatter(
            x=part["time"],
            y=[group] * len(part),
            mode="text",
            text=part["label"],
            textposition="middle center",
            textfont={"size": 14, "color": colours[group]},
            hoverinfo="skip",
            showlegend=False,
            name=f"{group} at risk",
            meta={"role": "risk_table", "group": group},
        )
        for group, part in rows.items()
    ]


@dataclass(frozen=True)
class _Geometry:
    """Vertical layout in CSS pixels; the risk table keeps its size whatever the height."""

    height: int
    top: int  # title and legend
    gap: int  # x tick labels, axis title and the "Number at risk" heading
    table: int  # risk table rows
    bottom: int

    @classmethod
    def for_rows(cls, n_rows: int, height: int | None) -> _Geometry:
        compact = height is not None and height < _COMPACT_BELOW_PX
        top, gap, row, bottom = (72, 78, 25, 15) if compact else (95, 100, 34, 25)
        if not n_rows:
            gap, bottom = 0, 60
        table = row * n_rows + 10 if n_rows else 0
        height = height or top + _MAIN_PX + gap + table + bottom
        if height - top - gap - table - bottom < 150:
            raise ValueError(f"height {height} px leaves no room for the curves; use >= 400")
        return cls(height, top, gap, table, bottom)


def _blank_figure(n_rows: int, geometry: _Geometry) -> go.Figure:
    if not n_rows:
        return go.Figure()
    plot_px = geometry.height - geometry.top - geometry.bottom
    return make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=geometry.gap / plot_px,
        row_heights=[plot_px - geometry.gap - geometry.table, geometry.table],
    )


def _x_range(series: list[_Series], x_max: float | None) -> float:
    if x_max is not None:
        return float(x_max)
    ends = [s.frame["time"].max() for s in series if not s.frame.empty]
    return float(max(ends)) if ends else 1.0


def _style_main_axes(fig: go.Figure, options: _Options, x_end: float, ticks: list[float]):
    cell = {"row": 1, "col": 1} if "yaxis2" in fig.layout else {}
    step = next(st for st in (0.05, 0.1, 0.25, 0.5) if options.y_max / st <= 6 + 1e-9)
    y_ticks = [round(i * step, 10) for i in range(int(options.y_max / step + 1e-9) + 1)]
    # every x axis: matched axes otherwise autorange to the longest curve
    # left pad: room for half of the first at-risk number, clear of the group labels
    fig.update_xaxes(range=[-0.03 * x_end, x_end * 1.015])
    fig.update_xaxes(
        tickvals=ticks or None,
        title_text=time_axis_title(options.time_unit),
        showticklabels=True,
        **cell,
    )
    fig.update_yaxes(
        range=[-0.02 * options.y_max, options.y_max * 1.03],
        tickvals=y_ticks,
        tickformat=".0%" if options.percent else ".2f",
        title_text=options.y_title,
        **cell,
    )


def _style_risk_axes(
    fig: go.Figure, groups: list[str], colours: dict[str, str], ticks: list[float]
) -> None:
    fig.update_xaxes(
        tickvals=ticks,
        showticklabels=False,
        showline=False,
        ticks="",
        showgrid=False,  # grid lines would run through the numbers
        title_text=None,
        row=2,
        col=1,
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=groups[::-1],
        tickvals=groups,
        ticktext=[f"<span style='color:{colours[g]}'>{g}</span>" for g in groups],
        range=[-0.6, len(groups) - 0.4],
        ticklabelstandoff=10,
        showgrid=False,
        showline=False,
        ticks="",
        fixedrange=True,
        row=2,
        col=1,
    )
    domain = fig.layout.yaxis2.domain
    fig.add_annotation(
        text="<b>Number at risk</b>",
        xref="paper",
        yref="paper",
        x=0.0,
        y=domain[1],
        xanchor="left",
        yanchor="bottom",
        yshift=4,
        showarrow=False,
        font={"size": 14, "color": TEXT_COLOUR},
        name="risk_table_heading",
    )


def _series_traces(series: list[_Series], options: _Options, x_end: float) -> list:
    bands = [_band_trace(s) for s in series if options.show_ci]
    curves = [_curve_trace(s, options) for s in series]
    extras = []
    for s in series:
        if options.show_censor_marks:
            extras.append(_censor_trace(s, x_end))
        if options.median_lines:
            extras.append(_median_trace(s))
    extras = [t for t in extras if t is not None]
    if any(t.meta["role"] == "censor" for t in extras):
        extras.append(_censor_legend_trace())
    return bands + curves + extras


def _curve_figure(
    series: list[_Series],
    risk_table: pd.DataFrame | None,
    groups: list[str],
    colours: dict[str, str],
    options: _Options,
) -> go.Figure:
    x_end = _x_range(series, options.x_max)
    rows = {}
    if risk_table is not None:
        rows = _risk_rows(risk_table, groups, x_end, options.suppressed_label)
    geometry = _Geometry.for_rows(len(rows), options.height)
    fig = _blank_figure(len(rows), geometry)
    for trace in _series_traces(series, options, x_end):
        fig.add_trace(trace, **({"row": 1, "col": 1} if rows else {}))
    ticks = sorted({t for part in rows.values() for t in part["time"]})
    if not ticks:
        ticks = risk_table_times(x_end, options.time_unit)
    apply_layout(
        fig,
        title=options.title,
        height=geometry.height,
        legend_title=options.legend_title,
        top_margin=geometry.top,
    )
    fig.update_layout(margin={"b": geometry.bottom})
    _style_main_axes(fig, options, x_end, ticks)
    if rows:
        for trace in _risk_table_traces(rows, colours):
            fig.add_trace(trace, row=2, col=1)
        _style_risk_axes(fig, list(rows), colours, ticks)
    if options.caption:
        # survival curves leave the lower left empty, cumulative incidence the upper left
        corner = "upper left" if options.value_label == "Cumulative incidence" else "lower left"
        caption_annotation(fig, options.caption, corner=corner)
    return fig


def survival_chart(
    curves: pd.DataFrame,
    risk_table: pd.DataFrame | None = None,
    *,
    title: str,
    time_unit: str = "days",
    x_max: float | None = None,
    show_ci: bool = True,
    show_censor_marks: bool = True,
    median_lines: bool = False,
    caption: str | None = None,
    palette: Palette = None,
    percent: bool = False,
    y_title: str = "Proportion retained",
    legend_title: str | None = None,
    suppressed_label: str = "<11",
    height: int | None = None,
) -> go.Figure:
    """Kaplan–Meier curves with CI bands, censoring marks and a number-at-risk table.

    Parameters
    ----------
    curves : DataFrame
        ``kaplan_meier`` output: ``group, time, n_risk, n_event, n_censor, survival, std_err,
        lower, upper``, one row per distinct time per group (``group`` optional for one
        cohort). Rows with NaN ``survival`` (suppressed or truncated steps) are not drawn;
        a curve that does not start at time 0 is started at (0, 1).
    risk_table : DataFrame, optional
        ``survival_at`` output at the tick times: ``group, time, n_risk``. One table row per
        group, counts written under the x-axis ticks; NaN ``n_risk`` (a suppressed small
        cell) is written as ``suppressed_label``. Its times become the x-axis ticks; without
        it the ticks come from :func:`risk_table_times`.
    title : str
        What is shown, e.g. "Retention in methadone maintenance by clinic".
    time_unit : {"days", "weeks", "months", "years"}
        Unit of ``time``; the x-axis reads "Days since admission".
    x_max : float, optional
        Last time shown (curves beyond are cut by the axis, table times beyond are dropped).
    show_ci, show_censor_marks, median_lines : bool
        Draw the 95% CI bands, "+" marks at times with ``n_censor > 0`` (on the curve), and
        dashed lines to the median (first time with survival ≤ 0.5) where reached.
    caption : str, optional
        Text in the lower-left corner, e.g. ``"Log-rank p = 0.00012"``.
    palette : mapping or sequence, optional
        See :func:`group_colours`; pass one mapping for the whole dashboard to keep colours.
    percent : bool
        Show the y axis as percentages instead of proportions 0–1.
    y_title, legend_title : str
        Axis and legend titles.
    suppressed_label : str
        Written in place of a suppressed count (``"<11"`` for the US public-reporting rule).
    height : int, optional
        Figure height in CSS pixels; default grows with the number of groups. The risk table
        keeps its size, so build the chart at the height it will be exported at (below 620 px
        the spacing is tighter), e.g. ``height=export_size(7, 5, 300)[1]`` for a 7 × 5 in
        figure.

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: curves (trace ``meta["role"]`` is ``"ci_band"``, ``"curve"``, ``"censor"``,
        ``"median"``); row 2 (if ``risk_table``): text traces with ``meta["role"] ==
        "risk_table"``, sharing the x axis.
    """
    _require(curves, KM_COLUMNS, "curves")
    frame = _with_group(curves)
    groups = list(pd.unique(frame["group"]))  # as the analysis ordered them
    colours = group_colours(groups, palette)
    series = [
        _Series(g, g, colours[g], "solid", _curve_points(frame[frame["group"] == g], "survival", 1))
        for g in groups
    ]
    options = _Options(
        title=title,
        time_unit=time_unit,
        x_max=x_max,
        y_title=y_title,
        value_label="Retained" if "retain" in y_title.lower() else "Survival",
        percent=percent,
        y_max=1.0,
        show_ci=show_ci,
        show_censor_marks=show_censor_marks,
        median_lines=median_lines,
        caption=caption,
        suppressed_label=suppressed_label,
        legend_title=legend_title,
        height=height,
    )
    return _curve_figure(series, risk_table, groups, colours, options)


def _cif_series(frame: pd.DataFrame, groups: list[str], causes: list[str], palette) -> list:
    one_group = len(groups) == 1
    colours = group_colours(causes if one_group else groups, palette)
    series = []
    for g in groups:
        for i, cause in enumerate(causes):
            part = frame[(frame["group"] == g) & (frame["cause"] == cause)]
            if part.empty:
                continue
            name = cause if one_group else f"{g}: {cause}"
            colour = colours[cause] if one_group else colours[g]
            dash = "solid" if one_group else DASHES[i % len(DASHES)]
            series.append(_Series(name, g, colour, dash, _curve_points(part, "cif", 0)))
    return series


def _nice_max(value: float) -> float:
    """Round a maximum up to a tidy axis end (0.1, 0.2, 0.25, 0.5, 0.75, 1)."""
    for end in (0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.75, 0.8, 1.0):
        if value <= end:
            return end
    return 1.0


def cumulative_incidence_chart(
    cif: pd.DataFrame,
    risk_table: pd.DataFrame | None = None,
    *,
    title: str,
    time_unit: str = "days",
    x_max: float | None = None,
    causes: Sequence[str] | None = None,
    show_ci: bool = True,
    caption: str | None = None,
    palette: Palette = None,
    percent: bool = False,
    y_max: float | None = None,
    y_title: str = "Cumulative incidence",
    legend_title: str | None = None,
    suppressed_label: str = "<11",
    height: int | None = None,
) -> go.Figure:
    """Aalen–Johansen cumulative incidence curves per cause (and group), with risk table.

    Parameters
    ----------
    cif : DataFrame
        ``cumulative_incidence`` output: ``group, cause, time, cif, std_err, lower, upper``
        (``group`` optional). NaN ``cif`` rows are not drawn; curves start at (0, 0).
    risk_table : DataFrame, optional
        ``group, time, n_risk`` at the tick times, as in :func:`survival_chart`.
    title : str
        What is shown, e.g. "Dropout with transfer, prison and death as competing events".
    causes : sequence of str, optional
        Causes to draw, in order (first solid, then dashed, dotted ... when there are
        several groups). Default: all causes, sorted.
    palette : mapping or sequence, optional
        Colours by group (by cause when there is one group); see :func:`group_colours`.
    y_max : float, optional
        Top of the y axis; default the smallest tidy value above the highest upper limit.
    time_unit, x_max, show_ci, caption, percent, y_title, legend_title, suppressed_label, height
        As in :func:`survival_chart`.

    Returns
    -------
    plotly.graph_objects.Figure
        Curves named ``"<group>: <cause>"`` (just the cause for one group), ``meta["role"] ==
        "curve"``; risk table as in :func:`survival_chart`.
    """
    _require(cif, CIF_COLUMNS, "cif")
    frame = _with_group(cif)
    frame["cause"] = frame["cause"].astype(str)
    groups = list(pd.unique(frame["group"]))  # as the analysis ordered them
    chosen = list(causes) if causes is not None else sorted(frame["cause"].unique())
    series = _cif_series(frame, groups, chosen, palette)
    if not series:
        raise RetentionError(
            f"Nothing to draw for {title!r}: no {', '.join(map(str, chosen)) or 'events'} in "
            "this cohort. Choose more clinics or a wider admission period."
        )
    highest = pd.concat([s.frame[["value", "upper"]] for s in series]).max().max()
    options = _Options(
        title=title,
        time_unit=time_unit,
        x_max=x_max,
        y_title=y_title,
        value_label="Cumulative incidence",
        percent=percent,
        y_max=y_max or _nice_max(float(highest) if pd.notna(highest) else 1.0),
        show_ci=show_ci,
        show_censor_marks=False,
        median_lines=False,
        caption=caption,
        suppressed_label=suppressed_label,
        legend_title=legend_title,
        height=height,
    )
    return _curve_figure(series, risk_table, groups, group_colours(groups, palette), options)
