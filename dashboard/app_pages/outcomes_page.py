"""Recovery outcomes: TOP-style profiles (drug use, offending, housing, work, wellbeing) by
months since admission, by treatment (heroin-assisted treatment included)."""

import streamlit as st

from analytics.charts.profiles import mean_over_time_chart
from analytics.cohort_analysis import GROUPINGS
from analytics.trends import OUTCOME_MEASURES
from dashboard import data, filters, research, widgets

st.title("Recovery outcomes")
spec = filters.current_spec()
research.cohort_line(spec)
st.write(
    "Recovery is more than staying in treatment: less street heroin and crime, somewhere "
    "safe to live, work, and a better quality of life. Outcome profiles (Treatment Outcomes "
    "Profile style, last 28 days) are recorded about every 3 months."
)

left, right = st.columns(2)
measure = left.selectbox(
    "Outcome", list(OUTCOME_MEASURES), format_func=lambda m: OUTCOME_MEASURES[m][0],
    key="outcomes_measure",
)  # fmt: skip
group = right.selectbox(
    "Lines by", ["modality", "none", "sex", "clinic_name", "dose_band", "family_support"],
    format_func=GROUPINGS.get, key="outcomes_group",
)  # fmt: skip
title, is_share = OUTCOME_MEASURES[measure]

with widgets.error_panel():
    with st.spinner("Reading outcome profiles…"):
        trend = data.computed(
            "analytics.trends:outcomes_over_time_for", spec, measure=measure,
            group=None if group == "none" else group,
        )  # fmt: skip
    if trend.empty:
        st.info("Too few outcome profiles in this cohort to show a trend.")
    else:
        by = "" if group == "none" else f" by {GROUPINGS[group].split(' (')[0].lower()}"
        fig = mean_over_time_chart(
            trend, title=f"{title.split(' (')[0]}{by}, by months since admission",
            y_title=title, percent=is_share,
            legend_title=None if group == "none" else GROUPINGS[group].split(" (")[0],
        )  # fmt: skip
        st.plotly_chart(fig, width="stretch", key="outcomes_chart")
        st.caption(
            "Mean of the profiles in each 3-month window with its 95% CI (t; Wilson for "
            "percentages). Month 0 is the admission profile. Only patients still in treatment "
            "are assessed, so later months describe those who stayed; windows with fewer "
            "than 5 profiles are not shown."
        )
        widgets.figure_downloads(fig, name=f"outcome_{measure}", key="outcomes_fig")
        st.dataframe(trend, hide_index=True, width="stretch")
        widgets.table_downloads(trend, name=f"outcome_{measure}", key="outcomes_table")
