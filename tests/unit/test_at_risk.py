"""The at-risk list: access, warning signs against direct counts, the 90-day risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import at_risk, store
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes, cohort_periods, patient_sample_share
from analytics.errors import AccessDenied, RetentionError
from analytics.relapse import missed_dose_days

RESEARCHER = store.Viewer(role="researcher", identifiable=False, user_name="r")


@pytest.fixture(scope="module")
def reader(demo_store):
    reader = store.StoreReader(demo_store)
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def result(reader):
    return at_risk.at_risk_patients(reader, store.LOCAL_ADMIN, CohortSpec())


def _signs(reader, gap_days: int, as_of):
    """q_open_episode_signs with the list's windows, all clinics."""
    params = {
        "gap_days": gap_days,
        "as_of": as_of,
        "clinic_ids": [],
        "missed_short_days": at_risk.MISSED_SHORT_DAYS,
        "missed_long_days": at_risk.MISSED_LONG_DAYS,
        "screen_days": 28,
        "relapse_days": 84,
    }
    return at_risk.patient_rows(
        reader, store.LOCAL_ADMIN, "open_episode_signs", params, what="test"
    )


def test_viewers_without_identifiable_access_are_refused(reader):
    with pytest.raises(AccessDenied, match="names patients"):
        at_risk.at_risk_patients(reader, RESEARCHER, CohortSpec())


def test_one_row_per_open_episode(reader, result, demo_as_of):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    assert result.as_of == demo_as_of
    assert len(result.patients) == int(episodes["is_open"].sum())
    assert not result.patients.duplicated(["patient_id", "episode_no"]).any()
    assert result.model_note is None
    assert result.n_model_events > 20


def test_missed_doses_equal_a_direct_count(reader, result, demo_as_of):
    missed = missed_dose_days(reader, store.LOCAL_ADMIN, CohortSpec())
    ago = (pd.Timestamp(demo_as_of) - pd.to_datetime(missed["missed_date"])).dt.days
    last_week = missed[(ago >= 0) & (ago < 7)].groupby(["patient_id", "episode_no"]).size()
    table = result.patients.set_index(["patient_id", "episode_no"])
    flagged = table[table["missed_7d"] > 0]["missed_7d"]
    pd.testing.assert_series_equal(
        flagged.sort_index(), last_week.reindex(flagged.index).sort_index(), check_names=False
    )
    assert table["missed_recent"].sum() == len(last_week.index.intersection(table.index))
    assert (table["missed_14d"] >= table["missed_7d"]).all()


def test_reasons_name_every_sign(result):
    patients = result.patients
    parts = patients["reasons"].map(lambda text: len(text.split("; ")) if text else 0)
    assert (parts == patients["n_signs"]).all()
    assert patients["risk_90d"].between(0, 1).all()
    assert (patients["n_signs"].diff().dropna() <= 0).all()  # most signs first
    assert (patients["high_model_risk"] == (patients["risk_90d"] >= at_risk.HIGH_RISK)).all()


def test_risk_is_conditional_survival_from_the_model(reader):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    periods = cohort_periods(reader, store.LOCAL_ADMIN, CohortSpec(), episodes)
    model = at_risk.fit_leaving_model(periods)
    open_eps = episodes[episodes["is_open"]].head(4).assign(is_take_home=[0, 1, 0, 1])
    profiles = at_risk.current_profiles(open_eps)
    assert list(profiles["is_take_home"]) == [0, 1, 0, 1]
    t = open_eps["duration_days"].to_numpy()
    risk = at_risk.risk_of_leaving(model, profiles, t)
    for i in range(len(profiles)):
        curve = model.predict_survival(profiles.iloc[[i]], [t[i], t[i] + 90])["survival"]
        assert risk[i] == pytest.approx(1 - curve.iloc[1] / curve.iloc[0], rel=1e-9)


