"""The episode, covariate, relapse and clinic-month marts on real DuckDB stores.

Hand-written records in a small store check the rules that need other tables (discharges,
screens); the demo store checks invariants and that the generator's true episodes come back.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import store
from analytics.cohort_spec import CohortSpec
from analytics.demo import generate_demo
from analytics.episodes import cohort_episodes, cohort_periods
from analytics.importing import import_frames
from analytics.relapse import clinic_months, missed_dose_days, relapse_events, screen_strings
from tests.conftest import DEMO_PATIENTS, DEMO_SEED

D0 = dt.date(2025, 1, 6)  # a Monday
AS_OF = dt.date(2025, 12, 31)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def _visit_rows(patient: str, clinic: str, days, take_home=None) -> list[dict]:
    take_home = take_home or {}
    return [
        {
            "patient_id": patient,
            "clinic_id": clinic,
            "visit_date": day(d),
            "visit_time": "09:00:00",
            "medication": "methadone",
            "dose_mg": 60 + d // 30,
            "is_supervised": take_home.get(d, 0) == 0,
            "take_home_days": take_home.get(d, 0),
        }
        for d in days
    ]


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three patients with known histories.

    P1 at C1: daily days 0-59 (ends day 59); discharge 'transferred' on day 61; then at C2 from
        day 70 to day 99 with a discharge dated day 50 (before its last visit: ignored).
    P2 at C1: daily days 0-39, a discharge 'completed' on day 30 (before the last visit: ignored
        -> dropped out with no record); weekly opioid screens on days 0..35.
    P3 at C1: daily from day 300 to the cut-off (open), 14-day take-home on day 320.
    P4 at C2: daily days 0-199, opioid screens every 4 weeks (4 negative, then 2 positive).
    """
    p1 = _visit_rows("P1", "C1", range(0, 60)) + _visit_rows("P1", "C2", range(70, 100))
    p2 = _visit_rows("P2", "C1", range(0, 40))
    p3 = _visit_rows("P3", "C1", [d for d in range(300, 360) if not 321 <= d <= 334], {320: 14})
    p4 = _visit_rows("P4", "C2", range(0, 200))
    screens = [
        # P2: weeks 0-3 negative, week 4 positive (relapse after a negative run), week 5 positive
        {
            "patient_id": "P2",
            "clinic_id": "C1",
            "screen_date": day(7 * w + 1),
            "substance": "opioids",
            "result": result,
        }
        for w, result in enumerate(["negative"] * 4 + ["positive", "positive"])
    ] + [
        # P4, screened every 4 weeks: negative at weeks 0, 4, 8, 12, positive at 16 and 20
        {
            "patient_id": "P4",
            "clinic_id": "C2",
            "screen_date": day(28 * k + 2),
            "substance": "opioids",
            "result": result,
        }
        for k, result in enumerate(["negative"] * 4 + ["positive", "positive"])
    ]
    frames = {
        "clinics": pd.DataFrame(
            {
                "clinic_id": ["C1", "C2"],
                "clinic_name": ["One", "Two"],
                "offers_mmt": True,
                "offers_bmt": False,
                "offers_hat": False,
            }
        ),
        "patients": pd.DataFrame(
            {
                "patient_id": ["P1", "P2", "P3", "P4"],
                "birth_year": [1980, 1990, 1970, 1985],
                "sex": ["F", "M", "M", "F"],
            }
        ),
        "admissions": pd.DataFrame(
            {
                "admission_id": ["A1", "A2", "A3", "A4", "A5"],
                "patient_id": ["P1", "P1", "P2", "P3", "P4"],
                "clinic_id": ["C1", "C2", "C1", "C1", "C2"],
                "admission_date": [day(0), day(70), day(0), day(300), day(0)],
                "modality": "MMT",
            }
        ),
        "discharges": pd.DataFrame(
            {
                "discharge_id": ["D1", "D2", "D3"],
                "patient_id": ["P1", "P1", "P2"],
                "clinic_id": ["C1", "C2", "C1"],
                "discharge_date": [day(61), day(50), day(30)],
                "reason_code": ["transferred", "died", "completed"],
            }
        ),
        "dosing_visits": pd.DataFrame(p1 + p2 + p3 + p4),
        "urine_screens": pd.DataFrame(screens),
    }
    path = tmp_path_factory.mktemp("hand") / "hand.duckdb"
    import_frames(path, frames, cutoff=AS_OF, strict=True, source="test")
    return path


