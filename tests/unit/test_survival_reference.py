"""analytics.survival against R (survival 3.5, cmprsk 2.2).

The reference values come from ``Rscript scripts/r_reference.R`` and are stored in
tests/data/r_reference/*.csv; each CSV row carries the exact R call in its ``call`` column and each
test quotes it. Tolerances: coefficients and SEs 1e-6 relative, S(t) and CIs 1e-8 absolute,
p-values 1e-6 relative.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.survival import (
    adjusted_survival,
    cox_ph,
    cumulative_incidence,
    fine_gray,
    gray_test,
    kaplan_meier,
    logrank_test,
    logrank_trend_test,
    median_survival,
    rmst,
    rmst_difference,
    survival_at,
)

DATA = Path(__file__).resolve().parents[1] / "data"
REF = DATA / "r_reference"
COEF_RTOL = 1e-6
P_RTOL = 1e-6
SURV_ATOL = 1e-8


def ref(name: str, case: str | None = None) -> pd.DataFrame:
    table = pd.read_csv(REF / name, na_values=["NA", "NaN", "Inf"])
    if case is not None:
        table = table[table["case"] == case].reset_index(drop=True)
        assert len(table), f"no case {case} in {name}"
    return table


@pytest.fixture(scope="module")
def addicts() -> pd.DataFrame:
    return pd.read_csv(DATA / "addicts.csv")


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    return pd.read_csv(DATA / "rossi.csv")


@pytest.fixture(scope="module")
def syn() -> pd.DataFrame:
    return pd.read_csv(DATA / "survival_synthetic.csv")


@pytest.fixture(scope="module")
def tv() -> pd.DataFrame:
    return pd.read_csv(DATA / "survival_synthetic_tv.csv")


def assert_close(actual, expected, *, atol=0.0, rtol=0.0, call=""):
    """assert_allclose that names the R call the expected values come from."""
    np.testing.assert_allclose(
        np.asarray(actual, float),
        np.asarray(expected, float),
        atol=atol,
        rtol=rtol,
        err_msg=f"R reference: {call}",
    )


# ---- facts about addicts (Kleinbaum & Klein; data README) -------------------------------------


def test_addicts_facts(addicts):
    assert addicts["status"].sum() == 150
    clinic1 = addicts[addicts["clinic"] == 1]
    assert (len(clinic1), clinic1["status"].sum()) == (163, 122)
    km = kaplan_meier(addicts, duration="survt", event="status", group="clinic")
    assert km.groupby("group")["n_event"].sum().to_dict() == {1: 122, 2: 28}


def test_addicts_published_cox(addicts):
    """Kleinbaum & Klein (Breslow ties): clinic -1.009, prison 0.327, dose -0.035; stratified by
    clinic: prison 0.389, dose -0.035."""
    fit = cox_ph(
        addicts,
        duration="survt",
        event="status",
        covariates=["clinic", "prison", "dose"],
        ties="breslow",
    )
    assert_close(fit.coefficients["coef"], [-1.009, 0.327, -0.035], atol=5e-4)
    fit = cox_ph(
        addicts,
        duration="survt",
        event="status",
        covariates=["prison", "dose"],
        strata="clinic",
        ties="breslow",
    )
    assert_close(fit.coefficients["coef"], [0.389, -0.035], atol=5e-4)


# ---- Kaplan-Meier ------------------------------------------------------------------------------

KM_CASES = {
    # case: (kwargs, data fixture)
    "addicts_log": (
        {"duration": "survt", "event": "status", "group": "clinic", "conf_type": "log"},
        "addicts",
    ),
    "addicts_log-log": (
        {"duration": "survt", "event": "status", "group": "clinic", "conf_type": "log-log"},
        "addicts",
    ),
    "addicts_plain": (
        {"duration": "survt", "event": "status", "group": "clinic", "conf_type": "plain"},
        "addicts",
    ),
    "addicts_all": ({"duration": "survt", "event": "status"}, "addicts"),
    "synthetic_entry": (
        {
            "duration": "stop_day",
            "event": "event_observed",
            "group": "clinic",
            "entry": "start_day",
        },
        "tv",
    ),
    "synthetic_90": (
        {
            "duration": "duration_days",
            "event": "event_observed",
            "group": "clinic",
            "conf_level": 0.9,
        },
        "syn",
    ),
}


@pytest.mark.parametrize("case", sorted(KM_CASES))
def test_kaplan_meier_matches_survfit(case, request):
    """R: summary(survfit(Surv(...) ~ group, conf.type = ...), censored = TRUE), see km.csv."""
    kwargs, fixture = KM_CASES[case]
    expected = ref("km.csv", case)
    r_call = expected["call"].iloc[0]
    got = kaplan_meier(request.getfixturevalue(fixture), **kwargs)
    assert len(got) == len(expected)
    assert (got["group"].astype(str) == expected["group"].astype(str)).all()
    for col in ("time", "n_risk", "n_event", "n_censor"):
        assert_close(got[col], expected[col], call=r_call)
    for col in ("survival", "std_err", "lower", "upper"):
        assert_close(got[col], expected[col], atol=SURV_ATOL, call=r_call)


def test_survival_at_matches_summary_times(addicts):
    """R: summary(survfit(Surv(survt, status) ~ clinic, data = addicts),
    times = c(0, 7, 100, 365, 500, 800, 1000))"""
    expected = ref("km_times.csv")
    r_call = expected["call"].iloc[0]
    got = survival_at(
        addicts,
        duration="survt",
        event="status",
        group="clinic",
        times=[0, 7, 100, 365, 500, 800, 1000],
    )
    assert_close(got["time"], expected["time"], call=r_call)
    for col in ("n_risk", "n_event", "n_censor"):
        assert_close(got[col], expected[col], call=r_call)
    for col in ("survival", "std_err", "lower", "upper"):
        assert_close(got[col], expected[col], atol=SURV_ATOL, call=r_call)


MEDIAN_CASES = {
    "addicts_log": ({"duration": "survt", "event": "status", "group": "clinic"}, "addicts"),
    "addicts_loglog": (
        {"duration": "survt", "event": "status", "group": "clinic", "conf_type": "log-log"},
        "addicts",
    ),
    "addicts_all": ({"duration": "survt", "event": "status"}, "addicts"),
    "synthetic": (
        {"duration": "duration_days", "event": "event_observed", "group": "clinic"},
        "syn",
    ),
}


@pytest.mark.parametrize("case", sorted(MEDIAN_CASES))
def test_median_and_rmst_match_print_survfit(case, request):
    """R: summary(survfit(...), rmean = tau)$table (median, CI, rmean, se(rmean)); median_rmst.csv"""
    kwargs, fixture = MEDIAN_CASES[case]
    data = request.getfixturevalue(fixture)
    expected = ref("median_rmst.csv", case)
    r_call = expected["call"].iloc[0]
    med = median_survival(data, **kwargs)
    for col in ("median", "lower", "upper"):
        assert_close(med[col], expected[col], atol=1e-9, call=r_call)
    kw = {k: val for k, val in kwargs.items() if k != "conf_type"}
    got = rmst(data, tau=float(expected["tau"].iloc[0]), **kw)
    assert_close(got["rmst"], expected["rmst"], rtol=1e-10, call=r_call)
    assert_close(got["se"], expected["se"], rtol=COEF_RTOL, call=r_call)


# ---- log-rank, trend, Gray ---------------------------------------------------------------------

TEST_CASES = {
    "addicts_logrank": (
        logrank_test,
        {"duration": "survt", "event": "status", "group": "clinic"},
        "addicts",
    ),
    "addicts_peto": (
        logrank_test,
        {"duration": "survt", "event": "status", "group": "clinic", "rho": 1},
        "addicts",
    ),
    "addicts_strata": (
        logrank_test,
        {"duration": "survt", "event": "status", "group": "clinic", "strata": "prison"},
        "addicts",
    ),
    "synthetic_logrank": (
        logrank_test,
        {"duration": "duration_days", "event": "event_observed", "group": "clinic"},
        "syn",
    ),
    "synthetic_fh": (
        logrank_test,
        {
            "duration": "duration_days",
            "event": "event_observed",
            "group": "clinic",
            "strata": "site",
            "rho": 0.5,
        },
        "syn",
    ),
    "synthetic_trend": (
        logrank_trend_test,
        {"duration": "duration_days", "event": "event_observed", "group": "clinic"},
        "syn",
    ),
    "synthetic_trend_strata": (
        logrank_trend_test,
        {
            "duration": "duration_days",
            "event": "event_observed",
            "group": "clinic",
            "strata": "site",
        },
        "syn",
    ),
    "synthetic_gray": (
        gray_test,
        {"duration": "duration_days", "status": "status", "group": "clinic"},
        "syn",
    ),
    "synthetic_gray_strata": (
        gray_test,
        {"duration": "duration_days", "status": "status", "group": "clinic", "strata": "site"},
        "syn",
    ),
    "synthetic_gray_rho": (
        gray_test,
        {"duration": "duration_days", "status": "status", "group": "clinic", "rho": 1},
        "syn",
    ),
}


@pytest.mark.parametrize("case", sorted(TEST_CASES))
def test_group_comparisons_match_r(case, request):
    """R: survdiff(...) / cuminc(...)$Tests; the exact call is in tests.csv, column call."""
    func, kwargs, fixture = TEST_CASES[case]
    expected = ref("tests.csv", case).iloc[0]
    r_call = expected["call"]
    got = func(request.getfixturevalue(fixture), **kwargs)
    assert got.df == expected["df"]
    assert_close(got.statistic, expected["statistic"], rtol=COEF_RTOL, call=r_call)
    assert_close(got.p_value, expected["p_value"], rtol=P_RTOL, call=r_call)


# ---- Cox ---------------------------------------------------------------------------------------

COX_CASES = {
    "addicts_breslow": (
        {
            "duration": "survt",
            "event": "status",
            "covariates": ["clinic", "prison", "dose"],
            "ties": "breslow",
        },
        "addicts",
    ),
    "addicts_efron": (
        {"duration": "survt", "event": "status", "covariates": ["clinic", "prison", "dose"]},
        "addicts",
    ),
    "addicts_strata_breslow": (
        {
            "duration": "survt",
            "event": "status",
            "covariates": ["prison", "dose"],
            "strata": "clinic",
            "ties": "breslow",
        },
        "addicts",
    ),
    "addicts_cluster": (
        {
            "duration": "survt",
            "event": "status",
            "covariates": ["clinic", "prison", "dose"],
            "cluster": "prison",
        },
        "addicts",
    ),
    "rossi_efron": (
        {
            "duration": "week",
            "event": "arrest",
            "covariates": ["fin", "age", "race", "wexp", "mar", "paro", "prio"],
        },
        "rossi",
    ),
    "rossi_breslow": (
        {
            "duration": "week",
            "event": "arrest",
            "covariates": ["fin", "age", "race", "wexp", "mar", "paro", "prio"],
            "ties": "breslow",
        },
        "rossi",
    ),
    "synthetic_efron": (
        {
            "duration": "duration_days",
            "event": "event_observed",
            "covariates": ["clinic", "dose_mg", "female"],
            "strata": "site",
            "cluster": "patient_id",
        },
        "syn",
    ),
    "synthetic_breslow": (
        {
            "duration": "duration_days",
            "event": "event_observed",
            "covariates": ["clinic", "dose_mg", "female"],
            "strata": "site",
            "cluster": "patient_id",
            "ties": "breslow",
        },
        "syn",
    ),
    "synthetic_tv_efron": (
        {
            "duration": "stop_day",
            "start": "start_day",
            "event": "event_observed",
            "covariates": ["clinic", "dose_mg", "female"],
            "strata": "site",
            "cluster": "episode_id",
        },
        "tv",
    ),
    "synthetic_tv_breslow": (
        {
            "duration": "stop_day",
            "start": "start_day",
            "event": "event_observed",
            "covariates": ["clinic", "dose_mg", "age"],
            "ties": "breslow",
        },
        "tv",
    ),
}


def r_term(term: str) -> str:
    """R names factor terms clinicB; we name them clinic[T.B]."""
    return term.replace("[T.", "").replace("]", "")


@pytest.fixture(scope="module")
def cox_fits(addicts, rossi, syn, tv):
    frames = {"addicts": addicts, "rossi": rossi, "syn": syn, "tv": tv}
    return {case: cox_ph(frames[fx], **kw) for case, (kw, fx) in COX_CASES.items()}


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_cox_matches_coxph(case, cox_fits):
    """R: the coxph(...) call in cox.csv (column call) and summary(fit)$coefficients."""
    expected = ref("cox.csv", case).set_index("term")
    r_call = expected["call"].iloc[0]
    fit = cox_fits[case]
    got = fit.coefficients.rename(index=r_term).loc[expected.index]
    for col in ("coef", "se", "z"):
        assert_close(got[col], expected[col], rtol=COEF_RTOL, call=r_call)
    if expected["robust_se"].notna().all():
        assert_close(got["robust_se"], expected["robust_se"], rtol=COEF_RTOL, call=r_call)
    else:
        assert got["robust_se"].isna().all()
    assert_close(got["p"], expected["p"], rtol=P_RTOL, call=r_call)
    assert_close(fit.log_likelihood, expected["loglik"].iloc[0], rtol=1e-10, call=r_call)
    assert_close(fit.log_likelihood_null, expected["loglik_null"].iloc[0], rtol=1e-10, call=r_call)
    lr = 2 * (expected["loglik"].iloc[0] - expected["loglik_null"].iloc[0])
    assert_close(fit.lr_test.statistic, lr, rtol=1e-8, call=r_call)


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_cox_concordance_matches_coxph(case, cox_fits):
    """R: coxph(...)$concordance["concordance"]"""
    expected = ref("cox.csv", case)
    r_call = expected["call"].iloc[0]
    assert_close(
        cox_fits[case].concordance, expected["concordance"].iloc[0], rtol=1e-10, call=r_call
    )


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_ph_test_matches_cox_zph(case, cox_fits):
    """R: cox.zph(coxph(...)) (transform = "km"), per term and GLOBAL; cox_zph.csv"""
    expected = ref("cox_zph.csv", case).set_index("term")
    r_call = expected["call"].iloc[0]
    got = cox_fits[case].ph_test()
    assert list(got.index) == list(expected.index)
    assert_close(got["df"], expected["df"], call=r_call)
    assert_close(got["chisq"], expected["chisq"], rtol=COEF_RTOL, call=r_call)
    assert_close(got["p"], expected["p"], rtol=P_RTOL, call=r_call)


def test_predict_survival_matches_survfit_newdata(cox_fits):
    """R: summary(survfit(coxph(Surv(survt, status) ~ clinic + prison + dose, data = addicts,
    ties = ...), newdata = nd), times = c(1, 7, 100, 150.5, 365, 700, 1000), extend = TRUE)"""
    nd = pd.DataFrame({"clinic": [1, 2, 2], "prison": [0, 1, 0], "dose": [50, 60, 80]})
    times = [1, 7, 100, 150.5, 365, 700, 1000]
    for case in ("addicts_efron", "addicts_breslow"):
        expected = ref("cox_predict.csv", case)
        r_call = expected["call"].iloc[0]
        got = cox_fits[case].predict_survival(nd, times)
        assert_close(got["time"], expected["time"], call=r_call)
        for col in ("survival", "std_err", "lower", "upper"):
            assert_close(got[col], expected[col], atol=SURV_ATOL, call=r_call)


def test_predict_survival_stratified_factor(cox_fits):
    """R: summary(survfit(coxph(Surv(duration_days, event_observed) ~ clinic + dose_mg + female +
    strata(site), data = syn, cluster = patient_id), newdata = nd_syn[j, ]), times = ...)"""
    nd = pd.DataFrame({"clinic": ["A", "C"], "dose_mg": [40, 80], "female": [1, 0], "site": [1, 2]})
    got = cox_fits["synthetic_efron"].predict_survival(nd, [7, 30, 90, 200, 400])
    for j in range(2):
        expected = ref("cox_predict.csv", f"synthetic_efron_{j}")
        r_call = expected["call"].iloc[0]
        mine = got[got["profile"] == j]
        for col in ("survival", "std_err", "lower", "upper"):
            assert_close(mine[col], expected[col], atol=SURV_ATOL, call=r_call)


# ---- competing risks ---------------------------------------------------------------------------


def test_cumulative_incidence_matches_cuminc(syn):
    """R: timepoints(cuminc(syn$duration_days, syn$status, syn$clinic, cencode = 0),
    sort(unique(syn$duration_days))), cause 1"""
    expected = ref("cuminc.csv")
    r_call = expected["call"].iloc[0]
    got = cumulative_incidence(
        syn, duration="duration_days", status="status", cause=1, group="clinic"
    )
    for label, exp in expected.groupby("group"):
        mine = got[got["group"] == label]
        # timepoints() reports NA after the last observed time of a group
        exp = exp[exp["time"] <= mine["time"].max()]
        idx = np.searchsorted(mine["time"].to_numpy(), exp["time"].to_numpy(), side="right") - 1
        assert_close(mine["cif"].to_numpy()[idx], exp["cif"], atol=SURV_ATOL, call=r_call)
        assert_close(
            mine["variance"].to_numpy()[idx], exp["variance"], atol=1e-12, rtol=1e-8, call=r_call
        )


def test_fine_gray_matches_crr(syn):
    """R: crr(syn$duration_days, syn$status, model.matrix(~ clinic + dose_mg + female,
    data = syn)[, -1], failcode = 1, cencode = 0, gtol = 1e-12, maxiter = 100).

    crr's defaults (gtol = 1e-6, maxiter = 10) stop before full convergence: its default
    coefficients differ from the maximum in the 6th-7th digit (column coef_default), so the
    reference uses a tight gtol; against the defaults we can only promise 1e-5 relative.
    """
    expected = ref("crr.csv").set_index("term")
    r_call = expected["call"].iloc[0]
    fit = fine_gray(
        syn,
        duration="duration_days",
        status="status",
        cause=1,
        covariates=["clinic", "dose_mg", "female"],
    )
    got = fit.coefficients.rename(index=r_term).loc[expected.index]
    assert_close(got["coef"], expected["coef"], rtol=COEF_RTOL, call=r_call)
    assert_close(got["se"], expected["se"], rtol=COEF_RTOL, call=r_call)
    assert_close(got["coef"], expected["coef_default"], rtol=1e-5, call=r_call)
    assert_close(fit.log_likelihood, expected["loglik"].iloc[0], rtol=1e-10, call=r_call)
    assert_close(fit.log_likelihood_null, expected["loglik_null"].iloc[0], rtol=1e-10, call=r_call)


# ---- IPW-adjusted curves -----------------------------------------------------------------------


def test_adjusted_survival_matches_weighted_survfit(addicts):
    """R: p2 <- fitted(glm(I(clinic == 2) ~ prison + dose, family = binomial, data = addicts));
    w <- ifelse(addicts$clinic == 2, 1 / p2, 1 / (1 - p2));
    summary(survfit(Surv(survt, status) ~ clinic, data = addicts, weights = w, robust = TRUE),
    censored = TRUE)"""
    expected = ref("adjusted.csv")
    r_call = expected["call"].iloc[0]
    got = adjusted_survival(
        addicts, duration="survt", event="status", group="clinic", covariates=["prison", "dose"]
    )
    assert_close(got["time"], expected["time"], call=r_call)
    # weighted counts carry the glm fit's own convergence error (~1e-10)
    assert_close(got["n_risk"], expected["n_risk"], rtol=1e-8, call=r_call)
    assert_close(got["n_event"], expected["n_event"], rtol=1e-8, call=r_call)
    for col in ("survival", "std_err", "lower", "upper"):
        assert_close(got[col], expected[col], atol=SURV_ATOL, call=r_call)


def test_survival_at_with_delayed_entry(tv):
    """R: summary(survfit(Surv(start_day, stop_day, event_observed) ~ clinic, data = tv),
    times = c(0, 30, 90, 91, 200, 400))"""
    expected = ref("km_times_entry.csv")
    r_call = expected["call"].iloc[0]
    got = survival_at(
        tv,
        duration="stop_day",
        event="event_observed",
        entry="start_day",
        group="clinic",
        times=[0, 30, 90, 91, 200, 400],
    )
    for col in ("time", "n_risk", "n_event", "n_censor"):
        assert_close(got[col], expected[col], call=r_call)
    for col in ("survival", "std_err", "lower", "upper"):
        assert_close(got[col], expected[col], atol=SURV_ATOL, call=r_call)


@pytest.mark.parametrize("transform", ["identity", "rank", "log"])
@pytest.mark.parametrize("case", ["addicts_efron", "synthetic_tv_efron"])
def test_ph_test_transforms_match_cox_zph(case, transform, cox_fits):
    """R: cox.zph(coxph(...), transform = "identity" | "rank" | "log"); cox_zph.csv"""
    expected = ref("cox_zph.csv", f"{case}_{transform}").set_index("term")
    r_call = expected["call"].iloc[0]
    got = cox_fits[case].ph_test(transform=transform)
    assert_close(got["chisq"], expected["chisq"], rtol=COEF_RTOL, call=r_call)
    assert_close(got["p"], expected["p"], rtol=P_RTOL, call=r_call)


def test_rmst_difference_combines_group_ses(addicts):
    """R: summary(survfit(Surv(survt, status) ~ clinic, data = addicts), rmean = 700)$table;
    difference = rmean[2] - rmean[1], se = sqrt(se1^2 + se2^2)"""
    expected = ref("median_rmst.csv", "addicts_log")
    r_call = expected["call"].iloc[0]
    got = rmst_difference(addicts, duration="survt", event="status", tau=700, group="clinic")
    row = got.iloc[0]
    assert row["reference"] == 1
    assert_close(
        row["difference"], expected["rmst"][1] - expected["rmst"][0], rtol=1e-10, call=r_call
    )
    assert_close(
        row["se"], np.hypot(expected["se"][0], expected["se"][1]), rtol=COEF_RTOL, call=r_call
    )
