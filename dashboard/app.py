"""Router: sign-in gate, page registry, shared frame. Run with `retention serve --store PATH`."""

import sys
import time
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import auth, data, filters, widgets  # noqa: E402
from dashboard.registry import visible_pages  # noqa: E402

run_started = time.perf_counter()

st.set_page_config(page_title="OAT retention", page_icon="💊", layout="wide")

with widgets.error_panel():
    if not data.store_path().exists():
        st.error(
            f"No store at {data.store_path()}. Build the demo with "
            "`retention demo --store data/demo.duckdb` or import your files."
        )
        st.stop()

# Sign-in gate: with users, nobody reaches a page before signing in (single-user mode: admin).
viewer = auth.gate()

navigation = st.navigation(
    {
        section: [st.Page(page.path, title=page.title, url_path=page.url_path) for page in pages]
        for section, pages in visible_pages(viewer.role).items()
    },
    expanded=True,  # every page in view: managers should not hunt for "View more"
)
# The cohort settings sit in the sidebar of every page and in the URL, so a view can be shared.
with widgets.error_panel():
    filters.sidebar_settings()
    filters.sync_query_params()
navigation.run()

# An invisible marker that changes with every completed run: browser tests and the page
# benchmark wait for it instead of guessing when Streamlit has finished; it also carries the
# script's own seconds, so the benchmark can tell the server's work from the browser's drawing.
st.session_state["_runs_completed"] = st.session_state.get("_runs_completed", 0) + 1
st.html(
    f'<span class="run-complete" data-run="{st.session_state["_runs_completed"]}" '
    f'data-seconds="{time.perf_counter() - run_started:.3f}"></span>'
)
