"""Tidy frame in, plotly figure out: the same figure on screen and in exports.

Never imports streamlit. Every chart uses the Okabe–Ito palette (:func:`group_colours`), a plain
white template with a light grid and fonts of at least 12 px. Each trace carries
``meta={"role": ...}`` so that tests and callers can find the curve, band or table they want.
"""

from analytics.charts.curves import (
    cumulative_incidence_chart,
    median_time,
    risk_table_times,
    survival_chart,
)
from analytics.charts.funnel import funnel_chart, funnel_limits, funnel_points
from analytics.charts.models import RESIDUAL_MAX_POINTS, forest_chart, lowess, schoenfeld_chart
from analytics.charts.relapse import SCREEN_COLOURS, lasagna_chart, proportion_by_week_chart
from analytics.charts.style import (
    OKABE_ITO,
    chart_template,
    format_p_value,
    group_colours,
    time_axis_title,
)
from analytics.charts.trends import bar_chart, trend_chart

__all__ = [
    "OKABE_ITO",
    "SCREEN_COLOURS",
    "bar_chart",
    "chart_template",
    "cumulative_incidence_chart",
    "forest_chart",
    "format_p_value",
    "funnel_chart",
    "funnel_limits",
    "funnel_points",
    "group_colours",
    "lasagna_chart",
    "lowess",
    "median_time",
    "proportion_by_week_chart",
    "risk_table_times",
    "schoenfeld_chart",
    "RESIDUAL_MAX_POINTS",
    "survival_chart",
    "time_axis_title",
    "trend_chart",
]
