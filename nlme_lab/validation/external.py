"""Predictive performance at fixed parameters: the prediction OFV of data the model was not
fitted to, PRED and IPRED prediction errors, NPDE; ``validate(fit, new_data)``.

* Prediction OFV: the method's objective of the new data at the fit's estimates, nothing
  re-estimated (each subject's etas at the modes of its individual objective, i.e. integrated
  out by the method's approximation), from the evaluation API: the quantity PsN's ``crossval``
  reports, and the fit's own OFV when the data are the fit's.
* Prediction errors PE = prediction - DV of the uncensored observations, PRED at etas 0 and IPRED
  at the MAP etas (FOCEI modes, as ``nl.residuals``): MPE = mean(PE), MAPE = mean|PE|,
  RMSE = sqrt(mean(PE^2)); relative errors RPE = 100 PE / DV on observations with DV > 0:
  MPE% = mean(RPE), MAPE% = mean|RPE|, RMSE% = sqrt(mean(RPE^2)). 95% CIs: t intervals of the
  mean of PE, |PE|, PE^2 (RMSE's is the square root of the last, its lower end at least 0).
* NPDE (``nl.residuals`` with simulations): mean, variance, and the global test as the npde
  package reports it: the Bonferroni combination (3 x the smallest, at most 1) of the t-test of
  mean 0, Fisher's test of variance 1 and the Shapiro-Wilk test of normality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError

ERROR_KEYS = ("mpe", "mape", "rmse", "mpe_percent", "mape_percent", "rmse_percent")


@dataclass(frozen=True)
class PredictionErrors:
    """Prediction-error summaries of one kind of prediction (PRED or IPRED); ``ci`` maps each
    key to its 95% interval."""

    kind: str
    n: int  # observations
    n_percent: int  # observations with DV > 0 (the % versions)
    mpe: float
    mape: float
    rmse: float
    mpe_percent: float
    mape_percent: float
    rmse_percent: float
    ci: dict

    def to_dict(self) -> dict:
        out = {k: _plain(getattr(self, k)) for k in ("n", "n_percent", *ERROR_KEYS)}
        out["ci"] = {k: [_plain(a), _plain(b)] for k, (a, b) in self.ci.items()}
        return out


@dataclass(frozen=True)
class NPDESummary:
    n: int
    mean: float
    variance: float
    p_mean: float  # t-test of mean 0
    p_variance: float  # Fisher's test of variance 1
    p_normality: float  # Shapiro-Wilk
    p_value: float  # global: Bonferroni over the three

    def to_dict(self) -> dict:
        return {k: _plain(getattr(self, k)) for k in ("n", "mean", "variance", "p_mean", "p_variance",
                                                     "p_normality", "p_value")}


@dataclass(frozen=True)
class ValidationResult:
    """``validate``'s result: the prediction OFV (total and per subject), PRED/IPRED errors,
    the NPDE summary and the per-observation table (``records``: ID, TIME, DV, PRED, IPRED, NPDE...).
    Its HTML page: ``nl.validation_report(result, path)`` (the plots layer; reached from the top,
    as the fit's ``nl.report``)."""

    prediction_ofv: float
    subjects: pd.DataFrame  # ID, prediction_ofv
    pred: PredictionErrors
    ipred: PredictionErrors
    npde: NPDESummary | None
    records: pd.DataFrame
    method: str
    n_subjects: int
    n_observations: int
    notes: tuple = ()  # e.g. EBEs of some subjects did not converge
    vpc: object = None  # diagnostics.VPCResult of the new data under the fitted model (``n_vpc`` > 0)

    def to_dict(self) -> dict:
        return {"prediction_ofv": self.prediction_ofv, "method": self.method, "n_subjects": self.n_subjects,
                "n_observations": self.n_observations, "notes": list(self.notes), "pred": self.pred.to_dict(), "ipred": self.ipred.to_dict(),
                "npde": self.npde.to_dict() if self.npde is not None else None}

    def summary(self) -> pd.DataFrame:
        """PRED and IPRED errors side by side (rows: mpe, mape, rmse and the % versions)."""
        return pd.DataFrame({"PRED": [getattr(self.pred, k) for k in ERROR_KEYS],
                             "IPRED": [getattr(self.ipred, k) for k in ERROR_KEYS]}, index=list(ERROR_KEYS))

    def _repr_html_(self) -> str:
        npde = "" if self.npde is None else (f"; NPDE mean {self.npde.mean:.3g}, variance {self.npde.variance:.3g}, "
                                             f"global p {self.npde.p_value:.3g}")
        return (f"<b>External validation</b> ({self.method}): prediction OFV {self.prediction_ofv:.4f} on "
                f"{self.n_subjects} subjects{npde}" + self.summary().to_html(float_format=lambda v: f"{v:.4g}"))


def _plain(v):
    v = float(v) if isinstance(v, (float, np.floating)) else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def prediction_ofv(model, data, estimates: dict, method: str = "focei") -> tuple[float, np.ndarray]:
    """The method's objective of ``data`` at ``estimates`` with nothing re-estimated: the total
    and each subject's term (etas at the modes of the individual objectives)."""
    from nlme_lab.estimation.evaluation import prepare

    ev = prepare(model, data, parallel=False)
    modes = ev.modes(ev.values(dict(estimates)), method)
    per = np.asarray(modes.objectives.ofv, dtype=float)
    return float(per.sum()), per


def error_summary(prediction, dv, kind: str) -> PredictionErrors:
    """PE summaries (module docstring) of ``prediction`` against ``dv`` (uncensored observations)."""
    prediction, dv = np.asarray(prediction, dtype=float), np.asarray(dv, dtype=float)
    ok = np.isfinite(prediction) & np.isfinite(dv)
    pe = prediction[ok] - dv[ok]
    positive = dv[ok] > 0
    rpe = 100 * pe[positive] / dv[ok][positive]
    ci = {"mpe": _t_interval(pe), "mape": _t_interval(np.abs(pe)), "rmse": _root(_t_interval(pe ** 2)),
          "mpe_percent": _t_interval(rpe), "mape_percent": _t_interval(np.abs(rpe)),
          "rmse_percent": _root(_t_interval(rpe ** 2))}
    return PredictionErrors(kind, int(pe.size), int(rpe.size), _mean(pe), _mean(np.abs(pe)),
                            math.sqrt(_mean(pe ** 2)), _mean(rpe), _mean(np.abs(rpe)), math.sqrt(_mean(rpe ** 2)), ci)


def _mean(x) -> float:
    return float(np.mean(x)) if np.size(x) else math.nan


def _t_interval(x, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import t

    n = np.size(x)
    if n < 2:
        return (math.nan, math.nan)
    half = float(t.ppf(0.5 + level / 2, n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)
    m = float(np.mean(x))
    return (m - half, m + half)


def _root(interval) -> tuple[float, float]:
    lo, hi = interval
    return (math.sqrt(max(lo, 0.0)) if math.isfinite(lo) else lo, math.sqrt(max(hi, 0.0)) if math.isfinite(hi) else hi)


def npde_summary(npde) -> NPDESummary | None:
    """Mean, variance and the global test of the NPDEs (module docstring)."""
    from scipy import stats

    x = np.asarray(npde, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 3:
        return None
    n, var = x.size, float(np.var(x, ddof=1))
    p_mean = float(stats.ttest_1samp(x, 0.0).pvalue)
    chi = (n - 1) * var
    p_var = float(min(1.0, 2 * min(stats.chi2.cdf(chi, n - 1), stats.chi2.sf(chi, n - 1))))
    p_norm = float(stats.shapiro(x).pvalue) if n <= 5000 else math.nan
    ps = [p for p in (p_mean, p_var, p_norm) if math.isfinite(p)]
    return NPDESummary(n, float(np.mean(x)), var, p_mean, p_var, p_norm, float(min(1.0, 3 * min(ps))))


def prediction_table(model, data, estimates: dict, *, npde: bool = False, n_sim: int = 1000, seed=None):
    """``nl.residuals`` of ``model`` on ``data`` at ``estimates`` (MAP etas): its uncensored
    observation rows, and the warnings it gave (e.g. EBEs that did not converge) as notes."""
    import warnings

    from nlme_lab.diagnostics import residuals

    with warnings.catch_warnings(record=True) as caught:  # kept as notes of the result, not printed
        warnings.simplefilter("always")
        table = residuals(model, data, params=dict(estimates), npde=npde, n_sim=n_sim, seed=seed).records
    notes = tuple(dict.fromkeys(str(w.message) for w in caught))
    return table[table["CENS"] == 0].reset_index(drop=True), notes


def validate(fit, new_data, *, method=None, npde: bool = True, n_sim: int = 1000, seed: int = 1,
             n_vpc: int = 0) -> ValidationResult:
    """External validation of ``fit`` on ``new_data`` (a Dataset, path or DataFrame), every
    parameter fixed at the fit (module docstring). ``method``: the objective of the prediction
    OFV (default the fit's; SAEM and NUTS fits use FOCEI). ``npde``: simulate ``n_sim`` times
    (seeded by ``seed``) for the NPDE summary. ``n_vpc`` > 0: also a VPC of the new data under
    the fitted model (``nl.vpc`` with that many replicates; ``plots.vpc_plot`` draws it)."""
    from nlme_lab.estimation.results import FitResult
    from nlme_lab.problem import as_dataset

    if not isinstance(fit, FitResult):
        raise NlmeError(f"validate needs a FitResult (from nl.fit), not {type(fit).__name__}")
    if fit.model is None:
        raise NlmeError("this FitResult carries no model (one restored from a file?): fit the model again")
    data = as_dataset(new_data)
    method = objective_method(method or fit.method.value)
    total, per = prediction_ofv(fit.model, data, fit.estimates, method)
    table, notes = prediction_table(fit.model, data, fit.estimates, npde=npde, n_sim=n_sim, seed=seed)
    subjects = pd.DataFrame({"ID": [data.subject_id(i) for i in range(data.n_subjects)], "prediction_ofv": per})
    vpc = None
    if n_vpc:
        from nlme_lab.diagnostics import vpc as run_vpc

        vpc = run_vpc(fit.model, data, params=dict(fit.estimates), n=int(n_vpc), seed=seed)
    return ValidationResult(total, subjects, error_summary(table["PRED"], table["DV"], "PRED"),
                            error_summary(table["IPRED"], table["DV"], "IPRED"),
                            npde_summary(table["NPDE"]) if npde else None, table, method, data.n_subjects,
                            len(table), notes, vpc)


def objective_method(method: str) -> str:
    """The method whose objective a prediction OFV uses: the Laplace family as given, FOCEI for
    sampling methods (SAEM, NUTS: no objective of their own at fixed parameters)."""
    method = str(method).lower()
    return method if method in ("fo", "foce", "focei", "laplace") else "focei"
