"""The sign-in gate and the account box in the sidebar (used by app.py on every run)."""

from __future__ import annotations

import streamlit as st

from analytics import store
from analytics.access import describe_viewer
from analytics.errors import AccessDenied
from dashboard import data
from dashboard.registry import SIGN_IN_PAGE

MESSAGE_KEY = "sign_in_message"


def gate() -> store.Viewer:
    """The viewer for this run. With users and nobody signed in (or a session that just
    expired) this shows the sign-in page and stops the run: no other page is reachable."""
    if not data.users_required():
        st.sidebar.info("Single-user mode — add users with `retention users add`.")
        return data.current_viewer()
    try:
        session = data.refresh_session()
    except AccessDenied as exc:
        st.session_state[MESSAGE_KEY] = str(exc)
        session = None
    if session is None:
        page = st.Page(SIGN_IN_PAGE.path, title=SIGN_IN_PAGE.title, url_path=SIGN_IN_PAGE.url_path)
        st.navigation([page], position="hidden").run()
        st.stop()
    account_box(session.viewer)
    return session.viewer


def account_box(viewer: store.Viewer) -> None:
    report = describe_viewer(viewer)
    with st.sidebar:
        st.caption(f"Signed in as **{viewer.user_name}** ({report.role_label}) · {report.clinics}")
        for note in report.notes:
            st.caption(note)
        if st.button("Sign out", key="app_sign_out"):
            data.sign_out()
            st.rerun()
