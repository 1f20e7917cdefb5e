"""Clinic reports: headline retention, curves, comparison, at-risk counts, relapse, methods.

:func:`report_content` computes the numbers and figures; :func:`render_html` writes one
self-contained HTML file (figures as inline SVG, so the number-at-risk table stays text) and
:func:`html_to_pdf` prints it on A4 with Debian's headless Chromium. :func:`build_report`
does all three.

The at-risk section holds counts only (no names, no identifiers), so the report can be shared.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import importlib.metadata
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.errors import RetentionError

A4_FIGURE_PX = 680
"""Printable width of an A4 page with 15 mm margins, in CSS pixels (180 mm at 96 per inch)."""
REPORT_TIMES = (90.0, 365.0)
MISSED_DOSE_DAYS = 14
SCREEN_WEEKS = 4
RELAPSE_WEEKS = 26
OUTCOME_TEXT = {
    "any_exit": "any end of an episode (dropout, discharge, completion, transfer, incarceration "
    "or death) counts as leaving treatment",
    "dropout": "dropping out (with or without a discharge record, or discharged by the clinic) "
    "is the event; completion, transfer, incarceration and death are censored at their date",
}
SOFTWARE = ("duckdb", "lifelines", "pandas", "numpy", "scipy", "plotly", "kaleido")
SECTIONS = (
    "Headline retention",
    "Retention curve",
    "Comparison with other clinics",
    "Patients at risk (counts)",
    "Relapse patterns",
    "Methods",
)


class ReportError(RetentionError):
    """A report could not be built or printed; the message says what to do."""


@dataclass
class ReportContent:
    """Everything a report shows, before it is turned into HTML."""

    title: str
    subtitle: str
    headline: list[tuple[str, str]]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, go.Figure]
    notes: dict[str, str]
    methods: list[str]
    settings: dict[str, Any]
    n_episodes: int = 0
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    def as_result(self, analysis):
        from analytics.analysis import AnalysisResult

        return AnalysisResult(
            analysis, self.tables, self.figures, self.settings, "km", self.n_episodes
        )


# --------------------------------------------------------------------------- numbers


def _fmt_pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.0%}"


def _survival_text(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["survival"]):
        return "not estimable"
    return f"{row['survival']:.0%} (95% CI {_fmt_pct(row['lower'])}–{_fmt_pct(row['upper'])})"


def _count(value: int, threshold: int | None) -> str:
    """A count, written "<threshold" when small and the viewer is not cleared to see it."""
    if threshold is not None and 0 < value < threshold:
        return f"<{threshold}"
    return f"{value:,}"


def weekly_positive(weeks: pd.DataFrame, max_week: int = RELAPSE_WEEKS) -> pd.DataFrame:
    """Proportion of urine screens positive for opioids per week since admission.

    Weeks without a result (``o``) or with another result (``*``) are left out of the
    denominator; the interval is Wilson's 95% score interval.

    Returns ``week, n, n_positive, proportion, lower, upper`` for weeks 0..max_week-1 with at
    least one result.
    """
    screened = weeks[weeks["opioid_result"].isin(["+", "-"]) & (weeks["week_no"] < max_week)]
    grouped = screened.groupby("week_no")["opioid_result"]
    out = pd.DataFrame(
        {"n": grouped.size(), "n_positive": grouped.apply(lambda s: int((s == "+").sum()))}
    )
    out = out.rename_axis("week").reset_index()
    z = 1.959963984540054
    n, p = out["n"].to_numpy(float), (out["n_positive"] / out["n"]).to_numpy(float)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    out["proportion"] = p
    out["lower"], out["upper"] = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return out


def at_risk_counts(
    episodes: pd.DataFrame,
    missed: pd.DataFrame,
    weeks: pd.DataFrame,
    as_of: dt.date,
) -> pd.DataFrame:
    """Counts of open episodes showing warning signs at the cut-off (no identifiers).

    Missed doses: at least one missed dose day in the last 14 days. Positive screen: an
    opioid-positive week starting in the last 4 weeks.
    """
    keys = ["patient_id", "episode_no"]
    open_eps = episodes.loc[episodes["is_open"].astype(bool), [*keys, "start_date"]]
    cut = pd.Timestamp(as_of)
    missed_days = (cut - pd.to_datetime(missed["missed_date"])).dt.days
    recent_missed = missed.loc[(missed_days >= 0) & (missed_days < MISSED_DOSE_DAYS), keys]
    with_missed = open_eps.merge(recent_missed.drop_duplicates(), on=keys)
    positive = weeks.loc[weeks["opioid_result"] == "+", [*keys, "week_no"]]
    positive = positive.merge(open_eps, on=keys)
    week_start = pd.to_datetime(positive["start_date"]) + pd.to_timedelta(
        positive["week_no"] * 7, unit="D"
    )
    recent_positive = positive.loc[(cut - week_start).dt.days < 7 * SCREEN_WEEKS, keys]
    recent_positive = recent_positive.drop_duplicates()
    both = with_missed.merge(recent_positive, on=keys)
    rows = [
        ("Open episodes at the cut-off", len(open_eps)),
        (f"with a missed dose in the last {MISSED_DOSE_DAYS} days", len(with_missed)),
        (f"with an opioid-positive screen in the last {SCREEN_WEEKS} weeks", len(recent_positive)),
        ("with both", len(both)),
    ]
    return pd.DataFrame(rows, columns=["measure", "n"])


def _comparison(reader, viewer, spec: CohortSpec, as_of: dt.date, threshold: int | None = None):
    """Funnel of one-year retention: case-mix adjusted (clinic_comparison) if it works, else
    observed against the pooled proportion."""
    from analytics.charts import funnel_chart

    title = "One-year retention by clinic"
    try:
        from analytics.clinic_comparison import compare_clinics

        comparison = compare_clinics(reader, viewer, spec.replace(as_of=as_of))
        table, target = comparison.table, comparison.target
        fig = funnel_chart(table, target=target, title=f"{title}, adjusted for case mix")
        note = (
            "Each point is a clinic; its one-year retention is indirectly standardised for case "
            "mix (Cox model without dose) against the pooled proportion (line) with 95% and "
            "99.8% binomial limits."
        )
        return table, fig, note
    except Exception as error:  # noqa: BLE001 - fall back to the simple funnel below
        fallback_reason = str(error)
    table, target = _observed_funnel(reader, viewer, spec, as_of)
    if threshold is not None:
        from analytics.suppression import suppress_funnel

        table = suppress_funnel(table, threshold)
    fig = funnel_chart(table, target=target, title=f"{title}, observed")
    note = (
        "Each point is a clinic's Kaplan–Meier one-year retention against the pooled proportion "
        "(line) with 95% and 99.8% binomial limits; not adjusted for case mix"
        f" ({fallback_reason[:120]})."
    )
    return table, fig, note


def _observed_funnel(reader, viewer, spec, as_of) -> tuple[pd.DataFrame, float]:
    from analytics.episodes import cohort_episodes
    from analytics.survival import survival_at

    episodes = cohort_episodes(reader, viewer, spec.replace(clinic_ids=(), as_of=as_of))
    if episodes["clinic_id"].nunique() < 2:
        raise ReportError("Comparing clinics needs at least two clinics with episodes.")
    common = {"duration": "duration_days", "event": "event", "times": [365.0], "extend": True}
    per_clinic = survival_at(episodes, group="clinic_id", **common)
    pooled = float(survival_at(episodes, **common)["survival"].iloc[0])
    sizes = episodes.groupby("clinic_id").agg(
        clinic_name=("clinic_name", "first"), n_patients=("patient_id", "nunique")
    )
    table = sizes.reset_index().merge(
        per_clinic.rename(columns={"group": "clinic_id", "survival": "observed"})[
            ["clinic_id", "observed"]
        ],
        on="clinic_id",
    )
    return table, pooled


def _software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        versions["oat-retention"] = importlib.metadata.version("oat-retention")
    except importlib.metadata.PackageNotFoundError:
        pass
    return versions


def _threshold(reader: store.StoreReader, viewer: store.Viewer) -> int | None:
    """The suppression threshold applied for this viewer (None: identifiable access)."""
    if viewer.identifiable and viewer.role == "admin":
        return None
    try:
        from analytics.suppression import suppression_threshold

        with reader.cursor() as cur:
            return suppression_threshold(cur)
    except Exception:  # noqa: BLE001 - the access-control module may be mid-change
        return 11


def methods_text(
    spec: CohortSpec,
    *,
    as_of: dt.date,
    period: tuple[dt.date | None, dt.date | None],
    conf_type: str,
    ties: str,
    threshold: int | None,
    comparison_note: str,
) -> list[str]:
    """The methods section as paragraphs, generated from the settings actually used."""
    versions = ", ".join(f"{k} {v}" for k, v in _software_versions().items())
    start, end = period
    cohort = "all episodes"
    if start or end:
        cohort = f"episodes admitted from {start or 'the first record'} to {end or as_of}"
    suppression = (
        f"Counts between 1 and {threshold - 1} are suppressed (shown as <{threshold}), and "
        f"curves stop where fewer than {threshold} patients remain at risk."
        if threshold
        else "No small-cell suppression was applied (identifiable access)."
    )
    return [
        f"Data cut-off: {as_of.isoformat()}. Records are complete up to this date; episodes "
        "still open at the cut-off are censored at it.",
        f"Episodes: a treatment episode ends when a patient has a gap of more than "
        f"{spec.gap_days} days without a dose (take-home doses cover their days). "
        f"Cohort: {cohort}.",
        f"Outcome: {OUTCOME_TEXT[spec.outcome]} (outcome definition '{spec.outcome}').",
        f"Retention was estimated with the Kaplan–Meier method; 95% pointwise confidence "
        f"intervals use Greenwood's variance on the {conf_type} scale (conf_type '{conf_type}'). "
        "The number at risk is given under the time axis.",
        f"Comparison with other clinics: {comparison_note} The case-mix Cox model uses the "
        f"{ties.capitalize()} method for tied times (ties '{ties}').",
        f"At-risk counts: open episodes at the cut-off with a missed dose in the last "
        f"{MISSED_DOSE_DAYS} days, and with an opioid-positive urine screen in a treatment week "
        f"starting in the last {SCREEN_WEEKS} weeks. Counts only; no patient is named.",
        f"Relapse patterns: proportion of urine screens positive for opioids per week since "
        f"admission (weeks without a result are excluded), with Wilson 95% intervals. {suppression}",
        f"Software: {versions}.",
    ]


def _period(
    period: tuple[dt.date | None, dt.date | None] | None, as_of: dt.date
) -> tuple[dt.date, dt.date]:
    start, end = period or (None, None)
    end = min(end or as_of, as_of)
    return start or end - dt.timedelta(days=364), end


def report_content(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    *,
    clinic_id: str | None = None,
    period: tuple[dt.date | None, dt.date | None] | None = None,
    analysis=None,
) -> ReportContent:
    """Compute a clinic (or cohort) report: headline, curve, comparison, counts, relapse.

    Parameters
    ----------
    spec : CohortSpec
        Cohort and settings (gap rule, outcome, cut-off); ``clinic_id`` narrows it to a clinic.
    period : (from, to), optional
        Admissions counted in the headline; with a ``from`` date the curve is restricted to
        episodes admitted in the period too. Default: the 12 months up to the cut-off.
    analysis : analytics.analysis.Analysis, optional
        For ``conf_type`` and ``ties``; defaults "log" and "efron".
    """
    from analytics import relapse
    from analytics.analysis import Analysis, retention_tables, suppress_retention_tables
    from analytics.charts import proportion_by_week_chart, survival_chart
    from analytics.episodes import cohort_episodes, resolve_as_of

    with reader.cursor() as cur:
        as_of = resolve_as_of(cur, spec)
    spec = spec.replace(as_of=as_of)
    if clinic_id:
        spec = spec.replace(clinic_ids=(clinic_id,))
    analysis = analysis or Analysis(kind="clinic_report", cohort=spec)
    analysis = dataclasses.replace(
        analysis, settings={**analysis.settings, "times": list(REPORT_TIMES), "group_by": None}
    )
    start, end = _period(period, as_of)
    curve_spec = spec
    if period and period[0]:
        curve_spec = spec.replace(admitted_from=start, admitted_to=end)
    # true dates: the report counts admissions in a calendar period and recent missed doses
    # and screens before the cut-off, and publishes only (suppressed) counts of them
    episodes = cohort_episodes(reader, viewer, spec, date_mode="keep")
    if episodes.empty:
        raise ReportError("The selection has no episodes: check the clinic and the filters.")
    curve_episodes = cohort_episodes(reader, viewer, curve_spec) if curve_spec != spec else episodes
    if curve_episodes.empty:
        raise ReportError(f"No admissions between {start} and {end}: choose another period.")
    threshold = _threshold(reader, viewer)
    tables, curves, risk = retention_tables(curve_episodes, analysis)
    if threshold is not None:
        from analytics.suppression import suppress_risk_table, suppress_survival_curve

        curves, risk = (
            suppress_survival_curve(curves, threshold),
            suppress_risk_table(risk, threshold),
        )
        tables = suppress_retention_tables(tables, curves, threshold)
        tables["km"], tables["risk_table"] = curves, risk[["group", "time", "n_risk"]]
    short = clinic_id or "Cohort"
    curves, risk = curves.assign(group=short), risk.assign(group=short)
    at = tables["survival_at_times"].set_index("time")
    starts = pd.to_datetime(episodes["start_date"]).dt.date
    admissions = int(((starts >= start) & (starts <= end)).sum())
    in_treatment = int(episodes["is_open"].astype(bool).sum())
    headline = [
        ("In treatment at the cut-off", _count(in_treatment, threshold)),
        (f"Admissions {start:%d %b %Y} – {end:%d %b %Y}", _count(admissions, threshold)),
        ("Retained at 90 days", _survival_text(at.loc[90.0] if 90.0 in at.index else None)),
        ("Retained at one year", _survival_text(at.loc[365.0] if 365.0 in at.index else None)),
    ]
    tables["headline"] = pd.DataFrame(headline, columns=["measure", "value"])
    label = _label(episodes, clinic_id)
    figures = {
        "km": survival_chart(
            curves,
            risk,
            title=f"Retention in treatment, {label}",
            x_max=analysis.setting("x_max"),
            height=520,
        )
    }
    comparison_table, figures["funnel"], comparison_note = _comparison(
        reader, viewer, spec, as_of, threshold
    )
    tables["comparison"] = comparison_table
    weeks = relapse.screen_weeks(reader, viewer, spec)
    missed = relapse.missed_dose_days(reader, viewer, spec, date_mode="keep")
    counts = at_risk_counts(episodes, missed, weeks, as_of)
    if threshold is not None:
        counts["n"] = [_count(int(n), threshold) for n in counts["n"]]
    tables["at_risk_counts"] = counts
    weekly = weekly_positive(weeks)
    if threshold is not None:  # a week shows only when screened, positive and negative >= t
        from analytics.suppression import drop_small_rows

        weekly = drop_small_rows(
            weekly, threshold, counts=["n", "n_positive"], complements=[("n", "n_positive")]
        )
    tables["positive_by_week"] = weekly
    if not weekly.empty:
        figures["relapse"] = proportion_by_week_chart(
            weekly,
            title="Urine screens positive for opioids, by week since admission",
            height=420,
        )
    methods = methods_text(
        spec,
        as_of=as_of,
        period=(start if period and period[0] else None, end if period and period[0] else None),
        conf_type=analysis.setting("conf_type"),
        ties=analysis.setting("ties"),
        threshold=threshold,
        comparison_note=comparison_note,
    )
    settings = {
        **analysis.describe(),
        "clinic_id": clinic_id,
        "period_from": start,
        "period_to": end,
        "data_cutoff": as_of,
        "suppression_threshold": threshold,
        **{f"software.{k}": v for k, v in _software_versions().items()},
    }
    return ReportContent(
        title=f"Retention report: {label}",
        subtitle=f"Data up to {as_of:%d %B %Y} · generated {dt.date.today():%d %B %Y}",
        headline=headline,
        tables=tables,
        figures=figures,
        notes={"comparison": comparison_note},
        methods=methods,
        settings=settings,
        n_episodes=len(curve_episodes),
    )


def _label(episodes: pd.DataFrame, clinic_id: str | None) -> str:
    if clinic_id:
        names = episodes.loc[episodes["clinic_id"] == clinic_id, "clinic_name"]
        return f"{names.iloc[0]} ({clinic_id})" if len(names) else str(clinic_id)
    return "selected cohort"


# --------------------------------------------------------------------------- HTML and PDF

CSS = """
@page { size: A4; margin: 15mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #222; font-size: 11pt;
       line-height: 1.4; max-width: 190mm; margin: 0 auto; }
