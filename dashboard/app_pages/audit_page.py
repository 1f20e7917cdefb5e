"""Audit log (administrators): who viewed or exported identifiable rows, and who was refused."""

import datetime as dt

import streamlit as st

from dashboard import data, widgets

ACTIONS = (
    "view",
    "export",
    "view_deidentified",
    "denied",
    "sign_in_failed",
    "sign_in_locked",
    "user_added",
    "user_removed",
    "password_reset",
)

st.title("Audit log")
with widgets.error_panel():
    data.require("view_audit")
    left, middle, right = st.columns(3)
    user_name = left.text_input("User name", key="audit_user").strip() or None
    actions = middle.multiselect("Actions", ACTIONS, key="audit_actions")
    clinic_id = right.text_input("Clinic", key="audit_clinic").strip() or None
    since = st.date_input("From", value=None, key="audit_since")
    entries = data.audit_entries(
        user_name=user_name,
        actions=actions or None,
        clinic_id=clinic_id,
        since=dt.datetime.combine(since, dt.time()) if since else None,
    )
    broken = data.audit_chain_breaks()
    if broken:
        st.error(
            f"{len(broken)} audit entries were changed or deleted outside the application "
            f"(first id {broken[0]})."
        )
    else:
        st.success(f"{len(entries):,} entries shown; the log's hash chain is intact.")
    st.dataframe(entries, hide_index=True, width="stretch", key="audit_table")
    st.download_button(
        "CSV",
        entries.to_csv(index=False).encode("utf-8"),
        file_name="audit_log.csv",
        mime="text/csv",
        key="audit_csv",
    )
