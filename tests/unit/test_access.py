"""Roles enforced in analytics/: clinic scope, patient-level queries, de-identification."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from analytics import access, audit, store
from analytics.errors import AccessDenied, RetentionError
from analytics.store import StoreReader
from analytics.suppression import suppression_threshold
from analytics.userfile import pseudonym_secret
from tests.accounts import NOW, add_accounts

INJECTIONS = (
    "C01' or '1'='1",
    "C01; drop table admissions; --",
    "') or true --",
    "C01\x00",
)


@pytest.fixture(scope="module")
def shop(demo_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """A store copy with an admin, a manager of C01+C02 and a researcher; a reader on it."""
    path = tmp_path_factory.mktemp("access") / "store.duckdb"
    path.write_bytes(demo_store.read_bytes())
    records = add_accounts(path)
    reader = StoreReader(path)
    yield path, reader, {name: record.viewer for name, record in records.items()}
    reader.close()


def _viewers(shop):
    return shop[2]["ann-admin"], shop[2]["mo-manager"], shop[2]["rita-research"]


def _last_entry(path: Path, what: str) -> pd.Series:
    entries = audit.read_audit(path)
    entries = entries[entries["what"] == what]
    assert len(entries), f"no audit entry for {what}"
    return entries.iloc[0]


def test_access_denied_is_a_retention_error() -> None:
    assert issubclass(AccessDenied, RetentionError)


def test_viewers_from_user_records(shop) -> None:
    admin, manager, researcher = _viewers(shop)
    assert admin == store.Viewer("admin", None, True, "ann-admin")
    assert manager.clinic_ids == frozenset({"C01", "C02"})
    assert manager.identifiable
    assert researcher.clinic_ids is None
    assert not researcher.identifiable
    with pytest.raises(AccessDenied, match="has no clinics"):
        access.viewer_from_user("x", "clinic_manager", [])
    with pytest.raises(AccessDenied, match="Unknown role 'root'"):
        access.viewer_from_user("x", "root")


def test_require_names_role_and_who_may(shop) -> None:
    admin, manager, researcher = _viewers(shop)
    access.require(admin, "manage_users")
    with pytest.raises(AccessDenied, match=r"clinic manager and may not manage users.*admin"):
        access.require(manager, "manage_users")
    with pytest.raises(AccessDenied, match="researcher and may not view identifiable"):
        access.require(researcher, "view_identifiable")


def test_check_clinic_scope_names_the_clinic(shop) -> None:
    _, manager, researcher = _viewers(shop)
    assert access.check_clinic_scope(manager, ["C01", "C02"]) == ["C01", "C02"]
    with pytest.raises(AccessDenied, match=r"Clinic C05 is outside the clinics of 'mo-manager'"):
        access.check_clinic_scope(manager, ["C01", "C05"])
    assert access.check_clinic_scope(researcher, "C05") == ["C05"]  # pooled: every clinic


@pytest.mark.parametrize("name", ["patient_admissions", "rows_per_table_clinic", "clinics"])
@pytest.mark.parametrize(("param", "value"), [("clinic_id", "C05"), ("clinic_ids", ["C01", "C05"])])
def test_manager_cannot_ask_for_other_clinics(shop, name, param, value) -> None:
    path, reader, _ = shop
    _, manager, _ = _viewers(shop)
    what = f"test:{name}:{param}"
    with pytest.raises(AccessDenied, match="Clinic C05 is outside"):
        reader.scoped_query(name, manager, {param: value}, what=what)
    entry = _last_entry(path, what)
    assert entry["action"] == "denied"
    assert entry["user_name"] == "mo-manager"


def test_crafted_scope_parameter_is_refused_not_widened(shop) -> None:
    path, reader, _ = shop
    _, manager, _ = _viewers(shop)
    with pytest.raises(AccessDenied, match="C03"):
        reader.scoped_query("clinics", manager, {"scope_clinic_ids": ["C01", "C03"]})
    clinics = reader.scoped_query("clinics", manager, {"scope_clinic_ids": ["C01"]})
    assert set(clinics["clinic_id"]) == {"C01", "C02"}  # the scope always comes from the viewer


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("who", ["ann-admin", "mo-manager", "rita-research"])
def test_injection_in_clinic_filter_is_refused_and_audited(shop, value, who) -> None:
    path, reader, viewers = shop
    what = f"test:inject:{who}:{INJECTIONS.index(value)}"
    params = {"clinic_id": value}
    if who == "ann-admin":
        with pytest.raises(AccessDenied, match="is not a clinic id"):
            reader.scoped_query("patient_admissions", viewers[who], params, what=what)
    else:
        with pytest.raises(AccessDenied, match="is not a clinic id"):
            access.patient_rows(reader, viewers[who], "patient_admissions", params, what=what)
    assert _last_entry(path, what)["action"] == "denied"


def test_researcher_cannot_run_patient_level_queries_directly(shop) -> None:
    path, reader, _ = shop
    _, _, researcher = _viewers(shop)
    for name in access.PATIENT_LEVEL_QUERIES:
        what = f"test:direct:{name}"
        with pytest.raises(AccessDenied, match="de-identified rows only"):
            reader.scoped_query(name, researcher, {"clinic_id": None, "import_id": None}, what=what)
        assert _last_entry(path, what)["action"] == "denied"


def test_quarantined_raw_rows_are_for_admins_only(shop) -> None:
    path, reader, _ = shop
    admin, manager, researcher = _viewers(shop)
    with pytest.raises(AccessDenied, match="administrators only"):
        reader.scoped_query("quarantine_rows", manager, {"import_id": None})
    with pytest.raises(AccessDenied):
        access.patient_rows(reader, researcher, "quarantine_rows", {"import_id": None})
    reader.scoped_query("quarantine_rows", admin, {"import_id": None}, what="test:quarantine")
    assert _last_entry(path, "test:quarantine")["action"] == "view"


def test_identifiable_rows_are_audited_with_clinics_and_count(shop) -> None:
    path, reader, _ = shop
    _, manager, _ = _viewers(shop)
    rows = access.patient_rows(
        reader, manager, "patient_admissions", {"clinic_id": None}, what="test:own", now=NOW
    )
    assert set(rows["clinic_id"]) == {"C01", "C02"}
    assert rows["patient_id"].str.startswith("P").all()  # identifiable: stored ids
    entry = _last_entry(path, "test:own")
    assert entry["action"] == "view"
    assert entry["clinic_ids"] == "C01,C02"
    assert entry["n_rows"] == len(rows)
    assert entry["recorded_at"] == NOW


def test_manager_sees_only_own_clinics_everywhere(shop) -> None:
    _, reader, _ = shop
    _, manager, _ = _viewers(shop)
    for name in ("clinics", "rows_per_table_clinic"):
        assert set(reader.scoped_query(name, manager)["clinic_id"]) == {"C01", "C02"}
    one = access.patient_rows(reader, manager, "patient_admissions", {"clinic_id": "C02"})
    assert set(one["clinic_id"]) == {"C02"}


def test_researcher_rows_are_deidentified_and_pooled(shop) -> None:
    path, reader, _ = shop
    admin, _, researcher = _viewers(shop)
    stored = reader.scoped_query("patient_admissions", admin, {"clinic_id": None})
    rows = access.patient_rows(
        reader, researcher, "patient_admissions", {"clinic_id": None}, what="test:research"
    )
    assert len(rows) == len(stored)
    assert set(rows["clinic_id"]) == set(stored["clinic_id"])  # pooled: every clinic
    assert rows["patient_id"].str.fullmatch(r"R-[0-9a-f]{16}").all()
    stored_ids = set(stored["patient_id"]) | set(stored["admission_id"])
    cells = {str(v) for column in rows.columns for v in rows[column]}
    assert not cells & stored_ids
    assert "birth_year" not in rows.columns
    assert _last_entry(path, "test:research")["action"] == "view_deidentified"


def test_date_shift_is_per_patient_and_keeps_intervals(shop) -> None:
    path, reader, _ = shop
    admin, _, researcher = _viewers(shop)
    secret = pseudonym_secret(path)
    stored = reader.scoped_query("patient_admissions", admin, {"clinic_id": None})
    stored["pseudonym"] = [access.pseudonym(p, secret) for p in stored["patient_id"]]
    stored["admission_pseudonym"] = [
        access.pseudonym(a, secret, prefix="RA-", purpose="admission_id")
        for a in stored["admission_id"]
    ]
    rows = access.patient_rows(reader, researcher, "patient_admissions", {"clinic_id": None})
    both = stored.merge(rows, left_on="admission_pseudonym", right_on="admission_id")
    assert len(both) == len(stored)
    assert (both["pseudonym"] == both["patient_id_y"]).all()
    shift = (both["admission_date_y"] - both["admission_date_x"]).dt.days
    assert shift.abs().max() <= 182
    assert shift.groupby(both["pseudonym"]).nunique().eq(1).all()  # one offset per patient
    assert shift.nunique() > 50  # offsets differ between patients


def test_deidentify_ages_free_text_and_months() -> None:
    researcher = access.viewer_from_user("r", "researcher")
    frame = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", None],
            "age": [45, 93, 90],
            "visit_date": pd.to_datetime(["2025-05-17", "2025-06-02", "2025-07-30"]),
            "notes": ["lives with sister", "x", "y"],
            "raw_row": ["{}", "{}", "{}"],
            "clinic_id": ["C01", "C01", "C02"],
        }
    )
    out = access.deidentify(frame, researcher, b"k" * 32, date_mode="month")
    assert list(out.columns) == ["patient_id", "age", "visit_date", "clinic_id"]
    by_clinic = out.sort_values(["clinic_id", "age"])
    assert list(by_clinic["age"]) == ["45", "90+", "90+"]
    assert set(out["visit_date"].dt.day) == {1}
    shifted = access.deidentify(frame, researcher, b"k" * 32)
    missing = shifted[shifted["patient_id"].isna()]
    assert missing["visit_date"].iloc[0] == pd.Timestamp("2025-07-01")  # no patient: month
    admin = access.viewer_from_user("a", "admin")
    pd.testing.assert_frame_equal(access.deidentify(frame, admin, b"k" * 32), frame)
    with pytest.raises(ValueError, match="date_mode"):
        access.deidentify(frame, researcher, b"k", date_mode="year")


def test_deidentify_shifts_a_patients_months_with_their_dates() -> None:
    """A patient's month (``month_start``) moves with their shifted dates: left true beside
    them it would bound the patient's offset. Dates are kept only with ``date_mode="keep"``."""
    researcher = access.viewer_from_user("r", "researcher")
    ids = [f"P{i:04d}" for i in range(200)]
    frame = pd.DataFrame(
        {
            "patient_id": ids,
            "visit_date": pd.Timestamp("2025-05-17"),
            "month_start": pd.Timestamp("2025-05-01"),
        }
    )
    out = access.deidentify(frame, researcher, b"k" * 32).sort_values("visit_date")
    offset = out["visit_date"] - pd.Timestamp("2025-05-17")  # the patient's shift
    expected = (pd.Timestamp("2025-05-01") + offset).dt.to_period("M").dt.to_timestamp()
    assert (out["month_start"].dt.day == 1).all()
    days = "datetime64[D]"
    assert (out["month_start"].to_numpy(days) == expected.to_numpy(days)).all()
    assert out["month_start"].nunique() > 5
    kept = access.deidentify(frame, researcher, b"k" * 32, date_mode="keep")
    assert (kept["visit_date"] == pd.Timestamp("2025-05-17")).all()
    assert (kept["month_start"] == pd.Timestamp("2025-05-01")).all()
    assert kept["patient_id"].str.startswith("R-").all()


