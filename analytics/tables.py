"""What each importable table holds: columns, types, allowed values, keys.

This is the import contract a clinic's export files must meet; ``docs/data_dictionary.md`` is
generated from it (``retention data-dictionary``) and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REASON_CODES = (
    "completed",
    "dropped_out",
    "discharged_by_clinic",
    "transferred",
    "incarcerated",
    "died",
    "other",
)
MODALITIES = ("MMT", "BMT", "HAT")
MEDICATIONS = ("methadone", "buprenorphine", "buprenorphine_depot", "diamorphine")
SUBSTANCES = (
    "opioids",
    "fentanyl",
    "cocaine",
    "amphetamines",
    "benzodiazepines",
    "cannabis",
    "methadone",
    "buprenorphine",
)
SCREEN_RESULTS = ("positive", "negative", "missed", "refused")
SEXES = ("F", "M", "X")
EDUCATION_CHANNELS = ("mobile_app", "web", "face_to_face")
REFERRAL_SOURCES = ("self", "gp", "criminal_justice", "hospital", "other")


@dataclass(frozen=True)
class Column:
    """One column of an import file.

    kind: text | code | date | time | integer | number | boolean.
    references: 'patients' or 'clinics' when the value must name a known patient or clinic.
    codes: allowed values of a ``code`` column; ``codebook`` means the risk-factor codebook.
    """

    name: str
    kind: str
    description: str
    required: bool = True
    min_value: float | None = None
    max_value: float | None = None
    codes: tuple[str, ...] | None = None
    references: str | None = None
    not_after_cutoff: bool = False
    default: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required and c.default is None]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _patient(description: str = "The clinic's pseudonymous patient id (never a name).") -> Column:
    return Column("patient_id", "text", description, references="patients")


def _clinic() -> Column:
    return Column("clinic_id", "text", "Clinic id, as in the clinics file.", references="clinics")


def _date(name: str, description: str) -> Column:
    return Column(name, "date", description + " (YYYY-MM-DD).", not_after_cutoff=True)


def _items(names: list[str], low: int, high: int, what: str) -> tuple[Column, ...]:
    return tuple(
        Column(
            name,
            "integer",
            f"{what} {name}, {low}-{high}; blank if not answered.",
            required=False,
            min_value=low,
            max_value=high,
        )
        for name in names
    )


MSPSS_ITEMS = [f"item_{i:02d}" for i in range(1, 13)]
APGAR_ITEMS = ["adaptation", "partnership", "growth", "affection", "resolve"]
TOP_DAY_COUNTS = [
    "heroin_days_28",
    "other_opiates_days_28",
    "crack_days_28",
    "cocaine_days_28",
    "amphetamine_days_28",
    "cannabis_days_28",
    "alcohol_days_28",
    "injecting_days_28",
]
TOP_COLUMNS: tuple[tuple[str, int], ...] = (
    *((name, 28) for name in TOP_DAY_COUNTS),
    ("shared_equipment", 1),
    ("shoplifting_days_28", 28),
    ("selling_drugs_days_28", 28),
    ("other_theft", 1),
    ("assault_violence", 1),
    ("psychological_health", 20),
    ("physical_health", 20),
    ("quality_of_life", 20),
    ("paid_work_days_28", 28),
    ("education_days_28", 28),
    ("acute_housing_problem", 1),
    ("at_risk_of_eviction", 1),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "clinics",
            "One row per clinic (service).",
            key=("clinic_id",),
            columns=(
                Column("clinic_id", "text", "Short clinic id, e.g. C01."),
                Column("clinic_name", "text", "Display name."),
                Column("region", "text", "Region or area.", required=False),
                Column("offers_mmt", "boolean", "Offers methadone maintenance (true/false)."),
                Column("offers_bmt", "boolean", "Offers buprenorphine maintenance (true/false)."),
                Column("offers_hat", "boolean", "Offers heroin-assisted treatment (true/false)."),
                Column("dose_policy", "text", "Free description of dose policy.", required=False),
            ),
        ),
        Table(
            "patients",
            "One row per patient. No names, addresses or national ids: pseudonymous ids only.",
            key=("patient_id",),
            columns=(
                Column("patient_id", "text", "The clinic's pseudonymous patient id."),
                Column("birth_year", "integer", "Year of birth.", min_value=1900, max_value=2100),
                Column("sex", "code", "F, M or X (other / not stated).", codes=SEXES),
            ),
        ),
        Table(
            "admissions",
            "One row per admission of a patient to a clinic.",
            key=("admission_id",),
            columns=(
                Column("admission_id", "text", "Unique admission id."),
                _patient(),
                _clinic(),
                _date("admission_date", "Date of admission"),
                Column("modality", "code", "MMT, BMT or HAT.", codes=MODALITIES),
                Column(
                    "referral_source",
                    "code",
                    "Who referred the patient.",
                    required=False,
                    codes=REFERRAL_SOURCES,
                ),
            ),
        ),
        Table(
            "discharges",
            "One row per discharge record, with the reason for leaving.",
            key=("discharge_id",),
            columns=(
                Column("discharge_id", "text", "Unique discharge id."),
                _patient(),
                _clinic(),
                _date("discharge_date", "Date of discharge"),
                Column("reason_code", "code", "Reason for discharge.", codes=REASON_CODES),
            ),
        ),
        Table(
            "dosing_visits",
            "One row per dose dispensed or administered (HAT: two visits a day).",
            key=("patient_id", "clinic_id", "visit_date", "visit_time", "medication"),
            columns=(
                _patient(),
                _clinic(),
                _date("visit_date", "Date of the visit"),
                Column(
                    "visit_time",
                    "time",
                    "Time of the visit (HH:MM); tells twice-daily HAT visits apart.",
                    required=False,
                ),
                Column("medication", "code", "Medication given.", codes=MEDICATIONS),
                Column("dose_mg", "number", "Dose in mg.", min_value=0, max_value=1500),
                Column("is_supervised", "boolean", "Taken under staff observation (true/false)."),
                Column(
                    "take_home_days",
                    "integer",
                    "Days after the visit covered by take-home or depot doses (0 if none).",
                    min_value=0,
                    max_value=35,
                    default="0",
                ),
            ),
        ),
        Table(
            "urine_screens",
            "One row per urine drug screen and substance.",
            key=("patient_id", "clinic_id", "screen_date", "substance"),
            columns=(
                _patient(),
                _clinic(),
                _date("screen_date", "Date of the screen"),
                Column("substance", "code", "Substance tested.", codes=SUBSTANCES),
                Column("result", "code", "Result.", codes=SCREEN_RESULTS),
            ),
        ),
        Table(
            "mspss_responses",
            "One row per MSPSS form (12 items, 1-7). Family subscale = mean of items 3, 4, 8, 11.",
            key=("patient_id", "assessment_date"),
            columns=(
                _patient(),
                _clinic(),
                _date("assessment_date", "Date of the assessment"),
                *_items(MSPSS_ITEMS, 1, 7, "MSPSS"),
            ),
        ),
        Table(
            "apgar_responses",
            "One row per Family APGAR form (5 items, 0-2; total 0-10).",
            key=("patient_id", "assessment_date"),
            columns=(
                _patient(),
                _clinic(),
                _date("assessment_date", "Date of the assessment"),
                *_items(APGAR_ITEMS, 0, 2, "Family APGAR"),
            ),
        ),
        Table(
            "checklist_responses",
            "One row per assessment and obstacle/facilitator code (OB01-OB27, FA01-FA21).",
            key=("patient_id", "assessment_date", "factor_code"),
            columns=(
                _patient(),
                _clinic(),
                _date("assessment_date", "Date of the assessment"),
                Column("factor_code", "code", "Codebook code, e.g. OB19.", codes=("codebook",)),
                Column(
                    "severity",
                    "integer",
                    "0 absent, 1-3 present (mild to severe); a yes/no checklist uses 0/1.",
                    min_value=0,
                    max_value=3,
                ),
            ),
        ),
        Table(
            "outcome_profiles",
            "One row per outcome profile in the style of England's TOP (past 28 days).",
            key=("patient_id", "assessment_date"),
            columns=(
                _patient(),
                _clinic(),
                _date("assessment_date", "Date of the assessment"),
                *(
                    Column(
                        name,
                        "integer",
                        f"TOP {name}, 0-{high}; blank if not recorded.",
                        required=False,
                        min_value=0,
                        max_value=high,
                    )
                    for name, high in TOP_COLUMNS
                ),
            ),
        ),
        Table(
            "family_education",
            "One row per enrolment in a family-education programme.",
            key=("patient_id", "enrolment_date"),
            columns=(
                _patient(),
                _clinic(),
                _date("enrolment_date", "Date of enrolment"),
                Column(
                    "channel", "code", "mobile_app, web or face_to_face.", codes=EDUCATION_CHANNELS
                ),
                Column(
                    "sessions_completed",
                    "integer",
                    "Sessions completed.",
                    min_value=0,
                    max_value=500,
                ),
            ),
        ),
    )
}

# Referenced tables load first so that rows in one import can refer to each other.
LOAD_ORDER = list(TABLES)


def table_for_file(stem: str) -> Table | None:
    """The table a file holds, from its name: ``dosing_visits.csv``, ``dosing_visits_2024.xlsx``.

    The longest table name that the file name starts with wins (``patients`` vs ``patients_x``).
    """
    stem = stem.lower()
    matches = [name for name in TABLES if stem == name or stem.startswith(name + "_")]
    matches += [name for name in TABLES if stem.startswith(name + "-")]
    if not matches:
        return None
    return TABLES[max(matches, key=len)]
