"""Small-cell suppression: primary, complementary, risk tables, curves, table one, funnel."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.suppression import (
    display_suppressed,
    suppress_counts,
    suppress_funnel,
    suppress_risk_table,
    suppress_survival_curve,
    suppress_table_one,
    suppression_threshold,
)
from analytics.survival.km import kaplan_meier


def _lines_are_safe(values: np.ndarray, hidden: np.ndarray, threshold: int) -> None:
    """No line has exactly one hidden cell, and hidden cells add up to >= threshold (or the
    whole line is hidden)."""
    for line_values, line_hidden in [
        *((values[i], hidden[i]) for i in range(values.shape[0])),
        *((values[:, j], hidden[:, j]) for j in range(values.shape[1])),
    ]:
        n_hidden = int(line_hidden.sum())
        if n_hidden == 0 or line_hidden.all():
            continue
        assert n_hidden >= 2
        assert line_values[line_hidden].sum() >= threshold


def test_primary_suppression_hides_small_counts_and_shows_zeros() -> None:
    table = pd.DataFrame({"clinic_id": list("abcd"), "n": [0, 3, 10, 11]})
    out = suppress_counts(table, ["n"], 11, complementary="none")
    assert out["n"].tolist()[0] == 0
    assert np.isnan(out["n"].tolist()[1])
    assert np.isnan(out["n"].tolist()[2])
    assert out["n"].tolist()[3] == 11
    hidden_zero = suppress_counts(table, ["n"], 11, complementary="none", show_zeros=False)
    assert np.isnan(hidden_zero["n"].iloc[0])


def test_single_hidden_cell_gets_a_complement_in_rows_and_columns() -> None:
    table = pd.DataFrame({"a": [5, 40, 30], "b": [50, 60, 70], "c": [45, 80, 90]})
    out = suppress_counts(table, ["a", "b", "c"], 11)
    hidden = out[["a", "b", "c"]].isna().to_numpy()
    _lines_are_safe(table.to_numpy(float), hidden, 11)
    assert hidden[0, 0]
    # totals minus visible cells cannot give the 5 back
    for j, column in enumerate(["a", "b", "c"]):
        visible = out[column].sum()
        assert table[column].sum() - visible != 5 or hidden[:, j].sum() >= 2


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 40), min_size=3, max_size=3), min_size=2, max_size=6),
    st.sampled_from([5, 11]),
)
def test_hidden_cells_cannot_be_recomputed_from_totals(rows, threshold) -> None:
    table = pd.DataFrame(rows, columns=["x", "y", "z"])
    out = suppress_counts(table, ["x", "y", "z"], threshold)
    values = table.to_numpy(float)
    hidden = out[["x", "y", "z"]].isna().to_numpy()
    primary = (values > 0) & (values < threshold)
    assert (hidden | ~primary).all()
    assert hidden[primary].all()
    _lines_are_safe(values, hidden, threshold)
    # the visible cells and the row/column totals never pin a hidden cell down on its own
    row_gaps = values.sum(axis=1) - np.where(hidden, 0, values).sum(axis=1)
    for i in range(len(values)):
        if hidden[i].sum() == 1:
            pytest.fail(f"row {i}: total minus visible = {row_gaps[i]} is the hidden cell")


def test_complementary_within_groups() -> None:
    table = pd.DataFrame(
        {
            "variable": ["sex", "sex", "modality", "modality", "modality"],
            "n": [4, 60, 30, 20, 14],
        }
    )
    out = suppress_counts(table, ["n"], 11, complementary="columns", by="variable")
    assert out["n"].isna().tolist() == [True, True, False, False, False]


def test_risk_table_hides_everything_after_a_small_count() -> None:
    risk = pd.DataFrame(
        {
            "group": ["A"] * 4 + ["B"] * 4,
            "time": [0, 90, 180, 365] * 2,
            "n_risk": [100, 40, 9, 12, 80, 60, 30, 20],  # 12 after 9: e.g. delayed entry
        }
    )
    out = suppress_risk_table(risk, 11)
    assert out["n_risk"].isna().tolist() == [False, False, True, True] + [False] * 4
    across = suppress_risk_table(risk, 11, across_groups=True)
    b = across[across["group"] == "B"]
    assert b["n_risk"].isna().tolist() == [False, False, True, True]


def test_survival_curve_stops_where_few_remain(demo_store: Path) -> None:
    data = pd.DataFrame({"duration_days": np.arange(1, 41), "event_observed": np.tile([1, 0], 20)})
    km = kaplan_meier(data, duration="duration_days", event="event_observed")
    out = suppress_survival_curve(km, 11)
    visible = out[out["survival"].notna()]
    hidden = out[out["survival"].isna()]
    assert len(visible)
    assert len(hidden)
    assert (visible["n_risk"] >= 11).all()
    assert hidden[["n_risk", "n_event", "n_censor"]].isna().all().all()
    assert visible["time"].max() < hidden["time"].min()
    # the next number at risk, derivable from the last visible row, is itself >= threshold
    last = visible.iloc[-1]
    assert last["n_risk"] - last["n_event"] - last["n_censor"] >= 11
    assert out.attrs["suppressed_columns"] == ["n_risk", "n_event", "n_censor"]


def test_table_one_hides_counts_and_their_percents() -> None:
    table = pd.DataFrame(
        {
            "variable": ["sex", "sex", "sex", "modality", "modality"],
            "level": ["F", "M", "X", "MMT", "BMT"],
            "n_C01": [30, 60, 3, 80, 13],
            "pct_C01": [32.3, 64.5, 3.2, 86.0, 14.0],
            "n_C02": [20, 25, 0, 40, 5],
            "pct_C02": [44.4, 55.6, 0.0, 88.9, 11.1],
        }
    )
    out = suppress_table_one(table, 11, counts={"n_C01": "pct_C01", "n_C02": "pct_C02"})
    assert out.loc[2, ["n_C01", "pct_C01"]].isna().all()
    assert out.loc[2, "n_C02"] == 0  # zeros shown
    assert out.loc[4, ["n_C02", "pct_C02"]].isna().all()
    for column in ["n_C01", "n_C02"]:
        for _, part in out.groupby("variable"):
            assert part[column].isna().sum() != 1
    assert (out["pct_C01"].isna() == out["n_C01"].isna()).all()


def test_funnel_pools_or_drops_small_clinics() -> None:
    frame = pd.DataFrame(
        {
            "clinic_id": ["C1", "C2", "C3", "C4", "C5"],
            "clinic_name": list("abcde"),
            "n_patients": [120, 80, 8, 9, 60],
            "observed": [0.5, 0.6, 0.5, 0.45, 0.95],  # C5: 3 not retained
        }
    )
    out = suppress_funnel(frame, 11)
    assert set(out["clinic_id"]) == {"C1", "C2", "pooled"}
    pooled = out[out["is_pooled"]].iloc[0]
    assert pooled["n_patients"] == 8 + 9 + 60
    assert out.attrs["n_clinics_hidden"] == 3
    lonely = suppress_funnel(frame[frame["clinic_id"] != "C5"].iloc[:3], 11)
    assert set(lonely["clinic_id"]) == {"C1", "C2"}  # one small clinic is never shown alone


def test_display_suppressed_writes_less_than_threshold() -> None:
    table = pd.DataFrame({"clinic": ["a", "b", "c"], "n": [3, 1200, 9], "rate": [np.nan] * 3})
    out = display_suppressed(suppress_counts(table, ["n"], 11))
    assert out["n"].tolist() == ["<11", "1,200", "<11"]
    assert out["rate"].isna().all()  # not a suppressed column: a real missing value


def test_threshold_comes_from_store_settings(writable_demo_store: Path) -> None:
    con = duckdb.connect(str(writable_demo_store))
    assert suppression_threshold(con) == 11
    con.execute("insert into store_settings values ('suppression_threshold', '5')")
    assert suppression_threshold(con) == 5
    con.execute(
        "update store_settings set setting_value = 'x' where setting_key = 'suppression_threshold'"
    )
    with pytest.raises(ValueError, match="whole number"):
        suppression_threshold(con)
    con.close()


def test_bad_arguments_are_refused() -> None:
    table = pd.DataFrame({"n": [1]})
    with pytest.raises(ValueError, match="threshold"):
        suppress_counts(table, ["n"], 0)
    with pytest.raises(ValueError, match="lacks count column"):
        suppress_counts(table, ["m"])
    with pytest.raises(ValueError, match="complementary"):
        suppress_counts(table, ["n"], complementary="diagonal")
