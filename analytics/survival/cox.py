"""Cox proportional-hazards model, matching R's ``coxph``, ``cox.zph`` and ``survfit.coxph``.

Where this differs from lifelines (and why we fit the model ourselves, see ``_coxfit``):

* ``ties="efron"`` (R's default) or ``"breslow"`` (Stata and SAS default);
* cluster-robust standard errors as R's ``coxph(..., cluster=)`` (z and p then use them);
* ``ph_test()`` is R's (survival >= 3.0) exact score test of cox.zph, per term and GLOBAL,
  not the approximation lifelines implements;
* ``predict_survival()`` is a step function of the Breslow/Efron baseline hazard as R's
  ``survfit(fit, newdata)``, never interpolated between event times.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from analytics.errors import SurvivalInputError
from analytics.survival import _coxfit
from analytics.survival import _validate as v
from analytics.survival._concordance import concordance_counts
from analytics.survival._results import TestResult
from analytics.survival.km import _check_options, confidence_band, km_curve, std_err_of_survival

COEF_COLUMNS = ["coef", "se", "robust_se", "z", "p", "hr", "hr_lower", "hr_upper"]
TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass(frozen=True)
class Design:
    """How covariates become model terms (kept to encode prediction profiles the same way)."""

    covariates: list[str]
    levels: dict[str, list[object]]  # categorical covariate -> levels, reference first
    columns: list[str]  # term names, e.g. "dose", "clinic[T.2]"
    assign: dict[str, list[int]]  # covariate -> its term columns

    def matrix(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """Encode ``frame`` (raw covariates) into the numeric design matrix; with ``rows``,
        of those rows in that order (a fit's sorted design, without encoding the whole matrix
        first and then gathering its rows: half the memory of a million-row design)."""
        out = np.empty((len(frame) if rows is None else len(rows), len(self.columns)))
        for name in self.covariates:  # filled column by column: fast
            cols = self.assign[name]
            if name in self.levels:
                level_of_row = self._level_of_row(frame, name)
                if rows is not None:
                    level_of_row = level_of_row[rows]
                for number, col in enumerate(cols, start=1):
                    out[:, col] = level_of_row == number
            else:
                values = frame[name].to_numpy(dtype=float)
                out[:, cols[0]] = values if rows is None else values[rows]
        return out

    def linear_predictor(self, frame: pd.DataFrame, beta: np.ndarray) -> np.ndarray:
        """``matrix(frame) @ beta`` without the matrix: a categorical covariate adds its level's
        coefficient by lookup (a million rows: a tenth of the time and no n x p array)."""
        eta = np.zeros(len(frame))
        for name in self.covariates:
            cols = self.assign[name]
            if name in self.levels:
                effects = np.r_[0.0, beta[cols]]  # the reference level adds nothing
                eta += effects[self._level_of_row(frame, name)]
            else:
                eta += beta[cols[0]] * frame[name].to_numpy(dtype=float)
        return eta

    def _level_of_row(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        """Each row's position in ``levels[name]`` (0 = the reference level)."""
        known = self.levels[name]
        # each distinct value is looked up once, then rows by their code (a million rows
        # compared as objects per level took a second)
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
        position = {level: i for i, level in enumerate(known)}
        unknown = [u for u in uniques if u not in position]
        if unknown:
            raise SurvivalInputError(
                f"covariate '{name}' has values {sorted(unknown, key=str)} not seen "
                f"when fitting; known levels: {known}"
            )
        return np.array([position[u] for u in uniques], dtype=np.intp)[codes]


def _is_categorical(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    )


def make_design(data: pd.DataFrame, covariates: Sequence[str]) -> Design:
    """Treatment coding: categorical covariates get one term per non-reference level.

    The reference is the first level: category order for a categorical dtype, else sorted.
    """
    levels, columns, assign = {}, [], {}
    for name in covariates:
        series = data[name]
        if _is_categorical(series):
            if isinstance(series.dtype, pd.CategoricalDtype):  # the categories present
                present = np.unique(series.cat.codes.to_numpy())
                lv = [series.cat.categories[i] for i in present if i >= 0]
            else:
                lv = sorted(pd.unique(series), key=lambda x: (str(type(x)), x))
            if len(lv) < 2:
                # R's model.matrix refuses too ("contrasts ... 2 or more levels")
                raise SurvivalInputError(
                    f"covariate '{name}' has one value ({lv[0] if lv else 'none'}) in these "
                    f"{len(series)} rows; drop it from the model (or widen the cohort)"
                )
            levels[name] = lv
            terms = [f"{name}[T.{level}]" for level in lv[1:]]
        else:
            terms = [name]
        assign[name] = list(range(len(columns), len(columns) + len(terms)))
        columns.extend(terms)
    return Design(list(covariates), levels, columns, assign)


