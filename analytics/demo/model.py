"""The known truth behind the demo data: clinics, the dropout hazard model and competing exits.

Dropout (disengagement: the exits recorded as ``dropped_out``, ``discharged_by_clinic`` or
``other``, and the gaps without any record) follows a proportional-hazards model on the
episode's time scale (days since the first dose)::

    h(t | x) = h0(t) * exp(x' beta + clinic_log_hr
                           + beta_take_home * 1[t > take_home_start_day]
                           + beta_family_education * 1[t > family_education_day])

``h0`` is piecewise constant per day (``BASELINE_HAZARD``) and is the hazard of the reference
profile ``REFERENCE_PROFILE`` (a 35-year-old man on methadone < 60 mg with an MSPSS family
score of 4, no external obstacle, first episode, clinic without own effect). ``beta`` is
``TRUE_LOG_HAZARD_RATIOS`` (published effect sizes, DOMAIN.md section 3, where there are
some; plausible values otherwise). Completion, transfer, incarceration and death are competing
exits with their own cause-specific hazards (``COMPETING_DAILY_HAZARDS``), independent of x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MODALITIES = ("MMT", "BMT", "HAT")

#: Log hazard ratios of dropout, per unit of each covariate of the episode truth table.
TRUE_LOG_HAZARD_RATIOS: dict[str, float] = {
    # methadone maintenance dose band, reference < 60 mg (MMT only; 0 for BMT and HAT)
    "dose_60_79": math.log(0.55),  # Bao 2009: >= 60 mg, odds of retention ~1.7
    "dose_80_plus": math.log(0.21),  # Caplehorn & Bell 1991: >= 80 vs < 60 mg, RR 0.21
    # modality, reference methadone (MMT)
    "modality_bmt": math.log(0.50),
    "modality_hat": math.log(0.30),
    "age_years": math.log(0.98),  # per year of age at admission
    "is_female": math.log(0.64),
    "mspss_family": math.log(0.88),  # per point of the intake MSPSS family subscale (1-7)
    "n_external_obstacles": math.log(1.06),  # per external obstacle present (OB14-OB27)
    "has_ob19": math.log(1.35),  # network of drug-using friends (on top of the count)
    "has_ob22": math.log(1.30),  # no proper job or income (on top of the count)
    "n_prior_episodes": math.log(1.15),  # per earlier episode of the patient in the data
    # time-varying: 1 from the day of the first take-home dose / family-education enrolment
    "take_home": math.log(0.55),
    "family_education": math.log(0.75),
}

#: Covariates constant over an episode (the rest of TRUE_LOG_HAZARD_RATIOS varies in time).
BASELINE_COVARIATES = tuple(
    k for k in TRUE_LOG_HAZARD_RATIOS if k not in ("take_home", "family_education")
)
TIME_VARYING_COVARIATES = ("take_home", "family_education")

#: Values at which the baseline hazard is the hazard (age and MSPSS are centred there).
REFERENCE_PROFILE: dict[str, float] = {"age_years": 35.0, "mspss_family": 4.0}

#: Piecewise-constant baseline dropout hazard per day: (start day, end day, hazard per day).
BASELINE_HAZARD: tuple[tuple[float, float, float], ...] = (
    (0.0, 30.0, 0.0042),
    (30.0, 90.0, 0.0028),
    (90.0, 180.0, 0.0021),
    (180.0, 365.0, 0.0016),
    (365.0, math.inf, 0.0010),
)

#: Cause-specific daily hazards of the competing exits by modality. Completion only after
#: ``COMPLETION_FROM_DAY`` days; incarceration 1.6 times higher for men.
COMPETING_DAILY_HAZARDS: dict[str, dict[str, float]] = {
    "completed": {"MMT": 0.00030, "BMT": 0.00080, "HAT": 0.00015},
    "transferred": {"MMT": 0.00015, "BMT": 0.00020, "HAT": 0.00012},
    "incarcerated": {"MMT": 0.00012, "BMT": 0.00008, "HAT": 0.00018},
    "died": {"MMT": 0.00004, "BMT": 0.00003, "HAT": 0.00007},
}
COMPLETION_FROM_DAY = 180
MALE_INCARCERATION_RATIO = 1.6

#: Exit causes in the truth table, in code order (0 = still open at as_of).
EXIT_CAUSES = ("open", "dropout", "completed", "transferred", "incarcerated", "died")

#: Discharge reason of a dropout-cause exit, with probabilities.
DROPOUT_REASONS = (("dropped_out", 0.86), ("discharged_by_clinic", 0.10), ("other", 0.04))

#: Probability that an exit of each reason has a discharge record.
P_DISCHARGE_RECORD: dict[str, float] = {
    "dropped_out": 0.35,
    "discharged_by_clinic": 0.95,
    "other": 0.70,
    "completed": 1.00,
    "transferred": 0.90,
    "incarcerated": 0.75,
    "died": 0.85,
}

#: Probability of a later re-admission after an exit of each reason.
P_READMISSION: dict[str, float] = {
    "dropped_out": 0.50,
    "discharged_by_clinic": 0.35,
    "other": 0.30,
    "completed": 0.12,
    "transferred": 0.55,
    "incarcerated": 0.45,
    "died": 0.0,
}


@dataclass(frozen=True)
class ClinicSpec:
    """One demo clinic and its practice."""

    clinic_id: str
    clinic_name: str
    region: str
    weight: float  # share of patients admitted first here
    modality_shares: tuple[float, float, float]  # MMT, BMT, HAT
    dose_policy: str  # 'low', 'adequate', 'mixed' (methadone); free text in the store
    mean_dose_mg: float  # mean methadone maintenance dose
    depot_share: float  # share of BMT episodes moving to monthly depot buprenorphine
    take_home_share: float  # share of MMT/BMT (not depot) episodes that may earn take-homes
    family_education_share: float  # share of episodes offered family education
    screen_policy: str  # 'standard' (weekly -> monthly), 'monthly', 'fortnightly'
    adversity_shift: float  # case mix: shift of the patients' social adversity
    mean_age: float
    clinic_log_hr: float  # the clinic's own effect on dropout (practice not in the data)


CLINICS: tuple[ClinicSpec, ...] = (
    ClinicSpec(
        clinic_id="C01",
        clinic_name="Riverside heroin-assisted treatment service",
        region="North",
        weight=0.05,
        modality_shares=(0.0, 0.0, 1.0),
        dose_policy="adequate",
        mean_dose_mg=0.0,
        depot_share=0.0,
        take_home_share=0.0,
        family_education_share=0.3,
        screen_policy="fortnightly",
        adversity_shift=0.5,
        mean_age=43.0,
        clinic_log_hr=0.0,
    ),
    ClinicSpec(
        clinic_id="C02",
        clinic_name="Eastfield buprenorphine clinic",
        region="East",
        weight=0.1,
        modality_shares=(0.0, 1.0, 0.0),
        dose_policy="adequate",
        mean_dose_mg=0.0,
        depot_share=0.1,
        take_home_share=0.75,
        family_education_share=0.3,
        screen_policy="standard",
        adversity_shift=-0.3,
        mean_age=33.0,
        clinic_log_hr=0.0,
    ),
    ClinicSpec(
        clinic_id="C03",
        clinic_name="Harbour buprenorphine and depot clinic",
        region="South",
        weight=0.08,
        modality_shares=(0.0, 1.0, 0.0),
        dose_policy="adequate",
        mean_dose_mg=0.0,
        depot_share=0.45,
        take_home_share=0.7,
        family_education_share=0.25,
        screen_policy="standard",
        adversity_shift=-0.2,
        mean_age=34.0,
        clinic_log_hr=0.0,
    ),
    ClinicSpec(
        clinic_id="C04",
        clinic_name="Old Town methadone clinic",
        region="Central",
        weight=0.17,
        modality_shares=(1.0, 0.0, 0.0),
        dose_policy="low",
        mean_dose_mg=50.0,
        depot_share=0.0,
        take_home_share=0.35,
        family_education_share=0.05,
        screen_policy="monthly",
        adversity_shift=0.2,
        mean_age=40.0,
        clinic_log_hr=0.0,
    ),
    ClinicSpec(
        clinic_id="C05",
        clinic_name="Millbrook methadone clinic",
        region="East",
        weight=0.1,
        modality_shares=(1.0, 0.0, 0.0),
        dose_policy="low",
        mean_dose_mg=48.0,
        depot_share=0.0,
        take_home_share=0.3,
        family_education_share=0.05,
        screen_policy="monthly",
        adversity_shift=0.4,
        mean_age=39.0,
        clinic_log_hr=0.2,
    ),
    ClinicSpec(
        clinic_id="C06",
        clinic_name="Central methadone and buprenorphine clinic",
        region="Central",
        weight=0.22,
        modality_shares=(0.7, 0.3, 0.0),
        dose_policy="adequate",
        mean_dose_mg=92.0,
        depot_share=0.1,
        take_home_share=0.6,
        family_education_share=0.4,
        screen_policy="standard",
        adversity_shift=0.0,
        mean_age=38.0,
        clinic_log_hr=0.0,
    ),
    ClinicSpec(
        clinic_id="C07",
        clinic_name="Westgate methadone clinic",
        region="West",
        weight=0.16,
        modality_shares=(1.0, 0.0, 0.0),
        dose_policy="adequate",
        mean_dose_mg=98.0,
        depot_share=0.0,
        take_home_share=0.65,
        family_education_share=0.2,
        screen_policy="standard",
        adversity_shift=-0.1,
        mean_age=38.0,
        clinic_log_hr=-0.25,
    ),
    ClinicSpec(
        clinic_id="C08",
        clinic_name="Southbank methadone clinic",
        region="South",
        weight=0.12,
        modality_shares=(1.0, 0.0, 0.0),
        dose_policy="mixed",
        mean_dose_mg=70.0,
        depot_share=0.0,
        take_home_share=0.5,
        family_education_share=0.15,
        screen_policy="standard",
        adversity_shift=0.1,
        mean_age=37.0,
        clinic_log_hr=0.0,
    ),
)


#: Each clinic's own log hazard ratio of dropout (practice not recorded in the data).
CLINIC_LOG_HAZARD_RATIOS: dict[str, float] = {c.clinic_id: c.clinic_log_hr for c in CLINICS}


def linear_predictor(covariates: dict[str, np.ndarray]) -> np.ndarray:
    """Baseline part of the log hazard: sum of beta * (x - reference) over BASELINE_COVARIATES."""
    lp = np.zeros(len(next(iter(covariates.values()))))
    for name in BASELINE_COVARIATES:
        centre = REFERENCE_PROFILE.get(name, 0.0)
        lp += TRUE_LOG_HAZARD_RATIOS[name] * (np.asarray(covariates[name], float) - centre)
    return lp


def sample_dropout_times(
    rng: np.random.Generator,
    log_hazard_ratio: np.ndarray,
    take_home_day: np.ndarray,
    family_education_day: np.ndarray,
) -> np.ndarray:
    """Draw dropout times (continuous days) by inverse-transform sampling, vectorised.

    The hazard of each episode is piecewise constant between the cut points of
    ``BASELINE_HAZARD`` and the episode's two switch days (``inf`` = never switches): the
    cumulative hazard is evaluated at the sorted break points and the Exp(1) target is located
    in its segment.

    Parameters
    ----------
    log_hazard_ratio : array of the fixed part of the log hazard (``linear_predictor`` + clinic).
    take_home_day, family_education_day : arrays of switch days (float, ``inf`` if none).
    """
    big = 1e7
    n = len(log_hazard_ratio)
    cuts = np.array([seg[0] for seg in BASELINE_HAZARD[1:]])
    rates = np.array([seg[2] for seg in BASELINE_HAZARD])
    switches = np.column_stack(
        [np.minimum(take_home_day, big), np.minimum(family_education_day, big)]
    )
    bounds = np.sort(
        np.column_stack([np.zeros(n), np.broadcast_to(cuts, (n, len(cuts))), switches]), axis=1
    )
    seg_base = rates[np.searchsorted(cuts, bounds, side="right")]
    beta_th = TRUE_LOG_HAZARD_RATIOS["take_home"]
    beta_fe = TRUE_LOG_HAZARD_RATIOS["family_education"]
    log_mult = beta_th * (bounds >= switches[:, :1]) + beta_fe * (bounds >= switches[:, 1:])
    seg_rate = seg_base * np.exp(log_mult + log_hazard_ratio[:, None])
    lengths = np.diff(np.column_stack([bounds, np.full(n, np.inf)]), axis=1)
    seg_cum = np.column_stack([np.zeros(n), np.cumsum(seg_rate[:, :-1] * lengths[:, :-1], axis=1)])
    target = rng.exponential(1.0, n)
    seg = (seg_cum <= target[:, None]).sum(axis=1) - 1
    rows = np.arange(n)
    return bounds[rows, seg] + (target - seg_cum[rows, seg]) / seg_rate[rows, seg]


def sample_competing_times(
    rng: np.random.Generator, modality: np.ndarray, is_male: np.ndarray
) -> np.ndarray:
    """Times (days) to completion, transfer, incarceration and death: shape (n, 4)."""
    n = len(modality)
    out = np.empty((n, 4))
    for j, cause in enumerate(("completed", "transferred", "incarcerated", "died")):
        rate = np.array([COMPETING_DAILY_HAZARDS[cause][m] for m in MODALITIES])[modality]
        if cause == "incarcerated":
            rate = rate * np.where(is_male, MALE_INCARCERATION_RATIO, 1.0)
        out[:, j] = rng.exponential(1.0, n) / rate
        if cause == "completed":
            out[:, j] += COMPLETION_FROM_DAY
    return out
