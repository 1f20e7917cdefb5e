"""Research analyses (analytics.cohort_analysis, risk_models, relapse_patterns) on the demo
store: each number is checked against a direct computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import cohort_analysis as ca
from analytics import relapse, store, trends
from analytics import relapse_patterns as rp
from analytics import risk_models as rm
from analytics import table_one as t1
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes, cohort_periods
from analytics.errors import RetentionError, SurvivalInputError
from analytics.survival import (
    cox_ph,
    cumulative_incidence,
    fine_gray,
    logrank_test,
    rmst_difference,
    survival_at,
)

VIEWER = store.LOCAL_ADMIN


@pytest.fixture(scope="module")
def reader(demo_store):
    return store.StoreReader(demo_store)


@pytest.fixture(scope="module")
def episodes(reader):
    return cohort_episodes(reader, VIEWER, CohortSpec())


def test_table_one_counts_match_pandas(episodes):
    table = t1.table_one(episodes, "modality")
    sex = table[(table["variable"] == "sex") & (table["group"] == "MMT")].set_index("level")
    direct = episodes.loc[episodes["modality"] == "MMT", "sex"].value_counts()
    assert sex.loc["female", "n"] == direct["F"]
    assert sex.loc["male", "n"] == direct["M"]
    n_mmt = (episodes["modality"] == "MMT").sum()
    assert sex.loc["female", "percent"] == pytest.approx(100 * direct["F"] / n_mmt)
    total = table[(table["kind"] == "total")].set_index("group")["n"]
    assert total["Overall"] == len(episodes)
    assert total["BMT"] == (episodes["modality"] == "BMT").sum()


def test_table_one_continuous_and_missing(episodes):
    table = t1.table_one(episodes)
    apgar = table[table["variable"] == "apgar_total"].iloc[0]
    values = episodes["apgar_total"].astype(float)
    assert apgar["n_missing"] == values.isna().sum() > 0
    assert apgar["median"] == pytest.approx(values.median())
    assert apgar["q1"] == pytest.approx(values.quantile(0.25))
    assert apgar["sd"] == pytest.approx(values.std())
    text = t1.format_table_one(table)
    row = text[(text["Characteristic"] == "Family APGAR total (0–10)")]
    assert set(row["Statistic"]) == {"median [IQR]", "mean (SD)", "missing, n"}
    assert row.loc[row["Statistic"] == "missing, n", "Overall"].item() == str(
        int(values.isna().sum())
    )


def test_gap_sensitivity_equals_survival_at_for_each_gap(reader):
    spec = CohortSpec(modalities=("MMT",))
    sensitivity = ca.gap_sensitivity_for(reader, VIEWER, spec).set_index("gap_days")
    assert list(sensitivity.index) == [7, 14, 30]
    for gap in (7, 14, 30):
        eps = cohort_episodes(reader, VIEWER, spec.replace(gap_days=gap))
        at = survival_at(eps, duration="duration_days", event="event", times=[90, 365])
        assert sensitivity.loc[gap, "s365"] == pytest.approx(at["survival"].iloc[1], abs=1e-12)
        assert sensitivity.loc[gap, "s90"] == pytest.approx(at["survival"].iloc[0], abs=1e-12)
        assert sensitivity.loc[gap, "n_episodes"] == len(eps)
    # longer gaps join breaks into fewer, longer episodes
    assert sensitivity.loc[30, "n_episodes"] <= sensitivity.loc[7, "n_episodes"]


def test_retention_curves_summary_and_tests(episodes):
    km = ca.retention_curves(episodes, "dose_band")
    mmt = episodes[episodes["dose_band"] == ">=80"]
    at = survival_at(mmt, duration="duration_days", event="event", times=[365])
    high = km.summary.set_index("group").loc["≥80 mg"]
    assert high["s365"] == pytest.approx(at["survival"].iloc[0], abs=1e-12)
    assert high["n_episodes"] == len(mmt)
    labelled = episodes.assign(g=episodes["dose_band"])
    direct = logrank_test(labelled, duration="duration_days", event="event", group="g")
    tests = km.tests.set_index("method")
    assert tests.loc["log-rank", "statistic"] == pytest.approx(direct.statistic)
    assert any(m.startswith("log-rank trend") for m in tests.index)
    assert high["s365"] > km.summary.set_index("group").loc["<60 mg", "s365"]
    # the risk table starts with every episode of the group at time 0
    first = km.risk_table[km.risk_table["time"] == 0].set_index("group")["n_risk"]
    assert first["≥80 mg"] == len(mmt)


def test_dropout_incidence_uses_dropout_status(reader):
    spec = CohortSpec(outcome="any_exit")
    eps = cohort_episodes(reader, VIEWER, spec)
    cif, tests = ca.dropout_incidence(eps)
    direct = cumulative_incidence(eps, duration="duration_days", status="dropout_status", cause=1)
    dropout = cif[cif["cause"] == "Dropout"]
    assert dropout["cif"].iloc[-1] == pytest.approx(direct["cif"].iloc[-1])
    assert tests.empty  # one group: no Gray test


def test_rmst_differences_against_reference(episodes):
    table, diffs = ca.rmst_comparison(episodes, "sex")
    assert list(table["group"]) == ["female", "male", "other / not stated"]
    pair = episodes[episodes["sex"].isin(["F", "M"])]
    direct = rmst_difference(
        pair, duration="duration_days", event="event", tau=365, group="sex", reference="F"
    )
    assert diffs.iloc[0]["difference"] == pytest.approx(direct["difference"].iloc[0])
    assert diffs.iloc[0]["reference"] == "female"


def test_empty_cohort_and_unknown_grouping_give_sentences(episodes):
    with pytest.raises(SurvivalInputError, match="no episodes"):
        ca.retention_curves(episodes.iloc[:0])
    with pytest.raises(RetentionError, match="Cannot group by"):
        ca.retention_curves(episodes, "patient_id")
    with pytest.raises(RetentionError, match="Cannot model"):
        rm.fit_risk_model(episodes, ["end_status"])


def test_a_term_with_one_value_in_the_cohort_is_a_sentence(episodes):
    # heroin-assisted clinics alone: every dose band is "not applicable"
    hat = episodes[episodes["dose_band"] == "not_applicable"]
    with pytest.raises(
        SurvivalInputError, match="Methadone dose at day 30 has only not applicable"
    ):
        rm.fit_risk_model(hat, ["age_years", "dose_band"])
    with pytest.raises(SurvivalInputError, match="No income has only no in this cohort"):
        rm.fit_risk_model(episodes.assign(has_no_income=False), ["age_years", "has_no_income"])
    model = rm.fit_risk_model(hat, ["age_years", "sex"])  # the other terms still fit
    assert "GLOBAL" in set(model.ph["term"])


def test_mean_by_month_by_hand():
    frame = pd.DataFrame(
        {"days_since_start": [-5, 10, 50, 100, 120, 130, 95], "score": [1, 2, 3, 4, 6, 8, np.nan]}
    )
    out = trends.mean_by_month(frame, value="score", min_n=1).set_index("month")
    assert out.loc[0, "n"] == 3
    assert out.loc[0, "mean"] == pytest.approx(2.0)
    assert out.loc[3, "n"] == 3
    assert out.loc[3, "mean"] == pytest.approx(6.0)
    half = 4.302652729911275 * 2.0 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert out.loc[3, "upper"] == pytest.approx(6.0 + half)


@pytest.mark.parametrize("step", [1, 0.25, 1 / 12, 0.1])  # whole, quarter, twelfth, other
def test_mean_by_month_does_not_depend_on_the_rows_order(step):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "days_since_start": rng.integers(-30, 800, 20_000),
            "score": rng.integers(0, 85, 20_000) * step,
            "modality": rng.choice(["MMT", "BMT", "HAT"], 20_000),
        }
    )
    frame.loc[rng.random(20_000) < 0.1, "score"] = np.nan
    first = trends.mean_by_month(frame, value="score", group="modality")
    shuffled = trends.mean_by_month(frame.sample(frac=1, random_state=2), value="score",
                                    group="modality")  # fmt: skip
    pd.testing.assert_frame_equal(first, shuffled, check_exact=True)
    by_hand = frame.dropna().assign(
        month=lambda f: np.floor(np.maximum(f["days_since_start"], 0) / 30.4375 / 3) * 3
    )
    by_hand = by_hand[by_hand["month"] <= 24].groupby(["modality", "month"])["score"]
    expected = by_hand.agg(["size", "mean", "std"]).reset_index()
    np.testing.assert_array_equal(first["n"], expected["size"])
    np.testing.assert_allclose(first["mean"], expected["mean"], rtol=1e-13)
    half = stats.t.ppf(0.975, expected["size"] - 1) * expected["std"] / np.sqrt(expected["size"])
    np.testing.assert_allclose(first["upper"], expected["mean"] + half, rtol=1e-12)


def test_cox_model_matches_direct_fit(episodes):
    model = rm.fit_risk_model(episodes, ["age_years", "dose_band", "has_no_income"])
    frame = episodes.assign(
        age_years=episodes["age_years"] / 10,
        dose_band=pd.Categorical(
            episodes["dose_band"], categories=["<60", "60-79", ">=80", "not_applicable"]
        ),
        has_no_income=episodes["has_no_income"].astype(float),
    )
    direct = cox_ph(
        frame, duration="duration_days", event="event", cluster="patient_id",
        covariates=["age_years", "dose_band", "has_no_income"],
    )  # fmt: skip
    assert np.allclose(model.coefficients["coef"], direct.coefficients["coef"])
    assert model.coefficients.loc["dose_band[T.>=80]", "hr"] < 1
    assert "GLOBAL" in set(model.ph["term"])
    assert model.n == len(episodes)
    assert model.n_dropped == 0
    assert set(model.schoenfeld["term"]) == set(model.coefficients["label"])


def test_models_of_the_cohort_read_its_few_columns_and_equal_the_full_cohorts(reader, episodes):
    fresh = store.StoreReader(reader.path)
    spec = CohortSpec()
    for terms in (("age_years", "dose_band", "sex"), ("is_take_home", "mspss_family")):
        narrow = rm.fit_risk_model_for(fresh, VIEWER, spec, terms=terms)
        periods = (
            cohort_periods(reader, VIEWER, spec, episodes) if "is_take_home" in terms else None
        )
        full = rm.fit_risk_model(episodes, list(terms), periods=periods)
        pd.testing.assert_frame_equal(narrow.coefficients, full.coefficients)
        assert narrow.concordance == pytest.approx(full.concordance, rel=1e-12)
    fg, _ = rm.fit_dropout_model_for(fresh, VIEWER, spec, terms=("age_years", "sex"))
    pd.testing.assert_frame_equal(fg, rm.fit_dropout_model(episodes, ["age_years", "sex"])[0])
    # no whole cohort was read: only the models' columns
    cohorts = [v for k, v in fresh._memo.items() if k[1] == "cohort_episodes"]
    assert cohorts
    assert all(len(c.columns) < 15 for c in cohorts)
    fresh.close()


def test_curves_of_a_cohort_read_its_few_columns_and_equal_the_full_cohorts(reader, episodes):
    fresh = store.StoreReader(reader.path)
    for group in ("mspss_family_tertile", "modality", "age_band"):
        curves = ca.retention_curves_for(fresh, VIEWER, CohortSpec(), group=group)
        expected = ca.retention_curves(episodes, group)
        pd.testing.assert_frame_equal(curves.curves, expected.curves)
        pd.testing.assert_frame_equal(curves.summary, expected.summary)
        cif, gray = ca.dropout_incidence_for(fresh, VIEWER, CohortSpec(), group=group)
        pd.testing.assert_frame_equal(cif, ca.dropout_incidence(episodes, group)[0])
        table, _ = ca.rmst_comparison_for(fresh, VIEWER, CohortSpec(), group=group)
        pd.testing.assert_frame_equal(table, ca.rmst_comparison(episodes, group)[0])
    cohorts = [v for k, v in fresh._memo.items() if k[1] == "cohort_episodes"]
    assert cohorts
    assert all(len(c.columns) < 15 for c in cohorts)  # no whole cohort was read
    fresh.close()


def test_cohort_page_reads_one_narrow_cohort_for_its_size_and_every_table_one(reader, episodes):
    fresh = store.StoreReader(reader.path)
    assert ca.cohort_summary_for(fresh, VIEWER, CohortSpec()) == ca.cohort_size(episodes)
    for group in ca.GROUPINGS:
        table = t1.table_one_for(fresh, VIEWER, CohortSpec(), group=group)
        pd.testing.assert_frame_equal(table, t1.table_one(episodes, group), obj=group)
    cohorts = [v for k, v in fresh._memo.items() if k[1] == "cohort_episodes"]
    assert len(cohorts) == 1  # one read for the size and all the tables
    assert len(cohorts[0].columns) < 30
    fresh.close()


def test_adjusted_curves_read_their_few_columns_and_equal_the_full_cohorts(reader, episodes):
    fresh = store.StoreReader(reader.path)
    for group, covariates in (
        ("modality", ("age_years", "sex")),
        ("mspss_family_tertile", ("age_years", "has_no_income")),
        ("has_family_education_before", ("mspss_family", "apgar_total")),
    ):
        got = rm.adjusted_curves_for(
            fresh, VIEWER, CohortSpec(), group=group, covariates=covariates
        )
        expected = rm.adjusted_curves(episodes, group, covariates)
        pd.testing.assert_frame_equal(got.curves, expected.curves, obj=group)
        pd.testing.assert_frame_equal(got.risk_table, expected.risk_table, obj=group)
    education = rm.family_education_for(fresh, VIEWER, CohortSpec())
    pd.testing.assert_frame_equal(education.curves, expected.curves)
    cohorts = [v for k, v in fresh._memo.items() if k[1] == "cohort_episodes"]
    assert all(len(c.columns) < 20 for c in cohorts)  # no whole cohort was read
    fresh.close()


def test_time_varying_stratified_and_split_models(reader, episodes):
    periods = cohort_periods(reader, VIEWER, CohortSpec(), episodes)
    tv = rm.fit_risk_model(episodes, ["is_take_home", "dose_band"], periods=periods)
    assert "counting-process" in tv.method
    assert tv.n_events == episodes["event"].sum()
    strat = rm.fit_risk_model(episodes, ["age_years", "dose_band"], strata="dose_band")
    assert list(strat.coefficients.index) == ["age_years"]
    split = rm.fit_risk_model(
        episodes, ["age_years", "has_no_income"], split_terms=["has_no_income"]
    )
    assert "has_no_income · days 1–90" in split.coefficients.index
    assert "has_no_income · after day 90" in split.coefficients.index
    # a rare level with no early event: a sentence, not a traceback
    with pytest.raises(SurvivalInputError, match="infinite"):
        rm.fit_risk_model(episodes, ["age_years", "sex"], split_terms=["sex"])


def test_split_at_keeps_time_and_events():
    frame = pd.DataFrame({"start_day": [0, 0, 100], "stop_day": [50, 200, 150], "event": [1, 1, 0]})
    out = rm.split_at(frame, day=90, start="start_day", stop="stop_day", event="event")
    assert (out["stop_day"] - out["start_day"]).sum() == 50 + 200 + 50
    assert out["event"].sum() == 2
    assert len(out) == 4


def test_fine_gray_matches_direct_fit(episodes):
    table, dropped = rm.fit_dropout_model(episodes, ["age_years", "has_no_income"])
    frame = episodes.assign(
        age_years=episodes["age_years"] / 10, has_no_income=episodes["has_no_income"].astype(float)
    )
    direct = fine_gray(
        frame, duration="duration_days", status="dropout_status",
        covariates=["age_years", "has_no_income"],
    )  # fmt: skip
    assert np.allclose(table["hr"], direct.coefficients["shr"])
    assert dropped == 0


def test_adjusted_curves_and_family_education(reader, episodes):
    adjusted = rm.adjusted_curves(episodes, "modality", ["age_years", "sex"])
    assert set(adjusted.at_365["group"]) == set(episodes["modality"])
    assert adjusted.at_365["survival"].between(0, 1).all()
    tests = ca.family_education_test(episodes)
    assert tests["method"].iloc[0] == "log-rank stratified by family-support band"


def test_support_and_outcomes_over_time(reader):
    spec = CohortSpec()
    support = trends.support_over_time_for(reader, VIEWER, spec, measure="apgar_total")
    assert support["mean"].between(0, 10).all()
    assert (support["month"] % 3 == 0).all()
    crime = trends.outcomes_over_time_for(reader, VIEWER, spec, measure="any_offending")
    assert crime["mean"].between(0, 1).all()
    assert set(crime["group"]) <= {"MMT", "BMT", "HAT"}


def test_trends_read_only_the_chosen_measure_with_the_full_rows_results(reader, episodes):
    spec = CohortSpec()
    with reader.cursor() as cur:
        params = {
            "gap_days": 7, "as_of": store.data_cutoff(cur), "clinic_ids": [],
            **store.scope_params(cur, VIEWER),
        }  # fmt: skip
        support = store.run_query(cur, "support_assessments", params)
        profiles = store.run_query(cur, "outcome_profiles_by_episode", params)
    for measure in trends.SUPPORT_MEASURES:
        shown = trends.support_over_time_for(
            reader, VIEWER, spec, measure=measure, group="modality"
        )
        expected = trends.support_over_time(support, episodes, measure=measure, group="modality")
        pd.testing.assert_frame_equal(shown, expected)
    for measure in trends.OUTCOME_MEASURES:
        shown = trends.outcomes_over_time_for(reader, VIEWER, spec, measure=measure)
        expected = trends.outcomes_over_time(profiles, episodes, measure=measure)
        pd.testing.assert_frame_equal(shown, expected)
    key = next(k for k in reader._memo if k[1:3] == ("support_assessments", VIEWER))
    assert list(reader._memo[key].columns) == [*trends.ASSESSMENT_KEYS, key[-1][0]]
    with pytest.raises(RetentionError, match="Unknown outcome measure 'patient_id'"):
        trends.outcomes_over_time_for(reader, VIEWER, spec, measure="patient_id")
    # one clinic: only its assessments are read, and the means are those of the full rows
    one = CohortSpec(clinic_ids=("C03",))
    mine = cohort_episodes(reader, VIEWER, one)
    shown = trends.outcomes_over_time_for(reader, VIEWER, one, measure="heroin_days_28")
    pd.testing.assert_frame_equal(
        shown, trends.outcomes_over_time(profiles, mine, measure="heroin_days_28")
    )
    key = next(k for k in reader._memo if k[1] == "outcome_profiles_by_episode" and k[5])
    assert set(reader._memo[key]["patient_id"]) <= set(mine["patient_id"])


def test_first_relapse_from_the_stores_first_weeks_equals_all_events(reader):
    spec = CohortSpec(gap_days=14)
    first = relapse.first_relapse(reader, VIEWER, spec)
    episodes = cohort_episodes(reader, VIEWER, spec, columns=relapse.FIRST_RELAPSE_COLUMNS)
    events = relapse.relapse_events(reader, VIEWER, spec)
    assert events.duplicated(["patient_id", "episode_no"]).any()  # several events per episode
    pd.testing.assert_frame_equal(first, relapse.first_relapse_times(episodes, events))
    assert 0 < (first["relapse_status"] == 1).sum() < len(first)


def test_relapse_patterns(reader):
    rows = rp.relapse_data_for(reader, VIEWER, CohortSpec())
    cells, n_total = rp.lasagna_frame(rows.weeks, rows.first, max_patients=50)
    assert cells["row_label"].nunique() == 50 < n_total
    assert set(cells["result"]) <= {"negative", "positive", "missed", "other"}
    weekly = rp.positive_by_week(rows.weeks, rows.first).set_index("week")
    week4 = rows.weeks[(rows.weeks["week_no"] == 4) & rows.weeks["opioid_result"].isin(["+", "-"])]
    assert weekly.loc[4, "n"] == len(week4)
    assert weekly.loc[4, "proportion"] == pytest.approx((week4["opioid_result"] == "+").mean())
    cif, tests = rp.first_relapse_incidence(rows.first, "dose_band")
    assert set(cif["cause"]) == set(rp.RELAPSE_CAUSES.values())
    assert len(tests) == 2


def test_relapse_page_sections_read_each_part_once_and_match_the_rows(demo_store, monkeypatch):
    fresh = store.StoreReader(demo_store)
    spec = CohortSpec(gap_days=14)
    rows = rp.relapse_data_for(store.StoreReader(demo_store), VIEWER, spec)
    reads = []
    for name in ("first_relapse", "screen_weeks", "missed_dose_days"):
        original = getattr(relapse, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            reads.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(relapse, name, counted)
    alone = store.StoreReader(demo_store)
    rp.lasagna_for(alone, VIEWER, spec)
    alone.close()
    assert reads == ["screen_weeks"]  # the lasagna needs no first-relapse times
    reads.clear()
    cif, gray = rp.first_relapse_incidence_for(fresh, VIEWER, spec, group="modality")
    assert reads == ["first_relapse"]  # the first-relapse section reads no weekly rows
    cells, n_total = rp.lasagna_for(fresh, VIEWER, spec)
    weekly = rp.positive_by_week_for(fresh, VIEWER, spec, group="dose_band")
    before = rp.missed_before_dropout_for(fresh, VIEWER, spec)
    assert rp.sample_share_of_cohort_for(fresh, VIEWER, spec) is None
    fresh.close()
    assert reads == ["first_relapse", "screen_weeks", "missed_dose_days"]  # each part once
    expected_cells, expected_total = rp.lasagna_frame(rows.weeks, rows.first)
    pd.testing.assert_frame_equal(cells, expected_cells)
    assert n_total == expected_total  # and every patient's rows: the share is None above
    pd.testing.assert_frame_equal(
        weekly, rp.positive_by_week(rows.weeks, rows.first, group="dose_band")
    )
    expected_cif, expected_gray = rp.first_relapse_incidence(rows.first, "modality")
    pd.testing.assert_frame_equal(cif, expected_cif)
    pd.testing.assert_frame_equal(gray, expected_gray)
    pd.testing.assert_frame_equal(before, rp.missed_before_dropout(rows.missed, rows.first))


def test_a_large_cohort_reads_weekly_rows_of_a_patient_sample(reader, monkeypatch):
    full = rp.relapse_data_for(reader, VIEWER, CohortSpec(gap_days=30))
    assert full.sample_share is None  # the test store is small
    cap = len(full.first) // 2
    monkeypatch.setattr(rp, "SAMPLE_MAX_EPISODES", cap)
    fresh = store.StoreReader(reader.path)
    sampled = rp.relapse_data_for(fresh, VIEWER, CohortSpec(gap_days=30))
    fresh.close()
    assert sampled.sample_share == pytest.approx(cap / len(full.first))
    pd.testing.assert_frame_equal(sampled.first, full.first)  # first relapse: every episode
    patients = set(sampled.weeks["patient_id"])
    assert 0.3 < len(patients) / full.weeks["patient_id"].nunique() < 0.7
    # whole patients: each sampled patient's weeks are all there, and missed days are of the
    # same patients
    keys = ["patient_id", "episode_no", "week_no"]
    expected = full.weeks[full.weeks["patient_id"].isin(patients)].sort_values(keys)
    pd.testing.assert_frame_equal(
        sampled.weeks.sort_values(keys).reset_index(drop=True), expected.reset_index(drop=True)
    )
    missed_patients = set(sampled.missed["patient_id"])
    assert missed_patients <= set(full.missed["patient_id"])
    in_both = set(full.missed["patient_id"]) & set(full.weeks["patient_id"])
    assert {p for p in in_both if p in patients} == missed_patients & set(full.weeks["patient_id"])
    # the weekly proportion estimated on the sample is close to the whole cohort's
    whole = rp.positive_by_week(full.weeks, full.first).set_index("week")["proportion"]
    part = rp.positive_by_week(sampled.weeks, sampled.first).set_index("week")["proportion"]
    common = whole.index.intersection(part.index)
    assert len(common) > 40
    assert (whole[common] - part[common]).abs().median() < 0.08


def test_labels_of_equal_the_label_of_each_value():
    values = pd.Series(["MMT", None, "low", np.nan, True, False, "MMT", 3], dtype=object)
    assert ca.labels_of(values).tolist() == [ca._label(v) for v in values]
    assert ca.labels_of(pd.Series([1.0, np.nan])).tolist() == [ca._label(1.0), ca.UNKNOWN]


def test_no_analysis_writes_into_the_remembered_cohort(demo_store):
    """cohort_episodes hands out shallow copies of remembered frames (the whole cohort, or the
    few columns a page reads): every analysis of every page must leave them as they were
    read. The analyses run twice; each cohort frame remembered after the first round must be
    unchanged by the second."""
    from analytics import at_risk, clinic_comparison, clinic_overview

    fresh = store.StoreReader(demo_store)
    spec = CohortSpec(gap_days=14)
    terms = ("mspss_family", "apgar_total", "dose_band", "age_years", "sex", "is_take_home")

    def every_analysis():
        for group in ("dose_band", "mspss_family_tertile", "modality"):
            t1.table_one_for(fresh, VIEWER, spec, group=group)
            ca.retention_curves_for(fresh, VIEWER, spec, group=group)
            ca.dropout_incidence_for(fresh, VIEWER, spec, group=group)
            ca.rmst_comparison_for(fresh, VIEWER, spec, group=group)
            rm.adjusted_curves_for(
                fresh, VIEWER, spec, group=group, covariates=tuple(rm.ADJUST_TERMS_DEFAULT)
            )
            rp.first_relapse_incidence_for(fresh, VIEWER, spec, group=group)
            rp.positive_by_week_for(fresh, VIEWER, spec, group=group)
        ca.cohort_summary_for(fresh, VIEWER, spec)
        ca.gap_sensitivity_for(fresh, VIEWER, spec)
        trends.support_over_time_for(fresh, VIEWER, spec, group="mspss_family_tertile")
        trends.outcomes_over_time_for(fresh, VIEWER, spec)
        ca.family_education_test_for(fresh, VIEWER, spec)
        rm.fit_risk_model_for(fresh, VIEWER, spec, terms=terms)
        rm.fit_risk_model_for(fresh, VIEWER, spec, terms=terms, split_terms=("dose_band",))
        rm.fit_dropout_model_for(fresh, VIEWER, spec, terms=terms[:5])
        rm.family_education_for(fresh, VIEWER, spec)
        rp.lasagna_for(fresh, VIEWER, spec)
        rp.missed_before_dropout_for(fresh, VIEWER, spec)
        clinic_overview.clinic_overview(fresh, VIEWER, spec)
        clinic_comparison.compare_clinics(fresh, VIEWER, spec)
        clinic_comparison.clinic_curves(fresh, VIEWER, spec, clinic_id="C04")
        at_risk.at_risk_patients(fresh, VIEWER, spec)

    def remembered_cohorts() -> dict:
        # the reader's memo (private): its cohort frames, by key
        return {k: v for k, v in fresh._memo.items() if k[1] == "cohort_episodes"}

    every_analysis()
    first = remembered_cohorts()
    assert len(first) >= 4  # the whole cohort and several pages' columns
    before = {key: frame.copy(deep=True) for key, frame in first.items()}
    every_analysis()
    after = remembered_cohorts()
    fresh.close()
    kept = [key for key in first if after.get(key) is first[key]]  # not evicted meanwhile
    assert kept
    for key in kept:
        pd.testing.assert_frame_equal(after[key], before[key], obj=str(key[-1]))


def test_adjusted_curves_leave_out_the_covariate_a_grouping_is_cut_from(episodes):
    """Family-support levels are cut from the MSPSS family score: weighting on the score
    would be circular (and the logit separates), so it is left out and said."""
    adjusted = rm.adjusted_curves(episodes, "family_support", rm.ADJUST_TERMS_DEFAULT)
    assert "mspss_family" not in adjusted.covariates
    assert "apgar_total" in adjusted.covariates
    assert set(adjusted.curves["group"]) >= {"low", "moderate", "high"}
    with pytest.raises(RetentionError, match="defines the groups"):
        rm.adjusted_curves(episodes, "apgar_category", ("apgar_total",))


def test_weights_on_a_covariate_that_decides_the_group_are_a_clear_error():
    from analytics.survival import adjusted_survival

    n = 200
    frame = pd.DataFrame(
        {
            "time": np.arange(1, n + 1, dtype=float),
            "event": 1,
            "group": np.where(np.arange(n) < n // 2, "a", "b"),
            "score": np.r_[np.zeros(n // 2), np.ones(n // 2)],  # the group itself
        }
    )
    with pytest.raises(SurvivalInputError, match="almost\\) decide the group"):
        adjusted_survival(
            frame, duration="time", event="event", group="group", covariates=["score"]
        )


def test_a_one_clinic_cohort_reads_its_clinics_rows_and_loses_none(reader):
    """The relapse marts are read for the cohort's clinics only: the rows must be exactly
    the all-clinic rows of that clinic's episodes."""
    from analytics import relapse

    one, everyone = CohortSpec(clinic_ids=("C02",)), CohortSpec()
    keys = ["patient_id", "episode_no"]
    c02 = cohort_episodes(reader, VIEWER, one)[keys]
    for read in (relapse.screen_weeks, relapse.relapse_events, relapse.missed_dose_days):
        got = read(reader, VIEWER, one)
        expected = read(reader, VIEWER, everyone).merge(c02, on=keys)
        assert len(got) > 0, read.__name__
        assert set(got["clinic_id"]) == {"C02"}
        columns = list(got.columns)
        pd.testing.assert_frame_equal(
            got.sort_values(columns).reset_index(drop=True),
            expected[columns].sort_values(columns).reset_index(drop=True),
            obj=read.__name__,
        )