@pytest.fixture(scope="module")
def hand_episodes(hand_store: Path) -> pd.DataFrame:
    reader = store.StoreReader(hand_store)
    out = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    reader.close()
    return out.set_index(["patient_id", "episode_no"])


def test_discharge_within_g_days_after_the_last_covered_day_gives_the_reason(hand_episodes):
    first = hand_episodes.loc[("P1", 1)]
    assert (first["end_date"], first["end_status"]) == (pd.Timestamp(day(59)), "transferred")
    assert (first["event_observed"], first["dropout_status"]) == (1, 2)


def test_discharge_before_the_last_visit_is_not_the_end_reason(hand_episodes):
    assert hand_episodes.loc[("P1", 2), "end_status"] == "dropped_out_no_record"
    p2 = hand_episodes.loc[("P2", 1)]
    assert (p2["end_status"], p2["dropout_status"], p2["duration_days"]) == (
        "dropped_out_no_record",
        1,
        40,
    )


def test_readmission_elsewhere_numbers_episodes_per_patient(hand_episodes):
    assert hand_episodes.loc[("P1", 2), "clinic_id"] == "C2"
    assert hand_episodes.loc[("P1", 2), "n_prior_episodes"] == 1
    assert hand_episodes.loc[("P1", 2), "start_date"] == pd.Timestamp(day(70))


def test_open_episode_is_censored_at_the_cut_off(hand_episodes):
    p3 = hand_episodes.loc[("P3", 1)]
    assert (p3["is_open"], p3["event_observed"], p3["dropout_status"]) == (True, 0, 0)
    assert p3["end_status"] == "censored"
    assert p3["duration_days"] == (AS_OF - day(300)).days + 1


def test_baseline_covariates_of_a_known_patient(hand_episodes):
    p2 = hand_episodes.loc[("P2", 1)]
    assert p2["age_years"] == 2025 - 1990
    assert p2["sex"] == "M"
    assert p2["dose_day30_mg"] == 60  # day 30 of the episode is day 29: 60 + 29 // 30
    assert p2["dose_max90_mg"] == 61  # days 30-39
    assert p2["dose_band"] == "60-79"
    assert pd.isna(p2["mspss_family"])  # no assessment: missing stays missing
    assert p2["family_support"] == "unknown"


def test_take_home_is_time_varying_from_its_first_day(hand_store: Path):
    reader = store.StoreReader(hand_store)
    spec = CohortSpec()
    periods = cohort_periods(
        reader, store.LOCAL_ADMIN, spec, cohort_episodes(reader, store.LOCAL_ADMIN, spec)
    )
    reader.close()
    p3 = periods[periods["patient_id"] == "P3"].sort_values("start_day")
    # the take-home on day 320 is day 20 of the episode: a cut there, 0 before and 1 after
    assert 20 in p3["start_day"].tolist()
    assert p3.loc[p3["start_day"] < 20, "is_take_home"].eq(0).all()
    assert p3.loc[p3["start_day"] >= 20, "is_take_home"].eq(1).all()
    assert p3["start_day"].iloc[1:].tolist() == p3["stop_day"].iloc[:-1].tolist()
    assert p3["stop_day"].iloc[-1] == (AS_OF - day(300)).days + 1


def test_missed_doses_inside_an_episode(hand_store: Path):
    reader = store.StoreReader(hand_store)
    missed = missed_dose_days(reader, store.LOCAL_ADMIN, CohortSpec(gap_days=30))
    reader.close()
    # with G = 30, P1's C1 and C2 stays stay separate (other clinic) and have no missed day;
    # P3's take-home covers 320-334 so nothing is missed; the cut-off is covered up to day 359
    missed_p3 = missed[missed["patient_id"] == "P3"]["missed_date"]
    expected = pd.date_range(day(360), AS_OF).date.tolist()
    assert [d.date() if hasattr(d, "date") else d for d in missed_p3] == expected


