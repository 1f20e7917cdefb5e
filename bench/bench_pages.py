"""Benchmark: how long each dashboard page takes in a real browser (Debian's chromium).

For every page of the registry (administrator's view, single-user mode) on one store:

* first: open the page (cold caches for that page) until Streamlit has finished running it;
* filter change: change the sidebar's gap rule (7 -> 14 days) until the page has re-run;
* back: change it back (cached results) until the page has re-run;
* clinic filter: choose clinic C04 in the sidebar (same gap rule: the reader's cached
  episodes and marts are reused) until the page has re-run;
* pages in sections (tabs of which only the open one runs): each further section opened,
  then the gap rule changed there (7 -> 14 days).

A page is "done" when the app's run marker (dashboard/app.py) has changed, i.e. the script
finished, and then at its last DOM change (charts draw after the script ends), found once the
page has been quiet for a second; the quiet second itself is not counted.

    .venv/bin/python bench/bench_pages.py --patients 3000
    .venv/bin/python bench/bench_pages.py --store data/demo.duckdb
    .venv/bin/python bench/bench_pages.py --store data/demo.duckdb --pages "Family support"
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

# Every document records the time of its latest DOM change (charts draw after the script ends).
OBSERVER_JS = """
window.__lastMutation = performance.now();
new MutationObserver(() => { window.__lastMutation = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
QUIET_MS = 1000


MARKER_JS = (
    "() => { const m = document.querySelector('.run-complete');"
    " return m ? m.getAttribute('data-run') : null; }"
)


TIMEOUT_S = 180.0  # per step; --timeout for very large stores
SECONDS_JS = (
    "() => { const m = document.querySelector('.run-complete');"
    " return m ? Number(m.getAttribute('data-seconds')) : null; }"
)


def _wait_done(page, started_ms: float, previous_run: str | None, timeout_s: float | None = None):
    """Seconds from ``started_ms`` (page clock) until the page is drawn: the app's run marker
    has changed (the script finished) and then the DOM stayed quiet for ``QUIET_MS`` (charts
    draw after the script); the quiet time itself is not counted. Returns (seconds, run)."""
    deadline = time.perf_counter() + (timeout_s or TIMEOUT_S)
    while time.perf_counter() < deadline:
        run = page.evaluate(MARKER_JS)
        if run is not None and run != previous_run:
            break
        time.sleep(0.02)
    else:
        raise TimeoutError("the page did not finish its run in time")
    while time.perf_counter() < deadline:
        now, last = page.evaluate("() => [performance.now(), window.__lastMutation]")
        if now - last >= QUIET_MS:
            return max(last - started_ms, 0.0) / 1000, run
        time.sleep(0.05)
    raise TimeoutError("the page did not settle in time")


def _script_seconds(page) -> float:
    """The script's own seconds in the page's latest completed run (the run marker's)."""
    return page.evaluate(SECONDS_JS)


def _choose_gap(page, days: int, previous_run: str):
    select = page.locator('[data-testid="stSidebar"]').get_by_role(
        "combobox", name="Episode ends after a gap of more than"
    )
    started_ms = page.evaluate("() => performance.now()")
    select.click()
    select.fill(f"{days} days")
    page.keyboard.press("Enter")
    return _wait_done(page, started_ms, previous_run)


def _choose_clinic(page, clinic_id: str, previous_run: str):
    clinics = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Clinics")
    started_ms = page.evaluate("() => performance.now()")
    clinics.click()
    clinics.fill(clinic_id)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    return _wait_done(page, started_ms, previous_run)


def _open_section(page, name: str, previous_run: str):
    tab = page.locator('[data-testid="stMain"]').get_by_role("tab", name=name, exact=True)
    started_ms = page.evaluate("() => performance.now()")
    tab.click()
    return _wait_done(page, started_ms, previous_run)


def _measure_sections(page, run: str) -> tuple[list[tuple[str, float, float, float]], str]:
    """Pages in sections (tabs that run only when open): for each section after the first,
    open it (its own analyses, not yet computed for these settings), then change the gap rule
    (7 -> 14 days, its first computation there). Returns ((name, open, changed, script), ...)."""
    tabs = page.locator('[data-testid="stMain"]').get_by_role("tab")
    names = [tabs.nth(i).inner_text().strip() for i in range(tabs.count())]
    rows = []
    for name in names[1:]:
        opened, run = _open_section(page, name, run)
        changed, run = _choose_gap(page, 14, run)
        changed_server = _script_seconds(page)
        _, run = _choose_gap(page, 7, run)
        rows.append((name, opened, changed, changed_server))
    return rows, run


def run(
    store: Path, titles: list[str] | None = None
) -> list[tuple[str, float, float, float, float]]:
    from playwright.sync_api import sync_playwright

    from dashboard.registry import PAGES
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_healthy

    # the way people start it: `retention serve` (it preloads the analytics stack)
    port = _free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("retention")),
            "serve",
            "--store",
            str(store),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(OBSERVER_JS)
            default_page = next(iter(PAGES.values()))[0]
            for entries in PAGES.values():
                for entry in entries:
                    if titles and entry.title not in titles:
                        continue
                    # Streamlit serves the default page at the root only
                    path = "" if entry == default_page else entry.url_path
                    page.goto(f"{url}/{path}")
                    first, run = _wait_done(page, 0.0, None)  # from the start of navigation
                    if page.get_by_text("Page not found").count():
                        raise RuntimeError(f"{page.url}: page not found")
                    changed, run = _choose_gap(page, 14, run)
                    changed_server = _script_seconds(page)
                    back, run = _choose_gap(page, 7, run)
                    clinic, run = _choose_clinic(page, "C04", run)
                    rows.append((entry.title, first, changed, back, clinic))
                    print(
                        f"{entry.title:<22} first {first:6.2f} s   gap rule change "
                        f"{changed:6.2f} s (script {changed_server:5.2f} s)   back (cached) {back:6.2f} s   clinic filter "
                        f"{clinic:6.2f} s",
                        flush=True,
                    )
                    sections, run = _measure_sections(page, run)
                    for name, opened, section_changed, section_server in sections:
                        print(
                            f"  · {name:<24} open {opened:6.2f} s   gap rule change "
                            f"{section_changed:6.2f} s (script {section_server:5.2f} s)",
                            flush=True,
                        )
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--pages", nargs="*", help="page titles to measure (default: all)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per step")
    ns = parser.parse_args()
    global TIMEOUT_S
    TIMEOUT_S = ns.timeout
    store = ns.store
    if store is None:
        from analytics.demo_store import build_demo_store

        store = Path(tempfile.mkdtemp(prefix="bench-pages-")) / "demo.duckdb"
        build_demo_store(store, n_patients=ns.patients)
    run(store, ns.pages)


if __name__ == "__main__":
    main()
