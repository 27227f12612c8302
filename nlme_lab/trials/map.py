"""MAP Bayesian estimation for one new patient, and the dose that puts the patient in a window.

``map_estimate`` solves FOCEI's inner problem (``Evaluator.modes``) with the population values
fixed: the posterior mode of the etas minimises

    sum_j [log V_j + (y_j - f_j)^2 / V_j] + eta' Omega^-1 eta      (CENS=1: M3's -2 log Phi term)

which is ``ofv``. The posterior covariance of the etas is the inverse of half the Hessian there
(``Evaluator.objectives`` with the Laplace method; FOCEI's curvature where that fails). The
patient is solved from several starts at once (the patient copied as that many subjects: 0 and
+-2 SD along each eta), so a multimodal objective is found and said so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from nlme_lab.errors import DataError, DataWarning, NlmeError
from nlme_lab.estimation.evaluation import prepare
from nlme_lab.trials.regimen import Regimen, Target, mvn_draws

N_BAND = 200  # posterior draws behind the prediction band and the probability of attainment


@dataclass(frozen=True)
class MapResult:
    """The posterior mode of one patient's random effects and what follows from it."""

    eta: dict  # name -> posterior mode
    individual: dict  # model variable -> value at the mode
    ofv: float  # the MAP objective at the mode (module docstring)
    eta_covariance: np.ndarray  # (n_eta, n_eta) inverse of half the Hessian
    predictions: pd.DataFrame  # TIME, DV, MDV, PRED, IPRED, LOWER, UPPER (90 % posterior band)
    multimodal: bool  # several starts reached distinct modes
    modes: tuple  # (etas, ofv) of every distinct mode found, best first
    message: str
    model: object = field(default=None, repr=False, compare=False)
    params: dict = field(default_factory=dict, repr=False, compare=False)
    covariates: dict = field(default_factory=dict)  # the patient's covariates (first record)
    patient: object = field(default=None, repr=False, compare=False)  # the patient's DataFrame

    @property
    def eta_vector(self) -> np.ndarray:
        return np.array(list(self.eta.values()), dtype=float)

    @property
    def eta_sd(self) -> dict:
        return {k: float(v) for k, v in zip(self.eta, np.sqrt(np.diag(self.eta_covariance)))}

    def to_dict(self) -> dict:
        """Plain JSON values (the CLI's output)."""
        p = self.predictions

        def curve(col):
            return [{"time": float(t), "value": float(v)} for t, v in zip(p["TIME"], p[col])]

        return {"eta": {k: float(v) for k, v in self.eta.items()},
                "individual": {k: float(v) for k, v in self.individual.items()},
                "ofv": float(self.ofv), "eta_covariance": self.eta_covariance.tolist(),
                "ipred": curve("IPRED"), "pred": curve("PRED"),
                "band": [{"time": float(t), "lower": float(lo), "upper": float(hi)}
                         for t, lo, hi in zip(p["TIME"], p["LOWER"], p["UPPER"])],
                "multimodal": self.multimodal, "message": self.message}

    def __str__(self) -> str:
        eta = ", ".join(f"{k} = {v:.5g}" for k, v in self.eta.items())
        ind = ", ".join(f"{k} = {v:.5g}" for k, v in self.individual.items())
        return f"MAP: {eta}; {ind}; objective {self.ofv:.6g}. {self.message}"


def population_of(fit_or_model, params: dict | None = None):
    """(model, population values) from a ``FitResult`` (its estimates) or a ``Model`` ([ini])."""
    from nlme_lab.model import Model

    if isinstance(fit_or_model, Model):
        return fit_or_model, dict(params or {})
    model = getattr(fit_or_model, "model", None)
    if model is None or not hasattr(fit_or_model, "estimates"):
        raise NlmeError(f"give a Model or a FitResult (with its model), not {type(fit_or_model).__name__}")
    table = model.parameters
    est = {k: v for k, v in fit_or_model.estimates.items() if table.canonical(k) is not None}
    return model, {**est, **(params or {})}