def test_a_value_the_model_never_saw_has_no_risk_and_the_others_are_predicted(reader):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    periods = cohort_periods(reader, store.LOCAL_ADMIN, CohortSpec(), episodes)
    sampled = periods[periods["sex"] != "X"]  # a rare level a patient sample can miss
    model = at_risk.fit_leaving_model(sampled)
    open_eps = episodes[episodes["is_open"]].head(4).assign(is_take_home=0)
    open_eps.loc[open_eps.index[1], "sex"] = "X"
    profiles = at_risk.current_profiles(open_eps)
    t = open_eps["duration_days"].to_numpy()
    risk = at_risk.risk_of_leaving(model, profiles, t)
    assert np.isnan(risk[1])
    for i in (0, 2, 3):
        curve = model.predict_survival(profiles.iloc[[i]], [t[i], t[i] + 90])["survival"]
        assert risk[i] == pytest.approx(1 - curve.iloc[1] / curve.iloc[0], rel=1e-9)


def test_signs_on_a_small_frame():
    episodes = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "clinic_id": "C1",
            "clinic_name": "One",
            "episode_no": 1,
            "start_date": pd.to_datetime(["2025-01-01", "2026-06-01", "2026-01-01"]),
            "duration_days": [546, 30, 181],
            "is_open": True,
            "modality": "MMT",
            "family_support": ["high", "low", "moderate"],
            "apgar_category": ["functional", "functional", "severe_dysfunction"],
        }
    )
    # counts as q_open_episode_signs gives them (its windows are tested against the full marts)
    signs = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "episode_no": 1,
            "missed_7d": [1, 0, 0],
            "missed_14d": [2, 1, 0],
            "n_positive_4w": [0, 1, 0],
            "relapse": [True, False, False],
            "is_take_home": [0, 0, 1],
        }
    )
    risk = np.array([0.1, 0.3, np.nan])
    without = at_risk.with_signs(episodes, signs.iloc[[0, 1]]).iloc[2]  # no row of counts
    assert (without["missed_7d"], without["relapse"], without["is_take_home"]) == (0, False, 0)
    table = at_risk.assemble(at_risk.with_signs(episodes, signs), risk)
    assert list(table["patient_id"]) == ["P2", "P1", "P3"]  # most signs, then highest risk
    rows = table.set_index("patient_id")
    assert rows.loc["P1", "missed_recent"]
    assert not rows.loc["P2", "missed_recent"]  # a missed day 8-14 days ago is not a sign
    assert rows.loc["P2", "positive_screen"]
    assert not rows.loc["P1", "positive_screen"]
    assert rows.loc["P1", "relapse"]
    assert not rows.loc["P2", "relapse"]
    assert rows.loc["P1", "no_take_homes"]
    assert not rows.loc["P3", "no_take_homes"]
    assert rows.loc["P2", "low_family_support"]
    assert rows.loc["P3", "low_family_support"]
    assert rows.loc["P2", "high_model_risk"]
    assert not rows.loc["P3", "high_model_risk"]
    assert rows.loc["P1", "reasons"] == (
        "missed 1 day in 7; relapse after negative run; no take-homes at 18 months"
    )
    assert rows.loc["P2", "reasons"] == "positive opioid screen; low family support; risk 30%"
    assert rows.loc["P3", "reasons"] == "low family support"
    only_relapse = at_risk.filter_by_signs(table, ["relapse"])
    assert list(only_relapse["patient_id"]) == ["P1"]
    assert at_risk.filter_by_signs(table, []).empty
    with pytest.raises(RetentionError, match="Unknown warning sign"):
        at_risk.filter_by_signs(table, ["moon_phase"])


def test_reasons_of_many_rows_equal_the_text_written_row_by_row():
    rng = np.random.default_rng(7)
    n = 3_000
    table = pd.DataFrame(
        {
            "missed_recent": rng.random(n) < 0.4,
            "missed_7d": rng.integers(0, 8, n),
            "positive_screen": rng.random(n) < 0.3,
            "relapse": rng.random(n) < 0.2,
            "low_family_support": rng.random(n) < 0.3,
            "no_take_homes": rng.random(n) < 0.3,
            "days_in_treatment": rng.integers(0, 3000, n),
            "high_model_risk": rng.random(n) < 0.3,
            "risk_90d": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        }
    )
    written = at_risk.reasons(table)
    by_row = [
        at_risk._reason_text(
            r.missed_recent,
            r.missed_7d,
            r.positive_screen,
            r.relapse,
            r.low_family_support,
            r.no_take_homes,
            r.days_in_treatment // 30,
            r.high_model_risk,
            0 if np.isnan(r.risk_90d) else round(r.risk_90d * 100),
        )  # fmt: skip
        for r in table.itertuples()
    ]
    assert written.tolist() == by_row
    assert written.str.contains("no take-homes at").sum() == table["no_take_homes"].sum()