def test_pseudonyms_depend_on_the_store_secret() -> None:
    assert access.pseudonym("P000001", b"a" * 32) != access.pseudonym("P000001", b"b" * 32)
    assert access.pseudonym("P000001", b"a" * 32) == access.pseudonym("P000001", b"a" * 32)


def test_researcher_aggregates_are_suppressed(shop) -> None:
    _, reader, _ = shop
    admin, _, researcher = _viewers(shop)
    exact = reader.scoped_query("rows_per_table_clinic", admin)
    seen = reader.scoped_query("rows_per_table_clinic", researcher)
    small = (exact["family_education"] > 0) & (exact["family_education"] < 11)
    assert small.any(), "the demo store should have a small count to test with"
    assert seen.loc[small, "family_education"].isna().all()
    for column in access.AGGREGATE_QUERIES["rows_per_table_clinic"].count_columns:
        assert seen[column].isna().sum() != 1  # never a single hidden cell in a column


def test_suppress_for_viewer_hides_other_clinics_only(shop) -> None:
    admin, manager, researcher = _viewers(shop)
    frame = pd.DataFrame(
        {"clinic_id": ["C01", "C02", "C03", "C04", "C05"], "n_patients": [4, 50, 3, 40, 60]}
    )
    mine = access.suppress_for_viewer(frame, manager, ["n_patients"])
    assert list(mine["n_patients"].iloc[:2]) == [4, 50]  # own clinics as they are
    assert mine["n_patients"].iloc[2:].isna().sum() == 2  # C03 and its complement
    assert access.suppress_for_viewer(frame, admin, ["n_patients"]).equals(frame)
    assert (
        access.suppress_for_viewer(frame, researcher, ["n_patients"])["n_patients"].isna().sum()
        >= 2
    )


