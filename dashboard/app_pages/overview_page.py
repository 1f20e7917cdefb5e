"""Clinic overview: in treatment now, this month's admissions and exits, headline retention."""

import streamlit as st

from analytics import charts
from analytics.suppression import format_count
from dashboard import data, filters, widgets

st.title("Clinic overview")
spec = filters.current_spec()

with widgets.error_panel():
    overview = data.computed("analytics.clinic_overview:clinic_overview", spec)
    clinics = ", ".join(spec.clinic_ids) if spec.clinic_ids else "all clinics"
    st.caption(
        f"Data cut-off **{overview.as_of:%d %B %Y}** · {clinics} · episodes end after a gap of "
        f"more than {spec.gap_days} days · this month = {overview.as_of:%B %Y} to date"
    )
    selected = overview.headline()
    everyone = overview.headline("All clinics")
    month = f"{overview.as_of:%b %Y}"
    cells = st.columns(5)
    cells[0].metric("In treatment now", format_count(overview.n_in_treatment))
    cells[1].metric(f"Admissions, {month}", format_count(overview.n_admissions_month))
    cells[2].metric(f"Exits, {month}", format_count(overview.n_exits_month))
    for cell, days, label in (
        (cells[3], 90, "90-day retention"),
        (cells[4], 365, "One-year retention"),
    ):
        value, lower, upper = (selected[f"s{days}{s}"] for s in ("", "_lower", "_upper"))
        delta = (value - everyone[f"s{days}"]) * 100
        cell.metric(
            label,
            "—" if value != value else f"{value:.1%}",
            delta=None
            if not spec.clinic_ids or delta != delta
            else f"{delta:+.1f} pts vs all clinics",
            help=f"Kaplan–Meier S({days}), 95% CI {lower:.1%}–{upper:.1%}, all admissions",
        )

    st.subheader("Retention")
    st.table(overview.retention_display(), border="horizontal")
    widgets.table_downloads(overview.retention, name="retention_summary", key="overview_ret")

    hidden_below = overview.monthly.attrs.get("suppression_threshold")
    left, right = st.columns(2)
    with left:
        in_treatment = charts.trend_chart(
            overview.trend("In treatment"),
            title="Patients in treatment per month",
            x="month",
            y="value",
            height=340,
        )
        st.plotly_chart(in_treatment, key="overview_in_treatment_chart")
        widgets.empty_note(
            overview.trend("In treatment"), "monthly numbers in treatment", hidden_below
        )
        widgets.figure_downloads(in_treatment, name="in_treatment", key="overview_in_treatment")
        exits = charts.bar_chart(
            overview.exits_month,
            title=f"Exits in {overview.as_of:%B %Y} by reason",
            category="reason",
            value="n_exits",
            sort=False,
            height=340,
        )
        st.plotly_chart(exits, key="overview_exits_chart")
        widgets.figure_downloads(exits, name="exits_this_month", key="overview_exits")
    with right:
        flow = charts.trend_chart(
            overview.trend("Admissions", "Exits"),
            title="Admissions and exits per month",
            x="month",
            y="value",
            group="measure",
            y_title="Episodes (n)",
            height=340,
        )
        st.plotly_chart(flow, key="overview_flow_chart")
        widgets.empty_note(
            overview.trend("Admissions", "Exits"), "monthly admissions or exits", hidden_below
        )
        widgets.figure_downloads(flow, name="admissions_exits", key="overview_flow")
        cohorts = charts.trend_chart(
            overview.cohort_retention,
            title="Retention by quarter of admission",
            x="quarter_start",
            y="value",
            group="measure",
            y_title="Retained",
            x_title="Quarter of admission",
            percent=True,
            height=340,
        )
        st.plotly_chart(cohorts, key="overview_cohorts_chart")
        widgets.empty_note(overview.cohort_retention, "quarterly retention", hidden_below)
        widgets.figure_downloads(cohorts, name="retention_by_quarter", key="overview_cohorts")
        widgets.table_downloads(
            overview.cohort_retention, name="retention_by_quarter", key="overview_cohort_table"
        )