def test_model_labels_fill_missing_values_as_sorted_categories():
    from analytics.episodes import as_labels

    labels = as_labels(pd.Series(["M", "F", "M"], index=[4, 5, 6], dtype=object))
    assert labels.tolist() == ["M", "F", "M"]
    assert labels.index.tolist() == [4, 5, 6]
    assert labels.cat.categories.tolist() == ["F", "M"]  # the reference level: first sorted
    assert as_labels(pd.Series(["F", None, np.nan])).tolist() == ["F", "unknown", "unknown"]
    assert as_labels(pd.Series([True, None, 2])).tolist() == ["True", "unknown", "2"]


def test_too_few_exits_is_a_clear_error():
    periods = pd.DataFrame(
        {
            "start_day": [0, 0],
            "stop_day": [10, 20],
            "event_observed": [1, 0],
            "age_years": [30, 40],
            "sex": "M",
            "modality": "MMT",
            "dose_band": ">=80",
            "n_prior_episodes": 0,
            "family_support": "high",
            "has_drug_using_friends": False,
            "has_no_income": False,
            "is_take_home": 0,
        }
    )
    with pytest.raises(RetentionError, match="needs at least"):
        at_risk.fit_leaving_model(periods)


def test_take_home_now_is_the_current_period_of_each_open_episode(reader, result, demo_as_of):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    periods = cohort_periods(reader, store.LOCAL_ADMIN, CohortSpec(), episodes)
    open_keys = episodes.loc[episodes["is_open"], at_risk.KEYS]
    last = (
        periods.merge(open_keys, on=at_risk.KEYS)
        .sort_values("stop_day")
        .groupby(at_risk.KEYS, as_index=False)
        .last()
    )
    # a current period runs up to the episode's length so far
    lengths = episodes.set_index(at_risk.KEYS)["duration_days"]
    assert (
        last.set_index(at_risk.KEYS)["stop_day"] == lengths.loc[last.set_index(at_risk.KEYS).index]
    ).all()
    signs = _signs(reader, 7, demo_as_of)
    assert len(signs) == len(open_keys) == len(last) == len(result.patients)
    merged = signs.merge(last, on=at_risk.KEYS, suffixes=("", "_last"))
    assert len(merged) == len(signs)
    assert (merged["is_take_home"] == merged["is_take_home_last"]).all()
    assert 0 < merged["is_take_home"].sum() < len(merged)  # both kinds are checked
    # the list's sign is that status
    shown = result.patients.merge(signs, on=at_risk.KEYS)
    long_enough = shown["days_in_treatment"] >= at_risk.TAKE_HOME_AFTER_DAYS
    assert (
        shown.loc[long_enough, "no_take_homes"] == (shown.loc[long_enough, "is_take_home"] == 0)
    ).all()
    assert not shown.loc[~long_enough, "no_take_homes"].any()


def test_a_large_store_fits_the_model_on_a_patient_sample_close_to_the_full_fit(
    reader, demo_as_of, monkeypatch
):
    full = at_risk.leaving_model(reader, store.LOCAL_ADMIN, 14, demo_as_of)
    assert full.n_episodes == full.n_accessible  # the demo is below the cap
    whole = at_risk.leaving_model(reader, store.LOCAL_ADMIN, 30, demo_as_of).n_accessible
    cap = whole // 2
    monkeypatch.setattr(at_risk, "MODEL_MAX_EPISODES", cap)
    fresh = store.StoreReader(reader.path)  # the model is remembered per reader
    sample = at_risk.leaving_model(fresh, store.LOCAL_ADMIN, 30, demo_as_of)
    fresh.close()
    assert sample.n_accessible == whole > 500
    assert 0.75 * cap < sample.n_episodes < 1.25 * cap
    # every episode of a sampled patient: the sample is of patients, not episodes
    params = {
        "gap_days": 30,
        "as_of": demo_as_of,
        "sample_share": patient_sample_share(whole, cap),
    }
    rows = at_risk.patient_rows(reader, store.LOCAL_ADMIN, "model_periods", params, what="t")
    everyone = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec(gap_days=30))
    sampled = everyone[everyone["patient_id"].isin(rows["patient_id"])]
    assert len(sampled) == sample.n_episodes
    # the same model, less precisely: each coefficient within 4 of the sample's SEs
    reference = at_risk.fit_leaving_model(
        cohort_periods(reader, store.LOCAL_ADMIN, CohortSpec(gap_days=30), everyone)
    ).coefficients
    sampled_fit = sample.result.coefficients
    gap = (sampled_fit["coef"] - reference["coef"]).abs()
    assert (gap < 4 * sampled_fit["se"]).all(), gap / sampled_fit["se"]