def test_weekly_urine_strings_and_relapse_events(hand_store: Path):
    reader = store.StoreReader(hand_store)
    strings = screen_strings(reader, store.LOCAL_ADMIN, CohortSpec())
    events = relapse_events(reader, store.LOCAL_ADMIN, CohortSpec())
    reader.close()
    p2 = strings[strings["patient_id"] == "P2"].iloc[0]
    assert p2["opioid_string"] == "----++"
    assert p2["n_screened_weeks"] == 6
    assert p2["proportion_negative"] == pytest.approx(4 / 6)
    p2_events = events[events["patient_id"] == "P2"]
    assert p2_events[["week_no", "relapse_type"]].values.tolist() == [
        [4, "positive_after_negative_run"],
        [5, "two_consecutive_positive"],
    ]
    # screened every 4 weeks: weeks without a screen neither break nor make a run
    p4 = strings[strings["patient_id"] == "P4"].iloc[0]
    assert p4["opioid_string"][:21] == "-ooo-ooo-ooo-ooo+ooo+"
    p4_events = events[events["patient_id"] == "P4"]
    assert p4_events[["week_no", "relapse_type"]].values.tolist() == [
        [16, "positive_after_negative_run"],
        [20, "two_consecutive_positive"],
    ]


# --- the demo store -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_episodes(demo_store: Path) -> pd.DataFrame:
    reader = store.StoreReader(demo_store)
    out = cohort_episodes(reader, store.LOCAL_ADMIN, CohortSpec())
    reader.close()
    return out


def test_no_overlapping_episodes_per_patient(demo_episodes: pd.DataFrame):
    ordered = demo_episodes.sort_values(["patient_id", "start_date"])
    next_start = ordered.groupby("patient_id")["start_date"].shift(-1)
    assert not (next_start <= ordered["end_date"]).any()


def test_durations_and_statuses(demo_episodes: pd.DataFrame):
    assert (demo_episodes["duration_days"] >= 1).all()
    assert demo_episodes[["patient_id", "episode_no"]].duplicated().sum() == 0
    assert demo_episodes["end_status"].notna().all()
    assert ((demo_episodes["end_status"] == "censored") == demo_episodes["is_open"]).all()
    closed = demo_episodes[~demo_episodes["is_open"]]
    assert (
        closed["duration_days"] == (closed["end_date"] - closed["start_date"]).dt.days + 1
    ).all()
    competing = demo_episodes["end_status"].isin(
        ["completed", "transferred", "incarcerated", "died"]
    )
    assert (demo_episodes.loc[competing, "dropout_status"] == 2).all()
    assert (demo_episodes.loc[demo_episodes["is_open"], "dropout_status"] == 0).all()


def test_the_generators_true_episodes_come_back(demo_episodes: pd.DataFrame, demo_as_of):
    truth = generate_demo(n_patients=DEMO_PATIENTS, seed=DEMO_SEED).truth
    truth = truth.assign(
        patient_id=truth["patient_id"].astype(str), clinic_id=truth["clinic_id"].astype(str)
    )
    merged = truth.merge(
        demo_episodes,
        on=["patient_id", "clinic_id", "start_date"],
        how="outer",
        suffixes=("_true", ""),
        indicator=True,
    )
    assert (merged["_merge"] == "both").mean() == 1.0
    closed = merged[~merged["is_open_true"]]
    assert (closed["end_date_true"] == closed["end_date"]).mean() == 1.0
    # an exit within G days of the cut-off cannot be seen yet: the contract keeps it open
    recent_exit = (pd.Timestamp(demo_as_of) - merged["end_date_true"]).dt.days <= 7
    assert ((merged["is_open_true"] | recent_exit) == merged["is_open"]).mean() == 1.0
    recorded = merged[merged["has_discharge_record"] & ~merged["is_open_true"]]
    assert (recorded["reason_code"] == recorded["end_status"]).mean() > 0.99


