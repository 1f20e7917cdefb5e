"""Contract (property) tests that hold for any data, plus cross-checks with lifelines."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.errors import SurvivalInputError
from analytics.survival import (
    cox_ph,
    cumulative_incidence,
    kaplan_meier,
    rmst,
    survival_at,
)

DATA = Path(__file__).resolve().parents[1] / "data"


@st.composite
def cohorts(draw, max_rows: int = 40, causes: int = 1):
    n = draw(st.integers(1, max_rows))
    time = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    status = draw(st.lists(st.integers(0, causes), min_size=n, max_size=n))
    group = draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    if sum(status) == 0:
        status[0] = 1
    return pd.DataFrame(
        {"t": time, "status": status, "e": [int(s == 1) for s in status], "g": group}
    )


@settings(max_examples=60, deadline=None)
@given(data=cohorts(), conf_type=st.sampled_from(["log", "log-log", "plain"]))
def test_km_is_a_survival_curve(data, conf_type):
    if data["e"].sum() == 0:
        data.loc[0, "e"] = 1
    km = kaplan_meier(data, duration="t", event="e", group="g", conf_type=conf_type)
    for _, curve in km.groupby("group"):
        s = curve["survival"].to_numpy()
        assert ((s >= 0) & (s <= 1)).all()
        assert (np.diff(s) <= 1e-15).all()
        assert (np.diff(curve["n_risk"].to_numpy()) <= 0).all()
        ok = curve["lower"].notna() & curve["upper"].notna()
        assert (curve["lower"][ok] <= curve["survival"][ok] + 1e-12).all()
        assert (curve["upper"][ok] >= curve["survival"][ok] - 1e-12).all()
        assert ((curve["lower"][ok] >= 0) & (curve["upper"][ok] <= 1)).all()
    assert km["n_event"].sum() == data["e"].sum()
    assert km["n_event"].sum() + km["n_censor"].sum() == len(data)


@settings(max_examples=60, deadline=None)
@given(data=cohorts(causes=1))
def test_cif_plus_survival_is_one_with_one_cause(data):
    cif = cumulative_incidence(data, duration="t", status="status", cause=1)
    km = kaplan_meier(data, duration="t", event="e")
    np.testing.assert_allclose(cif["cif"] + km["survival"], 1.0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=cohorts(causes=2))
def test_cif_is_a_distribution_function(data):
    if (data["status"] == 1).sum() == 0:
        data.loc[0, "status"] = 1
    cif = cumulative_incidence(data, duration="t", status="status", cause=1, group="g")
    for _, curve in cif.groupby("group"):
        f = curve["cif"].to_numpy()
        assert ((f >= 0) & (f <= 1 + 1e-12)).all()
        assert (np.diff(f) >= -1e-15).all()
        assert (curve["variance"] >= -1e-15).all()


@settings(max_examples=40, deadline=None)
@given(data=cohorts(), tau=st.integers(1, 40))
def test_rmst_is_area_under_the_curve(data, tau):
    got = rmst(data, duration="t", event="e", tau=tau)["rmst"].iloc[0]
    grid = np.arange(0, tau, 1.0)  # integer times: S is constant on [k, k + 1)
    s = survival_at(data, duration="t", event="e", times=grid, extend=True)["survival"]
    np.testing.assert_allclose(got, s.sum(), rtol=1e-12)
    assert 0 <= got <= tau


def test_cox_is_unchanged_by_splitting_follow_up():
    """(start, stop] rows with the same covariates are the same likelihood as one row."""
    data = pd.read_csv(DATA / "addicts.csv")
    cut = 200
    early = data.assign(start=0, stop=np.minimum(data["survt"], cut))
    early["status"] = np.where(data["survt"] <= cut, data["status"], 0)
    late = data[data["survt"] > cut].assign(start=cut, stop=lambda d: d["survt"])
    split = pd.concat([early, late], ignore_index=True)
    for ties in ("efron", "breslow"):
        whole = cox_ph(
            data,
            duration="survt",
            event="status",
            covariates=["clinic", "prison", "dose"],
            ties=ties,
        )
        parts = cox_ph(
            split,
            duration="stop",
            start="start",
            event="status",
            covariates=["clinic", "prison", "dose"],
            ties=ties,
        )
        pd.testing.assert_frame_equal(
            whole.coefficients[["coef", "se"]], parts.coefficients[["coef", "se"]], rtol=1e-10
        )
        assert parts.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
        assert parts.concordance == pytest.approx(whole.concordance, rel=1e-12)


def test_cox_efron_agrees_with_lifelines():
    """lifelines: CoxPHFitter().fit(rossi, "week", "arrest") (Efron ties)."""
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    theirs = CoxPHFitter().fit(rossi, "week", "arrest")
    ours = cox_ph(
        rossi,
        duration="week",
        event="arrest",
        covariates=[c for c in rossi.columns if c not in ("week", "arrest")],
    )
    np.testing.assert_allclose(ours.coefficients["coef"], theirs.params_, rtol=1e-6)
    np.testing.assert_allclose(ours.coefficients["se"], theirs.standard_errors_, rtol=1e-5)
    assert ours.log_likelihood == pytest.approx(theirs.log_likelihood_, rel=1e-9)
    assert ours.concordance == pytest.approx(theirs.concordance_index_, rel=1e-9)


def test_categorical_terms_use_first_level_as_reference():
    data = pd.read_csv(DATA / "survival_synthetic.csv")
    fit = cox_ph(
        data, duration="duration_days", event="event_observed", covariates=["clinic", "dose_mg"]
    )
    assert list(fit.coefficients.index) == ["clinic[T.B]", "clinic[T.C]", "dose_mg"]
    data["clinic"] = pd.Categorical(data["clinic"], categories=["C", "A", "B"])
    fit = cox_ph(
        data, duration="duration_days", event="event_observed", covariates=["clinic", "dose_mg"]
    )
    assert list(fit.coefficients.index) == ["clinic[T.A]", "clinic[T.B]", "dose_mg"]
    assert fit.coefficients["robust_se"].isna().all()


def test_predict_survival_is_a_step_function():
    data = pd.read_csv(DATA / "addicts.csv")
    fit = cox_ph(data, duration="survt", event="status", covariates=["clinic", "prison", "dose"])
    profile = pd.DataFrame({"clinic": [1], "prison": [0], "dose": [60]})
    event_times = np.sort(data.loc[data["status"] == 1, "survt"].unique())
    a, b = event_times[10], event_times[11]
    got = fit.predict_survival(profile, [a, (a + b) / 2, b - 1e-9, b])["survival"].to_numpy()
    assert got[0] == got[1] == got[2] > got[3]


def test_efron_equals_breslow_without_ties():
    rossi = pd.read_csv(DATA / "rossi.csv")
    rng = np.random.default_rng(7)
    rossi["week"] = rossi["week"] + rng.uniform(0, 0.5, len(rossi))  # break every tie
    kwargs = {"duration": "week", "event": "arrest", "covariates": ["fin", "age", "prio"]}
    efron = cox_ph(rossi, ties="efron", **kwargs).coefficients
    breslow = cox_ph(rossi, ties="breslow", **kwargs).coefficients
    pd.testing.assert_frame_equal(efron, breslow, rtol=1e-12)


def test_strata_on_several_columns_equal_one_combined_column():
    data = pd.read_csv(DATA / "survival_synthetic.csv")
    data["site_female"] = data["site"].astype(str) + "_" + data["female"].astype(str)
    kwargs = {"duration": "duration_days", "event": "event_observed", "covariates": ["dose_mg"]}
    two = cox_ph(data, strata=["site", "female"], **kwargs)
    one = cox_ph(data, strata="site_female", **kwargs)
    pd.testing.assert_frame_equal(two.coefficients, one.coefficients)
    profiles = pd.DataFrame({"dose_mg": [50, 70], "site": [2, 1], "female": [1, 0]})
    profiles["site_female"] = ["2_1", "1_0"]
    pd.testing.assert_frame_equal(
        two.predict_survival(profiles, [30, 100]), one.predict_survival(profiles, [30, 100])
    )


def test_fitted_survival_of_each_row_equals_predict_survival_in_its_stratum():
    data = pd.read_csv(DATA / "survival_synthetic.csv")
    fit = cox_ph(
        data, duration="duration_days", event="event_observed", covariates=["dose_mg", "female"],
        strata="site",
    )  # fmt: skip
    fitted = fit.fitted_survival_at(200)
    rows = [0, 7, 120, len(data) - 1]
    one_by_one = [fit.predict_survival(data.iloc[[i]], [200])["survival"].iloc[0] for i in rows]
    np.testing.assert_allclose(fitted[rows], one_by_one, rtol=1e-12)
    assert data["site"].iloc[rows].nunique() > 1


def _brute_force_concordance(eta, stop, event, strata, start):
    """The definition, pair by pair: every event vs every row at risk without a tied event."""
    conc = disc = tied = 0
    for i in np.flatnonzero(event):
        for j in range(len(eta)):
            at_risk = stop[j] >= stop[i] and (start is None or start[j] < stop[i])
            tied_event = event[j] and stop[j] == stop[i]
            if j == i or strata[j] != strata[i] or not at_risk or tied_event:
                continue
            conc += eta[j] < eta[i]
            disc += eta[j] > eta[i]
            tied += eta[j] == eta[i]
    return conc, disc, tied


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 5),  # start
            st.integers(1, 6),  # length
            st.booleans(),  # event
            st.integers(0, 3),  # risk score (ties on purpose)
            st.integers(0, 1),  # stratum
        ),
        min_size=1,
        max_size=25,
    ),
    counting=st.booleans(),
)
def test_concordance_counts_match_the_definition(rows, counting):
    from analytics.survival._concordance import concordance_counts

    start, length, event, eta, strata = (np.array(c) for c in zip(*rows, strict=True))
    stop = start + length if counting else length
    begin = start.astype(float) if counting else None
    got = concordance_counts(eta.astype(float), stop.astype(float), event, strata, begin)
    conc, disc, tied = _brute_force_concordance(eta, stop, event, strata, begin)
    assert (got["concordant"], got["discordant"], got["tied_x"]) == (conc, disc, tied)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-1, 4),
            st.one_of(
                st.integers(0, 5000).map(float),
                st.integers(0, 40_000).map(float),  # keys beyond 16 bits
                st.floats(0, 5000, allow_nan=False, allow_infinity=False),
            ),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_group_time_order_is_lexsorts(rows):
    """The whole-day fast paths (16-bit radix, 64-bit) order rows exactly as np.lexsort (ties
    kept in place); fractional times take the lexsort."""
    from analytics.survival._validate import group_time_order

    codes = np.array([c for c, _ in rows], dtype=np.intp)
    time = np.array([t for _, t in rows], dtype=float)
    np.testing.assert_array_equal(group_time_order(time, codes), np.lexsort((time, codes)))
    whole = np.floor(time)
    np.testing.assert_array_equal(group_time_order(whole, codes), np.lexsort((whole, codes)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 200_000), min_size=1, max_size=80), st.integers(1, 70_000))
def test_stable_argsort_is_numpys_stable_argsort(values, cap):
    from analytics.survival._validate import stable_argsort

    key = np.array([v % cap for v in values], dtype=np.int64)  # often 16-bit, sometimes not
    np.testing.assert_array_equal(stable_argsort(key), np.argsort(key, kind="stable"))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 4000).map(float),  # whole days: ranked by counting
            st.integers(0, 4000),
            st.floats(0, 4000, allow_nan=False, allow_infinity=False),  # fractions: hashed
            st.floats(-3, 3, allow_nan=False, allow_infinity=False),  # risk scores
            st.sampled_from([-0.0, 0.0, 1e-12, -1e-12]),  # signed zeros are one value
        ),
        min_size=1,
        max_size=60,
    )
)
def test_unique_inverse_is_numpys(values):
    from analytics.survival._validate import unique_inverse

    array = np.array(values)
    uniques, inverse = unique_inverse(array)
    expected, expected_inverse = np.unique(array, return_inverse=True)
    np.testing.assert_array_equal(uniques, expected)
    assert uniques.dtype == expected.dtype
    np.testing.assert_array_equal(inverse, expected_inverse)


def test_linear_predictor_equals_the_design_matrix_times_the_coefficients():
    rng = np.random.default_rng(5)
    n = 500
    data = pd.DataFrame(
        {
            "time": rng.integers(1, 300, n).astype(float),
            "event": rng.integers(0, 2, n),
            "dose": rng.normal(60, 15, n),
            "site": rng.choice(["b", "a", "c"], n),
            "band": pd.Categorical(rng.choice(["high", "low", "mid"], n), ["low", "mid", "high"]),
        }
    )
    fit = cox_ph(data, duration="time", event="event", covariates=["dose", "site", "band"])
    design = fit.design
    assert len(design.columns) == 5  # dose, two site terms, two band terms
    np.testing.assert_allclose(
        design.linear_predictor(data, fit.params), design.matrix(data) @ fit.params, rtol=1e-12
    )
    with pytest.raises(SurvivalInputError, match="not seen"):
        design.linear_predictor(data.assign(site="z"), fit.params)
