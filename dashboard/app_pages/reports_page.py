"""Reports: a clinic report as HTML/PDF, saved analyses loaded and re-run, the current one saved."""

import datetime as dt
import tempfile
from pathlib import Path

import streamlit as st

from analytics import analysis as saved
from analytics import report
from analytics.export import tables_to_excel
from dashboard import data, filters, widgets

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

st.title("Reports")
spec = filters.current_spec()
viewer = data.current_viewer()

st.subheader("Clinic report")
with widgets.error_panel():
    names = filters.clinic_names()
    left, middle, right = st.columns([2, 1, 1])
    clinic = left.selectbox(
        "Clinic",
        [None, *names],
        format_func=lambda c: "All clinics in the selection" if c is None else f"{c} · {names[c]}",
        key="reports_clinic",
    )
    date_from = middle.date_input("Admissions from", value=None, key="reports_from")
    date_to = right.date_input("to", value=None, key="reports_to")
    if st.button("Build report", type="primary", key="reports_build"):
        with st.spinner("Computing and printing the report (about 10 s)..."):
            content = report.report_content(
                data.reader(), viewer, spec, clinic_id=clinic, period=(date_from, date_to)
            )
            with tempfile.TemporaryDirectory() as tmp:
                page = report.render_html(content)
                paths = report.write_outputs(page, tmp, "report", ("html", "pdf"))
                st.session_state["reports_files"] = {
                    "name": f"retention_report_{clinic or 'cohort'}_{dt.date.today():%Y%m%d}",
                    "html": paths["html"].read_bytes(),
                    "pdf": paths["pdf"].read_bytes(),
                }
    files = st.session_state.get("reports_files")
    if files:
        st.success("The report is ready.")
        a, b, _ = st.columns([1, 1, 4])
        a.download_button(
            "Download HTML",
            files["html"],
            f"{files['name']}.html",
            "text/html",
            key="reports_html",
        )
        b.download_button(
            "Download PDF",
            files["pdf"],
            f"{files['name']}.pdf",
            "application/pdf",
            key="reports_pdf",
        )

st.subheader("Save this analysis")
with widgets.error_panel():
    left, middle, right = st.columns(3)
    kind = left.selectbox("Kind", saved.KINDS[:2], key="reports_kind")
    group_by = middle.selectbox(
        "Compare groups", [None, *saved.GROUP_BY_CHOICES], key="reports_group_by"
    )
    conf_type = right.selectbox(
        "Confidence interval scale", saved.CONF_TYPES, key="reports_conf_type"
    )
    current = saved.Analysis(
        kind=kind, cohort=spec, settings={"group_by": group_by, "conf_type": conf_type}
    )
    st.download_button(
        "Save this analysis (YAML)",
        current.to_yaml().encode("utf-8"),
        "analysis.yaml",
        "application/x-yaml",
        key="reports_save",
    )

st.subheader("Load a saved analysis")
upload = st.file_uploader(
    "Saved analysis (.yaml or .json)", type=["yaml", "yml", "json"], key="reports_upload"
)
with widgets.error_panel():
    if upload is not None:
        loaded = saved.analysis_from_text(upload.getvalue())
        result = saved.run_analysis(data.reader(), viewer, loaded)
        st.caption(f"{loaded.kind.replace('_', ' ')} · {result.n_episodes:,} episodes")
        for name, fig in result.figures.items():
            st.plotly_chart(fig, key=f"reports_fig_{name}")
            widgets.figure_downloads(fig, name=name, key=f"reports_fig_{name}")
        for name, table in result.tables.items():
            with st.expander(name.replace("_", " ").capitalize()):
                st.dataframe(table, hide_index=True)
        st.download_button(
            "All tables (Excel)",
            tables_to_excel(result.tables, result.settings),
            f"{Path(upload.name).stem}.xlsx",
            XLSX,
            key="reports_tables_xlsx",
        )