def test_every_clinic_filter_shares_one_model(reader):
    everyone = at_risk.at_risk_patients(reader, store.LOCAL_ADMIN, CohortSpec(gap_days=14))
    one = at_risk.at_risk_patients(
        reader, store.LOCAL_ADMIN, CohortSpec(gap_days=14, clinic_ids=("C02",))
    )
    assert one.n_model_episodes == everyone.n_model_episodes
    assert set(one.patients["clinic_id"]) == {"C02"}
    shared = one.patients.merge(everyone.patients, on=at_risk.KEYS, suffixes=("", "_all"))
    assert len(shared) == len(one.patients) > 0
    np.testing.assert_allclose(shared["risk_90d"], shared["risk_90d_all"], rtol=1e-12)
    # the marts read for one clinic only give each patient the signs of the full list
    for column in ["missed_7d", "missed_14d", "n_positive_4w", *at_risk.SIGNS, "reasons"]:
        assert (shared[column] == shared[f"{column}_all"]).all(), column
    assert shared[["missed_7d", "n_positive_4w"]].to_numpy().sum() > 0


def test_signs_come_in_the_cohorts_order_and_join_alike_in_any_order(reader, demo_as_of):
    """q_open_episode_signs returns the open episodes in the cohort's order, so the counts
    are put alongside them without a join; a cohort filtered beyond clinics (fewer rows) or
    signs in another order take the join, with the same result."""
    spec = CohortSpec(gap_days=14, as_of=demo_as_of)
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, spec)
    open_episodes = episodes[episodes["is_open"].astype(bool)]
    signs = _signs(reader, 14, demo_as_of).rename(columns=at_risk.SIGN_COUNTS)
    assert at_risk._same_keys(open_episodes, signs)
    alongside = at_risk.with_signs(open_episodes, signs)
    shuffled = signs.sample(frac=1, random_state=3).reset_index(drop=True)
    assert not at_risk._same_keys(open_episodes, shuffled)
    joined = at_risk.with_signs(open_episodes, shuffled)
    pd.testing.assert_frame_equal(alongside, joined)
    assert alongside["missed_14d"].sum() > 0
    assert alongside["relapse"].any()
    women = open_episodes[open_episodes["sex"] == "F"]
    assert 0 < len(women) < len(open_episodes)
    pd.testing.assert_frame_equal(
        at_risk.with_signs(women, signs),
        alongside[alongside["sex"] == "F"].reset_index(drop=True),
    )


def test_open_episodes_are_read_alone_and_equal_the_cohorts_open_rows(demo_store, demo_as_of):
    spec = CohortSpec(gap_days=14, as_of=demo_as_of, sexes=("F",))
    columns = ["patient_id", "episode_no", "clinic_id", "is_open", "duration_days"]
    fresh = store.StoreReader(demo_store)
    alone = cohort_episodes(fresh, store.LOCAL_ADMIN, spec, columns=columns, open_only=True)
    whole = cohort_episodes(fresh, store.LOCAL_ADMIN, spec)
    expected = whole[whole["is_open"].astype(bool)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, expected[list(alone.columns)])
    assert 0 < len(alone) < len(whole)
    # with the whole cohort remembered, the open rows come from it: the same frame
    again = cohort_episodes(fresh, store.LOCAL_ADMIN, spec, columns=columns[:3], open_only=True)
    pd.testing.assert_frame_equal(again, expected[list(again.columns)])
    fresh.close()