def test_clinic_months_agree_with_the_episodes(demo_store: Path, demo_episodes, demo_as_of):
    reader = store.StoreReader(demo_store)
    months = clinic_months(reader, store.LOCAL_ADMIN, CohortSpec())
    reader.close()
    assert months["n_admissions"].sum() == len(demo_episodes)
    assert months["n_exits"].sum() == (~demo_episodes["is_open"]).sum()
    last = months[months["month_start"] == pd.Timestamp(demo_as_of.replace(day=1))]
    observed_end = demo_episodes["start_date"] + pd.to_timedelta(
        demo_episodes["duration_days"] - 1, unit="D"
    )
    in_last_month = (
        (observed_end >= pd.Timestamp(demo_as_of.replace(day=1)))
        .groupby(demo_episodes["clinic_id"])
        .sum()
    )
    assert last.set_index("clinic_id")["n_in_treatment"].to_dict() == in_last_month.to_dict()
    evaluable = demo_episodes[
        demo_episodes["start_date"] + pd.Timedelta(days=364) <= pd.Timestamp(demo_as_of)
    ]
    assert months["n_evaluable_365"].sum() == len(evaluable)
    assert months["n_retained_365"].sum() == (evaluable["duration_days"] >= 365).sum()


def test_every_sql_file_is_in_the_build_list():
    listed = {path.resolve() for path in store.build_order()}
    on_disk = {
        path.resolve()
        for layer in store.BUILT_LAYERS
        for path in (store.SQL_DIR / layer).glob("*.sql")
    }
    assert on_disk - listed == set(), "add these files to sql/build_order.txt"
    assert listed - on_disk == set(), "sql/build_order.txt names files that do not exist"


def test_the_gap_rule_and_cut_off_change_without_a_rebuild(demo_store: Path):
    con = duckdb.connect(str(demo_store), read_only=True)
    counts = {
        gap: con.execute(
            "select count(*) from fct_episodes($g, $a)", {"g": gap, "a": dt.date(2026, 6, 30)}
        ).fetchall()[0][0]
        for gap in (7, 14, 30)
    }
    earlier = con.execute(
        "select max(start_date) from fct_episodes(7, $a)", {"a": dt.date(2024, 1, 1)}
    ).fetchall()[0][0]
    con.close()
    assert counts[7] >= counts[14] >= counts[30] > 0
    assert earlier <= dt.date(2024, 1, 1)


def test_fast_spans_equal_the_per_visit_episode_assignment(demo_store: Path):
    con = duckdb.connect(str(demo_store), read_only=True)
    params = {"a": dt.date(2026, 6, 30)}
    fast = con.execute(
        "select patient_id, clinic_id, episode_seq, start_date, end_date, last_visit_date,"
        " n_visits from int_episode_spans(14, $a) order by all",
        params,
    ).fetchall()
    per_visit = con.execute(
        "select patient_id, clinic_id, episode_seq, min(visit_date), max(cover_end_date),"
        " max(visit_date), count(*) from int_episode_visits(14, $a) group by all order by all",
        params,
    ).fetchall()
    con.close()
    assert len(fast) > 500
    assert fast == per_visit


def _expected_signs(episodes, full, as_of, windows) -> pd.DataFrame:
    """The at-risk counts of each open episode, from the full marts in pandas."""
    keys = ["patient_id", "episode_no"]
    open_eps = episodes.loc[episodes["is_open"], [*keys, "start_date"]]
    out = open_eps[keys].copy()
    missed = full["missed_dose_days"].merge(open_eps[keys])
    ago = (pd.Timestamp(as_of) - pd.to_datetime(missed["missed_date"])).dt.days
    for column, days in (("missed_short", windows["missed_short_days"]),
                         ("missed_long", windows["missed_long_days"])):  # fmt: skip
        counts = missed[(ago >= 0) & (ago < days)].groupby(keys).size().rename(column)
        out = out.merge(counts.reset_index(), on=keys, how="left")

    def week_ago(rows):
        rows = rows.merge(open_eps, on=keys)
        start = pd.to_datetime(rows["start_date"]) + pd.to_timedelta(rows["week_no"] * 7, "D")
        return rows, (pd.Timestamp(as_of) - start).dt.days

    weeks, ago = week_ago(full["screen_weeks"])
    positive = weeks[(weeks["opioid_result"] == "+") & (ago < windows["screen_days"])]
    counts = positive.groupby(keys).size().rename("n_positive_screen_weeks").reset_index()
    out = out.merge(counts, on=keys, how="left")
    events, ago = week_ago(full["relapse_events"])
    recent = events[
        (events["relapse_type"] == "positive_after_negative_run") & (ago < windows["relapse_days"])
    ][keys].drop_duplicates()
    out = out.merge(recent.assign(has_recent_relapse=True), on=keys, how="left")
    out["has_recent_relapse"] = out["has_recent_relapse"].eq(True)
    counts = ["missed_short", "missed_long", "n_positive_screen_weeks"]
    out[counts] = out[counts].fillna(0).astype("int32")
    periods = full["episode_periods"].merge(open_eps[keys])
    current = periods.sort_values("stop_day").groupby(keys, as_index=False)["is_take_home"].last()
    out = out.merge(current, on=keys, how="left")
    out["is_take_home"] = out["is_take_home"].fillna(0).astype("int32")
    return out


