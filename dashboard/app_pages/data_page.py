"""Data: what the store holds, where it came from, what was rejected, and an import box."""

import datetime as dt

import streamlit as st

from analytics.access import can
from dashboard import data, widgets

st.title("Data")
summary = data.store_summary()
st.caption(
    f"Data version {summary['data_version']} · records complete up to "
    f"{summary['data_cutoff'] or 'no data yet'}"
)

with widgets.error_panel():
    counts = data.scoped_query("rows_per_table_clinic")
    ranges = data.scoped_query("data_date_ranges")
    widgets.metric_row(
        [
            ("Clinics", f"{len(counts):,}"),
            ("Patients", f"{int(counts['patients'].sum()):,}"),
            ("Dosing visits", f"{int(counts['dosing_visits'].sum()):,}"),
            ("Urine screens", f"{int(counts['urine_screens'].sum()):,}"),
        ]
    )

    st.subheader("Rows per clinic")
    st.dataframe(counts, hide_index=True, width="stretch")
    widgets.table_downloads(counts, name="rows_per_clinic", key="data_counts")

    st.subheader("Date range of the records")
    st.dataframe(ranges, hide_index=True, width="stretch")

    st.subheader("Import history")
    history = data.scoped_query("import_history")
    st.dataframe(history, hide_index=True, width="stretch")
    with st.expander("Files of each import"):
        st.dataframe(data.scoped_query("import_files"), hide_index=True, width="stretch")

    st.subheader("Quarantined rows")
    problems = data.scoped_query("quarantine_summary")
    if problems.empty:
        st.success("No rows have been quarantined.")
    else:
        st.write(
            f"{int(problems['n_rows'].sum()):,} row problem(s) kept with their reasons. "
            "Fix them in the source file and import it again: rows already loaded are skipped."
        )
        st.dataframe(problems, hide_index=True, width="stretch")
        if can(data.current_viewer(), "view_all_clinics"):
            with st.expander("Rows as sent (identifiable; administrators only)"):
                st.dataframe(
                    data.scoped_query("quarantine_rows", import_id=None),
                    hide_index=True,
                    width="stretch",
                )

st.subheader("Import files")
if not can(data.current_viewer(), "import"):
    st.info("Imports are for administrators: ask one to load new files.")
    st.stop()
st.write(
    "One file per table, named after it (`patients.csv`, `dosing_visits_2024.xlsx`, "
    "`urine_screens.parquet`). See the data dictionary in `docs/data_dictionary.md`."
)
with st.form("data_import_form", clear_on_submit=True):
    uploads = st.file_uploader(
        "Files", type=["csv", "xlsx", "parquet"], accept_multiple_files=True, key="data_uploads"
    )
    cutoff = st.date_input(
        "Records complete up to (data cut-off)",
        value=summary["data_cutoff"] or dt.date.today(),
        key="data_cutoff",
    )
    strict = st.checkbox("Strict: reject everything if any row has a problem", key="data_strict")
    submitted = st.form_submit_button("Import")
if submitted:
    if not uploads:
        st.warning("Choose one or more files first.")
    else:
        with widgets.error_panel(), st.spinner("Importing…"):
            result = data.import_uploaded(
                [(f.name, f.getvalue()) for f in uploads], cutoff=cutoff, strict=strict
            )
            st.success(result.summary())
