"""``retention report`` and ``retention clinic-report``: saved analyses and clinic reports as files.

``retention report SPEC --store PATH --out FILE``
    Runs a saved analysis (YAML/JSON). The suffix of FILE decides what is written: ``.html`` /
    ``.pdf`` a report, ``.xlsx`` the tables (one sheet each, plus the settings), ``.png`` /
    ``.svg`` the main figure.
``retention clinic-report --store PATH --clinic C01 --out report.pdf [--from D --to D]``
    The clinic report of :mod:`analytics.report` as HTML or PDF.

Both run as the local administrator (the command line reads the store file directly).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from analytics.errors import RetentionError

REPORT_SUFFIXES = (".html", ".pdf")
TABLE_SUFFIXES = (".xlsx",)
FIGURE_SUFFIXES = (".png", ".svg")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc


def _reader(path: str):
    from analytics import store

    if not Path(path).is_file():
        raise RetentionError(f"No store at {path}: build one with `retention demo` or import.")
    return store.StoreReader(path)


def _write_page(page: str, out: Path) -> None:
    from analytics.report import html_to_pdf

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".html":
        out.write_text(page, encoding="utf-8")
        return
    with tempfile.TemporaryDirectory(prefix="retention-report-") as tmp:
        html_path = Path(tmp) / "report.html"
        html_path.write_text(page, encoding="utf-8")
        html_to_pdf(html_path, out)


def write_analysis_output(result, out: Path) -> Path:
    """Write a run analysis to ``out``; the suffix picks report, workbook or figure."""
    from analytics.export import figure_bytes, tables_to_excel

    suffix = out.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        out.write_bytes(tables_to_excel(result.tables, result.settings))
    elif suffix in FIGURE_SUFFIXES:
        if result.main_figure is None:
            raise RetentionError("This analysis has no figure; write .xlsx or .html instead.")
        fig = result.figures[result.main_figure]
        kwargs = {"dpi": 300} if suffix == ".png" else {}
        out.write_bytes(figure_bytes(fig, suffix[1:], **kwargs))
    elif suffix in REPORT_SUFFIXES:
        from analytics.report import render_analysis_html

        page = render_analysis_html(result)
        _write_page(page, out)
    else:
        allowed = ", ".join(REPORT_SUFFIXES + TABLE_SUFFIXES + FIGURE_SUFFIXES)
        raise RetentionError(f"--out must end in one of {allowed}, not {out.name!r}.")
    return out


def _report(args: argparse.Namespace) -> int:
    from analytics import store
    from analytics.analysis import load_analysis, run_analysis

    analysis = load_analysis(args.spec)
    reader = _reader(args.store)
    out = Path(args.out)
    if analysis.kind == "clinic_report" and out.suffix.lower() in REPORT_SUFFIXES:
        from analytics import report

        content = report.report_content(
            reader,
            store.LOCAL_ADMIN,
            analysis.cohort,
            clinic_id=analysis.setting("clinic_id"),
            period=(analysis.setting("period_from"), analysis.setting("period_to")),
            analysis=analysis,
        )
        _write_page(report.render_html(content), out)
    else:
        result = run_analysis(reader, store.LOCAL_ADMIN, analysis)
        write_analysis_output(result, out)
    print(out)
    return 0


def _clinic_report(args: argparse.Namespace) -> int:
    from analytics import report, store
    from analytics.cohort_spec import CohortSpec

    out = Path(args.out)
    if out.suffix.lower() not in REPORT_SUFFIXES:
        raise RetentionError(f"--out must end in .html or .pdf, not {out.name!r}.")
    spec = CohortSpec(gap_days=args.gap_days, outcome=args.outcome)
    content = report.report_content(
        _reader(args.store),
        store.LOCAL_ADMIN,
        spec,
        clinic_id=args.clinic,
        period=(args.date_from, args.date_to),
    )
    _write_page(report.render_html(content), out)
    print(out)
    return 0


def add_report_parser(subparsers) -> None:
    """Register ``report`` and ``clinic-report`` on the ``retention`` command's subparsers."""
    report = subparsers.add_parser(
        "report", help="run a saved analysis: report (.html/.pdf), tables (.xlsx) or figure"
    )
    report.add_argument("spec", help="saved analysis file (.yaml or .json)")
    report.add_argument("--store", required=True, help="the DuckDB store")
    report.add_argument("--out", required=True, help="output file: .html .pdf .xlsx .png .svg")
    report.set_defaults(func=_report)

    clinic = subparsers.add_parser("clinic-report", help="a clinic's retention report as PDF/HTML")
    clinic.add_argument("--store", required=True, help="the DuckDB store")
    clinic.add_argument("--clinic", default=None, help="clinic id, e.g. C01 (default: all)")
    clinic.add_argument("--out", required=True, help="output file: .pdf or .html")
    clinic.add_argument("--from", dest="date_from", type=_date, default=None, help="YYYY-MM-DD")
    clinic.add_argument("--to", dest="date_to", type=_date, default=None, help="YYYY-MM-DD")
    clinic.add_argument("--gap-days", type=int, default=7)
    clinic.add_argument("--outcome", choices=["any_exit", "dropout"], default="any_exit")
    clinic.set_defaults(func=_clinic_report)
