"""Survival analysis for retention, matching R's ``survival`` and ``cmprsk`` packages.

Pure functions on pandas DataFrames: each takes ``data`` and column names as keyword arguments,
validates its input once (raising :class:`analytics.errors.SurvivalInputError` with a message that
names the column, the number of offending rows and what to do), returns a tidy DataFrame or a
small result object, and never prints.

* Kaplan–Meier: :func:`kaplan_meier`, :func:`survival_at`, :func:`median_survival`
* group comparisons: :func:`logrank_test` (rho = Fleming–Harrington), :func:`logrank_trend_test`
* Cox: :func:`cox_ph` -> :class:`CoxResult` (``coefficients``, ``lr_test``, ``concordance``,
  ``ph_test()``, ``predict_survival()``)
* competing risks: :func:`cumulative_incidence`, :func:`gray_test`, :func:`fine_gray`
* restricted mean: :func:`rmst`, :func:`rmst_difference`
* adjusted curves: :func:`adjusted_survival` (inverse probability weighting), :func:`ipw_weights`

Reference values: ``Rscript scripts/r_reference.R`` -> tests/data/r_reference/*.csv.
"""

from analytics.errors import SurvivalInputError
from analytics.survival._results import TestResult
from analytics.survival.adjusted import adjusted_survival, ipw_weights
from analytics.survival.competing import (
    FineGrayResult,
    cumulative_incidence,
    fine_gray,
    gray_test,
)
from analytics.survival.cox import CoxResult, cox_ph
from analytics.survival.km import kaplan_meier, median_survival, survival_at
from analytics.survival.logrank import logrank_test, logrank_trend_test
from analytics.survival.rmst import rmst, rmst_difference

__all__ = [
    "adjusted_survival",
    "cox_ph",
    "CoxResult",
    "cumulative_incidence",
    "fine_gray",
    "FineGrayResult",
    "gray_test",
    "ipw_weights",
    "kaplan_meier",
    "logrank_test",
    "logrank_trend_test",
    "median_survival",
    "rmst",
    "rmst_difference",
    "survival_at",
    "SurvivalInputError",
    "TestResult",
]
