"""Sign in: user name and password; the demo accounts are listed on a demo store only."""

import pandas as pd
import streamlit as st

from dashboard import data, widgets

st.title("Sign in")
message = st.session_state.pop("sign_in_message", None)
if message:
    st.warning(message)

with st.form("sign_in_form"):
    user_name = st.text_input("User name", key="sign_in_user")
    password = st.text_input("Password", type="password", key="sign_in_password")
    submitted = st.form_submit_button("Sign in")
if submitted:
    with widgets.error_panel():
        data.sign_in(user_name, password)
        st.rerun()

demo = data.demo_credentials()
if demo:
    st.info(
        "**Demo store** (synthetic patients). These demo accounts work only while the store "
        "holds nothing but demo data:"
    )
    st.dataframe(
        pd.DataFrame(demo, columns=["User name", "Role", "Password"]),
        hide_index=True,
        key="sign_in_demo_accounts",
    )
