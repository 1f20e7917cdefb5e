"""Clinic benchmarking: funnel plot of one-year retention against the number of patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.style import MUTED_COLOUR, OKABE_ITO, TEXT_COLOUR, apply_layout

FUNNEL_COLUMNS = ("clinic_id", "clinic_name", "n_patients", "observed")
Z_95 = 1.959963984540054
Z_998 = 3.090232306167813
STATUS_COLOURS = {
    "within 95% limits": OKABE_ITO[0],
    "outside 95% limits": OKABE_ITO[4],
    "outside 99.8% limits": OKABE_ITO[1],
}


def funnel_limits(target: float, n: np.ndarray | list[float] | float) -> pd.DataFrame:
    """Binomial control limits around ``target`` for clinics of ``n`` patients.

    ``target ± z · sqrt(target · (1 − target) / n)`` with z = 1.96 (95%) and 3.09 (99.8%),
    clipped to [0, 1] (normal approximation, as in Spiegelhalter 2005).

    Parameters
    ----------
    target : float
        The benchmark proportion (e.g. pooled one-year retention), strictly between 0 and 1.
    n : array-like of float
        Numbers of patients (> 0).

    Returns
    -------
    DataFrame
        ``n, lower_95, upper_95, lower_998, upper_998``.
    """
    if not 0 < target < 1:
        raise ValueError(f"target must lie strictly between 0 and 1, got {target!r}")
    n = np.atleast_1d(np.asarray(n, float))
    if (n <= 0).any():
        raise ValueError("n must be positive")
    se = np.sqrt(target * (1 - target) / n)
    return pd.DataFrame(
        {
            "n": n,
            "lower_95": np.clip(target - Z_95 * se, 0, 1),
            "upper_95": np.clip(target + Z_95 * se, 0, 1),
            "lower_998": np.clip(target - Z_998 * se, 0, 1),
            "upper_998": np.clip(target + Z_998 * se, 0, 1),
        }
    )


def funnel_points(frame: pd.DataFrame, *, target: float, adjust: bool = True) -> pd.DataFrame:
    """Each clinic's plotted value and whether it lies outside the limits.

    Parameters
    ----------
    frame : DataFrame
        ``clinic_id, clinic_name, n_patients, observed`` and optionally ``expected`` (the
        case-mix expected proportion).
    target : float
        The benchmark proportion.
    adjust : bool
        With ``expected`` present, plot the indirectly standardised proportion
        ``observed / expected · target`` (so a clinic with a harder case mix is not
        penalised); otherwise the observed proportion.

    Returns
    -------
    DataFrame
        The input plus ``value`` (plotted proportion), ``status`` (one of "within 95% limits",
        "outside 95% limits", "outside 99.8% limits") and ``direction`` ("above"/"below").
    """
    missing = [c for c in FUNNEL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {', '.join(missing)}")
    out = frame.copy()
    use_expected = adjust and "expected" in out.columns
    out["value"] = out["observed"] / out["expected"] * target if use_expected else out["observed"]
    limits = funnel_limits(target, out["n_patients"].to_numpy(float))
    value = out["value"].to_numpy(float)
    outside_95 = (value < limits["lower_95"]) | (value > limits["upper_95"])
    outside_998 = (value < limits["lower_998"]) | (value > limits["upper_998"])
    out["status"] = np.select(
        [outside_998.to_numpy(), outside_95.to_numpy()],
        ["outside 99.8% limits", "outside 95% limits"],
        "within 95% limits",
    )
    out["direction"] = np.where(value >= target, "above", "below")
    return out


_LABEL_POSITIONS = (
    "top center",
    "bottom center",
    "middle right",
    "middle left",
    "top right",
    "bottom right",
    "top left",
    "bottom left",
)
_CHAR_PX, _LABEL_PX, _MARKER_PX = 6.5, 15.0, 12.0


def _label_box(x: float, y: float, width: float, position: str) -> tuple[float, ...]:
    """Approximate pixel box (left, bottom, right, top) of a label placed at ``position``."""
    vertical, horizontal = position.split()
    bottom = {
        "top": y + _MARKER_PX / 2,
        "bottom": y - _MARKER_PX / 2 - _LABEL_PX,
        "middle": y - _LABEL_PX / 2,
    }[vertical]
    pad = _MARKER_PX / 2 if vertical == "middle" else 0
    left = {"center": x - width / 2, "right": x + pad, "left": x - pad - width}[horizontal]
    return (left, bottom, left + width, bottom + _LABEL_PX)


def _overlap_area(box: tuple[float, ...], others: list[tuple[float, ...]]) -> float:
    total = 0.0
    for other in others:
        width = min(box[2], other[2]) - max(box[0], other[0])
        height = min(box[3], other[3]) - max(box[1], other[1])
        total += max(width, 0) * max(height, 0)
    return total


def label_positions(
    points: pd.DataFrame,
    x_span: tuple[float, float],
    y_span: tuple[float, float],
    plot_px: tuple[float, float] = (760, 400),
) -> list[str]:
    """Greedy label placement so that clinic names do not overlap each other or the points.

    Each label (in order of ``n_patients``) takes the first position whose approximate box
    (12 px font) is free: above or below (the side away from the target first), right, left,
    then the diagonals; if none is free, the one that overlaps least.

    Returns
    -------
    list of str
        A plotly ``textposition`` per row of ``points``.
    """
    scale_x = plot_px[0] / (x_span[1] - x_span[0])
    scale_y = plot_px[1] / (y_span[1] - y_span[0])
    px = (points["n_patients"].to_numpy(float) - x_span[0]) * scale_x
    py = (points["value"].to_numpy(float) - y_span[0]) * scale_y
    taken = [
        (x - _MARKER_PX / 2, y - _MARKER_PX / 2, x + _MARKER_PX / 2, y + _MARKER_PX / 2)
        for x, y in zip(px, py, strict=True)
    ]
    chosen = [""] * len(points)
    for i in np.argsort(px, kind="stable"):
        width = _CHAR_PX * len(str(points["clinic_name"].iloc[i])) + 4
        above = points["direction"].iloc[i] == "above"
        order = _LABEL_POSITIONS if above else _LABEL_POSITIONS[1::-1] + _LABEL_POSITIONS[2:]
        others = taken[:i] + taken[i + 1 :]
        boxes = {pos: _label_box(px[i], py[i], width, pos) for pos in order}
        # the first free position, else the one that overlaps least (min keeps the first)
        chosen[i] = min(order, key=lambda pos: _overlap_area(boxes[pos], others))
        taken.append(boxes[chosen[i]])
    return chosen


def _limit_traces(target: float, n_max: float, n_min: float) -> list[go.Scatter]:
    grid = np.unique(np.geomspace(max(n_min * 0.8, 1), n_max * 1.1, 200).round(2))
    limits = funnel_limits(target, grid)
    traces = []
    for level, dash in (("95", "dash"), ("998", "dot")):
        label = "95% limits" if level == "95" else "99.8% limits"
        for side in ("lower", "upper"):
            traces.append(
                go.Scatter(
                    x=limits["n"],
                    y=limits[f"{side}_{level}"],
                    mode="lines",
                    line={"color": TEXT_COLOUR, "width": 1.2, "dash": dash},
                    name=label,
                    legendgroup=label,
                    showlegend=side == "upper",
                    hoverinfo="skip",
                    meta={"role": "limit", "level": level, "side": side},
                )
            )
    return traces


def _point_traces(points: pd.DataFrame, label: str) -> list[go.Scatter]:
    traces = []
    for status, colour in STATUS_COLOURS.items():
        part = points[points["status"] == status]
        if part.empty:
            continue
        show_text = label == "all" or (label == "outliers" and status != "within 95% limits")
        text = part["clinic_name"].astype(str)
        traces.append(
            go.Scatter(
                x=part["n_patients"],
                y=part["value"],
                mode="markers+text" if show_text else "markers",
                text=text,
                textposition=part["label_position"],
                textfont={"size": 12, "color": TEXT_COLOUR},
                marker={"size": 11, "color": colour, "line": {"width": 1, "color": "white"}},
                name=status.capitalize(),
                customdata=np.column_stack([part["observed"], part["clinic_id"].astype(str)]),
                hovertemplate="<b>%{text}</b> (%{customdata[1]})<br>%{x} patients<br>"
                "Plotted: %{y:.1%}<br>Observed: %{customdata[0]:.1%}<extra></extra>",
                meta={"role": "clinics", "status": status},
            )
        )
    return traces


def funnel_chart(
    frame: pd.DataFrame,
    *,
    target: float,
    title: str,
    adjust: bool = True,
    label: str = "auto",
    y_title: str | None = None,
    x_title: str = "Patients admitted (n)",
    height: int = 560,
) -> go.Figure:
    """Funnel plot: clinics' one-year retention against their size, with 95%/99.8% limits.

    Parameters
    ----------
    frame : DataFrame
        ``clinic_id, clinic_name, n_patients, observed`` (proportion retained at one year) and
        optionally ``expected`` (case-mix expected proportion, from a model without dose).
    target : float
        The benchmark proportion, e.g. the pooled one-year retention; drawn as a solid line
        with binomial limits around it (see :func:`funnel_limits`).
    title : str
        What is shown, e.g. "One-year retention by clinic, adjusted for case mix".
    adjust : bool
        Plot ``observed / expected · target`` when ``expected`` is given (see
        :func:`funnel_points`).
    label : {"auto", "all", "outliers", "none"}
        Which clinics get a name next to their point; "auto" names all up to 20 clinics,
        otherwise only those outside the 95% limits (names are always in the hover).
    y_title, x_title : str
        Axis titles.
    height : int
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Limit lines (``meta["role"] == "limit"``, level "95"/"998", side "lower"/"upper"),
        the target line (``"target"``) and one marker trace per status (``"clinics"``),
        coloured blue (within), orange (outside 95%) and vermillion (outside 99.8%).
    """
    if label not in ("auto", "all", "outliers", "none"):
        raise ValueError(f"label must be auto, all, outliers or none; got {label!r}")
    points = funnel_points(frame, target=target, adjust=adjust)
    if label == "auto":
        label = "all" if len(points) <= 20 else "outliers"
    adjusted = adjust and "expected" in frame.columns
    y_title = y_title or (
        "Retained at one year, adjusted for case mix" if adjusted else "Retained at one year"
    )
    n = points["n_patients"].to_numpy(float)
    fig = go.Figure(_limit_traces(target, n.max(), n.min()))
    fig.add_trace(
        go.Scatter(
            x=[max(n.min() * 0.8, 1), n.max() * 1.1],
            y=[target, target],
            mode="lines",
            line={"color": MUTED_COLOUR, "width": 1.5},
            name=f"Target {target:.1%}",
            hoverinfo="skip",
            meta={"role": "target"},
        )
    )
    values = np.concatenate([points["value"].to_numpy(float), [target]])
    low_limit = funnel_limits(target, max(n.min() * 0.8, 1))
    y_span = (
        max(min(values.min(), low_limit["lower_998"].iloc[0]) - 0.05, -0.02),
        min(max(values.max(), low_limit["upper_998"].iloc[0]) + 0.05, 1.02),
    )
    x_span = (0.0, n.max() * 1.12)
    plot_px = (760, height - 190)
    points["label_position"] = label_positions(points, x_span, y_span, plot_px)
    fig.add_traces(_point_traces(points, label))
    apply_layout(fig, title=title, height=height)
    fig.update_yaxes(title_text=y_title, tickformat=".0%", range=list(y_span))
    fig.update_xaxes(title_text=x_title, range=list(x_span))
    return fig