def test_open_episode_signs_count_what_the_full_marts_hold(demo_store: Path, demo_as_of):
    """The at-risk list's counts come from one SQL query over recent rows only; they must be
    what the full marts (every day and week of every episode) give, for any windows and with
    a clinic filter."""
    reader = store.StoreReader(demo_store)
    params = {
        "gap_days": 7,
        "as_of": demo_as_of,
        "window_days": 14,
        "max_week_no": None,
        "recent_days": None,
        "sample_share": None,
        "clinic_ids": [],
    }
    windows = [
        {"missed_short_days": 7, "missed_long_days": 14, "screen_days": 28, "relapse_days": 84},
        {"missed_short_days": 3, "missed_long_days": 30, "screen_days": 84, "relapse_days": 365},
    ]
    keys = ["patient_id", "episode_no"]
    with reader.cursor() as cur:
        params.update(store.scope_params(cur, store.LOCAL_ADMIN))
        episodes = store.run_query(cur, "cohort_episodes", {**params, **_no_filters()})
        full = {
            name: store.run_query(cur, name, params)
            for name in ("screen_weeks", "relapse_events", "missed_dose_days", "episode_periods")
        }
        for window in windows:
            got = store.run_query(cur, "open_episode_signs", {**params, **window, "clinic_ids": []})
            expected = _expected_signs(episodes, full, demo_as_of, window)
            assert len(got) == int(episodes["is_open"].sum()) > 100
            pd.testing.assert_frame_equal(
                got.sort_values(keys).reset_index(drop=True),
                expected[list(got.columns)].sort_values(keys).reset_index(drop=True),
                obj=str(window),
            )
            assert got[["missed_short", "n_positive_screen_weeks"]].to_numpy().sum() > 0
            assert got["has_recent_relapse"].any()
            assert 0 < got["is_take_home"].sum() < len(got)
        one = store.run_query(
            cur, "open_episode_signs", {**params, **windows[0], "clinic_ids": ["C02"]}
        )
    reader.close()
    in_c02 = episodes.loc[episodes["is_open"] & (episodes["clinic_id"] == "C02"), keys]
    assert len(one) == len(in_c02) > 0
    assert set(one["patient_id"]) == set(in_c02["patient_id"])


AT_RISK_WINDOWS = {
    "missed_short_days": 7,
    "missed_long_days": 14,
    "screen_days": 28,
    "relapse_days": 84,
}


def _no_filters() -> dict:
    from analytics.episodes import cohort_params

    return cohort_params(CohortSpec(), dt.date(2026, 6, 30))


