"""Compare clinics: observed against case-mix expected one-year retention (funnel plot), and a
clinic's retention curve against the rest."""

import streamlit as st

from analytics import charts
from dashboard import data, filters, widgets

st.title("Compare clinics")
spec = filters.current_spec()

# every clinic is compared (the analytics ignore the clinic filter): keyed without it, a
# clinic change reuses the fitted comparison instead of refitting it
every_clinic = spec.replace(clinic_ids=())

with widgets.error_panel():
    comparison = data.computed("analytics.clinic_comparison:compare_clinics", every_clinic)
    points = comparison.points()
    st.caption(
        f"Data cut-off **{comparison.as_of:%d %B %Y}** · every clinic is compared (the clinic "
        "filter only picks the clinic for the curves below) · expected retention from a Cox "
        "model of case mix (age, sex, treatment, prior episodes, family support, obstacle "
        f"themes; not dose) fitted on {comparison.n_episodes:,} episodes "
        f"({comparison.n_events:,} events)."
    )
    widgets.metric_row(
        [
            ("Pooled one-year retention", f"{comparison.target:.1%}"),
            ("Clinics compared", f"{len(points):,}"),
            ("Outside 95% limits", f"{int((points['status'] != 'within 95% limits').sum()):,}"),
            (
                "Outside 99.8% limits",
                f"{int((points['status'] == 'outside 99.8% limits').sum()):,}",
            ),
        ]
    )
    if comparison.n_clinics_hidden:
        st.caption(f"{comparison.n_clinics_hidden} small clinic(s) pooled or hidden.")
    left, right = st.columns(2)
    with left:
        funnel = charts.funnel_chart(
            comparison.funnel_frame(),
            target=comparison.target,
            title="One-year retention by clinic, adjusted for case mix",
            x_title="Episodes with a year of follow-up (n)",
        )
        st.plotly_chart(funnel, key="compare_funnel_chart")
        widgets.figure_downloads(funnel, name="funnel_one_year_retention", key="compare_funnel")
    with right:
        st.subheader("Observed and expected")
        # widths that fit the half page (automatic widths cut off the last column), the observed
        # column wide enough for a narrow CI with decimals, "51.2% (50.9–51.5%)"
        widths = {
            "Clinic": 48, "Episodes": 60, "Observed (95% CI)": 132, "Expected": 62, "O − E": 66,
            "Funnel": 88,
        }  # fmt: skip
        st.dataframe(
            comparison.display(),
            hide_index=True,
            width="stretch",
            column_config={name: st.column_config.Column(width=w) for name, w in widths.items()},
        )
        widgets.table_downloads(comparison.table, name="clinic_comparison", key="compare_table")

    st.subheader("Retention curve of one clinic against the rest")
    options = comparison.curve_choices()
    default = next((i for i, c in enumerate(options) if c in spec.clinic_ids), 0)
    chosen = st.selectbox(
        "Clinic",
        options,
        index=default,
        format_func=comparison.label,
        # a new sidebar selection is a new widget: its default follows the selection (a keyed
        # widget keeps the value it had and ignores a new index)
        key="_".join(["compare_clinic", *spec.clinic_ids]),
    )
    curves, risk, label = data.computed(
        "analytics.clinic_comparison:clinic_curves", every_clinic, clinic_id=chosen
    )
    figure = charts.survival_chart(
        curves,
        risk,
        title=f"Retention: {label} against all other clinics",
        x_max=730,
        percent=True,
        show_censor_marks=False,
    )
    st.plotly_chart(figure, key="compare_curves_chart")
    widgets.figure_downloads(figure, name="clinic_vs_rest", key="compare_curves")
