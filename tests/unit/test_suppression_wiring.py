"""Small-cell suppression wired into every aggregate a researcher can see or export, and the
audit entry of an identifiable download.

Every public analytics function a page calls is run for a researcher (no identifiable access)
on the real demo store, with groupings and a one-clinic cohort that produce small cells; no
returned table (nor the Excel workbook of them) may show a count between 1 and 10, and no line
of a table with a published total may have exactly one hidden cell.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import (
    clinic_comparison,
    clinic_overview,
    cohort_analysis,
    report,
    risk_models,
    table_one,
    trends,
)
from analytics import relapse_patterns as rp
from analytics.access import viewer_from_user
from analytics.analysis import Analysis, run_analysis
from analytics.cohort_spec import CohortSpec
from analytics.export import tables_to_excel
from analytics.store import StoreReader

THRESHOLD = 11
COUNT_NAME = re.compile(r"^(n|n_.*|count|counts|events|observed|expected|at_risk|.*_count)$")
# Per-step event and censoring counts of a curve are given away by the step itself; a visible
# step is allowed only while the number at risk is at least the threshold (checked instead).
STEP_COLUMNS = {"n_event", "n_censor"}
GROUPINGS = ("none", "clinic_name", "apgar_category", "age_band", "dose_band")


@pytest.fixture(scope="module")
def store(demo_store: Path, tmp_path_factory) -> Path:
    # researchers' row reads are audited next to the store: use a private copy
    copy = tmp_path_factory.mktemp("wiring") / "demo.duckdb"
    copy.write_bytes(demo_store.read_bytes())
    return copy


@pytest.fixture(scope="module")
def reader(store: Path) -> StoreReader:
    return StoreReader(store)


@pytest.fixture(scope="module")
def researcher():
    return viewer_from_user("rita-research", "researcher")


def small_counts(frame: pd.DataFrame) -> list[str]:
    """Descriptions of visible counts 0 < n < THRESHOLD in ``frame`` (empty: none)."""
    problems = []
    is_steps = {"time", "n_risk"} <= set(frame.columns)
    for column in frame.columns:
        name = str(column)
        if not COUNT_NAME.match(name):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if not np.allclose(values.dropna() % 1, 0):  # not a count (proportions, weights)
            continue
        if name in STEP_COLUMNS and is_steps:
            visible = values.notna() & pd.to_numeric(frame["n_risk"], errors="coerce").notna()
            at_risk = pd.to_numeric(frame["n_risk"], errors="coerce")[visible]
            if (at_risk < THRESHOLD).any():
                problems.append(f"{name}: step visible with n_risk < {THRESHOLD}")
            continue
        bad = values[(values > 0) & (values < THRESHOLD)]
        if len(bad):
            problems.append(f"{name}: {sorted(set(bad.tolist()))[:5]}")
    return problems


def tables_of(name: str, result) -> dict[str, pd.DataFrame]:
    """Every DataFrame inside a result (frame, tuple, dataclass, dict), with a name; scalar
    counts of dataclasses and dicts become one-row frames."""
    out: dict[str, pd.DataFrame] = {}
    if isinstance(result, pd.DataFrame):
        out[name] = result
    elif isinstance(result, tuple):
        for i, part in enumerate(result):
            out.update(tables_of(f"{name}[{i}]", part))
    elif isinstance(result, dict):
        scalars = {k: v for k, v in result.items() if np.isscalar(v) or v is None}
        if scalars:
            out[name] = pd.DataFrame([scalars])
        for key, value in result.items():
            if isinstance(value, pd.DataFrame):
                out[f"{name}.{key}"] = value
    elif dataclasses.is_dataclass(result):
        out.update(_dataclass_tables(name, result))
    return out


def _dataclass_tables(name: str, result) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if hasattr(result, "n_exits_month"):
        fields["n_exits_month"] = result.n_exits_month
    counts = {k: v for k, v in fields.items() if COUNT_NAME.match(k) and np.isscalar(v)}
    if counts:
        out[name] = pd.DataFrame([counts])
    for key, value in fields.items():
        if key not in counts:
            out.update(tables_of(f"{name}.{key}", value))
    return out


def one_hidden_lines(frame: pd.DataFrame, columns: list[str], by: list[str] | None) -> list:
    """Lines (columns within ``by`` groups) of two or more cells with exactly one hidden (NaN)
    count (a one-cell line is its own total, e.g. the only level of a characteristic)."""
    bad = []
    groups = frame.groupby(by, sort=False) if by else [("all", frame)]
    for key, part in groups:
        for column in columns:
            if len(part) > 1 and part[column].isna().sum() == 1:
                bad.append((key, column))
    return bad


@pytest.fixture(scope="module")
def outputs(reader, researcher) -> dict[str, pd.DataFrame]:
    """Every aggregate the pages show a researcher, by name."""
    specs = {"all": CohortSpec(), "C03": CohortSpec(clinic_ids=("C03",))}
    results: dict[str, object] = {}
    for label, spec in specs.items():
        results[f"{label}.summary"] = cohort_analysis.cohort_summary_for(reader, researcher, spec)
        results[f"{label}.gap"] = cohort_analysis.gap_sensitivity_for(reader, researcher, spec)
        for group in GROUPINGS:
            key = f"{label}.{group}"
            results[f"{key}.table_one"] = table_one.table_one_for(
                reader, researcher, spec, group=group
            )
            results[f"{key}.km"] = cohort_analysis.retention_curves_for(
                reader, researcher, spec, group=group
            )
            results[f"{key}.cif"] = cohort_analysis.dropout_incidence_for(
                reader, researcher, spec, group=group
            )
            results[f"{key}.rmst"] = cohort_analysis.rmst_comparison_for(
                reader, researcher, spec, group=group
            )
        for measure in trends.SUPPORT_MEASURES:
            results[f"{label}.support.{measure}"] = trends.support_over_time_for(
                reader, researcher, spec, measure=measure, group="modality"
            )
        for measure in ("heroin_days_28", "any_offending"):
            results[f"{label}.outcome.{measure}"] = trends.outcomes_over_time_for(
                reader, researcher, spec, measure=measure
            )
        results[f"{label}.family_test"] = cohort_analysis.family_education_test_for(
            reader, researcher, spec
        )
        results[f"{label}.family_education"] = risk_models.family_education_for(
            reader, researcher, spec
        )
        terms = tuple(risk_models.BASELINE_TERMS)[:3]
        results[f"{label}.cox"] = risk_models.fit_risk_model_for(
            reader, researcher, spec, terms=terms
        )
        results[f"{label}.fine_gray"] = risk_models.fit_dropout_model_for(
            reader, researcher, spec, terms=terms
        )
        if label == "all":  # (one clinic has a single treatment)
            results[f"{label}.adjusted"] = risk_models.adjusted_curves_for(
                reader, researcher, spec, group="modality", covariates=("age_years",)
            )
        results[f"{label}.overview"] = clinic_overview.clinic_overview(reader, researcher, spec)
        rows = rp.relapse_data_for(reader, researcher, spec)
        for group in ("none", "dose_band", "apgar_category"):
            for missed in (False, True):
                results[f"{label}.weekly.{group}.{missed}"] = rp.positive_by_week(
                    rows.weeks, rows.first, group=group, missed_as_positive=missed
                )
            results[f"{label}.first_relapse.{group}"] = rp.first_relapse_incidence(
                rows.first, group
            )
        results[f"{label}.missed_before_exit"] = rp.missed_before_dropout(rows.missed, rows.first)
    spec = specs["all"]
    results["compare"] = clinic_comparison.compare_clinics(reader, researcher, spec)
    content = report.report_content(reader, researcher, spec, clinic_id="C03")
    results["report"] = content.tables
    run = run_analysis(
        reader, researcher, Analysis(kind="retention_curves", cohort=spec,
                                     settings={"group_by": "sex"}),
    )  # fmt: skip
    results["analysis"] = run.tables
    tables: dict[str, pd.DataFrame] = {}
    for name, result in results.items():
        tables.update(tables_of(name, result))
    return tables


def test_no_small_count_is_visible_to_a_researcher(outputs) -> None:
    assert len(outputs) > 100
    problems = {name: p for name, frame in outputs.items() if (p := small_counts(frame))}
    assert problems == {}


def test_the_checks_see_small_counts_without_suppression(reader, demo_as_of) -> None:
    admin = viewer_from_user("ann-admin", "admin")
    table = table_one.table_one_for(reader, admin, CohortSpec(), group="clinic_name")
    assert small_counts(table)  # the researcher's version of this table is the one hidden


def test_table_one_has_no_line_with_one_hidden_cell(outputs) -> None:
    for name, table in outputs.items():
        if not name.endswith(".table_one"):
            continue
        cells = table[table["kind"] == "categorical"]
        # each characteristic's levels add up to the group's episodes
        assert one_hidden_lines(cells, ["n"], ["variable", "group"]) == [], name
        cells = table[table["kind"] != "continuous"]
        # "Overall" is the sum of the groups on each line
        if cells["group"].nunique() > 1:
            assert one_hidden_lines(cells, ["n"], ["variable", "level"]) == [], name
        hidden = table["n"].isna()
        assert table.loc[hidden, "percent"].isna().all()


def test_tables_with_totals_have_no_single_hidden_cell(outputs) -> None:
    for name, frame in outputs.items():
        if name.endswith(".km.summary"):
            assert one_hidden_lines(frame, ["n_episodes", "n_events"], None) == [], name
        elif name.endswith(".rmst[0]"):
            assert one_hidden_lines(frame, ["n_episodes"], None) == [], name
        elif name.endswith(".overview.exits_month"):
            assert one_hidden_lines(frame, ["n_exits"], None) == [], name
        elif name.endswith(".summary"):
            parts = frame[["events", "competing", "censored"]].T.rename(columns={0: "v"})
            assert one_hidden_lines(parts, ["v"], None) == [], name


def test_small_cohort_is_really_suppressed(outputs) -> None:
    """The one-clinic cohort does produce hidden cells (the checks above are not vacuous)."""
    hidden = sum(
        int(frame[c].isna().sum())
        for name, frame in outputs.items()
        if name.startswith("C03.") and name.endswith("table_one")
        for c in ["n"]
    )
    assert hidden > 0


def test_excel_workbook_of_the_tables_has_no_small_counts(outputs) -> None:
    chosen = {
        name: frame
        for name, frame in outputs.items()
        if not name.endswith(".schoenfeld") and len(frame) < 5000
    }
    workbook = tables_to_excel(
        {f"t{i}": frame for i, frame in enumerate(chosen.values())},
        {"suppression_threshold": THRESHOLD},
    )
    sheets = pd.read_excel(io.BytesIO(workbook), sheet_name=None)
    problems = {
        name: p
        for name, frame in sheets.items()
        if name != "analysis_settings" and (p := small_counts(frame))
    }
    assert problems == {}


def test_identifiable_download_writes_an_audit_entry(writable_demo_store, monkeypatch) -> None:
    from analytics.audit import read_audit
    from dashboard import data, widgets
    from tests.accounts import add_accounts

    add_accounts(writable_demo_store)
    monkeypatch.setenv("RETENTION_STORE", str(writable_demo_store))
    manager = viewer_from_user("mo-manager", "clinic_manager", ["C01", "C02"])
    monkeypatch.setattr(data, "current_viewer", lambda: manager)
    rows = pd.DataFrame({"patient_id": ["P1", "P2"], "clinic_id": ["C01", "C02"]})

    produce = widgets.audited_download(rows, "download:patients_at_risk.csv", lambda: b"csv")
    assert read_audit(writable_demo_store, actions=["export"]).empty  # drawing is not a download
    assert produce() == b"csv"
    entries = read_audit(writable_demo_store, actions=["export"])
    assert len(entries) == 1
    entry = entries.iloc[0]
    assert (entry["user_name"], entry["what"], entry["n_rows"]) == (
        "mo-manager",
        "download:patients_at_risk.csv",
        2,
    )
    assert entry["clinic_ids"] == "C01,C02"

    # aggregates, and anything a de-identified viewer downloads, are not audited as exports
    assert widgets.audited_download(rows.drop(columns="patient_id"), "x", lambda: b"a")() == b"a"
    monkeypatch.setattr(data, "current_viewer", lambda: viewer_from_user("r", "researcher"))
    assert widgets.audited_download(rows, "x", lambda: b"b")() == b"b"
    assert len(read_audit(writable_demo_store, actions=["export"])) == 1


def test_tables_show_p_values_as_researchers_write_them():
    from dashboard import widgets

    tests = pd.DataFrame({"method": ["a", "b", "c", "d"], "p_value": [0.0, 0.0123, 0.5, None]})
    shown = widgets.with_readable_p_values(tests)
    assert shown["p_value"].tolist() == ["< 0.0001", "0.012", "0.50", "—"]
    assert tests["p_value"].iloc[0] == 0.0  # the table itself (and its downloads) unchanged