def test_a_narrow_read_is_taken_from_any_remembered_read_that_holds_it(
    demo_store, demo_as_of, monkeypatch
):
    """A page after another reads its columns from that page's read of the same cohort: the
    same frame as its own read, with no query run (or audited) again; open episodes from a
    read of every episode with is_open; never every episode from a read of the open ones."""
    from analytics import access

    spec = CohortSpec(gap_days=14, as_of=demo_as_of)
    wide = ["patient_id", "episode_no", "clinic_id", "duration_days", "is_open", "age_years"]
    narrow = ["patient_id", "episode_no", "duration_days"]
    expected = {
        (tuple(c), o): cohort_episodes(store.StoreReader(demo_store), store.LOCAL_ADMIN, spec,
                                       columns=c, open_only=o)
        for c in (narrow, ["patient_id", "is_open", "age_years"]) for o in (False, True)
    }  # fmt: skip
    reads = []
    original = access.patient_rows
    monkeypatch.setattr(
        access, "patient_rows", lambda *a, **k: reads.append(1) or original(*a, **k)
    )
    fresh = store.StoreReader(demo_store)
    cohort_episodes(fresh, store.LOCAL_ADMIN, spec, columns=wide, open_only=True)
    assert len(reads) == 1
    # open rows cannot give every episode: read
    got = cohort_episodes(fresh, store.LOCAL_ADMIN, spec, columns=narrow)
    assert len(reads) == 2
    pd.testing.assert_frame_equal(got, expected[(tuple(narrow), False)])
    cohort_episodes(fresh, store.LOCAL_ADMIN, spec, columns=wide)
    assert len(reads) == 3
    for columns in (narrow, ["patient_id", "is_open", "age_years"]):
        for open_only in (False, True):
            got = cohort_episodes(
                fresh, store.LOCAL_ADMIN, spec, columns=columns, open_only=open_only
            )
            pd.testing.assert_frame_equal(got, expected[(tuple(columns), open_only)])
    assert len(reads) == 3  # every one taken from the remembered reads
    other = cohort_episodes(fresh, store.LOCAL_ADMIN, spec.replace(gap_days=30), columns=narrow)
    assert len(reads) == 4
    assert len(other) != len(expected[(tuple(narrow), False)])
    fresh.close()


def test_treatment_labels_join_methadone_with_its_dose_band():
    modality = pd.Series(["MMT", "HAT", "MMT", None, "BMT", "MMT"], dtype="str", index=range(3, 9))
    band = pd.Series(["<60", "not_applicable", ">=80", "<60", "not_applicable", "<60"])
    band.index = modality.index
    labels = at_risk.treatment_labels(modality, band)
    assert labels.tolist() == ["MMT <60", "HAT", "MMT >=80", None, "BMT", "MMT <60"]
    assert labels.index.equals(modality.index)


def test_the_model_reads_one_row_per_take_home_status_and_fits_as_on_every_period(
    reader, demo_as_of
):
    params = {"gap_days": 14, "as_of": demo_as_of, "sample_share": None}
    rows = at_risk.patient_rows(reader, store.LOCAL_ADMIN, "model_periods", params, what="t")
    spec = CohortSpec(gap_days=14, as_of=demo_as_of)
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, spec)
    periods = cohort_periods(reader, store.LOCAL_ADMIN, spec, episodes)
    assert len(rows) < len(periods) / 3
    assert (
        rows.groupby(at_risk.KEYS)["is_take_home"]
        .agg(["size", "nunique"])
        .eval("size == nunique")
        .all()
    )
    # each episode's rows tile its periods and carry its event once
    spans = rows.groupby(at_risk.KEYS).agg(
        start=("start_day", "min"), stop=("stop_day", "max"), events=("event_observed", "sum")
    )
    whole = periods.groupby(at_risk.KEYS).agg(
        start=("start_day", "min"), stop=("stop_day", "max"), events=("event_observed", "sum")
    )
    pd.testing.assert_frame_equal(spans, whole.loc[spans.index], check_dtype=False)
    assert (rows.groupby(at_risk.KEYS)["stop_day"].count() <= 2).all()
    merged = at_risk.fit_leaving_model(rows)
    every = at_risk.fit_leaving_model(periods)
    np.testing.assert_allclose(merged.params, every.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(merged.coefficients["se"], every.coefficients["se"], rtol=1e-9)
    open_episodes = episodes[episodes["is_open"]].head(50)
    profile = at_risk.current_profiles(open_episodes.assign(is_take_home=np.arange(50) % 2))
    days = open_episodes["duration_days"].to_numpy()
    np.testing.assert_allclose(
        at_risk.risk_of_leaving(merged, profile, days),
        at_risk.risk_of_leaving(every, profile, days),
        rtol=1e-9,
    )