def test_the_readers_cached_marts_give_the_same_rows_as_the_store(demo_store: Path):
    """StoreReader derives fct_episodes, covariates, periods and missed days once per (gap,
    cut-off) and shadows the store's macros with cached copies: every named query that takes
    a gap rule must return exactly what the store itself returns."""
    names = sorted(
        path.stem.removeprefix("q_")
        for path in (store.SQL_DIR / "queries").glob("q_*.sql")
        if "$gap_days" in path.read_text(encoding="utf-8")
    )
    assert len(names) >= 10
    plain = duckdb.connect(str(demo_store), read_only=True)
    for gap, as_of in ((30, dt.date(2026, 6, 30)), (7, dt.date(2024, 1, 1))):
        params = {
            **_no_filters(),
            "gap_days": gap,
            "as_of": as_of,
            "window_days": 14,
            "max_week_no": None,
            "recent_days": 84,
            "sample_share": 0.5,
            **AT_RISK_WINDOWS,
            **store.scope_params(plain, store.LOCAL_ADMIN),
        }
        for name in names:
            # a fresh reader each time: a cache filled by an earlier query must not hide a
            # query that forgets to fill what it needs
            reader = store.StoreReader(demo_store)
            with reader.cursor() as cur:
                cached = store.run_query(cur, name, params)
            reader.close()
            direct = store.run_query(plain, name, params)
            keys = list(direct.columns)
            pd.testing.assert_frame_equal(
                cached.sort_values(keys).reset_index(drop=True),
                direct.sort_values(keys).reset_index(drop=True),
                obj=f"{name} G={gap} as_of={as_of}",
            )
    plain.close()


def _every_querys_params(con: duckdb.DuckDBPyConnection) -> dict:
    """A value for every named query's parameters (each binds the ones it names)."""
    return {
        **_no_filters(),
        "gap_days": 14,
        "as_of": dt.date(2026, 6, 30),
        "window_days": 14,
        "max_week_no": None,
        "recent_days": 84,
        "sample_share": 0.5,
        **AT_RISK_WINDOWS,
        "clinic_id": "C01",
        "import_id": 1,
        **store.scope_params(con, store.LOCAL_ADMIN),
    }


def test_named_queries_give_the_frames_duckdb_itself_converts(demo_store: Path):
    """run_query converts through Arrow for speed; every named query's frame must be what
    DuckDB's own ``.df()`` gives: same values, dtypes (dates, nullable integers) and order."""
    paths = sorted((store.SQL_DIR / "queries").glob("q_*.sql"))
    assert len(paths) >= 20
    con = duckdb.connect(str(demo_store), read_only=True)
    params = _every_querys_params(con)
    for path in paths:
        name = path.stem.removeprefix("q_")
        sql = path.read_text(encoding="utf-8")
        named = set(re.findall(r"\$([a-z_]+)", sql))
        bound = {key: value for key, value in params.items() if key in named}
        fast = store.run_query(con, name, params)
        slow = con.execute(sql, bound).df()
        assert len(fast) > 0 or name.startswith("quarantine"), name
        # rows of equal sort keys come in any order from a parallel scan
        keys = list(slow.columns)
        pd.testing.assert_frame_equal(
            fast.sort_values(keys).reset_index(drop=True),
            slow.sort_values(keys).reset_index(drop=True),
            obj=name,
        )
        # patient-level reads keep text in Arrow: the same values, missing text as NaN
        in_arrow = store.run_query(con, name, params, text_as_arrow=True)
        text = [c for c in slow.columns if slow[c].dtype == object]
        assert all(in_arrow[c].dtype == "str" for c in text), name
        pd.testing.assert_frame_equal(
            in_arrow.astype(dict.fromkeys(text, object)).sort_values(keys, ignore_index=True),
            slow.sort_values(keys, ignore_index=True),
            obj=name,
        )
    con.close()


def test_frame_conversion_matches_duckdb_for_every_column_type() -> None:
    con = duckdb.connect()
    rows = """
        select * from (values
            (1::tinyint, 1::int, 1::bigint, true, 1.5::double, 'a', date '2020-01-01',
             timestamp '2020-01-01 10:00', 2.5::decimal(5, 2), 3::hugeint, 4::usmallint,
             1.5::float, 7::int, false, date '2021-02-03'),
            (null, null, null, null, null, null, null, null, null, null, null, null, 8, true,
             date '2021-02-04')
        ) t(i8, i32, i64, b, d, s, day, ts, dec, huge, u16, f, whole, flag, every_day)
    """
    for sql in (
        rows,
        f"select * from ({rows}) where false",  # empty: dtypes of a no-null column
        f"select [whole] as a_list, * from ({rows})",  # a list: DuckDB converts it all
        "select 1 as a, 2 as a",
    ):
        fast = store.frame_of(con.sql(sql))
        pd.testing.assert_frame_equal(fast, con.sql(sql).df(), obj=sql)
    typed = store.frame_of(con.sql(rows))
    assert str(typed["i8"].dtype) == "Int8"
    assert typed["i8"].isna().tolist() == [False, True]
    assert str(typed["day"].dtype) == "datetime64[us]"
    assert typed["dec"].tolist()[0] == 2.5
    con.close()