def test_unknown_patient_query_is_refused(shop) -> None:
    _, reader, _ = shop
    _, manager, _ = _viewers(shop)
    with pytest.raises(AccessDenied, match="not a patient-level query"):
        access.patient_rows(reader, manager, "clinics")


def test_admin_local_viewer_keeps_working(shop) -> None:
    _, reader, _ = shop
    clinics = reader.scoped_query("clinics", store.LOCAL_ADMIN)
    assert len(clinics) == 8


def test_patient_level_registry_names_existing_queries() -> None:
    for name in access.PATIENT_LEVEL_QUERIES:
        assert store.query_sql(name)
    for name in access.AGGREGATE_QUERIES:
        assert store.query_sql(name)


def test_audit_when_store_clock_is_not_passed(shop) -> None:
    path, reader, _ = shop
    admin, _, _ = _viewers(shop)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    reader.scoped_query("patient_admissions", admin, {"clinic_id": "C03"}, what="test:clock")
    assert _last_entry(path, "test:clock")["recorded_at"] >= before - dt.timedelta(seconds=1)


def _any_query_params(con) -> dict:
    """A value for every parameter any named query takes (no filters, all clinics)."""
    from analytics.cohort_spec import CohortSpec
    from analytics.episodes import cohort_params

    as_of = store.data_cutoff(con)
    return {
        **cohort_params(CohortSpec(), as_of),
        **store.scope_params(con, store.LOCAL_ADMIN),
        "clinic_id": "C01",
        "import_id": None,
        "max_week_no": None,
        "sample_share": None,
        "missed_short_days": 7,
        "missed_long_days": 14,
        "screen_days": 28,
        "relapse_days": 84,
    }


