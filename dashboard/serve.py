"""Start the dashboard server in this process (``retention serve``).

The analytics stack is imported before the server starts, in the server's own process, so
the first visitor does not wait for scipy, lifelines and plotly to load.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRELOAD = (
    "analytics.clinic_overview",
    "analytics.clinic_comparison",
    "analytics.at_risk",
    "analytics.cohort_analysis",
    "analytics.risk_models",
    "analytics.relapse_patterns",
    "analytics.report",
    "analytics.export",
)


def serve(store_path: Path, *, port: int = 8501) -> int:
    os.environ["RETENTION_STORE"] = str(store_path)
    os.chdir(PROJECT_DIR)  # .streamlit/config.toml is read from the working directory
    sys.path.insert(0, str(PROJECT_DIR))
    for module in PRELOAD:
        importlib.import_module(module)
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