def test_the_offered_gap_rules_are_read_from_the_store_and_others_derived_once(
    demo_store: Path,
):
    """The dashboard's gap rules at the data cut-off come from the marts stored with the data
    (nothing derived in the reader); another cut-off is derived into the reader's cache."""
    reader = store.StoreReader(demo_store)
    cache_tables = [f"memory.main.cache_{mart}" for mart in store.CACHED_MARTS]

    def cached_rows(cur) -> list[int]:
        return [cur.execute(f"select count(*) from {t}").fetchall()[0][0] for t in cache_tables]

    with reader.cursor() as cur:
        cutoff = store.data_cutoff(cur)
        scope = store.scope_params(cur, store.LOCAL_ADMIN)
        for gap in store.MATERIALIZED_GAP_DAYS:
            for name in (
                "relapse_events",
                "episode_periods",
                "patient_months",
                "open_episode_signs",
            ):
                params = {**_no_filters(), "gap_days": gap, "as_of": cutoff, **scope}
                params.update(recent_days=None, sample_share=None, **AT_RISK_WINDOWS)
                assert len(store.run_query(cur, name, params)) > 0
        assert cached_rows(cur) == [0] * len(cache_tables)
        earlier = {**_no_filters(), "gap_days": 7, "as_of": dt.date(2024, 1, 1), **scope}
        store.run_query(cur, "relapse_events", earlier)
        filled = dict(zip(store.CACHED_MARTS, cached_rows(cur), strict=True))
    reader.close()
    assert filled["fct_episodes"] > 0
    assert filled["fct_screen_weeks"] > 0
    assert filled["fct_episode_periods"] == 0  # not needed by relapse events


def test_screen_weeks_up_to_a_week_are_the_first_weeks_of_all(demo_store: Path, demo_as_of):
    reader = store.StoreReader(demo_store)
    params = {
        "gap_days": 14,
        "as_of": demo_as_of,
        "max_week_no": None,
        "sample_share": None,
        "clinic_ids": [],
    }
    with reader.cursor() as cur:
        params.update(store.scope_params(cur, store.LOCAL_ADMIN))
        every = store.run_query(cur, "screen_weeks", params)
        first_year = store.run_query(cur, "screen_weeks", {**params, "max_week_no": 52})
    reader.close()
    keys = ["patient_id", "episode_no", "week_no"]
    expected = every[every["week_no"] <= 52].sort_values(keys, ignore_index=True)
    assert 0 < len(expected) < len(every)
    pd.testing.assert_frame_equal(first_year.sort_values(keys, ignore_index=True), expected)


def test_materialised_marts_are_stored_in_their_row_order(demo_store: Path):
    """Each gap rule's rows are stored sorted by MART_ROW_ORDER: what lets a window of recent
    days or weeks, or a patient sample, skip the row groups outside it."""
    con = duckdb.connect(str(demo_store), read_only=True)
    assert set(store.MART_ROW_ORDER) >= {"fct_missed_dose_days", "fct_screen_weeks"}
    for mart, order in store.MART_ROW_ORDER.items():
        columns = [c.strip() for c in order.split(",")]
        for gap in store.MATERIALIZED_GAP_DAYS:
            stored = con.execute(
                f"select {order} from materialized_{mart} where cache_gap_days = $g order by rowid",
                {"g": gap},
            ).df()
            assert len(stored) > 100, (mart, gap)
            ordered = stored.sort_values(columns, kind="stable", ignore_index=True)
            pd.testing.assert_frame_equal(stored, ordered, obj=f"{mart} G={gap}")
    # the stored sample key is the hash a patient sample is drawn by
    for mart in ("fct_episode_periods", "fct_screen_weeks", "fct_missed_dose_days"):
        mismatched = con.execute(
            f"select count(*) from materialized_{mart}"
            " where patient_sample_key <> hash(patient_id) % 1000000"
        ).fetchall()[0][0]
        assert mismatched == 0, mart
    con.close()


