"""Relapse patterns: weekly urine results (lasagna), proportion positive by week, cumulative
incidence of first relapse, and missed doses in the weeks before dropout."""

import streamlit as st

from analytics import charts
from analytics.cohort_analysis import GROUPINGS
from analytics.relapse_patterns import LASAGNA_MAX_PATIENTS
from dashboard import data, filters, research, widgets

PATTERNS = "analytics.relapse_patterns"
RELAPSE_GROUPS = [
    "dose_band",
    "family_support",
    "mspss_family_tertile",
    "apgar_category",
    "modality",
    "none",
]

st.title("Relapse patterns")
spec = filters.current_spec()
research.cohort_line(spec)
st.caption(
    "Weekly opioid screens: negative, positive, missed (no result although in treatment) or "
    "other (refused). Relapse = a positive week after 4 or more negative weeks, or two "
    "positive weeks running."
)

SECTIONS = ["Lasagna plot", "Positive by week", "First relapse", "Missed doses before exit"]
lasagna_tab, weekly_tab, relapse_tab, missed_tab = widgets.sections(SECTIONS, key="relapse_section")


def note_sample() -> None:
    """Say so when this section's weekly rows or missed days come from a patient sample."""
    share = data.computed(f"{PATTERNS}:sample_share_of_cohort_for", spec)
    if share is not None:
        st.info(
            f"A large cohort: weekly results and missed doses come from a fixed random "
            f"{share:.1%} of its patients; first relapse uses every episode."
        )


if lasagna_tab.open:
    with lasagna_tab, widgets.error_panel():
        with st.spinner("Reading urine screens…"):
            cells, n_total = data.computed(f"{PATTERNS}:lasagna_for", spec)
        st.subheader("Urine results by week (lasagna plot)")
        sort_by = st.radio(
            "Rows ordered by", ("retention", "label"), horizontal=True, key="relapse_sort",
            format_func={
                "retention": "time in treatment (longest first)", "label": "sample order"
            }.get,
        )  # fmt: skip
        shown = cells["row_label"].nunique()
        fig = charts.lasagna_chart(
            cells, sort_by=sort_by, row_title="Episode",
            title=f"Weekly opioid screen results, first year ({shown:,} of {n_total:,} episodes)",
        )  # fmt: skip
        st.plotly_chart(fig, width="stretch", key="relapse_lasagna")
        note_sample()
        if n_total > LASAGNA_MAX_PATIENTS:
            st.caption(
                f"A random sample of {LASAGNA_MAX_PATIENTS} of {n_total:,} episodes with "
                "screens (fixed seed), so rows stay readable; **Positive by week** uses them all."
            )
        widgets.figure_downloads(fig, name="lasagna", key="relapse_lasagna_fig")

if weekly_tab.open:
    with weekly_tab, widgets.error_panel():
        st.subheader("Proportion positive by week since admission")
        left, right = st.columns(2)
        group = left.selectbox(
            "Lines by", RELAPSE_GROUPS, index=RELAPSE_GROUPS.index("none"),
            format_func=GROUPINGS.get, key="relapse_week_group",
        )  # fmt: skip
        missed_positive = right.checkbox(
            "Count missed screens as positive (sensitivity analysis)",
            key="relapse_missed_positive",
        )
        with st.spinner("Reading urine screens…"):
            weekly = data.computed(
                f"{PATTERNS}:positive_by_week_for", spec, group=group,
                missed_as_positive=missed_positive,
            )  # fmt: skip
        week_fig = charts.proportion_by_week_chart(
            weekly,
            title="Opioid-positive screens by week since admission"
            + (" (missed counted as positive)" if missed_positive else ""),
            y_title="Screens positive (95% CI)",
            legend_title=None if group == "none" else GROUPINGS[group].split(" (")[0],
        )
        st.plotly_chart(week_fig, width="stretch", key="relapse_week_chart")
        note_sample()
        widgets.figure_downloads(week_fig, name="positive_by_week", key="relapse_week_fig")
        widgets.table_downloads(weekly, name="positive_by_week", key="relapse_week_table")

if relapse_tab.open:
    with relapse_tab, widgets.error_panel():
        st.subheader("Cumulative incidence of first relapse")
        relapse_group = st.selectbox(
            "By", RELAPSE_GROUPS, format_func=GROUPINGS.get, key="relapse_cif_group"
        )
        cif, gray = data.computed(
            f"{PATTERNS}:first_relapse_incidence_for", spec, group=relapse_group
        )
        by = (
            ""
            if relapse_group == "none"
            else f" by {GROUPINGS[relapse_group].split(' (')[0].lower()}"
        )
        cif_fig = charts.cumulative_incidence_chart(
            cif, title=f"First relapse{by}, leaving treatment first as a competing event",
            x_max=365, causes=["First relapse"],
            legend_title=None if relapse_group == "none" else GROUPINGS[relapse_group].split(" (")[0],
        )  # fmt: skip
        st.plotly_chart(cif_fig, width="stretch", key="relapse_cif_chart")
        widgets.figure_downloads(cif_fig, name="first_relapse", key="relapse_cif_fig")
        if not gray.empty:
            widgets.show_tests(gray)
            widgets.table_downloads(gray, name="first_relapse_gray", key="relapse_gray")

if missed_tab.open:
    with missed_tab, widgets.error_panel():
        st.subheader("Missed doses before the end of treatment")
        with st.spinner("Reading missed doses…"):
            before = data.computed(f"{PATTERNS}:missed_before_dropout_for", spec)
        miss_fig = charts.trend_chart(
            before, x="weeks_before_exit", y="mean_missed_days", group="end_group",
            title="Missed dose days in the weeks before leaving: dropouts vs other exits",
            x_title="Weeks before the last covered day",
            y_title="Missed dose days per episode (mean)", legend_title="Episode ended by",
        )  # fmt: skip
        miss_fig.update_xaxes(autorange="reversed", dtick=1)
        st.plotly_chart(miss_fig, width="stretch", key="relapse_missed_chart")
        note_sample()
        widgets.figure_downloads(miss_fig, name="missed_before_exit", key="relapse_missed_fig")
        widgets.table_downloads(before, name="missed_before_exit", key="relapse_missed_table")