def test_every_query_returning_patient_ids_is_guarded_as_patient_level(demo_store: Path):
    """A named query whose rows carry patient ids must be in PATIENT_LEVEL_QUERIES: only
    then does the access layer scope, audit and de-identify it. (The support and outcome
    trends read two such queries around it, so a researcher's pseudonymised cohort joined
    none of their rows: empty charts.)"""
    reader = StoreReader(demo_store)
    unguarded, guarded = [], []
    with reader.cursor() as cur:
        params = _any_query_params(cur)
        for path in sorted((store.SQL_DIR / "queries").glob("q_*.sql")):
            name = path.stem.removeprefix("q_")
            sql = path.read_text(encoding="utf-8")
            named = set(store._PARAMETER.findall(sql))
            relation = cur.sql(sql, params={k: v for k, v in params.items() if k in named})
            if "patient_id" in relation.columns:
                guarded.append(name)
                if name not in access.PATIENT_LEVEL_QUERIES:
                    unguarded.append(name)
    reader.close()
    assert unguarded == []
    assert {"cohort_episodes", "support_assessments", "outcome_profiles_by_episode"} <= set(guarded)


def test_researchers_see_the_support_and_outcome_trends_a_manager_sees(shop) -> None:
    """The trends join the assessments to the cohort on pseudonyms for a researcher: the same
    means as an administrator's, points below the suppression threshold dropped."""
    from analytics import trends
    from analytics.cohort_spec import CohortSpec

    path, reader, _ = shop
    admin, _, researcher = _viewers(shop)
    with reader.cursor() as cur:
        threshold = suppression_threshold(cur)
    spec = CohortSpec()
    for over_time, measure in (
        (trends.support_over_time_for, "mspss_family"),
        (trends.outcomes_over_time_for, "heroin_days_28"),
    ):
        theirs = over_time(reader, researcher, spec, measure=measure, group="modality")
        ours = over_time(reader, admin, spec, measure=measure, group="modality")
        ours = ours[ours["n"] >= threshold].reset_index(drop=True)
        assert len(theirs) > 10
        pd.testing.assert_frame_equal(theirs, ours)
    assert "support over time" in set(audit.read_audit(path)["what"])


