"""Cohort specs: validation messages, round trips through dicts and URL parameters."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.cohort_spec import CohortSpec, SpecError


def test_round_trip_through_dict_and_query_params() -> None:
    spec = CohortSpec(
        clinic_ids=("C01", "C03"),
        modalities=("MMT",),
        admitted_from=dt.date(2022, 1, 1),
        age_min=25,
        dose_bands=(">=80",),
        gap_days=14,
        outcome="dropout",
        as_of=dt.date(2026, 6, 30),
    )
    assert CohortSpec.from_dict(spec.to_dict()) == spec
    params = spec.to_query_params()
    assert params == {
        "clinic_ids": "C01,C03",
        "modalities": "MMT",
        "admitted_from": "2022-01-01",
        "age_min": "25",
        "dose_bands": ">=80",
        "gap_days": "14",
        "outcome": "dropout",
        "as_of": "2026-06-30",
    }
    assert CohortSpec.from_query_params({**params, "curves_group_by": "clinic"}) == spec


def test_defaults_make_an_empty_query_string() -> None:
    assert CohortSpec().to_query_params() == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome": "death"}, "outcome: 'death' is not one of any_exit, dropout."),
        ({"gap_days": 0}, "gap_days must be between 1 and 365 days, not 0."),
        (
            {"modalities": ("MMT", "LAAM")},
            "modalities: unknown value(s) 'LAAM'; choose from MMT, BMT, HAT.",
        ),
        ({"age_min": 60, "age_max": 30}, "age_min (60) is above age_max (30)."),
        (
            {"sexes": ("F'; drop table patients; --",)},
            'sexes: unknown value(s) "F\'; drop table patients; --"; choose from F, M, X.',
        ),
    ],
)
def test_invalid_values_name_the_field(changes: dict, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        CohortSpec(**changes)
    assert str(raised.value) == message


def test_unknown_field_in_a_saved_spec_is_named() -> None:
    with pytest.raises(SpecError, match=r"^Unknown field\(s\) in the cohort spec: gap_rule\."):
        CohortSpec.from_dict({"gap_rule": 7})


def test_newer_spec_version_is_refused_with_both_versions() -> None:
    with pytest.raises(SpecError, match="has spec_version 9; this version of the software reads"):
        CohortSpec.from_dict({"spec_version": 9})


def test_bad_date_text_names_the_field() -> None:
    with pytest.raises(SpecError, match=r"^as_of: cannot read '2026-13-01'"):
        CohortSpec.from_query_params({"as_of": "2026-13-01"})