h1 { font-size: 20pt; margin: 0 0 2mm; }
h2 { font-size: 14pt; margin: 6mm 0 2mm; border-bottom: 1px solid #ccc; padding-bottom: 1mm; }
.subtitle { color: #555; margin: 0 0 4mm; }
section { break-inside: avoid; page-break-inside: avoid; }
section.new-page { break-before: page; page-break-before: always; }
.figure svg, .figure img { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; margin: 2mm 0; }
th, td { border-bottom: 1px solid #ddd; padding: 1.2mm 2mm; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.headline { display: grid; grid-template-columns: 1fr 1fr; gap: 3mm; }
.metric { border: 1px solid #ccc; border-radius: 2mm; padding: 2mm 3mm; }
.metric .label { color: #555; font-size: 9.5pt; }
.metric .value { font-size: 14pt; font-weight: bold; }
.note { color: #444; font-size: 9.5pt; }
.methods p { margin: 0 0 2mm; font-size: 10pt; }
"""


def figure_svg(fig: go.Figure, *, width: int = A4_FIGURE_PX, height: int | None = None) -> str:
    """A figure as inline SVG markup (text stays text: searchable, and copyable from the PDF)."""
    from analytics.export import figure_bytes

    height = height or fig.layout.height or 480
    svg = figure_bytes(fig, "svg", width=width, height=height).decode("utf-8")
    return svg[svg.find("<svg") :]


def table_html(frame: pd.DataFrame, *, digits: int = 3) -> str:
    """A small table as escaped HTML, numbers right-aligned and rounded."""
    head = "".join(
        f'<th class="{"num" if frame[c].dtype.kind in "fiu" else ""}">{html.escape(str(c))}</th>'
        for c in frame.columns
    )
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                text = "–" if pd.isna(value) else f"{value:.{digits}g}"
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(value, int | np.integer):
                cells.append(f'<td class="num">{value:,}</td>')
            else:
                cells.append(f"<td>{html.escape('' if pd.isna(value) else str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(title: str, body: str, *, new_page: bool = False) -> str:
    cls = ' class="new-page"' if new_page else ""
    return f"<section{cls}><h2>{html.escape(title)}</h2>{body}</section>"


def _page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='subtitle'>{html.escape(subtitle)}</p>"
        + "".join(sections)
        + "</body></html>"
    )


def render_html(content: ReportContent) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no external files)."""
    metrics = "".join(
        f"<div class='metric'><div class='label'>{html.escape(label)}</div>"
        f"<div class='value'>{html.escape(value)}</div></div>"
        for label, value in content.headline
    )
    figs = content.figures
    relapse = (
        f"<div class='figure'>{figure_svg(figs['relapse'], height=420)}</div>"
        if "relapse" in figs
        else "<p>No urine screen results in this selection.</p>"
    )
    sections = [
        _section(SECTIONS[0], f"<div class='headline'>{metrics}</div>"),
        _section(SECTIONS[1], f"<div class='figure'>{figure_svg(figs['km'], height=520)}</div>"),
        _section(
            SECTIONS[2],
            f"<div class='figure'>{figure_svg(figs['funnel'], height=480)}</div>"
            f"<p class='note'>{html.escape(content.notes['comparison'])}</p>",
            new_page=True,
        ),
        _section(SECTIONS[3], table_html(content.tables["at_risk_counts"])),
        _section(SECTIONS[4], relapse, new_page=True),
        _section(
            SECTIONS[5],
            "<div class='methods'>"
            + "".join(f"<p>{html.escape(p)}</p>" for p in content.methods)
            + "</div>",
        ),
    ]
    return _page(content.title, content.subtitle, sections)


def render_analysis_html(result) -> str:
    """A saved analysis (retention curves or Cox model) as a self-contained HTML page."""
    sections = [
        _section(
            name.replace("_", " ").capitalize(), f"<div class='figure'>{figure_svg(fig)}</div>"
        )
        for name, fig in result.figures.items()
    ]
    for name, table in result.tables.items():
        if name in ("km",):  # one row per event time: in the workbook, not the page
            continue
        sections.append(_section(name.replace("_", " ").capitalize(), table_html(table)))
    settings = pd.DataFrame(
        {"setting": list(result.settings), "value": [str(v) for v in result.settings.values()]}
    )
    sections.append(_section("Settings", table_html(settings), new_page=True))
    kind = result.analysis.kind.replace("_", " ")
    return _page(f"Saved analysis: {kind}", f"{result.n_episodes:,} episodes", sections)


def chromium_path() -> str:
    from analytics.export import browser_path

    path = browser_path() or shutil.which("chromium")
    if not path:
        raise ReportError("Chromium is needed to print PDF reports: run `make chromium`.")
    return path


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 90) -> Path:
    """Print an HTML file to an A4 PDF with headless Chromium (``@page`` CSS sets the size)."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    pdf_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        command = [
            chromium_path(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}",
            html_path.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"Chromium did not finish printing within {timeout:.0f} s.") from exc
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise ReportError(f"Chromium could not print the report: {' | '.join(tail)}")
    return pdf_path


def write_outputs(
    page: str, out_dir: str | Path, stem: str, formats: Sequence[str]
) -> dict[str, Path]:
    """Write ``stem.html`` (always, PDF is printed from it) and ``stem.pdf`` if asked."""
    bad = [f for f in formats if f not in ("html", "pdf")]
    if bad:
        raise ReportError(f"Report formats are html and pdf, not {', '.join(bad)}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(page, encoding="utf-8")
    out = {"html": html_path} if "html" in formats else {}
    if "pdf" in formats:
        out["pdf"] = html_to_pdf(html_path, out_dir / f"{stem}.pdf")
        if "html" not in formats:
            html_path.unlink()
    return out


def build_report(
    reader: store.StoreReader,
    viewer: store.Viewer,
    spec: CohortSpec,
    *,
    clinic_id: str | None = None,
    out_dir: str | Path,
    formats: Sequence[str] = ("html", "pdf"),
    period: tuple[dt.date | None, dt.date | None] | None = None,
    stem: str | None = None,
) -> dict[str, Path]:
    """Build a clinic report and write it as HTML and/or PDF into ``out_dir``.

    Returns ``{format: path}``. Example::

        build_report(StoreReader("data/demo.duckdb"), LOCAL_ADMIN, CohortSpec(),
                     clinic_id="C01", out_dir="reports")
    """
    content = report_content(reader, viewer, spec, clinic_id=clinic_id, period=period)
    stem = stem or f"retention_report_{clinic_id or 'cohort'}"
    return write_outputs(render_html(content), out_dir, stem, formats)
