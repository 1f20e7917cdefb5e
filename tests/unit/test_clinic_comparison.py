"""Clinic comparison: observed against survival_at, expected from the case-mix model, funnel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import clinic_comparison as cc
from analytics import store
from analytics.charts import funnel_points
from analytics.cohort_spec import CohortSpec
from analytics.episodes import cohort_episodes
from analytics.errors import RetentionError
from analytics.survival import survival_at

MANAGER = store.Viewer(
    role="clinic_manager", clinic_ids=frozenset({"C04"}), identifiable=True, user_name="m"
)


@pytest.fixture(scope="module")
def reader(demo_store):
    reader = store.StoreReader(demo_store)
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def comparison(reader):
    return cc.compare_clinics(reader, store.LOCAL_ADMIN, CohortSpec())


def test_observed_is_each_clinics_km_at_one_year(reader, comparison):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    # R: summary(survfit(Surv(duration_days, event) ~ clinic_id, data = episodes), times = 365)
    km = survival_at(
        episodes, duration="duration_days", event="event", times=[365], group="clinic_id"
    ).set_index("group")
    table = comparison.table.set_index("clinic_id")
    np.testing.assert_allclose(table["observed"], km.loc[table.index, "survival"], rtol=1e-12)
    pooled = survival_at(episodes, duration="duration_days", event="event", times=[365])
    assert comparison.target == pytest.approx(pooled["survival"].iloc[0], rel=1e-12)
    assert table["n_episodes"].sum() == len(episodes)


def test_expected_values_are_proportions_that_balance(comparison):
    table = comparison.table
    assert table["expected"].between(0, 1, inclusive="neither").all()
    # indirect standardisation: observed - expected averages out over all episodes
    balance = np.average(table["difference"], weights=table["n_episodes"])
    assert abs(balance) < 0.03


def test_expected_survival_of_each_episode_equals_predict_survival(reader):
    episodes = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    model, fast = cc.fit_case_mix(episodes)
    rows = np.random.default_rng(1).choice(len(episodes), 6, replace=False)
    frame = cc.case_mix_frame(episodes)
    slow = [model.predict_survival(frame.iloc[[i]], [365])["survival"].iloc[0] for i in rows]
    np.testing.assert_allclose(fast[rows], slow, rtol=1e-10)
    assert "dose_day30_mg" not in model.design.covariates
    with pytest.raises(RetentionError, match="other episodes"):
        cc.observed_and_expected(episodes.iloc[:-1], fast)


def _synthetic_episodes(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for k, clinic in enumerate(["K1", "K2", "K3", "K4", "K5", "WORSE"]):
        n = 400
        age = rng.uniform(20, 60, n)
        sex = rng.choice(["M", "F"], n)
        hazard = 1 / 500 * np.exp(-0.02 * (age - 40) - 0.4 * (sex == "F"))
        if clinic == "WORSE":
            hazard = hazard * 2.5
        time = rng.exponential(1 / hazard)
        follow = rng.uniform(400, 1500, n)
        frames.append(
            pd.DataFrame(
                {
                    "clinic_id": clinic,
                    "clinic_name": f"Clinic {clinic}",
                    "duration_days": np.ceil(np.minimum(time, follow)),
                    "event": (time <= follow).astype(int),
                    "age_years": age.round(),
                    "sex": sex,
                    "modality": "MMT",
                    "n_prior_episodes": rng.integers(0, 3, n) + k % 2,
                    "family_support": rng.choice(["low", "moderate", "high"], n),
                    **{c: rng.integers(0, 3, n) for c in cc.OBSTACLE_SCORES},
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_clinic_known_to_be_worse_lands_outside_the_limits():
    episodes = _synthetic_episodes()
    _, expected = cc.fit_case_mix(episodes)
    table = cc.observed_and_expected(episodes, expected)
    points = funnel_points(table, target=cc.pooled_target(episodes)).set_index("clinic_id")
    assert points.loc["WORSE", "status"] == "outside 99.8% limits"
    assert points.loc["WORSE", "direction"] == "below"
    assert (points.drop(index="WORSE")["observed"] > points.loc["WORSE", "observed"]).all()


def test_managers_see_other_clinics_anonymously(reader):
    comparison = cc.compare_clinics(reader, MANAGER, CohortSpec())
    table = comparison.table
    own = table[table["is_own"]]
    assert list(own["clinic_id"]) == ["C04"]
    assert own["clinic_name"].iloc[0] == "Old Town methadone clinic"
    others = table[~table["is_own"] & (table["clinic_id"] != "pooled")]
    assert others["clinic_name"].str.fullmatch(r"Clinic [A-Z]").all()
    assert (others["clinic_id"] == others["clinic_name"]).all()
    text = table.to_csv()
    for real in ("C01", "C02", "Riverside", "Eastfield"):
        assert real not in text
    curves, risk, label = cc.clinic_curves(reader, MANAGER, CohortSpec(), clinic_id="Clinic A")
    assert label == "Clinic A"
    assert set(curves["group"]) == {"Clinic A", cc.REST_LABEL}
    assert risk["n_risk"].dropna().ge(11).all()  # small cells suppressed


def test_admins_see_every_clinic_and_curves_against_the_rest(reader, comparison):
    assert comparison.table["clinic_id"].str.fullmatch(r"C0\d").all()
    curves, risk, label = cc.clinic_curves(reader, store.LOCAL_ADMIN, CohortSpec(), clinic_id="C04")
    assert label == "Old Town methadone clinic"
    total = risk[risk["time"] == 0]["n_risk"].sum()
    assert total == comparison.table["n_episodes"].sum()
    shown = comparison.display()
    assert shown["Clinic"].iloc[0] == "C01"
    points = comparison.points().set_index("clinic_id")
    for row in shown.itertuples(index=False):
        point = points.loc[row.Clinic]
        assert row._2.startswith(f"{point['observed']:.1%} (")  # observed (95% CI)
        if point["status"] == "within 95% limits":
            assert row.Funnel == "within"
        else:
            limit = "99.8%" if point["status"] == "outside 99.8% limits" else "95%"
            assert row.Funnel == f"{point['direction']} {limit}"
    assert set(shown["Funnel"]) >= {"within", "below 99.8%"}  # the demo has both
    assert comparison.label("C01") == "C01 · Riverside heroin-assisted treatment service"


def test_researchers_see_every_clinic_anonymously(reader):
    researcher = store.Viewer(role="researcher", identifiable=False, user_name="r")
    table = cc.compare_clinics(reader, researcher, CohortSpec()).table
    named = table[table["clinic_id"] != "pooled"]
    assert named["clinic_name"].str.fullmatch(r"Clinic [A-Z]").all()
    assert not table["is_own"].any()


def test_a_level_without_events_takes_the_reference_levels_hazard():
    episodes = _synthetic_episodes()
    rare = episodes.index[:3]
    episodes.loc[rare, "sex"] = "X"
    episodes.loc[rare, "event"] = 0  # no event: its own coefficient would be infinite
    model, expected = cc.fit_case_mix(episodes)
    assert not any("X" in term for term in model.design.columns)
    as_reference = episodes.loc[rare].assign(sex="F")  # F: the first level, with events
    frame = cc.case_mix_frame(as_reference)
    as_profiles = [
        model.predict_survival(frame.iloc[[i]], [365])["survival"].iloc[0] for i in range(3)
    ]
    np.testing.assert_allclose(expected[rare], as_profiles, rtol=1e-12)
    assert model.n == len(episodes)  # merged, not dropped


# --- comparisons stored by the writer --------------------------------------------------------

RESEARCHER = store.Viewer(role="researcher", identifiable=False, user_name="r")


def _live_basis(reader, viewer, spec):
    episodes = cc._comparison_episodes(reader, viewer, cc._comparison_spec(reader, spec))
    return cc.comparison_basis(episodes)


def _assert_same_basis(stored, live):
    pd.testing.assert_frame_equal(
        stored.table.reset_index(drop=True), live.table, check_dtype=False, check_exact=True
    )
    assert (stored.target, stored.n_episodes, stored.n_events) == (
        live.target,
        live.n_episodes,
        live.n_events,
    )


def test_every_stored_setting_equals_the_live_fit(reader, demo_as_of):
    settings = cc.stored_settings(demo_as_of)
    assert {(s.gap_days, s.outcome) for s in settings} == {
        (g, o) for g in (7, 14, 30) for o in ("any_exit", "dropout")
    }
    for spec in settings:
        for viewer, deidentified in ((store.LOCAL_ADMIN, False), (RESEARCHER, True)):
            stored = cc.stored_basis(reader, spec, deidentified=deidentified)
            assert stored is not None, (spec, deidentified)
            _assert_same_basis(stored, _live_basis(reader, viewer, spec))


def test_the_page_reads_the_stored_comparison_and_fits_other_cohorts(reader, demo_as_of):
    comparison = cc.compare_clinics(reader, MANAGER, CohortSpec(gap_days=14, clinic_ids=("C04",)))
    stored = cc.stored_basis(reader, CohortSpec(gap_days=14, as_of=demo_as_of), deidentified=True)
    shown = comparison.table.set_index("clinic_name")
    assert (
        shown.loc["Old Town methadone clinic", "expected"]
        == (stored.table.set_index("clinic_id").loc["C04", "expected"])
    )
    assert comparison.n_episodes == stored.n_episodes
    # a researcher's filter, another cut-off: not stored, fitted
    filtered = CohortSpec(modalities=("MMT", "BMT"), as_of=demo_as_of)
    earlier = CohortSpec(as_of=demo_as_of.replace(year=demo_as_of.year - 1))
    for spec in (filtered, earlier):
        assert cc.stored_basis(reader, spec, deidentified=False) is None
    fitted = cc.compare_clinics(reader, store.LOCAL_ADMIN, filtered)
    live = _live_basis(reader, store.LOCAL_ADMIN, filtered)
    assert fitted.n_episodes == live.n_episodes < stored.n_episodes


def test_comparisons_stored_by_other_code_are_not_read(reader, demo_as_of, monkeypatch):
    spec = CohortSpec(as_of=demo_as_of)
    before = cc.compare_clinics(reader, store.LOCAL_ADMIN, spec)
    monkeypatch.setattr(store, "results_hash", lambda: "changed-code")
    assert cc.stored_basis(reader, spec, deidentified=False) is None
    after = cc.compare_clinics(reader, store.LOCAL_ADMIN, spec)  # fitted live, same numbers
    pd.testing.assert_frame_equal(after.table, before.table, check_exact=True)


def test_a_store_with_older_results_recomputes_only_them(writable_demo_store, demo_as_of):
    import duckdb

    with duckdb.connect(str(writable_demo_store)) as con:
        marts_before = con.execute("select count(*) from materialized_fct_episodes").fetchone()
        con.execute(f"delete from {cc.STORED_TABLE}")
        con.execute(
            "update store_settings set setting_value = 'older' where setting_key = 'results_hash'"
        )
    assert store.ensure_current_layers(writable_demo_store)
    assert not store.ensure_current_layers(writable_demo_store)
    with duckdb.connect(str(writable_demo_store), read_only=True) as con:
        assert store.stored_setting(con, "results_hash") == store.results_hash()
        assert (
            con.execute(
                f"select count(distinct (gap_days, outcome, deidentified)) from {cc.STORED_TABLE}"
            ).fetchone()[0]
            == 12
        )
        assert (
            con.execute("select count(*) from materialized_fct_episodes").fetchone() == marts_before
        )


def test_ages_over_89_are_stored_as_a_deidentified_reader_sees_them(writable_demo_store):
    with store.writable_copy(writable_demo_store) as con:
        # forty patients sixty years older: many of their ages pass 90
        con.execute(
            "update patients set birth_year = birth_year - 60 where patient_id in"
            " (select patient_id from patients order by patient_id limit 40)"
        )
    aged = store.StoreReader(writable_demo_store)
    try:
        with aged.cursor() as cur:
            spec = CohortSpec(as_of=store.data_cutoff(cur))
            oldest = cur.execute(
                "select max(age_years) from fct_episode_covariates(7, $a)", {"a": spec.as_of}
            ).fetchone()[0]
        assert oldest > 90
        admin = cc.stored_basis(aged, spec, deidentified=False)
        hidden = cc.stored_basis(aged, spec, deidentified=True)
        assert not np.array_equal(admin.table["expected"], hidden.table["expected"])
        _assert_same_basis(admin, _live_basis(aged, store.LOCAL_ADMIN, spec))
        _assert_same_basis(hidden, _live_basis(aged, RESEARCHER, spec))
    finally:
        aged.close()


def test_a_disk_too_full_to_refresh_the_results_leaves_the_store_readable(
    writable_demo_store, demo_as_of, monkeypatch
):
    import errno
    import shutil

    import duckdb

    with duckdb.connect(str(writable_demo_store)) as con:
        con.execute(
            "update store_settings set setting_value = 'older' where setting_key = 'results_hash'"
        )

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    assert not store.ensure_current_layers(writable_demo_store)
    older = store.StoreReader(writable_demo_store)
    try:
        spec = CohortSpec(as_of=demo_as_of)
        assert cc.stored_basis(older, spec, deidentified=False) is None
        assert cc.compare_clinics(older, store.LOCAL_ADMIN, spec).n_episodes > 0  # fitted live
    finally:
        older.close()
    assert list(writable_demo_store.parent.glob("*.writing")) == []


def test_a_narrow_interval_is_shown_with_a_decimal_instead_of_as_one_percent():
    assert cc._interval(0.53, 0.68) == "53–68%"
    # a clinic of 100,000 episodes: whole percents would read "51–51%"
    assert cc._interval(0.5091, 0.5138) == "50.9–51.4%"
    assert cc._interval(0.6151, 0.6171) == "61.5–61.7%"
    assert cc._interval(0.6149, 0.6171) == "61–62%"  # whole percents that differ


def test_one_clinic_cannot_be_compared(reader):
    episodes = cc._comparison_episodes(
        reader, store.LOCAL_ADMIN, cc._comparison_spec(reader, CohortSpec())
    )
    one = episodes[episodes["clinic_id"] == "C04"]
    with pytest.raises(RetentionError, match="at least two clinics"):
        cc.comparison_basis(one)