def test_a_grouping_needs_only_its_source_columns(episodes):
    """Pages read only grouping_columns(group) of the cohort: the groups must be the same."""
    for group in ca.GROUPINGS:
        narrow = episodes[["patient_id", *ca.grouping_columns(group)]]
        pd.testing.assert_series_equal(
            ca.with_group(narrow, group)["group"], ca.with_group(episodes, group)["group"]
        )


def test_varying_terms_leave_out_a_term_with_one_value(reader):
    terms = ("mspss_family", "dose_band", "age_years", "is_take_home")
    assert rm.varying_terms_for(reader, VIEWER, CohortSpec(), terms=terms) == terms
    heroin_only = CohortSpec(clinic_ids=("C01",))
    kept = rm.varying_terms_for(reader, VIEWER, heroin_only, terms=terms)
    assert kept == ("mspss_family", "age_years", "is_take_home")
    with pytest.raises(SurvivalInputError, match="Methadone dose at day 30 has only"):
        rm.fit_risk_model_for(reader, VIEWER, heroin_only, terms=("dose_band", "age_years"))
    rm.fit_risk_model_for(reader, VIEWER, heroin_only, terms=kept[:2])  # fits


def test_a_models_episode_count_is_its_episodes_with_every_term(reader, episodes):
    usable = episodes["age_years"].notna() & episodes["dose_band"].notna()
    baseline = rm.fit_risk_model(episodes, ["age_years", "dose_band"])
    assert baseline.n == int(usable.sum()) == len(episodes) - baseline.n_dropped
    periods = cohort_periods(reader, VIEWER, CohortSpec(), episodes)
    varying = rm.fit_risk_model(episodes, ["age_years", "is_take_home"], periods=periods)
    assert varying.n == int(episodes["age_years"].notna().sum())  # periods: one per episode