def _patient_frame(patient_data) -> pd.DataFrame:
    from nlme_lab.data import Dataset

    if isinstance(patient_data, Dataset):
        frame = patient_data.to_frame()
    elif isinstance(patient_data, pd.DataFrame):
        frame = patient_data
    else:
        from nlme_lab.data import read_nonmem

        frame = read_nonmem(patient_data).to_frame()
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    idcol = next((c for c in frame.columns if c.upper() == "ID"), None)
    if idcol is None:
        frame = frame.assign(ID=1)[["ID", *frame.columns]]
        idcol = "ID"
    ids = pd.unique(frame[idcol])
    if len(ids) != 1:
        raise DataError(f"patient_data holds {len(ids)} IDs ({', '.join(map(str, ids[:5]))}...); MAP estimation "
                        "takes one patient")
    return frame


def _with_times(frame: pd.DataFrame, times) -> pd.DataFrame:
    if times is None or len(np.atleast_1d(times)) == 0:
        return frame
    cols = {c.upper(): c for c in frame.columns}
    tcol = cols.get("TIME")
    if tcol is None:
        raise DataError("times= needs a TIME column in patient_data")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    new = {c: np.repeat(frame[c].to_numpy()[-1:], len(t)) for c in frame.columns}  # covariates: the last record's
    new[tcol] = t
    for name, val in (("DV", 0.0), ("MDV", 1), ("EVID", 0), ("AMT", 0.0), ("RATE", 0.0), ("CENS", 0),
                      ("SS", 0), ("II", 0.0), ("ADDL", 0)):
        if name in cols:
            new[cols[name]] = np.full(len(t), val)
    if "CMT" in cols:
        obs = frame[cols["CMT"]].to_numpy()[frame[cols["EVID"]].to_numpy() == 0] if "EVID" in cols else []
        new[cols["CMT"]] = np.full(len(t), obs[0] if len(obs) else frame[cols["CMT"]].iloc[-1])
    both = {c: np.concatenate([frame[c].to_numpy(), new[c]]) for c in frame.columns}
    # new rows go after the existing records of the same time (a stable sort)
    order = np.argsort(both[tcol].astype(float), kind="stable")
    return pd.DataFrame({c: v[order] for c, v in both.items()})


