"""Model pictures: a forest plot of Cox hazard ratios and Schoenfeld residuals against time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.style import (
    MUTED_COLOUR,
    OKABE_ITO,
    TEXT_COLOUR,
    apply_layout,
    format_p_value,
)

COEFFICIENT_COLUMNS = ("hr", "hr_lower", "hr_upper", "p")
SCHOENFELD_COLUMNS = ("time", "residual", "term")
_ROW_PX = 38


def _log_ticks(low: float, high: float) -> list[float]:
    """Hazard-ratio ticks (…, 0.25, 0.5, 1, 2, 4, …) covering ``[low, high]``."""
    candidates = [0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10, 20]
    inside = [t for t in candidates if low <= t <= high]
    if len(inside) > 7:
        inside = [t for t in inside if t in (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20)]
    return inside or [1]


def _hr_text(row: pd.Series) -> str:
    ci = ""
    if pd.notna(row["hr_lower"]) and pd.notna(row["hr_upper"]):
        ci = f" ({row['hr_lower']:.2f}–{row['hr_upper']:.2f})"
    p = format_p_value(float(row["p"])) if pd.notna(row.get("p")) else ""
    return f"{row['hr']:.2f}{ci}   {p}"


def forest_chart(
    coefficients: pd.DataFrame,
    *,
    title: str,
    reference_line: float = 1.0,
    labels: Mapping[str, str] | None = None,
    x_title: str = "Hazard ratio (95% CI, log scale)",
    height: int | None = None,
) -> go.Figure:
    """Hazard ratios with 95% confidence intervals on a log axis, one row per model term.

    Parameters
    ----------
    coefficients : DataFrame
        Cox coefficients indexed by term with ``hr, hr_lower, hr_upper, p`` (also ``coef, se,
        robust_se, z``, unused). Terms are drawn top to bottom in the frame's order.
    title : str
        What is shown, e.g. "Hazard of leaving treatment (Cox model, robust SE by clinic)".
    reference_line : float
        Where "no effect" lies (a dashed vertical line), 1 for hazard ratios.
    labels : mapping, optional
        Readable names for terms (``{"dose": "Dose, per 10 mg"}``); others keep their name.
    x_title : str
        Axis title.
    height : int, optional
        Figure height in pixels; default grows with the number of terms.

    Returns
    -------
    plotly.graph_objects.Figure
        Column 1: one marker trace (``meta["role"] == "hr"``) with ``x`` = hazard ratios and
        asymmetric error bars to the CI; column 2: the text "HR (CI)  p" per term
        (``meta["role"] == "hr_text"``).
    """
    missing = [c for c in COEFFICIENT_COLUMNS if c not in coefficients.columns]
    if missing:
        raise ValueError(f"coefficients lack column(s) {', '.join(missing)}")
    frame = coefficients.copy()
    terms = [str((labels or {}).get(t, t)) for t in frame.index]
    lower = frame["hr_lower"].to_numpy(float)
    upper = frame["hr_upper"].to_numpy(float)
    hr = frame["hr"].to_numpy(float)
    height = height or 150 + _ROW_PX * len(terms)
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, column_widths=[0.68, 0.32], horizontal_spacing=0.02
    )
    fig.add_trace(
        go.Scatter(
            x=hr,
            y=terms,
            mode="markers",
            marker={"symbol": "square", "size": 11, "color": OKABE_ITO[0]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": np.nan_to_num(upper - hr),
                "arrayminus": np.nan_to_num(hr - lower),
                "thickness": 2,
                "width": 0,
                "color": TEXT_COLOUR,
            },
            customdata=np.column_stack([lower, upper]),
            hovertemplate="%{y}<br>HR %{x:.2f} (95% CI %{customdata[0]:.2f}–%{customdata[1]:.2f})"
            "<extra></extra>",
            showlegend=False,
            name="Hazard ratio",
            meta={"role": "hr"},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[0.04] * len(terms),
            y=terms,
            mode="text",
            text=[_hr_text(row) for _, row in frame.iterrows()],
            textposition="middle right",
            textfont={"size": 13, "color": TEXT_COLOUR},
            hoverinfo="skip",
            showlegend=False,
            name="HR (95% CI)",
            meta={"role": "hr_text"},
        ),
        row=1,
        col=2,
    )
    finite = np.concatenate([lower, upper, hr, [reference_line]])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    low, high = finite.min() / 1.15, finite.max() * 1.15
    apply_layout(fig, title=title, height=height, top_margin=80)
    fig.update_layout(margin={"l": 40, "r": 20})
    fig.add_vline(
        x=reference_line,
        line={"dash": "dash", "color": MUTED_COLOUR, "width": 1.2},
        row=1,
        col=1,
    )
    fig.update_xaxes(
        type="log",
        range=[np.log10(low), np.log10(high)],
        tickvals=_log_ticks(low, high),
        title_text=x_title,
        row=1,
        col=1,
    )
    fig.update_xaxes(range=[0, 1], visible=False, showgrid=False, fixedrange=True, row=1, col=2)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, ticks="", row=1, col=1)
    fig.add_annotation(
        text="<b>HR (95% CI)   p</b>",
        xref="x2 domain",
        yref="paper",
        x=0.04,
        y=1,
        xanchor="left",
        yanchor="bottom",
        showarrow=False,
        font={"size": 13},
        name="hr_text_heading",
    )
    return fig


def lowess(x: Sequence[float], y: Sequence[float], *, frac: float = 0.4, n_points: int = 80):
    """Locally weighted linear regression (tricube weights), evaluated on an even grid.

    A small numpy version of Cleveland's LOWESS without robustness iterations, enough to show
    the trend of Schoenfeld residuals (R's ``cox.zph`` plot uses a spline instead).

    Parameters
    ----------
    x, y : sequences of float
        Points; NaNs are dropped.
    frac : float
        Share of the points in each local fit (0–1).
    n_points : int
        Number of grid points between ``min(x)`` and ``max(x)``.

    Returns
    -------
    tuple of ndarray
        ``(grid, fitted)``; empty arrays when fewer than 3 points remain.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3:
        return np.array([]), np.array([])
    grid = np.linspace(x.min(), x.max(), n_points)
    k = max(3, int(np.ceil(frac * x.size)))
    fitted = np.empty_like(grid)
    for i, centre in enumerate(grid):
        distance = np.abs(x - centre)
        radius = np.partition(distance, k - 1)[k - 1] or 1e-12
        weight = np.clip(1 - (distance / radius) ** 3, 0, None) ** 3
        w_sum = weight.sum()
        x_mean = (weight * x).sum() / w_sum
        y_mean = (weight * y).sum() / w_sum
        spread = (weight * (x - x_mean) ** 2).sum()
        slope = (weight * (x - x_mean) * (y - y_mean)).sum() / spread if spread > 0 else 0.0
        fitted[i] = y_mean + slope * (centre - x_mean)
    return grid, fitted


RESIDUAL_MAX_POINTS = 2_000
SMOOTH_MAX_POINTS = 20_000
RESIDUAL_SAMPLE_SEED = 20261205


def _sample_rows(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` rows, a fixed random sample in the original order."""
    if len(frame) <= n:
        return frame
    rng = np.random.default_rng(RESIDUAL_SAMPLE_SEED)
    return frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))]


def schoenfeld_chart(
    frame: pd.DataFrame,
    *,
    title: str = "Scaled Schoenfeld residuals against time",
    p_values: Mapping[str, float] | None = None,
    time_unit: str = "days",
    frac: float = 0.4,
    max_points: int = RESIDUAL_MAX_POINTS,
) -> go.Figure:
    """One panel per term: residuals against time with a LOWESS smooth and a zero line.

    A flat smooth supports proportional hazards for that term; a trend suggests the effect
    changes over time (compare R's ``plot(cox.zph(fit))``).

    Parameters
    ----------
    frame : DataFrame
        ``time, residual, term`` (long: one row per event time per term).
    title : str
        Figure title.
    p_values : mapping, optional
        ``{term: p}`` from the proportional-hazards test, shown in each panel's title.
    time_unit : str
        Unit of ``time`` for the x-axis title.
    frac : float
        LOWESS span (see :func:`lowess`).
    max_points : int
        Residuals drawn per panel at most: a larger cohort (one residual per event) shows a
        fixed random sample of them (``meta["n_total"]`` says how many there are), and its
        smooth is fitted on at most :data:`SMOOTH_MAX_POINTS`; a browser cannot draw 600,000
        markers per panel, and the eye cannot read them.

    Returns
    -------
    plotly.graph_objects.Figure
        Per term, a marker trace (``meta["role"] == "residuals"``) and a line
        (``meta["role"] == "smooth"``), panels stacked in order of first appearance.
    """
    missing = [c for c in SCHOENFELD_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")
    terms = list(dict.fromkeys(frame["term"].astype(str)))
    titles = [
        f"{t}   ({format_p_value(p_values[t])})" if p_values and t in p_values else t for t in terms
    ]
    fig = make_subplots(
        rows=len(terms), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.08
    )
    for row, term in enumerate(terms, start=1):
        part = frame[frame["term"].astype(str) == term]
        smoothed = _sample_rows(part, SMOOTH_MAX_POINTS)
        grid, fitted = lowess(smoothed["time"], smoothed["residual"], frac=frac)
        shown = _sample_rows(part, max_points)
        fig.add_trace(
            go.Scatter(
                x=shown["time"],
                y=shown["residual"],
                mode="markers",
                marker={"size": 5, "color": MUTED_COLOUR, "opacity": 0.55},
                name=f"{term} residuals",
                showlegend=False,
                meta={"role": "residuals", "term": term, "n_total": len(part)},
            ),
            row=row,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=fitted,
                mode="lines",
                line={"color": OKABE_ITO[0], "width": 2.5},
                name=f"{term} smooth",
                showlegend=False,
                meta={"role": "smooth", "term": term},
            ),
            row=row,
            col=1,
        )
        fig.add_hline(y=0, line={"dash": "dash", "color": TEXT_COLOUR, "width": 1}, row=row, col=1)
        fig.update_yaxes(title_text="Residual", row=row, col=1)
    fig.update_xaxes(title_text=f"{time_unit.capitalize()} since admission", row=len(terms), col=1)
    apply_layout(fig, title=title, height=140 + 240 * len(terms), top_margin=80)
    fig.update_annotations(font_size=14, selector={"name": None})
    return fig
