"""The cohort spec shared by every page: kept in session state and mirrored in the URL.

Streamlit drops query parameters on page switches, so the router re-writes them from session
state on every run; a shared link restores the same cohort and settings.
"""

from __future__ import annotations

import streamlit as st

from analytics.cohort_spec import GAP_DAYS_CHOICES, OUTCOMES, CohortSpec, SpecError
from dashboard import data

SPEC_KEY = "cohort_spec"
OUTCOME_LABELS = {
    "any_exit": "Any exit (every end of treatment)",
    "dropout": "Dropout (transfer, prison, death, completion compete)",
}


def current_spec() -> CohortSpec:
    """The spec in session state, else the one in the URL, else the defaults."""
    if SPEC_KEY not in st.session_state:
        try:
            st.session_state[SPEC_KEY] = CohortSpec.from_query_params(st.query_params.to_dict())
        except SpecError as exc:
            st.warning(f"The link's filters could not be used ({exc}); showing all data.")
            st.session_state[SPEC_KEY] = CohortSpec()
    return st.session_state[SPEC_KEY]


def set_spec(spec: CohortSpec) -> None:
    st.session_state[SPEC_KEY] = spec
    sync_query_params()


def sync_query_params() -> None:
    """Mirror the spec in the URL, parameter by parameter: other parameters are the pages' own
    (a page's section tabs are bound to one, and Streamlit refuses any write to it)."""
    wanted = current_spec().to_query_params()
    shown = st.query_params.to_dict()
    for name in CohortSpec().to_dict():
        if name in wanted and shown.get(name) != wanted[name]:
            st.query_params[name] = wanted[name]
        elif name not in wanted and name in shown:
            del st.query_params[name]


def clinic_names() -> dict[str, str]:
    clinics = data.scoped_query("clinics")
    return dict(zip(clinics["clinic_id"], clinics["clinic_name"], strict=True))


def sidebar_settings() -> CohortSpec:
    """Clinics, gap rule and outcome in the sidebar, on every page."""
    spec = current_spec()
    names = clinic_names()

    def unless_set(key: str, default):
        # the cohort form writes these widgets' state: then no default, or Streamlit logs a
        # warning (with a stack) that the widget had both
        return None if key in st.session_state else default

    with st.sidebar:
        st.markdown("**Cohort**")
        chosen = st.multiselect(
            "Clinics",
            options=list(names),
            default=unless_set("sidebar_clinics", [c for c in spec.clinic_ids if c in names]),
            format_func=lambda c: f"{c} · {names[c]}",
            placeholder="All clinics",
            key="sidebar_clinics",
        )
        gap = st.selectbox(
            "Episode ends after a gap of more than",
            GAP_DAYS_CHOICES,
            index=unless_set(
                "sidebar_gap_days",
                GAP_DAYS_CHOICES.index(spec.gap_days) if spec.gap_days in GAP_DAYS_CHOICES else 0,
            ),
            format_func=lambda g: f"{g} days",
            key="sidebar_gap_days",
        )
        outcome = st.radio(
            "Outcome",
            OUTCOMES,
            index=unless_set("sidebar_outcome", OUTCOMES.index(spec.outcome)),
            format_func=OUTCOME_LABELS.get,
            key="sidebar_outcome",
        )
    new = spec.replace(clinic_ids=tuple(chosen), gap_days=gap, outcome=outcome)
    if new != spec:
        set_spec(new)
    return new
