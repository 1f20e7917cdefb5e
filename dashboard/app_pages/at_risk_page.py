"""Patients at risk: open episodes with warning signs of leaving, with the reasons (identifiable)."""

import streamlit as st

from analytics.at_risk import HIGH_RISK, SIGNS, filter_by_signs
from dashboard import data, filters, widgets

# a browser table of every patient of a large network helps nobody and costs seconds
LIST_MAX_ROWS = 2_000

st.title("Patients at risk")
spec = filters.current_spec()

with widgets.error_panel():
    if not data.current_viewer().identifiable:
        st.warning(
            "The at-risk list is not available for de-identified access: it names patients, "
            "so it is only shown to clinic managers and administrators with identifiable "
            "access. No rows are shown."
        )
        st.stop()
    result = data.computed("analytics.at_risk:at_risk_patients", spec)
    patients = result.patients
    st.caption(
        f"Patients in treatment at the data cut-off **{result.as_of:%d %B %Y}** with warning "
        "signs of leaving treatment. Identifiable: do not share outside the care team."
    )
    chosen = st.multiselect(
        "Show patients with any of these signs",
        options=list(SIGNS),
        default=list(SIGNS),
        format_func=SIGNS.get,
        key="at_risk_signs",
    )
    shown = filter_by_signs(patients, chosen)
    widgets.metric_row(
        [
            ("In treatment now", f"{len(patients):,}"),
            ("With a chosen sign", f"{len(shown):,}"),
            ("With 3 or more signs", f"{int((shown['n_signs'] >= 3).sum()):,}"),
            (
                f"Predicted 90-day risk ≥ {HIGH_RISK:.0%}",
                f"{int(shown['high_model_risk'].sum()):,}",
            ),
        ]
    )
    if result.model_note:
        st.warning(result.model_note)
    else:
        sample = (
            f" (a fixed random sample of patients from {result.n_accessible_episodes:,})"
            if result.n_accessible_episodes > result.n_model_episodes
            else ""
        )
        unseen = int(patients["risk_90d"].isna().sum())
        st.caption(
            f"Risk model: Cox model of leaving treatment fitted on {result.n_model_episodes:,} "
            f"episodes{sample} ({result.n_model_events:,} exits) of every clinic you can see; "
            "baseline covariates and take-home status; risk = 1 − S(t + 90) / S(t) at the "
            "current day t."
            + (
                f" {unseen:,} patient(s) have a value the model's episodes never had (a rare "
                "sex or dose band): no predicted risk is shown for them."
                if unseen
                else ""
            )
        )
    if shown.empty:
        st.info("No patient in treatment has the chosen signs.")
    else:
        if len(shown) > LIST_MAX_ROWS:
            st.caption(
                f"Showing the {LIST_MAX_ROWS:,} of {len(shown):,} patients with the most signs "
                "and the highest risk; the downloads below hold all of them. Choose a clinic "
                "or fewer signs to narrow the list."
            )
        st.dataframe(
            shown.head(LIST_MAX_ROWS),
            hide_index=True,
            width="stretch",
            column_order=[
                "patient_id",
                "clinic_id",
                "n_signs",
                "risk_90d",
                "reasons",
                "days_in_treatment",
                "modality",
                "start_date",
                "episode_no",
                "missed_7d",
                "missed_14d",
                "n_positive_4w",
            ],
            column_config={
                "patient_id": "Patient",
                "clinic_id": "Clinic",
                "episode_no": "Episode",
                "start_date": st.column_config.DateColumn("Admitted", format="YYYY-MM-DD"),
                "days_in_treatment": "Days in treatment",
                "modality": "Treatment",
                "n_signs": "Signs",
                "risk_90d": st.column_config.ProgressColumn(
                    "Risk of leaving in 90 days", format="percent", min_value=0, max_value=1
                ),
                "reasons": st.column_config.TextColumn("Reasons", width="large"),
                "missed_7d": "Missed days (7)",
                "missed_14d": "Missed days (14)",
                "n_positive_4w": "Positive weeks (4)",
            },
        )
        widgets.table_downloads(shown, name="patients_at_risk", key="at_risk_table")
