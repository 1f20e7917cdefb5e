"""Users (administrators): who may sign in, with which role and clinics; add, reset, remove."""

import streamlit as st

from analytics.access import ROLE_LABELS, ROLES
from dashboard import data, widgets

st.title("Users")
with widgets.error_panel():
    data.require("manage_users")
    st.dataframe(data.list_users(), hide_index=True, width="stretch", key="users_table")
    st.caption(
        "Sign-in is required as soon as one user exists. Sessions end after 30 minutes "
        "without activity or 8 hours; 5 failed sign-ins in 15 minutes lock an account until "
        "then (a password reset unlocks it)."
    )

    clinics = data.scoped_query("clinics")["clinic_id"].tolist()
    names = data.list_users()["user_name"].tolist()

    with st.expander("Add a user", expanded=not names):
        with st.form("users_add_form", clear_on_submit=True):
            user_name = st.text_input("User name", key="users_add_name")
            role = st.selectbox("Role", ROLES, format_func=ROLE_LABELS.get, key="users_add_role")
            own = st.multiselect("Clinics (clinic managers)", clinics, key="users_add_clinics")
            first = st.text_input("Password", type="password", key="users_add_password")
            second = st.text_input("Repeat it", type="password", key="users_add_password2")
            if st.form_submit_button("Add user"):
                data.add_user(user_name, first, second, role=role, clinic_ids=own)
                st.success(f"Added {user_name}.")

    with st.expander("Reset a password"):
        with st.form("users_reset_form", clear_on_submit=True):
            user_name = st.selectbox("User", names, key="users_reset_name")
            first = st.text_input("New password", type="password", key="users_reset_password")
            second = st.text_input("Repeat it", type="password", key="users_reset_password2")
            if st.form_submit_button("Set password"):
                data.reset_password(user_name, first, second)
                st.success(f"New password set for {user_name}; their sessions have ended.")

    with st.expander("Remove a user"):
        with st.form("users_remove_form"):
            user_name = st.selectbox("User", names, key="users_remove_name")
            sure = st.checkbox("Yes, remove this user", key="users_remove_sure")
            if st.form_submit_button("Remove"):
                if sure:
                    data.remove_user(user_name)
                    st.success(f"Removed {user_name}.")
                else:
                    st.warning("Tick the box to confirm.")
