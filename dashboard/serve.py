"""Start the dashboard server in this process (``retention serve``).

The analytics stack is imported before the server starts, in the server's own process, so
the first visitor does not wait for scipy, lifelines and plotly to load; and while the server
starts, a background thread opens the store and derives the default landing page's cohort
(the reader the sessions share), so the first page does not wait for it either.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRELOAD = (
    "analytics.clinic_overview",
    "analytics.clinic_comparison",
    "analytics.at_risk",
    "analytics.cohort_analysis",
    "analytics.table_one",
    "analytics.trends",
    "analytics.risk_models",
    "analytics.relapse_patterns",
    "analytics.report",
    "analytics.export",
)


def warm_up(store_path: Path) -> None:
    """Open the shared reader; in single-user mode also compute the default Overview once
    (with users, whose view to compute is not known, and a read by nobody would be audited);
    then load the compiled survival and binning kernels."""
    from analytics import clinic_overview, store, trends, userfile
    from analytics.cohort_spec import CohortSpec
    from analytics.survival.cox import load_compiled_kernels

    try:
        reader = store.shared_reader(store_path)
        if userfile.has_users(store_path):
            reader.data_version()
        else:
            clinic_overview.clinic_overview(reader, store.LOCAL_ADMIN, CohortSpec())
    except Exception as exc:  # the page will show the same problem as a sentence
        logging.getLogger(__name__).warning("warm-up skipped: %s", type(exc).__name__)
    try:
        load_compiled_kernels()  # after the landing page's work: no model runs on it
        trends.load_compiled_kernels()
    except Exception as exc:  # a model page will raise it in a sentence
        logging.getLogger(__name__).warning("kernel warm-up skipped: %s", type(exc).__name__)


def serve(store_path: Path, *, port: int = 8501) -> int:
    os.environ["RETENTION_STORE"] = str(store_path)
    os.chdir(PROJECT_DIR)  # .streamlit/config.toml is read from the working directory
    sys.path.insert(0, str(PROJECT_DIR))
    for module in PRELOAD:
        importlib.import_module(module)
    if store_path.exists():
        threading.Thread(target=warm_up, args=(store_path,), daemon=True).start()
    from streamlit.web import cli as streamlit_cli

    sys.argv = [
        "streamlit",
        "run",
        str(PROJECT_DIR / "dashboard" / "app.py"),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    return streamlit_cli.main()