@pytest.mark.parametrize("clinic_ids", [(), ("C02",)])
def test_researchers_get_the_overview_of_true_dates_suppressed(shop, clinic_ids) -> None:
    """The overview counts calendar months and admission windows: from a researcher's shifted
    dates against the true cut-off it counted other patients (admissions this month 29 instead
    of 74), and small clinic-months hidden before summing dropped out of the trends. It must be
    the administrator's overview with small numbers suppressed."""
    import dataclasses

    from analytics import clinic_overview
    from analytics.cohort_spec import CohortSpec

    _, reader, _ = shop
    admin, _, researcher = _viewers(shop)
    with reader.cursor() as cur:
        threshold = suppression_threshold(cur)
    spec = CohortSpec(clinic_ids=clinic_ids)
    theirs = clinic_overview.clinic_overview(reader, researcher, spec)
    ours = clinic_overview.suppress_overview(
        clinic_overview.clinic_overview(reader, admin, spec), threshold
    )
    for part in dataclasses.fields(ours):
        mine, expected = getattr(theirs, part.name), getattr(ours, part.name)
        if isinstance(expected, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, expected, obj=part.name)
        else:
            assert mine == expected or (pd.isna(mine) and pd.isna(expected)), part.name
    assert len(theirs.monthly) > 30
    if not clinic_ids:
        assert theirs.n_admissions_month >= threshold


def test_researchers_get_the_reports_counts_of_true_dates(shop) -> None:
    """A report counts admissions in a calendar period and missed doses and positive screens
    before the cut-off: a researcher's report must give the administrator's counts (small
    ones hidden), not counts of shifted dates (500 missed doses instead of 205)."""
    from analytics import report
    from analytics.cohort_spec import CohortSpec

    _, reader, _ = shop
    admin, _, researcher = _viewers(shop)
    with reader.cursor() as cur:
        threshold = suppression_threshold(cur)
    for clinic_id in (None, "C02"):
        theirs = report.report_content(reader, researcher, CohortSpec(), clinic_id=clinic_id)
        ours = report.report_content(reader, admin, CohortSpec(), clinic_id=clinic_id)
        counts = ours.tables["at_risk_counts"]
        expected = [report._count(int(n), threshold) for n in counts["n"]]
        assert theirs.tables["at_risk_counts"]["n"].tolist() == expected
        if clinic_id is None:
            assert min(int(n) for n in counts["n"]) >= threshold
        mine, true = dict(theirs.headline), dict(ours.headline)
        assert mine.keys() == true.keys()
        for measure, value in true.items():
            if measure.startswith(("In treatment", "Admissions")):
                assert mine[measure] == report._count(int(value.replace(",", "")), threshold)


def test_researchers_curves_keep_the_groups_natural_order(shop) -> None:
    """Suppression sorted the curves and the at-risk table by the group's label, so a
    researcher's legend (and colours) read "30–39, 40–49, 50+, <30"."""
    from analytics import cohort_analysis
    from analytics.cohort_spec import CohortSpec

    _, reader, _ = shop
    admin, _, researcher = _viewers(shop)

    def orders(viewer):
        analysis = cohort_analysis.retention_curves_for(
            reader, viewer, CohortSpec(), group="age_band"
        )
        return [
            list(pd.unique(frame["group"].astype(str)))
            for frame in (analysis.curves, analysis.risk_table)
        ]

    theirs, ours = orders(researcher), orders(admin)
    assert ours[0][0] == "<30"
    assert theirs == ours
