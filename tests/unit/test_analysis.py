"""Saved analyses: save → load → run gives the same numbers; versions migrate; exports open."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
import yaml

from analytics import store
from analytics.analysis import (
    ANALYSIS_VERSION,
    Analysis,
    AnalysisError,
    load_analysis,
    run_analysis,
    save_analysis,
    tables_equal,
)
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes
from analytics.export import SETTINGS_SHEET, figure_bytes, tables_to_excel
from analytics.survival import survival_at


@pytest.fixture(scope="module")
def reader(demo_store):
    return store.StoreReader(demo_store)


@pytest.fixture(scope="module")
def curves_result(reader):
    analysis = Analysis(kind="retention_curves", settings={"group_by": "modality"})
    return run_analysis(reader, store.LOCAL_ADMIN, analysis)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_gives_identical_numbers(reader, tmp_path, suffix):
    analysis = Analysis(
        kind="retention_curves",
        cohort=CohortSpec(gap_days=14, clinic_ids=("C01", "C02", "C03")),
        settings={"group_by": "clinic_id", "conf_type": "log-log", "times": [30, 365]},
    )
    path = save_analysis(analysis, tmp_path / f"analysis{suffix}")
    loaded = load_analysis(path)
    assert loaded == analysis
    first = run_analysis(reader, store.LOCAL_ADMIN, analysis)
    again = run_analysis(reader, store.LOCAL_ADMIN, loaded)
    assert tables_equal(first.tables, again.tables)
    assert {"km", "survival_at_times", "median", "rmst", "logrank"} <= set(first.tables)


def test_cox_round_trip(reader, tmp_path):
    analysis = Analysis(
        kind="cox_model", settings={"terms": ["age_years", "modality"], "ties": "breslow"}
    )
    loaded = load_analysis(save_analysis(analysis, tmp_path / "cox.yaml"))
    result = run_analysis(reader, store.LOCAL_ADMIN, loaded)
    assert tables_equal(result.tables, run_analysis(reader, store.LOCAL_ADMIN, analysis).tables)
    assert set(result.tables["cox_coefficients"]["term"]) >= {"age_years"}
    assert "GLOBAL" in set(result.tables["ph_test"]["term"])
    assert result.tables["model_fit"]["ties"].iloc[0] == "breslow"


def test_version_1_gap_migrates_to_gap_days(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(
        "analysis_version: 1\nkind: retention_curves\n"
        "cohort: {spec_version: 1, gap: 14, outcome: dropout}\nsettings: {tau: 180}\n"
    )
    analysis = load_analysis(path)
    assert analysis.cohort.gap_days == 14
    assert analysis.cohort.outcome == "dropout"
    assert yaml.safe_load(analysis.to_yaml())["analysis_version"] == ANALYSIS_VERSION


def test_unknown_or_renamed_fields_fail_with_their_name(tmp_path):
    with pytest.raises(AnalysisError, match="Unknown field.*group\\b"):
        Analysis.from_dict(
            {"analysis_version": 2, "kind": "retention_curves", "settings": {"group": "sex"}}
        )
    with pytest.raises(AnalysisError, match="gap"):  # v2 file still using the v1 name
        Analysis.from_dict({"analysis_version": 2, "cohort": {"gap": 14}})
    with pytest.raises(AnalysisError, match="Unknown field.*colour"):
        Analysis.from_dict({"analysis_version": 2, "colour": "red"})
    with pytest.raises(AnalysisError, match="newer"):
        Analysis.from_dict({"analysis_version": 99})
    with pytest.raises(AnalysisError, match="group_by"):
        Analysis(settings={"group_by": "patient_id"})


def test_excel_workbook_rereads_equal_to_tables(curves_result):
    content = tables_to_excel(curves_result.tables, curves_result.settings)
    sheets = pd.read_excel(io.BytesIO(content), sheet_name=None)
    assert list(sheets) == [*curves_result.tables, SETTINGS_SHEET]
    for name, table in curves_result.tables.items():
        pd.testing.assert_frame_equal(
            sheets[name], table.reset_index(drop=True), check_dtype=False, check_exact=False
        )
    settings = dict(
        zip(sheets[SETTINGS_SHEET]["setting"], sheets[SETTINGS_SHEET]["value"], strict=True)
    )
    assert settings["settings.group_by"] == "modality"
    assert settings["cohort.gap_days"] == 7


def test_svg_risk_table_numbers_match_survival_at(reader, curves_result):
    fig = curves_result.figures["km"]
    svg = figure_bytes(fig, "svg").decode()
    assert svg.startswith("<svg") or "<svg" in svg[:200]
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, curves_result.analysis.cohort)
    risk = curves_result.tables["risk_table"]
    expected = survival_at(
        episodes.assign(group=episodes["modality"].astype(str)),
        duration="duration_days",
        event="event",
        group="group",
        times=sorted(risk["time"].unique()),
        extend=True,
    )
    numbers = [f"{int(n):,}" for n in expected["n_risk"]]
    assert list(risk["n_risk"].astype(int)) == [int(n) for n in expected["n_risk"]]
    for number in numbers:
        assert number in texts
    assert "Number at risk" in svg


def test_png_and_pdf_open_with_expected_size(curves_result):
    from PIL import Image

    fig = curves_result.figures["km"]
    png = figure_bytes(fig, "png", width=672, height=480, dpi=300)
    image = Image.open(io.BytesIO(png))
    assert image.size == (2100, 1500)
    assert round(image.info["dpi"][0]) == 300
    pdf = figure_bytes(fig, "pdf", width=672, height=480)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5_000


def test_suppressed_survival_at_times_follows_the_suppressed_curve(reader):
    """S(t) at chosen times is hidden from where the group's suppressed curve stops, no
    earlier: the curve's rule applied to the S(t) rows (whose n_event and n_censor count
    since the previous time asked for) hid estimates with hundreds at risk."""
    from analytics import suppression
    from analytics.analysis import retention_tables, suppress_retention_tables

    threshold = 11
    analysis = Analysis(
        kind="retention_curves",
        settings={"group_by": "clinic_id", "times": [30, 90, 180, 365, 545, 730]},
    )
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    tables, curves, _ = retention_tables(episodes, analysis)
    hidden_curves = suppression.suppress_survival_curve(curves, threshold)
    shown = suppress_retention_tables(tables, hidden_curves, threshold)["survival_at_times"]
    full = tables["survival_at_times"]
    assert len(shown) == len(full)
    merged = full.merge(shown, on=["group", "time"], suffixes=("", "_shown"))
    stops = hidden_curves[hidden_curves["survival"].isna()].groupby("group")["time"].min()
    past = merged["time"] >= merged["group"].map(stops).fillna(float("inf"))
    assert merged.loc[past, "survival_shown"].isna().all()
    assert merged.loc[past, "n_risk_shown"].isna().all()
    kept = merged[~past]
    assert (kept["survival_shown"] == kept["survival"]).all()
    assert (kept["n_risk"] >= threshold).all()
    # rows the curve's rule hid although the curve goes on past them are shown
    old_rule = kept["n_risk"] - kept["n_event"] - kept["n_censor"] < threshold
    assert old_rule.any()
    assert past.any()
