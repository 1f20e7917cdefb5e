"""Shared bits of the Research pages: the cohort line under each title, the cohort builder's
form state, and formatting of p-values. No analysis here (that is analytics/)."""

from __future__ import annotations

import streamlit as st

from analytics.charts import format_p_value
from analytics.cohort_spec import CohortSpec, SpecError
from analytics.suppression import format_count
from dashboard import data, filters

FORM_PREFIX = "cohort_form_"
SIDEBAR_KEYS = {"clinic_ids": "sidebar_clinics", "gap_days": "sidebar_gap_days"}
SPEC_FIELDS = (
    "clinic_ids",
    "modalities",
    "admitted_from",
    "admitted_to",
    "sexes",
    "dose_bands",
    "family_support",
    "obstacle_themes",
    "ecological_levels",
    "episode_kind",
    "gap_days",
    "outcome",
)
AGE_RANGE = (16, 90)


def cohort_line(spec: CohortSpec) -> None:
    """One line under the title: the cohort's settings and a link to change them."""
    as_of = spec.as_of or data.store_summary()["data_cutoff"]
    outcome = filters.OUTCOME_LABELS[spec.outcome].split(" (")[0].lower()
    filtered = [k for k, v in spec.to_query_params().items() if k not in ("gap_days", "outcome")]
    st.caption(
        f"Outcome: **{outcome}** · episodes end after a gap of more than **{spec.gap_days} days** "
        f"· cut-off **{as_of}** · "
        + (f"filtered on {', '.join(filtered)}" if filtered else "all episodes in your clinics")
    )
    st.page_link("app_pages/cohort_page.py", label="Change the cohort", icon="⚙️")


def p_text(p: float) -> str:
    return format_p_value(float(p))


def load_form(spec: CohortSpec, cutoff) -> None:
    """Put the spec's values into the cohort form's widgets (before they are drawn)."""
    state = st.session_state
    for name in SPEC_FIELDS:
        value = getattr(spec, name)
        state[FORM_PREFIX + name] = list(value) if isinstance(value, tuple) else value
    state[FORM_PREFIX + "ages"] = (spec.age_min or AGE_RANGE[0], spec.age_max or AGE_RANGE[1])
    state[FORM_PREFIX + "as_of"] = spec.as_of or cutoff


def apply_form(cutoff) -> None:
    """Form callback: build the spec from the form, store it (URL too), sync the sidebar."""
    state = st.session_state
    values = {name: state[FORM_PREFIX + name] for name in SPEC_FIELDS}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    low, high = state[FORM_PREFIX + "ages"]
    values["age_min"] = None if low <= AGE_RANGE[0] else int(low)
    values["age_max"] = None if high >= AGE_RANGE[1] else int(high)
    as_of = state[FORM_PREFIX + "as_of"]
    values["as_of"] = None if as_of == cutoff else as_of
    try:
        spec = filters.current_spec().replace(**values)
    except SpecError as exc:
        state[FORM_PREFIX + "error"] = str(exc)
        return
    state.pop(FORM_PREFIX + "error", None)
    filters.set_spec(spec)
    for field, key in SIDEBAR_KEYS.items():
        state[key] = list(values[field]) if field == "clinic_ids" else values[field]
    state["sidebar_outcome"] = values["outcome"]


def model_header(model) -> None:
    """Size and fit of a Cox model, as one line and a metric row."""
    st.caption(model.method)
    columns = st.columns(4)
    columns[0].metric("Episodes in the model", format_count(model.n))
    columns[1].metric("Events", format_count(model.n_events))
    columns[2].metric("Left out (missing values)", format_count(model.n_dropped))
    columns[3].metric("Concordance (C)", f"{model.concordance:.3f}")
