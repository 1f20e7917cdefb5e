"""Risk factors: Cox model of leaving treatment, its proportional-hazards check, refits when
it fails, Fine–Gray for dropout with competing exits, and adjusted curves."""

import streamlit as st

from analytics import charts
from analytics.cohort_analysis import GROUPINGS
from analytics.errors import RetentionError
from analytics.risk_models import ADJUST_TERMS_DEFAULT, BASELINE_TERMS, TERMS
from analytics.suppression import format_count
from dashboard import data, filters, research, widgets

DEFAULT_TERMS = ["mspss_family", "apgar_total", "dose_band", "age_years", "sex", "has_no_income"]
FIT = "analytics.risk_models:fit_risk_model_for"

st.title("Risk factors")
spec = filters.current_spec()
research.cohort_line(spec)

default_terms = DEFAULT_TERMS
if "risk_terms" not in st.session_state:
    # first view: the default model leaves out terms with one value in this cohort (dose band
    # where every clinic is heroin-assisted), so it does not open on an error
    try:
        default_terms = list(
            data.computed(
                "analytics.risk_models:varying_terms_for", spec, terms=tuple(DEFAULT_TERMS)
            )
        )
    except RetentionError:
        pass  # (an empty cohort) the sections below say what to change
left_out = [TERMS[t].label for t in DEFAULT_TERMS if t not in default_terms]
left, right = st.columns([3, 1])
terms = left.multiselect(
    "Model terms", list(TERMS), default=default_terms, format_func=lambda t: TERMS[t].label,
    key="risk_terms",
    help="Time-varying terms (take-home doses, family education, current dose) use the "
    "episode split into periods (counting-process form), never a baseline flag.",
)  # fmt: skip
ties = right.radio(
    "Ties", ("efron", "breslow"), key="risk_ties",
    format_func={"efron": "Efron (R)", "breslow": "Breslow (Stata, SAS)"}.get,
)  # fmt: skip

if left_out:
    st.caption(
        f"Left out of the default terms: {', '.join(left_out)} (a single value, or a value "
        "with no exits, in this cohort: no effect to estimate)."
    )

SECTIONS = ["Hazard ratios", "Proportional hazards", "Dropout (Fine–Gray)", "Adjusted curves"]
hr_tab, ph_tab, fg_tab, adjusted_tab = widgets.sections(SECTIONS, key="risk_section")


def fitted_model():
    with st.spinner("Fitting the Cox model…"):
        return data.computed(FIT, spec, terms=tuple(terms), ties=ties)


if hr_tab.open:
    with hr_tab, widgets.error_panel():
        model = fitted_model()
        research.model_header(model)
        fig = charts.forest_chart(
            model.coefficients.set_index("label"),
            title="Hazard ratios of leaving treatment (Cox model, robust SE by patient)",
        )
        st.plotly_chart(fig, width="stretch", key="risk_forest")
        widgets.figure_downloads(fig, name="cox_forest", key="risk_forest_fig")
        widgets.show_tests(model.coefficients, hide_index=False)
        widgets.table_downloads(
            model.coefficients.reset_index(), name="cox_coefficients", key="risk_coef"
        )
        if model.failing:
            st.warning(
                "Proportional hazards look doubtful (p < 0.05) for: "
                + ", ".join(TERMS[t].label for t in model.failing)
                + ". See **Proportional hazards** for the residuals and a refit."
            )