def _strata_codes(data: pd.DataFrame, strata: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer stratum codes (sorted order) and the table of stratum values (row i = code i)."""
    if not strata:
        return np.zeros(len(data), dtype=np.int64), pd.DataFrame(index=[0])
    if len(strata) == 1:
        codes, uniques = pd.factorize(data[strata[0]], sort=True)
        keys = pd.DataFrame({strata[0]: np.asarray(uniques)})
    else:
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(data[list(strata)]), sort=True)
        keys = pd.DataFrame(list(uniques), columns=list(strata))
    return codes.astype(np.int64), keys


@dataclass(eq=False)
class CoxResult:
    """A fitted Cox model. Attributes mirror what R prints for ``coxph``.

    Attributes
    ----------
    coefficients : DataFrame indexed by term with ``coef, se, robust_se, z, p, hr, hr_lower,
        hr_upper`` (robust_se is NaN unless ``cluster`` was given; z and p then use it).
    log_likelihood, log_likelihood_null : log partial likelihood at the estimate and at 0.
    lr_test : likelihood-ratio test against the null model (``statistic, df, p_value``).
    variance : model-based covariance matrix; ``robust_variance`` when clustered.
    n, n_events, iterations.
    """

    coefficients: pd.DataFrame
    log_likelihood: float
    log_likelihood_null: float
    lr_test: TestResult
    variance: pd.DataFrame
    robust_variance: pd.DataFrame | None
    n: int
    n_events: int
    iterations: int
    ties: str
    design: Design = field(repr=False)
    strata: list[str] = field(repr=False)
    strata_table: pd.DataFrame = field(repr=False)
    _rs: _coxfit.RiskSets = field(repr=False)
    _ev: _coxfit.Evaluation = field(repr=False)
    _info: np.ndarray = field(repr=False)
    _start: np.ndarray | None = field(repr=False)
    _stop: np.ndarray = field(repr=False)
    _event: np.ndarray = field(repr=False)
    _strata_codes: np.ndarray = field(repr=False)

    @property
    def params(self) -> np.ndarray:
        return self.coefficients["coef"].to_numpy()

    @cached_property
    def concordance(self) -> float:
        """Harrell's C as R's ``fit$concordance["concordance"]`` (computed on first access)."""
        return self.concordance_detail["concordance"]

    @cached_property
    def concordance_detail(self) -> dict[str, float]:
        """Concordant, discordant and tied pair counts behind :attr:`concordance`."""
        eta = self._rs.x @ self.params  # sorted rows; ties in eta are exact
        order = self._rs.order
        start = None if self._start is None else self._start[order]
        return concordance_counts(
            np.round(eta, 12),
            self._stop[order],
            self._event[order],
            self._strata_codes[order],
            start,
        )

    def ph_test(self, transform: str = "km") -> pd.DataFrame:
        """Test of proportional hazards, as R's ``cox.zph(fit, transform=)`` (survival >= 3).

        For each term, the score test of adding x * g(t) (g = the transformed time, centred
        over events) to the fitted model, with the full information matrix; GLOBAL tests all
        terms at once. ``transform``: "km" (R's default: 1 - left-continuous KM), "identity",
        "rank" or "log".

        Returns
        -------
        DataFrame indexed by term plus ``GLOBAL`` with columns ``chisq, df, p``.
        """
        if transform not in TRANSFORMS:
            raise SurvivalInputError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        g = self._time_transform(transform)
        rs, ev = self._rs, self._ev
        p = rs.x.shape[1]
        i_g = _coxfit.information(rs, ev, g)
        imat = np.block([[self._info, i_g], [i_g, _coxfit.information(rs, ev, g * g)]])
        u = np.r_[np.zeros(p), (ev.score_k * g[:, None]).sum(axis=0)]
        rows = {}
        for name, cols in self.design.assign.items():
            keep = np.r_[np.arange(p), p + np.asarray(cols)]
            sub_u = u[keep]
            chisq = float(sub_u @ np.linalg.solve(imat[np.ix_(keep, keep)], sub_u))
            rows[name] = (chisq, len(cols))
        rows["GLOBAL"] = (float(u @ np.linalg.solve(imat, u)), p)
        out = pd.DataFrame.from_dict(rows, orient="index", columns=["chisq", "df"])
        out["p"] = stats.chi2.sf(out["chisq"], out["df"])
        return out

    def _time_transform(self, transform: str) -> np.ndarray:
        """g(t_k) at each event time, centred by its mean over events (as cox.zph)."""
        t = self._rs.time_k
        if transform == "identity":
            g = t.astype(float)
        elif transform == "log":
            g = np.log(t)
        elif transform == "rank":
            # R ranks all rows' times (average ties); an event time's rank is its rows' rank
            ranks = stats.rankdata(self._stop)
            g = np.interp(t, np.sort(self._stop), np.sort(ranks))
        else:
            order = v.group_time_order(self._stop, np.zeros(len(self._stop), dtype=np.intp))
            start = None if self._start is None else self._start[order]
            curve = km_curve(self._stop[order], self._event[order].astype(float), start)
            idx = np.searchsorted(curve.time, t, side="left")  # last time strictly before t
            g = 1.0 - np.r_[1.0, curve.survival][idx]
        return g - np.sum(g * self._rs.d) / self._rs.d.sum()

    def predict_survival(
        self,
        profiles: pd.DataFrame,
        times: Sequence[float],
        conf_type: str = "log",
        conf_level: float = 0.95,
    ) -> pd.DataFrame:
        """Predicted survival for covariate profiles, as R's ``survfit(fit, newdata=profiles)``.

        S(t | x) = exp(-H(t | x)), H(t | x) = H0(t) exp((x - mean)' beta), with H0 the Breslow
        (or, for an Efron fit, Efron) baseline cumulative hazard of the profile's stratum: a step
        function in t, never interpolated. var H(t | x) = exp(2 (x - mean)' beta) (sum_k dV0_k +
        q(t)' V q(t)) with q(t) = H0(t) (x - mean) - sum_k xbar_k dH0_k (Tsiatis; R's
        ``coxsurv.fit``), V the model variance (the robust one for a clustered fit, as R).

        Parameters
        ----------
        profiles : one row per profile with the model's covariates (and strata columns).
        times : times at which to evaluate the curves.
        conf_type, conf_level : pointwise CI as in :func:`kaplan_meier` ("log" is R's default).

        Returns
        -------
        DataFrame with ``profile`` (row label of ``profiles``), ``time``, ``cumhaz``,
        ``survival``, ``std_err`` (SE of S, R's summary std.err), ``lower``, ``upper``.
        """
        _check_options(conf_type, conf_level)
        v.check_frame(profiles, self.design.covariates + self.strata)
        z = self.design.matrix(profiles) - self._rs.means
        risk = np.exp(z @ self.params)
        grid = np.asarray(times, dtype=float)
        sums, ev = self._ev.sums, self._ev
        haz = _coxfit.baseline_hazard_increments(self._rs, ev)
        xbar = ev.s1 * sums["A2"][:, None] - ev.e1 * sums["B2"][:, None]
        vmat = (self.variance if self.robust_variance is None else self.robust_variance).to_numpy()
        codes = self._profile_strata(profiles)
        frames = []
        for label, code, zz, rr in zip(profiles.index, codes, z, risk, strict=True):
            mine, at = self._steps_before(code, grid)
            h0 = _cumulative_at(haz[mine], at)
            v0 = _cumulative_at(sums["A2"][mine], at)
            q = h0[:, None] * zz - _cumulative_at(xbar[mine], at)
            var_h = rr**2 * (v0 + np.einsum("ti,ij,tj->t", q, vmat, q))
            surv = np.exp(-h0 * rr)
            lower, upper = confidence_band(surv, var_h, conf_type, conf_level)
            frames.append(
                pd.DataFrame(
                    {
                        "profile": label,
                        "time": grid,
                        "cumhaz": h0 * rr,
                        "survival": surv,
                        "std_err": std_err_of_survival(surv, var_h),
                        "lower": lower,
                        "upper": upper,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def fitted_survival_at(self, time: float) -> np.ndarray:
        """S(time | x_i) for every row the model was fitted on, in the data's row order: what
        :meth:`predict_survival` gives for each row as a profile, without encoding the rows
        again (a million episodes: a tenth of a second instead of a second)."""
        rs = self._rs
        risk = np.exp(rs.x @ self.params)  # rows sorted, covariates centred
        stratum_of_row = self._strata_codes[rs.order]
        survival = np.empty(len(risk))
        survival[rs.order] = np.exp(-self._baseline_at(time)[stratum_of_row] * risk)
        return survival

    def _baseline_at(self, time: float) -> np.ndarray:
        """H0(time) of each stratum (by stratum code), a step function of the event times."""
        haz = _coxfit.baseline_hazard_increments(self._rs, self._ev)
        h0 = np.zeros(len(self.strata_table))
        for code in range(len(h0)):
            mine, at = self._steps_before(code, time)
            h0[code] = _cumulative_at(haz[mine], at)
        return h0

    def _steps_before(self, code: int, times) -> tuple[np.ndarray, np.ndarray]:
        """The event times of stratum ``code`` (a mask over all of them) and, for each of
        ``times``, how many of the stratum's event times are at or before it."""
        mine = self._rs.stratum_k == code
        return mine, np.searchsorted(self._rs.time_k[mine], times, side="right")

    def _profile_strata(self, profiles: pd.DataFrame) -> np.ndarray:
        if not self.strata:
            return np.zeros(len(profiles), dtype=np.int64)
        merged = profiles[self.strata].merge(
            self.strata_table.reset_index(), on=self.strata, how="left"
        )
        if merged["index"].isna().any():
            raise SurvivalInputError(
                f"{int(merged['index'].isna().sum())} profile(s) have strata values not in the "
                f"fitted data; strata columns: {self.strata}"
            )
        return merged["index"].to_numpy(np.int64)


def _prepare(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: list[str],
    strata: list[str],
    cluster: str | None,
    start: str | None,
) -> tuple[Design, np.ndarray, np.ndarray, np.ndarray | None]:
    v.check_frame(data, [duration, event, start, cluster, *covariates, *strata])
    if not covariates:
        raise SurvivalInputError("covariates is empty; name at least one column to model")
    stop, entry = v.check_durations(data, duration, start, start_role="start")
    observed = v.check_event(data, event)
    design = make_design(data, covariates)
    for name, lv in design.levels.items():
        codes = pd.Categorical(data[name], categories=lv).codes.astype(np.intp)
        v.check_groups_have_events(codes, lv, observed, name)
    return design, stop, observed, entry


def cox_ph(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    covariates: Sequence[str],
    ties: str = "efron",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    start: str | None = None,
    conf_level: float = 0.95,
) -> CoxResult:
    """Fit a Cox proportional-hazards model, as R's
    ``coxph(Surv(start, duration, event) ~ covariates + strata(s), ties=, cluster=)``.

    Parameters
    ----------
    data : one row per episode (or per (start, stop] interval when ``start`` is given).
    duration, event : stop time and 1 = event, 0 = censored.
    covariates : numeric, boolean or categorical columns; categorical ones (object/category
        dtype) become treatment-coded terms ``name[T.level]`` against the first level.
    ties : "efron" (R's default) or "breslow".
    strata : column(s); each stratum has its own baseline hazard.
    cluster : column identifying correlated rows (e.g. patient); adds robust (sandwich) SEs.
    start : column with interval start times: counting-process data, time-varying covariates.

    Returns
    -------
    CoxResult (see its docstring): ``coefficients``, ``log_likelihood``, ``lr_test``,
    ``concordance``, ``ph_test()``, ``predict_survival()``.
    """
    if ties not in ("efron", "breslow"):
        raise SurvivalInputError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    covariates, strata_cols = v.as_list(covariates), v.as_list(strata)
    v.check_frame(data, [cluster])
    with ThreadPoolExecutor(max_workers=1) as beside:
        # the clusters are coded on the other core while the model is fitted: a million patient
        # ids take a fifth of a second, which Arrow spends without holding the GIL
        cluster_codes = None if cluster is None else beside.submit(_codes, data[cluster])
        design, stop, observed, entry = _prepare(
            data, duration, event, covariates, strata_cols, cluster, start
        )
        codes, strata_table = _strata_codes(data, strata_cols)

        def sorted_design(rows: np.ndarray) -> np.ndarray:
            x = design.matrix(data, rows)
            v.check_covariates_vary(pd.DataFrame(x, columns=design.columns))
            return x

        rs = _coxfit.build_risk_sets(
            sorted_design, stop, observed, codes, entry, efron=ties == "efron"
        )
        v.check_not_collinear(rs.x, design.columns)
        beta, ev, info, loglik0, iterations = _coxfit.newton_raphson(rs)
        vcov = np.linalg.inv(info)
        _check_finite(beta, ev.gradient, vcov, design.columns)
        robust = None
        if cluster_codes is not None:
            residuals = _coxfit.score_residuals(rs, ev)
            robust = _cluster_sandwich(residuals, cluster_codes.result(), rs.order, vcov)
    table = _coefficient_table(beta, vcov, robust, design.columns, conf_level)
    lr = 2 * (ev.loglik - loglik0)
    names = design.columns
    return CoxResult(
        coefficients=table,
        log_likelihood=ev.loglik,
        log_likelihood_null=loglik0,
        lr_test=TestResult(lr, len(beta), float(stats.chi2.sf(lr, len(beta))), "likelihood ratio"),
        variance=pd.DataFrame(vcov, index=names, columns=names),
        robust_variance=None if robust is None else pd.DataFrame(robust, names, names),
        n=len(data),
        n_events=int(observed.sum()),
        iterations=iterations,
        ties=ties,
        design=design,
        strata=strata_cols,
        strata_table=strata_table,
        _rs=rs,
        _ev=ev,
        _info=info,
        _start=entry,
        _stop=stop,
        _event=observed,
        _strata_codes=codes,
    )


def _cumulative_at(increments: np.ndarray, at) -> np.ndarray:
    """Sums of the first ``at`` ``increments`` (per event time, along the first axis)."""
    zero = np.zeros((1, *increments.shape[1:]))
    return np.concatenate([zero, np.cumsum(increments, axis=0)])[at]


def _codes(cluster: pd.Series) -> np.ndarray:
    """Cluster codes in the data's own order (hashing a million strings in sorted order jumps
    around memory: twice slower), from the column itself (Arrow text is coded without making
    Python strings)."""
    return pd.factorize(cluster)[0]


def _cluster_sandwich(
    residuals: np.ndarray, cluster_codes: np.ndarray, order: np.ndarray, vcov: np.ndarray
) -> np.ndarray:
    """R's robust variance D'D, D = the dfbeta residuals (score residuals @ vcov) summed per
    cluster. ``residuals`` are in sorted-row order (``order``), ``cluster_codes`` in the data's
    (:func:`_codes`)."""
    codes = cluster_codes[order]
    n_clusters = int(codes.max()) + 1
    dfbeta = _coxfit.sum_rows_by_group(residuals, codes, n_clusters) @ vcov
    return dfbeta.T @ dfbeta


def _check_finite(
    beta: np.ndarray, gradient: np.ndarray, vcov: np.ndarray, names: list[str]
) -> None:
    """R's check for a monotone likelihood (an infinite coefficient): one more Newton step
    would still change the coefficient by a lot, relative to its size."""
    step = np.abs(gradient @ vcov)
    bad = ~np.isfinite(beta) | ((step > 1e-9) & (step > np.sqrt(1e-9) * np.abs(beta)))
    if bad.any():
        terms = [n for n, b in zip(names, bad, strict=True) if b]
        raise SurvivalInputError(
            f"the coefficient of {terms} is infinite: the events all fall on one side of "
            "that covariate (monotone likelihood); recode or drop it, or merge its categories"
        )


def _coefficient_table(
    beta: np.ndarray,
    vcov: np.ndarray,
    robust: np.ndarray | None,
    names: list[str],
    conf_level: float,
) -> pd.DataFrame:
    se = np.sqrt(np.diag(vcov))
    robust_se = np.sqrt(np.diag(robust)) if robust is not None else np.full(len(beta), np.nan)
    used = robust_se if robust is not None else se
    z = beta / used
    q = stats.norm.ppf(1 - (1 - conf_level) / 2)
    table = pd.DataFrame(
        {
            "coef": beta,
            "se": se,
            "robust_se": robust_se,
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
            "hr": np.exp(beta),
            "hr_lower": np.exp(beta - q * used),
            "hr_upper": np.exp(beta + q * used),
        },
        index=pd.Index(names, name="term"),
    )
    return table[COEF_COLUMNS]


def load_compiled_kernels() -> None:
    """Fit a tiny clustered model and its concordance, so that numba loads its compiled
    kernels now (or, on a fresh checkout, compiles them, a few seconds) rather than during
    someone's first model."""
    data = pd.DataFrame(
        {"time": [1.0, 2, 3, 4, 5, 6], "event": [1, 0, 1, 1, 0, 1], "x": [0.5, 1, 0, 2, 1, 3]}
    )
    data["patient"] = ["a", "a", "b", "c", "c", "d"]
    fit = cox_ph(data, duration="time", event="event", covariates=["x"], cluster="patient")
    _ = fit.concordance
