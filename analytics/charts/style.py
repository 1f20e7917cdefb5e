"""Shared look of every chart: colour-blind-safe palette, stable group colours, plain template.

Colours follow Okabe & Ito (2008), distinguishable with the common colour-vision deficiencies.
A group keeps its colour on every page when the caller passes the same mapping (build it once
with :func:`group_colours` from the full list of groups and pass it as ``palette``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
"""The Okabe–Ito palette, in the order groups receive it."""

FONT_FAMILY = "Liberation Sans, Arial, DejaVu Sans, sans-serif"
FONT_SIZE = 14
TICK_FONT_SIZE = 13
GRID_COLOUR = "#E6E6E6"
AXIS_COLOUR = "#7F7F7F"
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#7F7F7F"

TIME_UNITS = ("days", "weeks", "months", "years")

Palette = Mapping[str, str] | Sequence[str] | None


def group_colours(groups: Iterable[object], palette: Palette = None) -> dict[str, str]:
    """Map each group to a colour that does not depend on the order the groups arrive in.

    Parameters
    ----------
    groups : iterable
        Group values (any type; compared as strings). Duplicates are ignored.
    palette : mapping or sequence of str, optional
        A mapping ``group -> colour`` to keep colours stable across pages (groups it lacks get
        the first unused Okabe–Ito colours), or a sequence of colours to use instead of
        Okabe–Ito. Default: Okabe–Ito.

    Returns
    -------
    dict[str, str]
        ``{group: "#RRGGBB"}`` for the sorted distinct groups. Colours repeat after the palette
        is exhausted.

    Examples
    --------
    >>> group_colours(["Clinic 2", "Clinic 1"])
    {'Clinic 1': '#0072B2', 'Clinic 2': '#D55E00'}
    """
    names = sorted({str(g) for g in groups})
    if isinstance(palette, Mapping):
        fixed = {str(k): v for k, v in palette.items()}
        spare = [c for c in OKABE_ITO if c not in fixed.values()] or list(OKABE_ITO)
        missing = [g for g in names if g not in fixed]
        extra = {g: spare[i % len(spare)] for i, g in enumerate(missing)}
        return {g: fixed.get(g) or extra[g] for g in names}
    colours = list(palette) if palette else list(OKABE_ITO)
    return {g: colours[i % len(colours)] for i, g in enumerate(names)}


def translucent(colour: str, alpha: float) -> str:
    """Return ``rgba(...)`` for a ``#RRGGBB`` colour with the given opacity (0–1)."""
    hex_part = colour.lstrip("#")
    if len(hex_part) != 6:
        raise ValueError(f"colour must be '#RRGGBB', got {colour!r}")
    red, green, blue = (int(hex_part[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha:g})"


def band_trace(x, y, *, colour: str, name: str, group) -> go.Scatter:
    """A 95% CI band as one filled polygon (``x``, ``y`` already walk round it), drawn under
    the curve of ``name`` and toggled with it; ``meta["role"] == "ci_band"``."""
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        fill="toself",
        fillcolor=translucent(colour, 0.18),
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
        legendgroup=name,
        name=f"{name} 95% CI",
        meta={"role": "ci_band", "group": group},
    )


def point_band_trace(x, lower, upper, *, colour: str, group: str) -> go.Scatter:
    """:func:`band_trace` between point estimates' ``lower`` and ``upper`` limits at ``x``."""
    return band_trace(
        np.concatenate([np.asarray(x), np.asarray(x)[::-1]]),
        np.concatenate([np.asarray(upper), np.asarray(lower)[::-1]]),
        colour=colour,
        name=group,
        group=group,
    )


def time_axis_title(time_unit: str, origin: str = "admission") -> str:
    """Axis title such as ``"Days since admission"`` for a time unit in :data:`TIME_UNITS`."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)}; got {time_unit!r}")
    return f"{time_unit.capitalize()} since {origin}"


def _axis_style() -> dict:
    return {
        "showgrid": True,
        "gridcolor": GRID_COLOUR,
        "gridwidth": 1,
        "zeroline": False,
        "showline": True,
        "linecolor": AXIS_COLOUR,
        "linewidth": 1,
        "ticks": "outside",
        "tickcolor": AXIS_COLOUR,
        "ticklen": 5,
        "tickfont": {"size": TICK_FONT_SIZE},
        "title": {"font": {"size": FONT_SIZE}, "standoff": 8},
        "automargin": True,
    }


def chart_template() -> go.layout.Template:
    """A plain white template with a light grid and readable fonts (≥ 12 px).

    Returned fresh each call (no global plotly state is modified).
    """
    return go.layout.Template(
        layout={
            "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": TEXT_COLOUR},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "colorway": list(OKABE_ITO),
            "xaxis": _axis_style(),
            "yaxis": _axis_style(),
            "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 13}},
            "legend": {"font": {"size": 13}, "bgcolor": "rgba(255,255,255,0)"},
            "title": {
                "font": {"size": 18},
                "x": 0.0,
                "xanchor": "left",
                "xref": "container",
                "pad": {"l": 20},
            },
        }
    )


def apply_layout(
    fig: go.Figure,
    *,
    title: str,
    height: int,
    width: int | None = None,
    legend_title: str | None = None,
    top_margin: int = 95,
) -> go.Figure:
    """Give ``fig`` the shared template, a left-aligned title and a horizontal legend on top."""
    fig.update_layout(
        template=chart_template(),
        title={"text": title, "y": 1 - 28 / height, "yref": "container", "yanchor": "middle"},
        height=height,
        width=width,
        margin={"l": 80, "r": 30, "t": top_margin, "b": 60},
        legend={
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "bottom",
            "title": {"text": f"{legend_title}  " if legend_title else ""},
        },
        hovermode="closest",
    )
    return fig


def caption_annotation(fig: go.Figure, caption: str, *, corner: str = "lower left") -> None:
    """Write ``caption`` (e.g. a log-rank p-value) in a corner of the first plot area.

    ``corner`` is "lower left" (survival curves leave it empty) or "upper left".
    """
    upper = corner == "upper left"
    fig.add_annotation(
        text=caption,
        xref="x domain",
        yref="y domain",
        x=0.02,
        y=0.96 if upper else 0.04,
        xanchor="left",
        yanchor="top" if upper else "bottom",
        showarrow=False,
        font={"size": 15, "color": TEXT_COLOUR},
        bgcolor="rgba(255,255,255,0.8)",
        name="caption",
    )


def format_p_value(p: float, *, prefix: str = "p") -> str:
    """A p-value as researchers write it: ``p < 0.0001``, ``p = 0.00042``, ``p = 0.012``, ``p = 0.34``.

    Parameters
    ----------
    p : float
        The p-value (0–1).
    prefix : str
        Text before the relation, e.g. ``"Log-rank p"``.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"a p-value lies in [0, 1], got {p!r}")
    if p < 0.0001:
        return f"{prefix} < 0.0001"
    return f"{prefix} = {p:.2g}" if p < 0.1 else f"{prefix} = {p:.2f}"