if ph_tab.open:
    with ph_tab, widgets.error_panel():
        model = fitted_model()
        st.caption(
            "Score test per term and GLOBAL (R's cox.zph, KM time scale). A small p-value "
            "means the term's effect changes over time."
        )
        widgets.show_tests(model.ph)
        widgets.table_downloads(model.ph, name="ph_tests", key="risk_ph")
        panels = sorted(set(model.schoenfeld["term"]))
        shown = st.multiselect(
            "Residual plots for", panels, default=panels[:3], key="risk_schoenfeld_terms"
        )
        if shown:
            residuals = model.schoenfeld[model.schoenfeld["term"].isin(shown)]
            res_fig = charts.schoenfeld_chart(
                residuals,
                title="Scaled Schoenfeld residuals minus the coefficient, against time",
            )
            st.plotly_chart(res_fig, width="stretch", key="risk_schoenfeld")
            n_residuals = int(residuals.groupby("term").size().max())
            sampled = (
                f" Each panel draws a random {charts.RESIDUAL_MAX_POINTS:,} of its "
                f"{n_residuals:,} residuals (one per event)."
                if n_residuals > charts.RESIDUAL_MAX_POINTS
                else ""
            )
            st.caption(
                "A flat smooth near zero supports proportional hazards for that term." + sampled
            )
            widgets.figure_downloads(
                res_fig, name="schoenfeld_residuals", key="risk_schoenfeld_fig"
            )

        if not model.failing:
            st.success("No term's effect changes detectably over time (every p ≥ 0.05).")
        else:
            st.warning(
                "Proportional hazards look doubtful (p < 0.05) for: "
                + ", ".join(TERMS[t].label for t in model.failing)
            )
            strata_options = [t for t in model.failing if TERMS[t].kind != "numeric"]
            choices = ["none"] + [f"strata:{t}" for t in strata_options] + ["split"]
            refit = st.radio(
                "Refit", choices, horizontal=True, key="risk_refit",
                format_func=lambda c: "no refit" if c == "none" else (
                    f"stratified by {TERMS[c[7:]].label}" if c.startswith("strata:")
                    else "split at day 90 (effects before and after)"
                ),
            )  # fmt: skip
            if refit != "none":
                with st.spinner("Refitting…"):
                    options = (
                        {"strata": refit[7:]}
                        if refit.startswith("strata:")
                        else {"split_terms": tuple(model.failing)}
                    )
                    refitted = data.computed(FIT, spec, terms=tuple(terms), ties=ties, **options)
                research.model_header(refitted)
                refit_fig = charts.forest_chart(
                    refitted.coefficients.set_index("label"),
                    title="Hazard ratios of leaving treatment, refitted",
                )
                st.plotly_chart(refit_fig, width="stretch", key="risk_refit_forest")
                widgets.figure_downloads(refit_fig, name="cox_refit_forest", key="risk_refit_fig")
                widgets.show_tests(refitted.ph)
                widgets.table_downloads(
                    refitted.coefficients.reset_index(), name="cox_refit", key="risk_refit_table"
                )

if fg_tab.open:
    with fg_tab, widgets.error_panel():
        st.subheader("Dropout with competing exits (Fine–Gray)")
        baseline = tuple(t for t in terms if t in BASELINE_TERMS)
        if not baseline:
            st.info("Fine–Gray uses baseline terms only: add one above.")
        else:
            with st.spinner("Fitting the Fine–Gray model…"):
                fg, n_dropped = data.computed(
                    "analytics.risk_models:fit_dropout_model_for", spec, terms=baseline
                )
            fg_fig = charts.forest_chart(
                fg.set_index("label"),
                title="Subdistribution hazard ratios of dropout (Fine–Gray; completion, "
                "transfer, prison and death compete)",
                x_title="Subdistribution hazard ratio (95% CI, log scale)",
            )
            st.plotly_chart(fg_fig, width="stretch", key="risk_fg")
            st.caption(f"{format_count(n_dropped)} episode(s) left out for missing values.")
            widgets.figure_downloads(fg_fig, name="fine_gray_forest", key="risk_fg_fig")
            widgets.show_tests(fg, hide_index=False)
            widgets.table_downloads(fg.reset_index(), name="fine_gray", key="risk_fg_table")

if adjusted_tab.open:
    with adjusted_tab, widgets.error_panel():
        groups = [g for g in GROUPINGS if g != "none"]
        left, right = st.columns(2)
        adj_group = left.selectbox(
            "Compare", groups, index=groups.index("modality"), format_func=GROUPINGS.get,
            key="risk_adjust_group",
        )  # fmt: skip
        adjust_for = right.multiselect(
            "Adjusted for", BASELINE_TERMS, default=list(ADJUST_TERMS_DEFAULT),
            format_func=lambda t: TERMS[t].label, key="risk_adjust_terms",
        )  # fmt: skip
        if not adjust_for:
            st.info("Choose at least one term to adjust for.")
        else:
            with st.spinner("Weighting…"):
                adjusted = data.computed(
                    "analytics.risk_models:adjusted_curves_for", spec, group=adj_group,
                    covariates=tuple(adjust_for),
                )  # fmt: skip
            adj_fig = charts.survival_chart(
                adjusted.curves, adjusted.risk_table, x_max=730,
                title=f"Retention by {GROUPINGS[adj_group].lower()}, adjusted for case mix (IPW)",
            )  # fmt: skip
            st.plotly_chart(adj_fig, width="stretch", key="risk_adjusted")
            used = ", ".join(TERMS[c].label for c in adjusted.covariates)
            left_out = [TERMS[c].label for c in adjust_for if c not in adjusted.covariates]
            st.caption(
                f"Adjusted for {used}"
                + (f" ({', '.join(left_out)} left out: they define the groups)" if left_out else "")
                + ". Each group weighted by 1 / P(group | covariates), as if it had treated the "
                "whole cohort; robust 95% CI. Numbers at risk are unweighted. "
                f"{format_count(adjusted.n_dropped)} episode(s) left out for missing values."
            )
            widgets.figure_downloads(adj_fig, name="adjusted_curves", key="risk_adjusted_fig")
            st.dataframe(adjusted.at_365, hide_index=True, width="stretch")
            widgets.table_downloads(
                adjusted.at_365, name="adjusted_one_year", key="risk_adjusted_table"
            )
