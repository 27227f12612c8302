"""Exposure metrics of simulated subjects under a regimen, from the engine's predictions.

The model is bound to a dataset of the regimen's records (``regimen_records``) once per batch
of subjects through the evaluation API (``estimation.evaluation.prepare``); the predictions at
the grid come from ``Evaluator.record_predictions``. AUC is ``F Dose / CL`` (exact) when the
model is a closed-form linear system (``linCmt()``, no ODEs, no dose modifiers) with ``cl``;
otherwise the grid is integrated (linear up, log down) with a log-linear tail for AUC(0-inf).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.errors import DataWarning, NlmeError
from nlme_lab.estimation.evaluation import prepare
from nlme_lab.trials.regimen import Regimen, regimen_records

N_GRID = 49  # grid points over a regimen's window


def analytic_auc(model) -> bool:
    """Whether AUC is ``Dose / CL`` exactly: a closed-form linear model with a ``cl`` variable."""
    ir = model.ir
    return ir.lincmt is not None and not ir.odes and not ir.dose_modifiers


@dataclass(frozen=True)
class ExposureBatch:
    """Subjects under one regimen: the grid, the predictions there and the metrics."""

    times: np.ndarray  # (m,)
    conc: np.ndarray  # (n, m) the first endpoint on DV's scale at the grid
    metrics: pd.DataFrame  # n rows: auc, auc_inf, cmax, cmin, (time_above, conc)
    individual: pd.DataFrame  # n rows: the model's individual variables


def grid_for(regimen: Regimen, *, conc_at: float | None = None, n_grid: int = N_GRID) -> np.ndarray:
    t = regimen.start + np.linspace(0.0, regimen.span, n_grid)
    if conc_at is not None:
        t = np.unique(np.r_[t, regimen.start + float(conc_at)])
    return t


class ExposureModel:
    """A model with population values, evaluated under regimens for batches of subjects."""

    def __init__(self, model, params: dict | None = None, *, obs_cmt: int | None = None):
        self.model, self.params = model, dict(params or {})
        self.obs_cmt = obs_cmt
        self.analytic = analytic_auc(model)

    def evaluate(self, regimen: Regimen, covariates: pd.DataFrame, etas: np.ndarray | None, *,
                 params: dict | None = None, threshold: float | None = None, conc_at: float | None = None,
                 n_grid: int = N_GRID, doses: np.ndarray | None = None,
                 variables: dict | None = None) -> ExposureBatch:
        """``covariates``: one row per subject (columns the model's covariates); ``etas`` (n, n_eta)
        or None (typical subjects); ``params``: population values for this batch (a draw);
        ``doses``: one dose per subject instead of the regimen's; ``variables``: ``{name: times}``
        model variables (an endpoint, or a variable of ``[model]`` before the solution) at times
        from the start of the metrics' window, as metric columns ``name@time``."""
        from nlme_lab.data import read_nonmem

        times = grid_for(regimen, conc_at=conc_at, n_grid=n_grid)
        wanted = variable_times(variables)
        all_t = np.unique(np.r_[times, [regimen.start + t for _, t in wanted]]) if wanted else times
        obs_cmt = self.obs_cmt or (2 if self.model.ir.lincmt is not None and self.model.ir.lincmt.has_depot else 1)
        frame = regimen_records(regimen, all_t, covariates, obs_cmt=obs_cmt, doses=doses)
        with warnings.catch_warnings():  # prediction-only subjects: no observations by design
            warnings.simplefilter("ignore", DataWarning)
            ev = prepare(self.model, read_nonmem(frame))
        values = ev.values({**self.params, **(params or {})})
        n = len(covariates)
        etas = ev.zero_etas() if etas is None else np.ascontiguousarray(etas, dtype=float)
        rows = frame.attrs.get("obs_rows")
        if rows is None:  # one dose record, then the grid
            rows = np.arange(1, len(all_t) + 1)

        def at_grid(per_record: np.ndarray) -> np.ndarray:  # (n_records,) -> (n, len(all_t))
            return per_record.reshape(n, -1)[:, rows]

        ipred = ev.record_predictions(values, etas).ipred
        pred_all = at_grid(ipred[:, 0])
        pred = pred_all[:, np.searchsorted(all_t, times)]
        ind = ev.individual_parameters(values, etas)
        individual = pd.DataFrame(ind.values, columns=list(ind.names))
        metrics = exposure_metrics(times, pred, regimen, threshold=threshold, conc_at=conc_at)
        if wanted:
            for col, values_at in self._variables(ev, values, etas, ipred, at_grid, wanted, all_t, regimen).items():
                metrics[col] = values_at
        if self.analytic and "cl" in individual and not regimen.records:
            amount = regimen.dose if doses is None else np.asarray(doses, dtype=float)
            metrics["auc"] = amount / individual["cl"].to_numpy()
            metrics["auc_inf"] = metrics["auc"]
        return ExposureBatch(times, pred, metrics, individual)

    def _variables(self, ev, values, etas, ipred, at_grid, wanted, all_t, regimen) -> dict:
        """``{"name@t": (n,) values}``: endpoints from the record predictions (DV's scale), other
        ``[model]`` variables from the individual parameters on every record."""
        endpoints = [e.variable for e in self.model.ir.endpoints]
        P = None
        out = {}
        for name, t in wanted:
            k = int(np.searchsorted(all_t, regimen.start + t))
            if name in endpoints:
                col = at_grid(ipred[:, endpoints.index(name)])[:, k]
                out[variable_column(name, t)] = np.asarray(col, dtype=float)
                continue
            P = P if P is not None else ev.record_variables(values, etas)
            if name not in P.names:
                raise NlmeError(f"variables: {name!r} is not a variable of the model (endpoints "
                                f"{', '.join(endpoints)}; variables {', '.join(P.names)})")
            col = at_grid(P.values[:, P.names.index(name)])[:, k]
            out[variable_column(name, t)] = np.asarray(col, dtype=float)
        return out


    def evaluate_many(self, regimens, covariates: pd.DataFrame, etas, **kw) -> list[ExposureBatch]:
        """``evaluate`` for several regimens of the same subjects. For a linear model
        (``analytic_auc``) concentrations are proportional to the dose (superposition), so
        regimens that differ only in dose share one engine evaluation, scaled."""
        out: dict[int, ExposureBatch] = {}
        groups: dict = {}
        for k, reg in enumerate(regimens):
            shared = self.analytic and not reg.records and not kw.get("variables")
            key = (reg.interval, reg.duration, reg.cmt, reg.horizon) if shared else k
            groups.setdefault(key, []).append(k)
        for members in groups.values():
            base = regimens[members[0]]
            b = self.evaluate(base, covariates, etas, **kw)
            out[members[0]] = b
            for k in members[1:]:
                reg = regimens[k]
                conc = b.conc * (reg.dose / base.dose)
                metrics = exposure_metrics(b.times, conc, reg, threshold=kw.get("threshold"),
                                           conc_at=kw.get("conc_at"))
                if "cl" in b.individual:
                    metrics["auc"] = reg.dose / b.individual["cl"].to_numpy()
                    metrics["auc_inf"] = metrics["auc"]
                out[k] = ExposureBatch(b.times, conc, metrics, b.individual)
        return [out[k] for k in range(len(regimens))]


def variable_column(name: str, t: float) -> str:
    """The metric column of variable ``name`` at time ``t``: ``"effect@24"``."""
    return f"{name}@{float(t):g}"


def variable_times(variables: dict | None) -> list[tuple[str, float]]:
    """``[(name, time)]`` of ``{name: time or times}`` (times >= 0, from the window's start)."""
    out = []
    for name, ts in (variables or {}).items():
        for t in np.atleast_1d(np.asarray(ts, dtype=float)):
            if not np.isfinite(t) or t < 0:
                raise NlmeError(f"variables: the times of {name!r} must be >= 0, not {t}")
            out.append((str(name), float(t)))
    return out


def _segment_auc(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Linear-up/log-down trapezoids of every row of ``c`` over ``t``."""
    dt = np.diff(t)
    c0, c1 = c[:, :-1], c[:, 1:]
    lin = 0.5 * (c0 + c1) * dt
    down = (c1 < c0) & (c1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.where(down, (c0 - c1) * dt / np.log(np.where(down, c0 / c1, 2.0)), lin)
    return np.where(down, log, lin).sum(axis=1)


def _time_above(t: np.ndarray, c: np.ndarray, threshold: float) -> np.ndarray:
    dt = np.diff(t)
    a0, a1 = c[:, :-1] - threshold, c[:, 1:] - threshold
    both = (a0 >= 0) & (a1 >= 0)
    cross = (a0 >= 0) != (a1 >= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(cross, np.where(a0 >= 0, a0, a1) / np.abs(a0 - a1), 0.0)
    return (np.where(both, dt, 0.0) + np.where(cross, frac * dt, 0.0)).sum(axis=1)


def exposure_metrics(t: np.ndarray, conc: np.ndarray, regimen: Regimen, *, threshold: float | None = None,
                     conc_at: float | None = None) -> pd.DataFrame:
    """The metrics of every row of ``conc`` (predictions at ``t`` over the regimen's window)."""
    auc_window = _segment_auc(t, conc)
    out = {"cmax": conc.max(axis=1), "cmin": conc[:, -1]}
    if regimen.interval is not None or regimen.records:
        out["auc"] = auc_window  # over the steady-state interval, or the records' window
        out["auc_inf"] = np.full(len(conc), np.nan)  # only exact (analytic) at steady state
    else:
        c1, c2 = conc[:, -2], conc[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.log(c1 / c2) / (t[-1] - t[-2])
            tail = np.where((lam > 0) & np.isfinite(lam), c2 / lam, np.nan)
        out["auc_inf"] = auc_window + tail
        out["auc"] = out["auc_inf"]
    if threshold is not None:
        out["time_above"] = _time_above(t, conc, threshold)
    if conc_at is not None:
        out["conc"] = conc[:, int(np.argmin(np.abs(t - (regimen.start + conc_at))))]
    return pd.DataFrame(out)