def test_a_level_without_exits_is_named_by_its_label(episodes):
    """A sex recorded as 'X' on three episodes none of which ended has no finite hazard
    ratio: the Cox and Fine–Gray models say which term and value, not a library message."""
    changed = episodes.copy()
    changed.loc[changed["sex"] == "X", "sex"] = "F"  # 'X' only where set below
    censored = changed.index[changed["event"] == 0][:3]
    changed.loc[censored, "sex"] = "X"
    with pytest.raises(
        SurvivalInputError, match="Sex: no exits among the 3 model row.*'other / not"
    ):
        rm.fit_risk_model(changed, ["age_years", "sex"])
    never_dropped = changed.index[changed["dropout_status"] != 1][:3]
    changed.loc[changed["sex"] == "X", "sex"] = "F"
    changed.loc[never_dropped, "sex"] = "X"
    with pytest.raises(SurvivalInputError, match="Sex: no dropouts among the 3 model row"):
        rm.fit_dropout_model(changed, ["age_years", "sex"])
    rm.fit_risk_model(episodes, ["age_years", "sex"])  # the recorded values fit


def test_adjusted_curves_of_one_group_say_what_to_change(reader):
    one_clinic = CohortSpec(clinic_ids=("C02",))  # buprenorphine only: one treatment
    with pytest.raises(SurvivalInputError, match="Only one group of Treatment .* Choose another"):
        rm.adjusted_curves_for(
            reader, VIEWER, one_clinic, group="modality", covariates=("age_years",)
        )


