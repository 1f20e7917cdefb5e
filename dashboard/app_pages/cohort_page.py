"""Cohort builder: which episodes, how retention is defined, and who they are ("Table 1")."""

import streamlit as st

from analytics.cohort_analysis import GROUPINGS
from analytics.cohort_spec import (
    DOSE_BANDS,
    ECOLOGICAL_LEVELS,
    EPISODE_KINDS,
    FAMILY_SUPPORT_LEVELS,
    GAP_DAYS_CHOICES,
    OBSTACLE_THEMES,
    OUTCOMES,
)
from analytics.suppression import format_count
from analytics.table_one import format_table_one
from analytics.tables import MODALITIES, SEXES
from dashboard import data, filters, research, widgets

F = research.FORM_PREFIX

st.title("Cohort builder")
st.write(
    "Choose the episodes to study and how retention is defined; every Research page uses "
    "this cohort (the settings are kept in the page address, so a link shares them)."
)
spec = filters.current_spec()
cutoff = data.store_summary()["data_cutoff"]
names = filters.clinic_names()
research.load_form(spec, cutoff)

with st.form("cohort_form"):
    left, middle, right = st.columns(3)
    with left:
        st.markdown("**Who**")
        st.multiselect(
            "Clinics", list(names), format_func=lambda c: names[c], placeholder="All clinics",
            key=F + "clinic_ids",
        )  # fmt: skip
        st.multiselect("Treatment", MODALITIES, placeholder="All", key=F + "modalities")
        st.multiselect("Sex", SEXES, placeholder="All", key=F + "sexes")
        st.slider("Age at admission, years", *research.AGE_RANGE, key=F + "ages")
        st.radio(
            "Episodes", EPISODE_KINDS, horizontal=True, key=F + "episode_kind",
            format_func={"all": "all", "first": "first only", "repeat": "repeat only"}.get,
        )  # fmt: skip
    with middle:
        st.markdown("**Admission and risk profile**")
        st.date_input("Admitted from", key=F + "admitted_from")
        st.date_input("Admitted up to", key=F + "admitted_to")
        st.multiselect(
            "Methadone dose at day 30", DOSE_BANDS, placeholder="All", key=F + "dose_bands"
        )
        st.multiselect(
            "Family support (MSPSS family)", FAMILY_SUPPORT_LEVELS, placeholder="All",
            key=F + "family_support",
        )  # fmt: skip
        st.multiselect(
            "With obstacles in theme", OBSTACLE_THEMES, placeholder="Any",
            key=F + "obstacle_themes",
        )  # fmt: skip
        st.multiselect(
            "With obstacles at socioecological level", ECOLOGICAL_LEVELS, placeholder="Any",
            key=F + "ecological_levels",
        )  # fmt: skip
    with right:
        st.markdown("**Analysis settings**")
        st.selectbox(
            "Episode ends after a gap of more than", GAP_DAYS_CHOICES,
            format_func=lambda g: f"{g} days", key=F + "gap_days",
        )  # fmt: skip
        st.radio("Outcome", OUTCOMES, format_func=filters.OUTCOME_LABELS.get, key=F + "outcome")
        st.date_input("Data cut-off (censor open episodes here)", key=F + "as_of")
    st.form_submit_button("Apply", type="primary", on_click=research.apply_form, args=(cutoff,))

if error := st.session_state.get(F + "error"):
    st.error(error)

with widgets.error_panel():
    spec = filters.current_spec()
    size = data.computed("analytics.cohort_analysis:cohort_summary_for", spec)
    event_word = "Dropouts" if spec.outcome == "dropout" else "Exits (events)"
    metrics = [
        ("Episodes", format_count(size["episodes"])),
        ("Patients", format_count(size["patients"])),
        (event_word, format_count(size["events"])),
        ("Censored (still in treatment)", format_count(size["censored"])),
    ]
    if spec.outcome == "dropout":
        metrics.insert(3, ("Competing exits", format_count(size["competing"])))
    widgets.metric_row(metrics)
    if size["episodes"] == 0:
        st.warning("No episode matches these filters: widen them.")
        st.stop()

    st.subheader("Table 1: baseline characteristics")
    group = st.selectbox(
        "Columns by", list(GROUPINGS), format_func=GROUPINGS.get, key="cohort_table_group"
    )
    numbers = data.computed("analytics.table_one:table_one_for", spec, group=group)
    table = format_table_one(numbers)
    st.caption(
        "Counts and % of episodes for categories (missing values as “unknown”); median "
        "[interquartile range] and mean (SD) for measurements, with the number missing."
    )
    st.dataframe(table, hide_index=True, width="stretch", height=600)
    widgets.table_downloads(table, name="table_one", key="cohort_table_one")
