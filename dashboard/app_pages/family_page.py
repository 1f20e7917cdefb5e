"""Family support: retention by MSPSS family tertile and Family APGAR, family education at
equal baseline support, and how support changes during treatment."""

import streamlit as st

from analytics import charts
from analytics.charts.profiles import mean_over_time_chart
from analytics.cohort_analysis import GROUPINGS
from analytics.suppression import format_count
from analytics.trends import SUPPORT_MEASURES
from dashboard import data, filters, research, widgets

PERCENT = st.column_config.NumberColumn(format="percent")

st.title("Family support")
spec = filters.current_spec()
research.cohort_line(spec)


FAMILY_CURVES = {
    "mspss_family_tertile": (
        "MSPSS family subscale tertile",
        "Retention by MSPSS family-subscale tertile (T1 = least support)",
    ),
    "apgar_category": ("Family APGAR category", "Retention by Family APGAR category"),
}


def curves_by(group: str, title: str, key: str) -> None:
    km = data.computed("analytics.cohort_analysis:retention_curves_for", spec, group=group)
    caption = None
    if not km.tests.empty:
        caption = charts.format_p_value(
            km.tests["p_value"].iloc[-1], prefix=km.tests["method"].iloc[-1].split(" (")[0] + " p"
        )
    fig = charts.survival_chart(
        km.curves, km.risk_table, title=title, x_max=km.x_max, caption=caption,
        legend_title=GROUPINGS[group].split(" (")[0],
    )  # fmt: skip
    st.plotly_chart(fig, width="stretch", key=f"{key}_chart")
    widgets.figure_downloads(fig, name=key, key=f"{key}_fig")
    st.dataframe(
        km.summary, hide_index=True, width="stretch",
        column_config={c: PERCENT for c in km.summary.columns if c.startswith("s")},
    )  # fmt: skip
    widgets.show_tests(km.tests)
    widgets.table_downloads(km.summary, name=f"{key}_summary", key=f"{key}_summary")


SECTIONS = ["By family support", "Family education", "Support over time"]
support_tab, education_tab, trend_tab = widgets.sections(SECTIONS, key="family_section")

if support_tab.open:
    with support_tab, widgets.error_panel():
        st.subheader("Retention by family support")
        # one chart at a time: both in view would draw both on every run
        measure_curves = st.radio(
            "Support measured by", list(FAMILY_CURVES), horizontal=True, key="family_curves",
            format_func=lambda group: FAMILY_CURVES[group][0],
        )  # fmt: skip
        label, title = FAMILY_CURVES[measure_curves]
        curves_by(measure_curves, title, f"family_{measure_curves}")

if education_tab.open:
    with education_tab, widgets.error_panel():
        st.subheader("Family education, at equal baseline support")
        with st.spinner("Weighting…"):
            education = data.computed("analytics.risk_models:family_education_for", spec)
            tests = data.computed("analytics.cohort_analysis:family_education_test_for", spec)
        fig = charts.survival_chart(
            education.curves, education.risk_table, x_max=730,
            title="Retention with vs without family education before admission, adjusted for "
            "baseline support",
            legend_title="Family education",
        )  # fmt: skip
        st.plotly_chart(fig, width="stretch", key="family_education_chart")
        st.caption(
            "Curves weighted by the inverse probability of enrolment given the MSPSS family "
            "subscale and the Family APGAR total (IPW), so both groups have the same baseline "
            f"support; {format_count(education.n_dropped)} episode(s) without both scores left out. The "
            "stratified log-rank test compares the groups within each family-support band."
        )
        widgets.figure_downloads(fig, name="family_education", key="family_education_fig")
        st.dataframe(
            education.at_365, hide_index=True, width="stretch",
            column_config=dict.fromkeys(("survival", "lower", "upper"), PERCENT),
        )  # fmt: skip
        widgets.show_tests(tests)
        widgets.table_downloads(tests, name="family_education_tests", key="family_education_tests")

if trend_tab.open:
    with trend_tab, widgets.error_panel():
        st.subheader("Support during treatment")
        left, right = st.columns(2)
        measure = left.selectbox(
            "Measure", list(SUPPORT_MEASURES), format_func=lambda m: SUPPORT_MEASURES[m][0],
            key="family_measure",
        )  # fmt: skip
        split = right.selectbox(
            "Lines by", ["none", "has_family_education_before", "modality", "family_support"],
            format_func=GROUPINGS.get, key="family_trend_group",
        )  # fmt: skip
        trend = data.computed(
            "analytics.trends:support_over_time_for", spec, measure=measure,
            group=None if split == "none" else split,
        )  # fmt: skip
        if trend.empty:
            st.info("Too few assessments in this cohort to show a trend.")
        else:
            fig = mean_over_time_chart(
                trend, title=f"{SUPPORT_MEASURES[measure][0].split(' (')[0]} by months since admission",
                y_title=SUPPORT_MEASURES[measure][0],
                legend_title=None if split == "none" else GROUPINGS[split],
            )  # fmt: skip
            st.plotly_chart(fig, width="stretch", key="family_trend_chart")
            st.caption(
                "Mean of the assessments in each 3-month window with its 95% CI (t); only patients "
                "still in treatment are assessed, so later months describe those who stayed."
            )
            widgets.figure_downloads(fig, name="support_over_time", key="family_trend_fig")
            widgets.table_downloads(trend, name="support_over_time", key="family_trend_table")
