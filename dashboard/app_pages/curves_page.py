"""Retention curves: Kaplan–Meier by a grouping, tests, competing exits, RMST and how
one-year retention depends on the gap rule."""

import streamlit as st

from analytics import charts
from analytics.cohort_analysis import GROUPINGS, RMST_TAU_DAYS
from dashboard import data, filters, research, widgets

PERCENT = st.column_config.NumberColumn(format="percent")
DAYS = st.column_config.NumberColumn(format="%.0f")
HORIZONS = {365: "1 year", 730: "2 years", 1095: "3 years", 1825: "5 years", 0: "all follow-up"}

st.title("Retention curves")
spec = filters.current_spec()
research.cohort_line(spec)

left, middle, right = st.columns(3)
group = left.selectbox(
    "Curves by", list(GROUPINGS), format_func=GROUPINGS.get, key="curves_group_by"
)
conf_type = middle.radio(
    "95% CI scale", ("log", "log-log"), horizontal=True, key="curves_conf_type",
    help="log is R's default (survfit); log-log is lifelines' and Stata's default.",
)  # fmt: skip
horizon = right.selectbox(
    "Show", list(HORIZONS), index=1, format_func=HORIZONS.get, key="curves_horizon"
)
label = GROUPINGS[group].split(" (")[0].lower()
by = "" if group == "none" else f" by {label}"

KAPLAN_MEIER, COMPETING, RMST, GAP_RULE = SECTIONS = [
    "Kaplan–Meier",
    "Competing exits",
    "Restricted mean time",
    "Gap rule sensitivity",
]
km_tab, cif_tab, rmst_tab, gap_tab = widgets.sections(SECTIONS, key="curves_section")


def km_analysis():
    with st.spinner("Estimating curves…"):
        return data.computed(
            "analytics.cohort_analysis:retention_curves_for", spec, group=group,
            conf_type=conf_type, x_max=horizon or None,
        )  # fmt: skip


if km_tab.open:
    with km_tab, widgets.error_panel():
        km = km_analysis()
        caption = None
        if not km.tests.empty:
            caption = charts.format_p_value(km.tests["p_value"].iloc[0], prefix="Log-rank p")
        fig = charts.survival_chart(
            km.curves, km.risk_table, title=f"Retention in treatment{by}",
            x_max=km.x_max, caption=caption, median_lines=True,
            legend_title=None if group == "none" else GROUPINGS[group].split(" (")[0],
        )  # fmt: skip
        st.plotly_chart(fig, width="stretch", key="curves_km_chart")
        st.caption(
            f"Kaplan–Meier estimates with pointwise 95% CI on the {conf_type} scale; + marks "
            "censored episodes (still in treatment at the cut-off); dashed lines reach the "
            "median."
        )
        widgets.figure_downloads(fig, name="retention_curves", key="curves_km_fig")

        st.subheader("Median, 3-month and one-year retention")
        st.dataframe(
            km.summary, hide_index=True, width="stretch",
            column_config={c: PERCENT for c in km.summary.columns if c.startswith("s")},
        )  # fmt: skip
        widgets.table_downloads(km.summary, name="retention_summary", key="curves_summary")
        if not km.tests.empty:
            st.markdown("**Tests of equal retention across groups**")
            widgets.show_tests(km.tests)
            widgets.table_downloads(km.tests, name="retention_tests", key="curves_tests")

if cif_tab.open:
    with cif_tab, widgets.error_panel():
        km = km_analysis()  # its number-at-risk table and time axis
        cif, gray = data.computed(
            "analytics.cohort_analysis:dropout_incidence_for", spec, group=group
        )
        cif_fig = charts.cumulative_incidence_chart(
            cif, km.risk_table,
            title=f"Cumulative incidence of dropout and of competing exits{by}",
            x_max=km.x_max, causes=["Dropout", "Competing exit"],
        )  # fmt: skip
        st.plotly_chart(cif_fig, width="stretch", key="curves_cif_chart")
        st.caption(
            "Aalen–Johansen estimates. Competing exits (completed, transferred, prison, died) "
            "end observation for reasons other than disengagement; a Kaplan–Meier curve that "
            "censored them would overstate dropout."
        )
        widgets.figure_downloads(cif_fig, name="dropout_incidence", key="curves_cif_fig")
        if not gray.empty:
            widgets.show_tests(gray)
            widgets.table_downloads(gray, name="gray_tests", key="curves_gray")

if rmst_tab.open:
    with rmst_tab, widgets.error_panel():
        st.subheader(f"Restricted mean time in treatment, first {RMST_TAU_DAYS} days")
        table, differences = data.computed(
            "analytics.cohort_analysis:rmst_comparison_for", spec, group=group
        )
        st.dataframe(table, hide_index=True, width="stretch", column_config={"rmst": DAYS})
        widgets.table_downloads(table, name="rmst", key="curves_rmst")
        if not differences.empty:
            st.markdown(f"**Difference from {differences['reference'].iloc[0]}, days**")
            widgets.show_tests(differences)
            widgets.table_downloads(differences, name="rmst_differences", key="curves_rmst_diff")

if gap_tab.open:
    with gap_tab, widgets.error_panel():
        st.subheader("Sensitivity to the gap rule")
        sensitivity = data.computed("analytics.cohort_analysis:gap_sensitivity_for", spec)
        st.caption(
            "The same cohort with episodes ending after a gap of more than 7, 14 or 30 days: "
            "a longer gap joins short breaks into one episode, so retention rises."
        )
        st.dataframe(
            sensitivity, hide_index=True, width="stretch",
            column_config={c: PERCENT for c in sensitivity.columns if c.startswith("s")},
        )  # fmt: skip
        widgets.table_downloads(sensitivity, name="gap_sensitivity", key="curves_gap")
