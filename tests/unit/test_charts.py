"""Charts: tidy frames in, plotly figures out. Assertions are on the plotted values.

The Kaplan–Meier frames are built with lifelines from the public ``addicts`` data (Caplehorn &
Bell 1991) in the shape of ``analytics.survival.kaplan_meier``. Reference numbers at risk come
from R 4.x::

    fit <- survfit(Surv(survt, status) ~ clinic, data = addicts)
    summary(fit, times = seq(0, 900, 180))$n.risk
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from lifelines import KaplanMeierFitter

from analytics.charts import (
    OKABE_ITO,
    bar_chart,
    cumulative_incidence_chart,
    forest_chart,
    format_p_value,
    funnel_chart,
    funnel_limits,
    funnel_points,
    group_colours,
    lasagna_chart,
    lowess,
    median_time,
    proportion_by_week_chart,
    risk_table_times,
    schoenfeld_chart,
    survival_chart,
    trend_chart,
)
from analytics.charts.curves import CENSOR_MARK_BINS, thin_censor_marks

ADDICTS = Path(__file__).resolve().parents[1] / "data" / "addicts.csv"
TICKS = [0.0, 180.0, 360.0, 540.0, 720.0, 900.0]
R_N_RISK = {"Clinic 1": [163, 116, 75, 42, 19, 1], "Clinic 2": [75, 59, 47, 35, 17, 7]}


def km_frame(data: pd.DataFrame) -> pd.DataFrame:
    """Lifelines KM per clinic in the ``kaplan_meier`` contract shape (Greenwood SE)."""
    parts = []
    for clinic, rows in data.groupby("clinic"):
        fitter = KaplanMeierFitter().fit(rows["survt"], rows["status"])
        table = fitter.event_table
        survival = fitter.survival_function_.iloc[:, 0].to_numpy()
        at_risk = table["at_risk"].to_numpy(float)
        events = table["observed"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            greenwood = np.cumsum(events / (at_risk * (at_risk - events)))
        parts.append(
            pd.DataFrame(
                {
                    "group": f"Clinic {clinic}",
                    "time": table.index.to_numpy(float),
                    "n_risk": at_risk,
                    "n_event": events,
                    "n_censor": table["censored"].to_numpy(float),
                    "survival": survival,
                    "std_err": survival * np.sqrt(greenwood),
                    "lower": fitter.confidence_interval_.iloc[:, 0].to_numpy(),
                    "upper": fitter.confidence_interval_.iloc[:, 1].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def at_risk(data: pd.DataFrame, times: list[float]) -> pd.DataFrame:
    """``survival_at`` stand-in: number still under observation at each time."""
    return pd.DataFrame(
        [
            {"group": f"Clinic {clinic}", "time": t, "n_risk": int((rows["survt"] >= t).sum())}
            for clinic, rows in data.groupby("clinic")
            for t in times
        ]
    )


@pytest.fixture(scope="module")
def addicts() -> pd.DataFrame:
    return pd.read_csv(ADDICTS)


@pytest.fixture(scope="module")
def curves(addicts: pd.DataFrame) -> pd.DataFrame:
    return km_frame(addicts)


@pytest.fixture(scope="module")
def risk_table(addicts: pd.DataFrame) -> pd.DataFrame:
    return at_risk(addicts, TICKS)


@pytest.fixture(scope="module")
def km_figure(curves: pd.DataFrame, risk_table: pd.DataFrame) -> go.Figure:
    return survival_chart(
        curves,
        risk_table,
        title="Retention in methadone maintenance by clinic",
        caption="Log-rank p < 0.0001",
        median_lines=True,
    )


def traces(fig: go.Figure, role: str, group: str | None = None) -> list:
    return [
        t
        for t in fig.data
        if t.meta and t.meta.get("role") == role and (group is None or t.meta.get("group") == group)
    ]


def font_sizes(node, key: str = "") -> list[float]:
    """Every font size set anywhere in a figure dict."""
    if isinstance(node, dict):
        found = (
            [node["size"]] if "font" in key and isinstance(node.get("size"), int | float) else []
        )
        return found + [s for k, v in node.items() for s in font_sizes(v, k)]
    if isinstance(node, list | tuple):
        return [s for item in node for s in font_sizes(item, key)]
    return []


# --- style -------------------------------------------------------------------------------------


def test_group_colours_follow_sorted_groups_not_arrival_order() -> None:
    assert group_colours(["b", "a", "c"]) == {
        "a": OKABE_ITO[0],
        "b": OKABE_ITO[1],
        "c": OKABE_ITO[2],
    }
    assert group_colours(["c", "a", "b", "a"]) == group_colours(["a", "b", "c"])


def test_group_colours_keep_a_passed_mapping_and_fill_the_rest() -> None:
    colours = group_colours(["Clinic 2", "Clinic 9"], {"Clinic 2": "#000000"})
    assert colours["Clinic 2"] == "#000000"
    assert colours["Clinic 9"] == OKABE_ITO[0]


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.00001, "p < 0.0001"),
        (0.00042, "p = 0.00042"),
        (0.0123, "p = 0.012"),
        (0.3456, "p = 0.35"),
    ],
)
def test_format_p_value(p: float, text: str) -> None:
    assert format_p_value(p) == text


def test_risk_table_times_are_round_steps_from_zero() -> None:
    assert risk_table_times(1076) == TICKS
    assert risk_table_times(365) == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0]
    assert risk_table_times(52, "weeks") == [0.0, 8.0, 16.0, 24.0, 32.0, 40.0, 48.0]
    with pytest.raises(ValueError, match="time_unit must be one of"):
        risk_table_times(100, "fortnights")


# --- Kaplan–Meier --------------------------------------------------------------------------------


def test_km_curves_plot_the_survival_column(km_figure: go.Figure, curves: pd.DataFrame) -> None:
    for group, expected in curves.groupby("group"):
        (curve,) = traces(km_figure, "curve", group)
        assert curve.name == group
        assert curve.line.shape == "hv"
        np.testing.assert_allclose(curve.x, expected["time"])
        np.testing.assert_allclose(curve.y, expected["survival"])


def test_risk_table_writes_r_numbers_at_the_tick_times(km_figure: go.Figure) -> None:
    for group, numbers in R_N_RISK.items():
        (row,) = traces(km_figure, "risk_table", group)
        assert row.yaxis == "y2"
        assert row.xaxis == "x2"
        np.testing.assert_allclose(row.x, TICKS)
        assert list(row.text) == [str(n) for n in numbers]
        assert set(row.y) == {group}
    assert list(km_figure.layout.xaxis.tickvals) == TICKS
    assert list(km_figure.layout.xaxis2.tickvals) == TICKS
    assert km_figure.layout.xaxis.matches == "x2"  # one shared time axis


def test_risk_table_row_sits_under_the_curves(km_figure: go.Figure) -> None:
    main, table = km_figure.layout.yaxis.domain, km_figure.layout.yaxis2.domain
    assert table[1] < main[0]
    assert 0.12 < (table[1] - table[0]) / (main[1] - table[0]) < 0.3
    # group labels coloured like the curves, first group on top
    assert list(km_figure.layout.yaxis2.categoryarray) == ["Clinic 2", "Clinic 1"]
    assert OKABE_ITO[0] in km_figure.layout.yaxis2.ticktext[0]


def test_censor_marks_sit_on_the_curve_at_censoring_times(
    km_figure: go.Figure, curves: pd.DataFrame
) -> None:
    for group, frame in curves.groupby("group"):
        censored = frame[frame["n_censor"] > 0]
        (marks,) = traces(km_figure, "censor", group)
        assert marks.marker.symbol == "cross-thin"
        # thinned to one mark per slice of the axis, each at a censoring time on the curve
        at = censored.set_index("time").loc[list(marks.x)]
        np.testing.assert_allclose(marks.y, at["survival"])
        assert len(marks.x) >= 0.8 * len(censored)
        assert np.asarray(marks.customdata)[:, 0].sum() == censored["n_censor"].sum()


def test_censor_marks_are_thinned_to_one_per_slice_of_the_axis_keeping_every_count() -> None:
    # a censoring every day for two years, on a one-year axis
    days = np.arange(1, 731, dtype=float)
    marks = pd.DataFrame({"time": days, "value": 1 - days / 1000, "n_censor": 2.0})
    thinned = thin_censor_marks(marks, x_end=365)
    width = 365 / CENSOR_MARK_BINS
    assert len(thinned) == len(np.unique(np.floor(days[days <= 365 * 1.015] / width)))
    assert len(thinned) <= CENSOR_MARK_BINS + 5
    # each mark at its slice's first censoring and on the curve there
    np.testing.assert_allclose(thinned["value"], 1 - thinned["time"] / 1000)
    assert thinned["n_censor"].sum() == 2 * (days <= 365 * 1.015).sum()
    assert (thinned["last_time"] >= thinned["time"]).all()
    assert (np.diff(np.floor(thinned["time"] / width)) > 0).all()
    # sparse marks are left as they are
    sparse = marks.iloc[::30]
    pd.testing.assert_frame_equal(
        thin_censor_marks(sparse, x_end=730)[["time", "value", "n_censor"]],
        sparse.reset_index(drop=True),
    )


def test_ci_band_is_a_step_outline_of_lower_and_upper(
    km_figure: go.Figure, curves: pd.DataFrame
) -> None:
    frame = curves[curves["group"] == "Clinic 1"]
    (band,) = traces(km_figure, "ci_band", "Clinic 1")
    assert band.fill == "toself"
    half = len(band.y) // 2
    upper, lower = np.asarray(band.y[:half]), np.asarray(band.y[half:])[::-1]
    np.testing.assert_allclose(np.unique(upper), np.unique(frame["upper"]))
    np.testing.assert_allclose(np.unique(lower), np.unique(frame["lower"]))
    assert (upper >= lower).all()


def test_median_lines_stop_at_the_median(km_figure: go.Figure, addicts: pd.DataFrame) -> None:
    rows = addicts[addicts["clinic"] == 1]
    expected = KaplanMeierFitter().fit(rows["survt"], rows["status"]).median_survival_time_
    (line,) = traces(km_figure, "median", "Clinic 1")
    assert list(line.x) == [0.0, expected, expected]
    assert list(line.y) == [0.5, 0.5, 0.0]
    assert not traces(km_figure, "median", "Clinic 2")  # never reaches 0.5


def test_caption_titles_and_axes(km_figure: go.Figure) -> None:
    texts = [a.text for a in km_figure.layout.annotations]
    assert "Log-rank p < 0.0001" in texts
    assert any("Number at risk" in t for t in texts)
    assert km_figure.layout.title.text == "Retention in methadone maintenance by clinic"
    assert km_figure.layout.xaxis.title.text == "Days since admission"
    assert km_figure.layout.yaxis.title.text == "Proportion retained"
    assert min(font_sizes(km_figure.to_dict())) >= 12


def test_suppressed_cells_and_truncated_steps(curves: pd.DataFrame) -> None:
    truncated = curves.copy()
    late = (truncated["group"] == "Clinic 1") & (truncated["time"] > 800)
    truncated.loc[late, ["survival", "lower", "upper"]] = np.nan
    table = pd.DataFrame(
        {"group": ["Clinic 1"] * 3, "time": [0.0, 180.0, 360.0], "n_risk": [163, np.nan, 1200]}
    )
    fig = survival_chart(truncated, table, title="t", suppressed_label="<11")
    (row,) = traces(fig, "risk_table", "Clinic 1")
    assert list(row.text) == ["163", "<11", "1,200"]
    (curve,) = traces(fig, "curve", "Clinic 1")
    assert max(curve.x) <= 800
    assert (
        not traces(fig, "risk_table", "Clinic 2")
        or list(traces(fig, "risk_table", "Clinic 2")[0].x) == []
    )


def test_x_max_cuts_the_axis_and_the_risk_table(curves: pd.DataFrame, risk_table) -> None:
    fig = survival_chart(curves, risk_table, title="First year", x_max=365)
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert axis.range[1] == pytest.approx(365 * 1.015)
    (row,) = traces(fig, "risk_table", "Clinic 1")
    assert list(row.x) == [0.0, 180.0, 360.0]
    assert list(row.text) == ["163", "116", "75"]


def test_curve_without_time_zero_starts_at_one() -> None:
    frame = pd.DataFrame(
        {
            "time": [10.0, 20.0],
            "n_risk": [5, 3],
            "n_event": [2, 1],
            "n_censor": [0, 2],
            "survival": [0.6, 0.4],
            "lower": [0.3, 0.1],
            "upper": [0.9, 0.8],
        }
    )
    fig = survival_chart(frame, title="One cohort", show_ci=False, percent=True)
    (curve,) = traces(fig, "curve")
    assert list(curve.x) == [0.0, 10.0, 20.0]
    assert list(curve.y) == [1.0, 0.6, 0.4]
    assert curve.name == "All patients"
    assert not traces(fig, "ci_band")
    assert fig.layout.yaxis.tickformat == ".0%"


def test_curves_keep_the_order_the_analysis_gives_the_groups() -> None:
    """Dose bands read <60, 60-79, >=80 mg in the legend, not in code-point order."""
    bands = ["<60 mg", "60–79 mg", "≥80 mg", "not methadone"]
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "group": band,
                    "time": [0.0, 10.0],
                    "n_risk": [5, 4],
                    "n_event": [0, 1],
                    "n_censor": [0, 0],
                    "survival": [1.0, 0.8],
                    "lower": [1.0, 0.5],
                    "upper": [1.0, 0.95],
                }
            )  # fmt: skip
            for band in bands
        ],
        ignore_index=True,
    )
    fig = survival_chart(frame, title="By dose band", show_ci=False)
    assert [t.name for t in traces(fig, "curve")] == bands
    assert sorted(bands) != bands  # the test would pass by sorting otherwise
    cif = frame.rename(columns={"survival": "cif"}).assign(cause="dropout", std_err=0.01)
    fig = cumulative_incidence_chart(cif, title="Dropout by dose band")
    assert [t.meta["group"] for t in traces(fig, "curve")] == bands


def test_survival_chart_names_missing_columns(curves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="curves lacks column"):
        survival_chart(curves.drop(columns="n_censor"), title="t")


# --- cumulative incidence ----------------------------------------------------------------------


def cif_frame() -> pd.DataFrame:
    rows = []
    for group in ("Clinic 1", "Clinic 2"):
        for cause, rate in (("dropout", 0.002), ("transfer", 0.0005)):
            t = np.array([0.0, 100.0, 200.0, 300.0])
            cif = 1 - np.exp(-rate * t)
            rows.append(
                pd.DataFrame(
                    {"group": group, "cause": cause, "time": t, "cif": cif, "std_err": 0.02}
                ).assign(lower=lambda d: (d.cif - 0.04).clip(0), upper=lambda d: d.cif + 0.04)
            )
    return pd.concat(rows, ignore_index=True)


def test_cumulative_incidence_draws_each_group_and_cause() -> None:
    frame = cif_frame()
    table = pd.DataFrame(
        {"group": ["Clinic 1", "Clinic 2"], "time": [0.0, 0.0], "n_risk": [50, 40]}
    )
    fig = cumulative_incidence_chart(frame, table, title="Dropout and transfer", x_max=300)
    curves = {t.name: t for t in traces(fig, "curve")}
    assert set(curves) == {
        "Clinic 1: dropout",
        "Clinic 1: transfer",
        "Clinic 2: dropout",
        "Clinic 2: transfer",
    }
    expected = frame[(frame.group == "Clinic 2") & (frame.cause == "transfer")]
    np.testing.assert_allclose(curves["Clinic 2: transfer"].y, expected["cif"])
    assert curves["Clinic 1: dropout"].line.dash == "solid"
    assert curves["Clinic 1: transfer"].line.dash == "dash"
    assert curves["Clinic 1: dropout"].line.color == curves["Clinic 1: transfer"].line.color
    assert fig.layout.yaxis.title.text == "Cumulative incidence"
    assert fig.layout.yaxis.range[1] == pytest.approx(0.5 * 1.03)  # tidy top above 0.451 + 0.04


# --- forest ------------------------------------------------------------------------------------


@pytest.fixture
def coefficients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "coef": np.log([1.39, 0.70, 0.36]),
            "se": [0.16, 0.06, 0.21],
            "robust_se": [0.16, 0.06, 0.21],
            "z": [2.0, -5.8, -4.8],
            "p": [0.051, 1e-8, 2e-6],
            "hr": [1.39, 0.70, 0.36],
            "hr_lower": [1.00, 0.62, 0.24],
            "hr_upper": [1.92, 0.80, 0.56],
        },
        index=pd.Index(["prison", "dose10", "clinic2"], name="term"),
    )


def test_forest_plots_hazard_ratios_with_their_intervals(coefficients: pd.DataFrame) -> None:
    fig = forest_chart(
        coefficients, title="Hazard of leaving", labels={"dose10": "Dose, per 10 mg"}
    )
    (points,) = traces(fig, "hr")
    np.testing.assert_allclose(points.x, coefficients["hr"])
    assert list(points.y) == ["prison", "Dose, per 10 mg", "clinic2"]
    np.testing.assert_allclose(points.error_x.array, coefficients["hr_upper"] - coefficients["hr"])
    np.testing.assert_allclose(
        points.error_x.arrayminus, coefficients["hr"] - coefficients["hr_lower"]
    )
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.yaxis.autorange == "reversed"  # first term on top
    (text,) = traces(fig, "hr_text")
    assert text.text[0] == "1.39 (1.00–1.92)   p = 0.051"
    assert text.text[1].endswith("p < 0.0001")
    (line,) = [s for s in fig.layout.shapes if s.type == "line"]
    assert line.x0 == line.x1 == 1.0


# --- funnel ------------------------------------------------------------------------------------


@pytest.fixture
def clinics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clinic_id": ["a", "b", "c", "d"],
            "clinic_name": ["North", "South", "East", "West"],
            "n_patients": [400, 100, 50, 300],
            "observed": [0.40, 0.52, 0.10, 0.25],
            "expected": [0.40, 0.40, 0.40, 0.40],
        }
    )


def test_funnel_limits_equal_the_binomial_formula() -> None:
    limits = funnel_limits(0.4, [100, 400])
    se = np.sqrt(0.4 * 0.6 / np.array([100, 400]))
    np.testing.assert_allclose(limits["lower_95"], 0.4 - 1.959964 * se, atol=1e-6)
    np.testing.assert_allclose(limits["upper_95"], 0.4 + 1.959964 * se, atol=1e-6)
    np.testing.assert_allclose(limits["upper_998"], 0.4 + 3.090232 * se, atol=1e-6)
    assert limits.loc[0, "upper_95"] == pytest.approx(0.496018, abs=1e-6)


def test_funnel_classifies_clinics_against_the_limits(clinics: pd.DataFrame) -> None:
    points = funnel_points(clinics, target=0.4).set_index("clinic_name")
    assert points.loc["North", "status"] == "within 95% limits"
    assert points.loc["South", "status"] == "outside 95% limits"  # 0.52 > 0.496 (n = 100)
    assert points.loc["East", "status"] == "outside 99.8% limits"
    assert points.loc["West", "status"] == "outside 99.8% limits"
    assert points.loc["East", "direction"] == "below"


def test_funnel_adjusts_for_case_mix(clinics: pd.DataFrame) -> None:
    harder = clinics.assign(expected=[0.4, 0.4, 0.2, 0.4])
    points = funnel_points(harder, target=0.4).set_index("clinic_name")
    assert points.loc["East", "value"] == pytest.approx(0.10 / 0.2 * 0.4)
    raw = funnel_points(harder, target=0.4, adjust=False).set_index("clinic_name")
    assert raw.loc["East", "value"] == pytest.approx(0.10)


def test_funnel_chart_draws_limits_target_and_labelled_points(clinics: pd.DataFrame) -> None:
    fig = funnel_chart(clinics, target=0.4, title="One-year retention by clinic")
    for limit in traces(fig, "limit"):
        z = 1.959964 if limit.meta["level"] == "95" else 3.090232
        sign = 1 if limit.meta["side"] == "upper" else -1
        n = np.asarray(limit.x)
        expected = np.clip(0.4 + sign * z * np.sqrt(0.24 / n), 0, 1)
        np.testing.assert_allclose(limit.y, expected, atol=1e-6)
    assert len(traces(fig, "limit")) == 4
    (target,) = traces(fig, "target")
    assert set(target.y) == {0.4}
    plotted = {name: t.marker.color for t in traces(fig, "clinics") for name in t.text}
    assert set(plotted) == {"North", "South", "East", "West"}
    assert plotted["East"] == OKABE_ITO[1]  # outliers highlighted
    assert plotted["North"] == OKABE_ITO[0]


# --- relapse pictures -----------------------------------------------------------------------------


def test_lasagna_codes_results_and_sorts_by_retention() -> None:
    frame = pd.DataFrame(
        {
            "row_label": ["p1", "p1", "p2", "p2", "p2", "p3"],
            "week": [0, 1, 0, 1, 2, 0],
            "result": ["negative", "none", "positive", "missed", "negative", "positive"],
        }
    )
    fig = lasagna_chart(frame)
    (heatmap,) = traces(fig, "lasagna")
    categories = heatmap.meta["categories"]
    assert list(heatmap.y) == ["p2", "p1", "p3"]  # longest in treatment first, ties by label
    code = {c: i for i, c in enumerate(categories)}
    assert [list(r) for r in heatmap.z] == [
        [code["positive"], code["missed"], code["negative"]],
        [code["negative"], code["none"], code["none"]],
        [code["positive"], code["none"], code["none"]],
    ]
    assert {t.name for t in traces(fig, "legend_key")} >= {"Negative", "Positive", "Missed", "None"}
    with pytest.raises(ValueError, match="not among"):
        lasagna_chart(frame.assign(result="pos"))


def test_proportion_by_week_plots_proportions_with_band() -> None:
    frame = pd.DataFrame(
        {
            "week": [1, 2, 3],
            "n": [40, 38, 35],
            "n_positive": [20, 15, 10],
            "proportion": [0.5, 15 / 38, 10 / 35],
            "lower": [0.35, 0.25, 0.15],
            "upper": [0.65, 0.55, 0.45],
        }
    )
    fig = proportion_by_week_chart(frame)
    (line,) = traces(fig, "proportion")
    np.testing.assert_allclose(line.y, frame["proportion"])
    (band,) = traces(fig, "ci_band")
    np.testing.assert_allclose(band.y, [0.65, 0.55, 0.45, 0.15, 0.25, 0.35])
    assert fig.layout.yaxis.tickformat == ".0%"


# --- trends and bars ---------------------------------------------------------------------------


def test_trend_chart_draws_one_line_per_group_in_time_order() -> None:
    frame = pd.DataFrame(
        {
            "month": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-01-01", "2025-02-01"]),
            "clinic": ["A", "A", "B", "B"],
            "n_patients": [12, 10, 7, 9],
        }
    )
    fig = trend_chart(frame, title="Patients in treatment per month", group="clinic")
    (a,) = traces(fig, "trend", "A")
    assert list(a.y) == [10, 12]
    assert fig.layout.yaxis.title.text == "Patients in treatment"


def test_bar_chart_sorts_exits_by_reason() -> None:
    frame = pd.DataFrame({"reason": ["completed", "dropped_out", "died"], "n_exits": [5, 30, 2]})
    fig = bar_chart(frame, title="Exits by reason")
    (bars,) = traces(fig, "bars")
    assert list(bars.y) == ["Dropped out", "Completed", "Died"]
    assert list(bars.x) == [30, 5, 2]


# --- Schoenfeld --------------------------------------------------------------------------------


def test_lowess_recovers_a_straight_line() -> None:
    x = np.linspace(0, 100, 200)
    grid, fitted = lowess(x, 0.5 * x + 3, n_points=20)
    np.testing.assert_allclose(fitted, 0.5 * grid + 3, atol=1e-9)


def test_schoenfeld_chart_has_a_panel_and_smooth_per_term() -> None:
    rng = np.random.default_rng(1)
    time = np.sort(rng.uniform(0, 700, 120))
    frame = pd.concat(
        [
            pd.DataFrame({"time": time, "residual": rng.normal(0, 1, 120), "term": "dose"}),
            pd.DataFrame({"time": time, "residual": time / 700, "term": "prison"}),
        ]
    )
    fig = schoenfeld_chart(frame, p_values={"dose": 0.41, "prison": 0.003})
    (smooth,) = traces(fig, "smooth")[1:]
    assert smooth.meta["term"] == "prison"
    np.testing.assert_allclose(smooth.y, np.asarray(smooth.x) / 700, atol=1e-9)
    (residuals,) = traces(fig, "residuals")[:1]
    np.testing.assert_allclose(residuals.y, frame[frame.term == "dose"]["residual"])
    titles = [a.text for a in fig.layout.annotations]
    assert "prison   (p = 0.003)" in titles


def test_schoenfeld_chart_draws_a_sample_of_many_residuals_and_smooths_a_larger_one() -> None:
    rng = np.random.default_rng(2)
    n = 50_000  # one residual per event: a large cohort has hundreds of thousands
    time = np.sort(rng.uniform(0, 700, n))
    frame = pd.DataFrame({"time": time, "residual": time / 700 + rng.normal(0, 0.1, n)})
    fig = schoenfeld_chart(frame.assign(term="dose"), max_points=1_000)
    (residuals,) = traces(fig, "residuals")
    assert len(residuals.x) == 1_000
    assert residuals.meta["n_total"] == n
    assert set(residuals.x) <= set(time)
    assert np.all(np.diff(residuals.x) >= 0)  # in time order
    (smooth,) = traces(fig, "smooth")
    np.testing.assert_allclose(smooth.y, np.asarray(smooth.x) / 700, atol=0.02)


def test_median_time_is_first_time_at_or_below_half() -> None:
    assert median_time(np.array([0, 5, 9]), np.array([1.0, 0.5, 0.2])) == 5
    assert median_time(np.array([0, 5]), np.array([1.0, 0.8])) is None


def test_risk_table_shows_zero_after_a_group_has_left(curves: pd.DataFrame) -> None:
    # survival_at (like R's summary(fit, times=)) has no row after a group's last time
    table = pd.DataFrame(
        {
            "group": ["Clinic 1", "Clinic 1", "Clinic 2", "Clinic 2", "Clinic 2"],
            "time": [0.0, 180.0, 0.0, 180.0, 360.0],
            "n_risk": [163, 12, 75, 59, 47],
        }
    )
    fig = survival_chart(curves, table, title="t")
    (row,) = traces(fig, "risk_table", "Clinic 1")
    assert list(row.x) == [0.0, 180.0, 360.0]
    assert list(row.text) == ["163", "12", "0"]
    hidden = table.assign(n_risk=[163, np.nan, 75, 59, 47])
    (row,) = traces(survival_chart(curves, hidden, title="t"), "risk_table", "Clinic 1")
    assert list(row.text) == ["163", "<11"]
