"""The episode contract (issue 4), case by case, on hand-written visit histories.

Each case runs ``analytics.episodes.derive_episodes``, which runs the store's own SQL macros.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics.episodes import EPISODE_COLUMNS, EpisodeInputError, derive_episodes

D0 = dt.date(2025, 1, 1)
AS_OF = dt.date(2025, 12, 31)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def visits(*days: int, patient: str = "P1", clinic: str = "C1", take_home=None) -> pd.DataFrame:
    take_home = take_home or {}
    return pd.DataFrame(
        {
            "patient_id": patient,
            "clinic_id": clinic,
            "visit_date": [day(d) for d in days],
            "take_home_days": [take_home.get(d, 0) for d in days],
        }
    )


def daily(first: int, last: int) -> list[int]:
    """Consecutive visit days first..last."""
    return list(range(first, last + 1))


def spans(frame: pd.DataFrame) -> list[tuple]:
    return [
        (row.start_date, row.end_date, row.n_visits, row.duration_days, row.event_observed)
        for row in frame.itertuples()
    ]


def test_returns_exactly_the_contract_columns() -> None:
    out = derive_episodes(visits(0, 1, 2), as_of=AS_OF)
    assert tuple(out.columns) == EPISODE_COLUMNS
    assert out.iloc[0].to_dict() == {
        "patient_id": "P1",
        "clinic_id": "C1",
        "episode_no": 1,
        "start_date": day(0),
        "end_date": day(2),
        "n_visits": 3,
        "duration_days": 3,
        "event_observed": 1,
    }


def test_gap_of_exactly_g_uncovered_days_keeps_the_episode() -> None:
    # daily visits to day 10, next visit day 18: days 11..17 uncovered = 7 = G
    out = derive_episodes(visits(*daily(0, 10), 18), gap_days=7, as_of=AS_OF)
    assert spans(out) == [(day(0), day(18), 12, 19, 1)]


def test_gap_of_g_plus_one_days_starts_a_new_episode() -> None:
    # days 11..18 uncovered = 8 = G + 1
    out = derive_episodes(visits(*daily(0, 10), 19), gap_days=7, as_of=AS_OF)
    assert spans(out) == [(day(0), day(10), 11, 11, 1), (day(19), day(19), 1, 1, 1)]
    assert out["episode_no"].tolist() == [1, 2]


def test_the_gap_rule_is_a_parameter() -> None:
    history = visits(*daily(0, 10), 30)  # 19 uncovered days
    assert len(derive_episodes(history, gap_days=7, as_of=AS_OF)) == 2
    assert len(derive_episodes(history, gap_days=14, as_of=AS_OF)) == 2
    assert len(derive_episodes(history, gap_days=30, as_of=AS_OF)) == 1


def test_take_homes_bridge_a_gap() -> None:
    # day 10 with 6 take-home days covers 10..16; next visit day 25: uncovered 17..24 = 8 > 7
    assert len(derive_episodes(visits(*daily(0, 10), 25, take_home={10: 6}), as_of=AS_OF)) == 2
    # with 7 take-home days it covers 10..17; uncovered 18..24 = 7: one episode
    out = derive_episodes(visits(*daily(0, 10), 25, take_home={10: 7}), as_of=AS_OF)
    assert spans(out) == [(day(0), day(25), 12, 26, 1)]


def test_take_home_cover_extends_the_end_date() -> None:
    out = derive_episodes(visits(0, 5, take_home={5: 6}), as_of=AS_OF)
    assert spans(out) == [(day(0), day(11), 2, 12, 1)]


def test_an_earlier_long_cover_is_not_cut_by_a_shorter_later_one() -> None:
    # a 28-day depot on day 0 covers 0..28; a visit on day 3 without take-homes; then day 30
    out = derive_episodes(visits(0, 3, 30, take_home={0: 28}), as_of=AS_OF)
    assert spans(out) == [(day(0), day(30), 3, 31, 1)]


def test_two_visits_the_same_day_are_one_day() -> None:
    twice = pd.concat([visits(0, 1, 2), visits(1, 2)], ignore_index=True)
    twice["visit_time"] = ["08:00:00"] * 3 + ["17:00:00"] * 2
    out = derive_episodes(twice, as_of=AS_OF)
    assert spans(out) == [(day(0), day(2), 5, 3, 1)]


def test_duplicate_rows_count_once() -> None:
    duplicated = pd.concat([visits(0, 1, 2), visits(1, 2)], ignore_index=True)
    out = derive_episodes(duplicated, as_of=AS_OF)
    assert spans(out) == [(day(0), day(2), 3, 3, 1)]


def test_visits_after_as_of_are_ignored() -> None:
    out = derive_episodes(visits(0, 1, 2, 40, 41), as_of=day(30))
    assert spans(out) == [(day(0), day(2), 3, 3, 1)]
    assert derive_episodes(visits(40, 41), as_of=day(30)).empty


def test_take_home_cover_is_cut_at_as_of() -> None:
    out = derive_episodes(visits(*daily(0, 28), take_home={28: 6}), as_of=day(30))
    assert out.loc[0, "end_date"] == day(30)


def test_episode_within_g_days_of_as_of_is_open_and_censored() -> None:
    # last covered day 23, as_of day 30: 7 days = G -> still open
    out = derive_episodes(visits(*daily(0, 23)), gap_days=7, as_of=day(30))
    assert spans(out) == [(day(0), day(23), 24, 31, 0)]  # duration as_of - start + 1
    # last covered day 22: 8 days before as_of -> ended
    out = derive_episodes(visits(*daily(0, 22)), gap_days=7, as_of=day(30))
    assert spans(out) == [(day(0), day(22), 23, 23, 1)]


def test_readmission_at_another_clinic_is_a_new_episode() -> None:
    history = pd.concat([visits(0, 1, 2, clinic="C1"), visits(3, 4, clinic="C2")])
    out = derive_episodes(history, as_of=AS_OF)
    assert out[["clinic_id", "episode_no", "start_date", "end_date"]].values.tolist() == [
        ["C1", 1, day(0), day(2)],
        ["C2", 2, day(3), day(4)],
    ]


def test_patients_are_independent() -> None:
    history = pd.concat([visits(0, 1, patient="A"), visits(0, 20, patient="B")])
    out = derive_episodes(history, as_of=AS_OF)
    assert out.groupby("patient_id").size().to_dict() == {"A": 1, "B": 2}


def test_order_of_input_rows_does_not_matter() -> None:
    history = visits(0, 3, 9, 17, 18, 40, 41, 60, take_home={3: 5, 41: 12})
    shuffled = history.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(
        derive_episodes(history, as_of=AS_OF), derive_episodes(shuffled, as_of=AS_OF)
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"patient_id": ["P"], "visit_date": [D0]}), "clinic_id"),
        (
            pd.DataFrame({"patient_id": ["P"], "clinic_id": ["C"], "visit_date": ["not a date"]}),
            "visit_date is missing or not a date in 1 row",
        ),
        (
            pd.DataFrame(
                {
                    "patient_id": ["P"],
                    "clinic_id": ["C"],
                    "visit_date": [D0],
                    "take_home_days": [-1],
                }
            ),
            "take_home_days must be a whole number >= 0; 1 row",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(EpisodeInputError, match=message):
        derive_episodes(frame, as_of=AS_OF)


def test_gap_days_is_checked() -> None:
    with pytest.raises(EpisodeInputError, match="gap_days"):
        derive_episodes(visits(0), gap_days=0, as_of=AS_OF)