def test_no_named_query_returns_the_unkeyed_sample_key(demo_store: Path):
    """hash(patient_id) is the same in every store and for every user: as a column it would
    link a researcher's pseudonymous rows to the patient. Queries use it inside SQL only."""
    con = duckdb.connect(str(demo_store), read_only=True)
    params = _every_querys_params(con)
    for path in sorted((store.SQL_DIR / "queries").glob("q_*.sql")):
        columns = store.run_query(con, path.stem.removeprefix("q_"), params).columns
        assert "patient_sample_key" not in columns, path.name
        assert "week_start_date" not in columns, path.name  # internal: the window's filter
    con.close()


def test_cohort_rows_come_in_clinic_start_patient_order_from_both_layers(demo_store: Path):
    """Cohort rows come in a fixed order (analyses and samples are reproducible), from the
    layer stored with the data and from the reader's cache, with and without filters."""
    from analytics.episodes import cohort_params

    order = ["clinic_id", "start_date", "patient_id", "episode_no"]
    reader = store.StoreReader(demo_store)
    with reader.cursor() as cur:
        scope = store.scope_params(cur, store.LOCAL_ADMIN)
        cutoff = store.data_cutoff(cur)
        # stored with the data (the cut-off), derived into the reader's cache (an earlier one)
        for gap, as_of in ((14, cutoff), (30, dt.date(2024, 1, 1))):
            for spec in (CohortSpec(), CohortSpec(clinic_ids=("C02", "C01"), sexes=("F",))):
                params = {**cohort_params(spec.replace(gap_days=gap), as_of), **scope}
                rows = store.run_query(cur, "cohort_episodes", params)
                assert len(rows) > 10
                ordered = rows.sort_values(order, kind="stable")
                assert rows.index.equals(ordered.index), (gap, as_of, spec)
                assert rows["clinic_id"].nunique() > 1
    reader.close()


@pytest.mark.parametrize(
    "viewer",
    [
        store.LOCAL_ADMIN,
        store.Viewer(role="researcher", clinic_ids=None, identifiable=False, user_name="rita"),
    ],
    ids=["identifiable", "pseudonymised"],
)
def test_mart_rows_join_the_cohort_alike_in_pandas_and_duckdb(demo_store: Path, viewer):
    """Small cohorts join the marts in pandas, large ones in DuckDB: the same frames, for
    stored ids and for pseudonyms alike (their text stays Arrow text)."""
    from analytics import relapse
    from analytics.episodes import cohort_episodes

    reader = store.StoreReader(demo_store)
    spec = CohortSpec(sexes=("F",), modalities=("MMT",))  # the join drops rows
    episodes = cohort_episodes(reader, viewer, spec)
    assert episodes["patient_id"].dtype == "str"
    reads = {
        "screen_weeks": ({"max_week_no": None, "sample_share": None}, "week_no"),
        "relapse_events": ({}, "week_no"),
        "missed_dose_days": ({"sample_share": None}, "missed_date"),
        "patient_months": ({}, "month_start"),
    }
    if not viewer.identifiable:
        # shifted months are taken to their first day, so two of a patient's months can land
        # on one (Feb 1 and Mar 1 moved by 30 days are both in March): no order to compare
        del reads["patient_months"]
    for name, (params, then) in reads.items():
        rows = relapse._mart(reader, viewer, spec, name, **params)
        order = ["patient_id", "episode_no", then]
        if name == "relapse_events":
            order.append("relapse_type")
        in_pandas = relapse._in_cohort(rows, episodes, order, in_duckdb=False)
        in_duckdb = relapse._in_cohort(rows, episodes, order, in_duckdb=True)
        assert 0 < len(in_pandas) < len(rows), name
        pd.testing.assert_frame_equal(in_duckdb, in_pandas, obj=name)
    reader.close()