def _replicate(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    idcol = next(c for c in frame.columns if c.upper() == "ID")
    out = pd.DataFrame({c: np.tile(frame[c].to_numpy(), k) for c in frame.columns})
    out[idcol] = np.repeat(np.arange(1, k + 1), len(frame))
    return out


def _starts(omega: np.ndarray) -> np.ndarray:
    n = omega.shape[0]
    sd = np.sqrt(np.clip(np.diag(omega), 0.0, None))
    starts = [np.zeros(n)]
    for j in range(n):
        for s in (-2.0, 2.0):
            e = np.zeros(n)
            e[j] = s * sd[j]
            starts.append(e)
    return np.array(starts)


def map_estimate(fit_or_model, patient_data, *, params: dict | None = None, times=None,
                 band: float = 0.9, seed: int = 1) -> MapResult:
    """The MAP (posterior mode) estimate of one patient's random effects.

    ``fit_or_model``: a ``FitResult`` (population values = its estimates) or a ``Model`` (its
    ``[ini]`` values, fixed or not); ``params`` overrides values by name. ``patient_data``: a
    Dataset, DataFrame or path holding one ID (doses, levels; CENS=1 levels are below the limit,
    M3). ``times``: extra prediction times (MDV=1 records). ``band``: the posterior band's
    coverage (from ``N_BAND`` draws of the etas' normal approximation, ``seed``; 0 or None:
    no band, LOWER/UPPER NaN).
    """
    from nlme_lab.data import read_nonmem

    model, pop = population_of(fit_or_model, params)
    frame = _with_times(_patient_frame(patient_data), times)
    nrec = len(frame)
    # the patient copied once per start: every start solves in one engine call
    values0 = model.parameters.values(pop)
    n_copy = len(_starts(np.asarray(values0.omega, dtype=float)))
    cols = {c.upper(): c for c in frame.columns}
    observed = np.ones(nrec, dtype=bool)
    for name in ("EVID", "MDV"):
        if name in cols:
            observed &= frame[cols[name]].to_numpy() == 0
    if not observed.any():
        raise DataError("patient_data has no observed level (EVID 0, MDV 0): the MAP estimate would be the prior")
    ev = prepare(model, read_nonmem(_replicate(frame, n_copy)))
    values = ev.values(pop)
    omega = np.asarray(values.omega, dtype=float)
    starts = _starts(omega)
    k = len(starts)
    modes = ev.modes(values, "focei", etas0=starts)
    etas, inner = modes.etas[:k], modes.objectives.inner[:k]
    order = np.argsort(inner)
    distinct: list[tuple[np.ndarray, float]] = []
    for i in order:
        if not np.isfinite(inner[i]):
            continue
        if all(np.max(np.abs(etas[i] - e)) > 1e-2 for e, _ in distinct):  # a mode not found yet
            distinct.append((etas[i].copy(), float(inner[i])))
    if not distinct:
        raise NlmeError("the MAP objective is not finite at any start: check the patient's doses, levels and "
                        "covariates")
    best, ofv = distinct[0]
    multimodal = len(distinct) > 1
    at_best = np.repeat(best[None, :], n_copy, axis=0)
    try:
        cov = ev.objectives(values, at_best, "laplace").covariance[0]
        if not np.all(np.isfinite(cov)) or np.any(np.linalg.eigvalsh(cov) <= 0):
            raise np.linalg.LinAlgError
    except (np.linalg.LinAlgError, NlmeError):
        cov = ev.objectives(values, at_best, "focei").covariance[0]
    labels = ev.eta_labels
    ind = ev.individual_parameters(values, at_best)
    rec = ev.record_predictions(values, at_best)
    rec_pred, rec_ipred = rec.pred[:nrec, 0], rec.ipred[:nrec, 0]
    lo = hi = np.full(nrec, np.nan)
    if band:  # the posterior band: draws of the etas' normal approximation, one engine call
        draws = mvn_draws(np.random.default_rng(seed), best, cov, N_BAND)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            evb = prepare(model, read_nonmem(_replicate(frame, N_BAND)))
        ipb = evb.record_predictions(values, draws).ipred[:, 0].reshape(N_BAND, nrec)
        lo, hi = np.nanquantile(ipb, [(1 - band) / 2, (1 + band) / 2], axis=0)
    evid = frame[cols["EVID"]].to_numpy() if "EVID" in cols else np.zeros(nrec)
    mdv = frame[cols["MDV"]].to_numpy() if "MDV" in cols else np.zeros(nrec)
    keep = evid == 0
    dv = frame[cols["DV"]].to_numpy(dtype=float) if "DV" in cols else np.full(nrec, np.nan)
    pred = pd.DataFrame({"TIME": (frame[cols["TIME"]].to_numpy(dtype=float) if "TIME" in cols
                                  else np.arange(nrec, dtype=float))[keep],
                         "DV": np.where(mdv != 0, np.nan, dv)[keep], "MDV": mdv[keep], "PRED": rec_pred[keep],
                         "IPRED": rec_ipred[keep], "LOWER": lo[keep], "UPPER": hi[keep]})
    if multimodal:
        others = "; ".join(f"({', '.join(f'{x:.4g}' for x in e)}) objective {o:.6g}" for e, o in distinct[1:])
        message = (f"the objective is multimodal: the {k} starts reached {len(distinct)} distinct solutions; the "
                   f"lowest is kept, the others: {others}")
    else:
        message = f"one mode from {k} starts"
    if modes.n_not_converged:
        message += f"; {modes.n_not_converged} of the {k} starts stopped before the tolerance"
    covs = {c: float(frame[c].to_numpy()[0]) for c in model.ir.covariates if c in frame.columns}
    return MapResult(dict(zip(labels, map(float, best))), dict(zip(ind.names, map(float, ind.values[0]))),
                     float(ofv), np.asarray(cov), pred, multimodal, tuple(distinct), message, model, pop, covs, frame)


@dataclass(frozen=True)
class IndividualDose:
    """The dose that puts one patient's predicted exposure in a target window."""

    regimen: Regimen  # with the recommended dose
    target: Target
    predicted: float  # the metric at the MAP etas
    probability: float  # posterior probability that the metric is in the window
    interval: tuple  # 90 % posterior interval of the metric
    doses: np.ndarray  # the dose grid searched (adjust="interval": the regimen's dose)
    exposure: np.ndarray  # the metric at the MAP etas on that grid
    adjust: str = "dose"  # what was chosen: "dose" or "interval"
    candidates: pd.DataFrame | None = None  # adjust="interval": interval, predicted, probability per candidate

    def __str__(self) -> str:
        return (f"{self.regimen.describe()}: predicted {self.target.metric} {self.predicted:.4g} "
                f"(90 % {self.interval[0]:.4g}-{self.interval[1]:.4g}), probability in {self.target.describe()}: "
                f"{self.probability:.0%}")


INTERVALS = (6.0, 8.0, 12.0, 24.0)  # the dosing intervals ``adjust="interval"`` chooses from by default


def individual_dose(map_result: MapResult, target, regimen, *, adjust: str = "dose", intervals=INTERVALS,
                    round_to: float | None = None, n_draws: int = N_BAND, seed: int = 1) -> IndividualDose:
    """The dose (of ``regimen``'s form: interval, infusion, compartment) whose predicted exposure
    at the patient's MAP etas is the middle of ``target`` (``Target.center``), rounded to
    ``round_to`` if given, with the posterior probability of attainment (draws of the etas).

    ``adjust="interval"``: keep ``regimen``'s dose and choose the dosing interval among
    ``intervals`` (steady state) with the highest posterior probability of attainment (ties: the
    prediction at the mode nearest the window's middle); ``candidates`` holds every interval's
    prediction and probability. ``intervals=None``: the interval solved continuously (the metric
    at the mode equal to the window's middle, between 0.5 h and 14 days), rounded to ``round_to``
    (default 1 h)."""
    from nlme_lab.trials.exposure import ExposureModel

    target = Target.of(target)
    regimen = Regimen.of(regimen, name="individual")
    if regimen.records:
        raise NlmeError("individual_dose scales one dose: give the regimen as dose, interval, duration (not dose "
                        "records)")
    if adjust not in ("dose", "interval"):
        raise NlmeError(f"adjust must be 'dose' or 'interval', not {adjust!r}")
    em = ExposureModel(map_result.model, map_result.params)
    cov_frame = pd.DataFrame([map_result.covariates]) if map_result.covariates else pd.DataFrame(index=[0])
    kw = dict(threshold=target.at if target.metric == "time_above" else None,
              conc_at=target.at if target.metric == "conc" else None,
              variables=_target_variable(target))
    if adjust == "interval":
        if intervals is None:
            intervals = [_solve_interval(em, regimen, cov_frame, map_result.eta_vector, target, kw, round_to or 1.0)]
        return _individual_interval(map_result, target, regimen, em, cov_frame, kw, intervals, n_draws, seed)
    doses = regimen.dose * np.geomspace(1 / 64, 64, 61)
    eta = map_result.eta_vector
    grid = em.evaluate(regimen, pd.concat([cov_frame] * len(doses), ignore_index=True),
                       np.repeat(eta[None, :], len(doses), axis=0), doses=doses, **kw)
    exp = grid.metrics[target.metric].to_numpy(dtype=float)
    goal = target.center
    ok = np.isfinite(exp)
    if not np.any(ok):
        raise NlmeError(f"the {target.metric} of the regimen could not be computed for this patient")
    if target.metric in ("cmin", "cmax", "auc", "auc_inf", "conc", "time_above") and np.all(np.diff(exp[ok]) >= -1e-12):
        pos = ok & (exp > 0)
        dose = float(np.exp(np.interp(np.log(goal), np.log(exp[pos]), np.log(doses[pos]))))
    else:
        dose = float(doses[ok][np.argmin(np.abs(exp[ok] - goal))])
    if round_to:
        dose = max(round_to, round(dose / round_to) * round_to)
    chosen = regimen.with_dose(dose)
    rng = np.random.default_rng(seed)
    draws = mvn_draws(rng, eta, map_result.eta_covariance, n_draws)
    many = em.evaluate(chosen, pd.concat([cov_frame] * n_draws, ignore_index=True), draws, **kw)
    x = many.metrics[target.metric].to_numpy()
    at_mode = float(em.evaluate(chosen, cov_frame, eta[None, :], **kw).metrics[target.metric].iloc[0])
    return IndividualDose(chosen, target, at_mode, float(np.mean(target.attained(x))),
                          tuple(float(q) for q in np.nanquantile(x, [0.05, 0.95])), doses, exp)


def _target_variable(target: Target) -> dict | None:
    """``{name: [time]}`` when the target is a model variable at a time (``"effect@24"``)."""
    from nlme_lab.trials.regimen import is_variable_metric

    if not is_variable_metric(target.metric):
        return None
    name, _, t = target.metric.rpartition("@")
    return {name: [float(t)]}


def _individual_interval(map_result, target, regimen, em, cov_frame, kw, intervals, n_draws, seed) -> IndividualDose:
    """``individual_dose(adjust="interval")``: every candidate interval at the regimen's dose,
    evaluated at the MAP etas and on the same posterior draws."""
    taus = sorted({float(t) for t in np.atleast_1d(np.asarray(intervals, dtype=float))})
    taus = [t for t in taus if t > 0 and t >= regimen.duration]
    if not taus:
        raise NlmeError(f"adjust='interval': no candidate interval (of {list(intervals)}) is positive and at least "
                        f"the infusion duration {regimen.duration:g}")
    eta = map_result.eta_vector
    draws = mvn_draws(np.random.default_rng(seed), eta, map_result.eta_covariance, n_draws)
    many = pd.concat([cov_frame] * n_draws, ignore_index=True)
    rows = []
    for tau in taus:
        reg = replace(regimen, interval=tau)
        at_mode = float(em.evaluate(reg, cov_frame, eta[None, :], **kw).metrics[target.metric].iloc[0])
        x = em.evaluate(reg, many, draws, **kw).metrics[target.metric].to_numpy(dtype=float)
        lo, hi = np.nanquantile(x, [0.05, 0.95])
        rows.append({"interval": tau, "predicted": at_mode, "probability": float(np.mean(target.attained(x))),
                     "lower": float(lo), "upper": float(hi),
                     "distance": abs(np.log(at_mode / target.center)) if at_mode > 0 and target.center > 0
                     else abs(at_mode - target.center)})
    table = pd.DataFrame(rows)
    best = table.sort_values(["probability", "distance"], ascending=[False, True], kind="stable").iloc[0]
    chosen = replace(regimen, interval=float(best["interval"]))
    return IndividualDose(chosen, target, float(best["predicted"]), float(best["probability"]),
                          (float(best["lower"]), float(best["upper"])), np.array([regimen.dose]),
                          np.array([float(best["predicted"])]), "interval", table.drop(columns="distance"))


def _solve_interval(em, regimen, cov_frame, eta, target, kw, round_to: float) -> float:
    """The steady-state interval whose metric at the MAP etas is ``target.center``: the metric
    on a geometric grid of intervals, interpolated on log scales where it is monotonic, rounded."""
    taus = np.geomspace(max(0.5, regimen.duration or 0.5), 336.0, 41)
    x = np.array([float(em.evaluate(replace(regimen, interval=float(t)), cov_frame, eta[None, :], **kw)
                        .metrics[target.metric].iloc[0]) for t in taus])
    ok = np.isfinite(x) & (x > 0)
    if ok.sum() < 2:
        raise NlmeError(f"adjust='interval': the {target.metric} could not be computed over intervals 0.5-336 h")
    lx, lt = np.log(x[ok]), np.log(taus[ok])
    if np.all(np.diff(lx) < 0):
        lx, lt = lx[::-1], lt[::-1]
    if np.all(np.diff(lx) > 0):
        tau = float(np.exp(np.interp(np.log(target.center), lx, lt)))
    else:
        tau = float(taus[ok][np.argmin(np.abs(lx - np.log(target.center)))])
    return max(round_to, round(tau / round_to) * round_to)