def test_derived_groupings_band_ages_split_thirds_and_label_missing_values():
    from analytics.cohort_analysis import add_groupings, labels_of, level_codes

    episodes = pd.DataFrame(
        {
            "age_years": [29, 30, 39, 40, 49, 50, None, 18],
            "is_first_episode": [True, False, True, True, False, False, True, False],
            # thirds cut at 3 and 4 (R: quantile(c(1, 2, 3, 4, 5, 6, 4), c(1/3, 2/3))): a
            # score equal to a cut goes to the lower third (pandas' quantile gives
            # 2.9999999999999996, which put the 3 in the upper one)
            "mspss_family": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None, 4.0],
        }
    )
    frame = add_groupings(episodes)
    assert list(labels_of(frame["age_band"])) == [
        "<30", "30–39", "30–39", "40–49", "40–49", "50+", "unknown", "<30",
    ]  # fmt: skip
    assert list(labels_of(frame["episode_type"])) == [
        "first", "repeat", "first", "first", "repeat", "repeat", "first", "repeat",
    ]  # fmt: skip
    cuts = np.quantile([1, 2, 3, 4, 5, 6, 4], [1 / 3, 2 / 3])
    expected = [
        "unknown"
        if pd.isna(v)
        else ["T1 (lowest)", "T2", "T3 (highest)"][int(np.searchsorted(cuts, v))]
        for v in episodes["mspss_family"]
    ]
    assert list(labels_of(frame["mspss_family_tertile"])) == expected
    assert expected.count("T1 (lowest)") == 3  # 1, 2 and the 3 on the cut
    assert expected[3] == expected[-1] == "T2"  # the 4s on the upper cut
    levels, codes = level_codes(frame["age_band"], "age_band")
    assert levels == ["<30", "30–39", "40–49", "50+", "unknown"]
    assert list(codes) == [0, 1, 1, 2, 2, 3, 4, 0]
    # fewer than three distinct scores: no thirds, every episode "unknown"
    flat = add_groupings(episodes.assign(mspss_family=[2.0, 2.0, 3.0, None, 2.0, 3.0, 3.0, 2.0]))
    assert set(labels_of(flat["mspss_family_tertile"])) == {"unknown"}
