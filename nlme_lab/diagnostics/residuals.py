"""Per-record residuals and per-subject EBEs: ``residuals(fit)`` -> ``ResidualTable``.

On the scale of the error model (the log scale for ``lnorm`` endpoints; y = DV or log DV),
with f(eta) the prediction, G = df/deta from the engine, V(f) the residual variance,
Omega the random-effect covariance, and for a subject's uncensored observations:

* PRED = f(0); IPRED = f(eta-hat) (natural scale, like DV); RES = DV - PRED; IRES = DV - IPRED.
* WRES (FO linearisation, etas 0): C = G0 Omega G0' + diag V(f(0)); WRES = C^-1/2 (y - f(0)).
* CWRES (Hooker et al., Pharm Res 2007: the FOCE linearisation at the EBEs):
  E = f(eta-hat) - G(eta-hat) eta-hat; C = G Omega G' + diag V(f(eta-hat)); CWRES = C^-1/2 (y - E).
  The residual variance is taken at the individual prediction (NONMEM's CWRESI; for additive
  error both coincide).
* IWRES = (y - f(eta-hat)) / sqrt(V(f(eta-hat))).
* C^-1/2 is the symmetric inverse square root (eigen-decomposition) by default, or the inverse
  Cholesky factor (``weighting="cholesky"``); both give identical values for one observation.
* EPRED, NPD, NPDE: from simulations (``nlme_lab.diagnostics.npde``: decorrelation, ties and
  censored records are documented there), on the natural scale of DV.

Censored observations (CENS != 0) have no WRES, CWRES or IWRES (NaN) and are left out of their
subject's vectors; they keep an (imputed) NPD/NPDE. Non-observation records are not in the table.
EBEs are the fit's (``fit.etas``) or, for a model with given parameters, the FOCEI modes;
their conditional SDs are from the inverse FOCEI curvature at the EBEs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.diagnostics.inputs import resolve
from nlme_lab.diagnostics.npde import Decorrelation, discrepancies
from nlme_lab.errors import NlmeError
from nlme_lab.estimation.evaluation import MethodKind, prepare

RECORD_COLUMNS = ("ID", "TIME", "RECORD", "ENDPOINT", "CENS", "DV", "PRED", "IPRED", "RES", "WRES", "CWRES",
                  "IRES", "IWRES", "EPRED", "NPD", "NPDE")


class Weighting(enum.Enum):
    SYMMETRIC = "symmetric"
    CHOLESKY = "cholesky"


@dataclass(frozen=True)
class ResidualTable:
    """Residuals per observation record and EBEs per subject.

    ``records`` columns: ID, TIME, RECORD (0-based index of the record in the dataset),
    ENDPOINT (the endpoint's variable), CENS, DV, PRED, IPRED, RES, WRES, CWRES, IRES, IWRES,
    EPRED, NPD, NPDE (the last three NaN without simulations), then the dataset's covariates.
    ``subjects`` columns: ID, one column per random effect (EBE), ``<eta>_csd`` (conditional
    SD), then the individual parameters on the subject's first record.
    """

    records: pd.DataFrame
    subjects: pd.DataFrame
    eta_names: tuple[str, ...]
    shrinkage: object  # nlme_lab.estimation.Shrinkage
    omega: np.ndarray  # (n_eta, n_eta)
    covariate_names: tuple[str, ...]
    n_simulations: int
    seed: int | None
    notes: tuple[str, ...] = ()  # e.g. shrinkage above 30 %
    endpoint_names: tuple[str, ...] = ()  # the model's endpoints in DVID order (values of ENDPOINT)

    def to_dict(self) -> dict:
        """JSON-ready: records and subjects as columns, shrinkage in percent (NaN -> None)."""
        from dataclasses import asdict

        from nlme_lab.diagnostics.export import plain

        shrink = asdict(self.shrinkage) if self.shrinkage is not None else None
        return {"records": plain(self.records), "subjects": plain(self.subjects), "eta_names": list(self.eta_names),
                "shrinkage": plain(shrink), "omega": plain(self.omega), "covariate_names": list(self.covariate_names),
                "n_simulations": self.n_simulations, "seed": self.seed, "notes": list(self.notes),
                "endpoint_names": list(self.endpoint_names)}

    def _repr_html_(self) -> str:
        import html

        notes = "".join(f"<br><i>{html.escape(n)}</i>" for n in self.notes)
        return (f"<b>Residuals</b>: {len(self.records)} observations, {len(self.subjects)} subjects{notes}"
                + self.records.head(10).to_html(index=False, float_format=lambda v: f"{v:.4g}"))


def residuals(fit_or_model, data=None, *, model=None, params: dict | None = None, etas=None,
              npde: bool = True, n_sim: int = 1000, seed: int | None = None, weighting="symmetric",
              decorrelation="cholesky") -> ResidualTable:
    """Residuals of a fit (or of a model with ``params`` on ``data``); see the module docstring.

    ``etas``: EBEs to use instead of the fit's (or of the FOCEI modes). ``npde``: also run
    ``n_sim`` simulations for EPRED, NPD and NPDE (reproducible by ``seed``).
    """
    inputs = resolve(fit_or_model, data, model=model, params=params)
    ev = prepare(inputs.model, inputs.data)
    values = ev.values(inputs.params)
    etas = ev.check_etas(ebes(ev, values, inputs.etas) if etas is None else etas)
    weighting = _enum(Weighting, weighting, "weighting")
    base, cond = ev.predictions(values), ev.predictions(values, etas)
    wres, cwres = weighted_residuals(ev.observations, values.omega, base, cond, weighting)
    records = _record_table(inputs, ev.observations, base, cond, wres, cwres)
    n_done = 0
    if npde:
        _add_discrepancies(records, inputs, ev.observations, n_sim, seed,
                           _enum(Decorrelation, decorrelation, "decorrelation"))
        n_done = int(n_sim)
    subjects = _subject_table(inputs, ev, values, etas)
    shrink = _shrinkage(inputs, ev, values, etas, cond)
    return ResidualTable(records, subjects, tuple(ev.eta_labels), shrink, values.omega.copy(),
                         tuple(inputs.data.covariate_names), n_done, seed, shrinkage_notes(shrink),
                         tuple(e.variable for e in inputs.model.ir.endpoints))


def ebes(ev, values, fitted=None) -> np.ndarray:
    """The fit's EBEs when it has them, else the FOCEI modes (a warning when some did not converge)."""
    if fitted is not None:
        return fitted
    modes = ev.modes(values, MethodKind.FOCEI)
    if modes.n_not_converged:
        import warnings

        warnings.warn(f"the EBEs of {modes.n_not_converged} subject(s) did not converge", stacklevel=3)
    return modes.etas


def _enum(kind, value, what: str):
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value).lower())
    except ValueError:
        options = ", ".join(repr(k.value) for k in kind)
        raise NlmeError(f"{what}={value!r}: expected one of {options}") from None


SHRINKAGE_LIMIT = 30.0  # percent


def shrinkage_notes(shrink) -> tuple[str, ...]:
    """A note per random effect whose SD-based shrinkage exceeds 30 %."""
    if shrink is None:
        return ()
    return tuple(f"{name}: eta shrinkage {value:.1f}% > {SHRINKAGE_LIMIT:g}%: its EBEs are pulled towards 0, so "
                 f"EBE-versus-covariate plots may hide a real relation (use a covariate model test instead)"
                 for name, value in shrink.eta_sd.items() if np.isfinite(value) and value > SHRINKAGE_LIMIT)


def weighted_residuals(obs, omega, base, cond, weighting: Weighting):
    """WRES and CWRES of every observation (NaN when censored): ``obs`` the ``Observations``,
    ``base`` / ``cond`` the ``ObservationPredictions`` at etas 0 and at the EBEs."""
    y, ok = obs.y, ~obs.censored
    n_sub = cond.etas.shape[0]
    wres, cwres = np.full(y.size, np.nan), np.full(y.size, np.nan)
    starts = np.searchsorted(obs.subject, np.arange(n_sub + 1))
    for i in range(n_sub):
        rows = np.arange(starts[i], starts[i + 1])
        rows = rows[ok[rows]]
        if rows.size == 0:
            continue
        wres[rows] = _weighted(y[rows] - base.f[rows], base.df_deta[rows], omega, base.variance[rows], weighting)
        expect = cond.f[rows] - cond.df_deta[rows] @ cond.etas[i]
        cwres[rows] = _weighted(y[rows] - expect, cond.df_deta[rows], omega, cond.variance[rows], weighting)
    return wres, cwres


def _weighted(r, G, omega, V, weighting: Weighting) -> np.ndarray:
    C = G @ omega @ G.T + np.diag(V)
    try:
        if weighting is Weighting.CHOLESKY:
            return np.linalg.solve(np.linalg.cholesky(C), r)
        w, U = np.linalg.eigh(C)
        if w.min() <= 0:
            return np.full(r.size, np.nan)
        return U @ ((U.T @ r) / np.sqrt(w))
    except np.linalg.LinAlgError:
        return np.full(r.size, np.nan)


def _record_table(inputs, obs, base, cond, wres, cwres) -> pd.DataFrame:
    data, rows = inputs.data, obs.record
    pred, ipred = base.natural, cond.natural
    dv = np.asarray(data.dv, dtype=float)[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        iwres = np.where(obs.censored, np.nan, (obs.y - cond.f) / np.sqrt(cond.variance))
    names = [e.variable for e in inputs.model.ir.endpoints]
    frame = {
        "ID": np.repeat(data.ids, np.diff(data.offsets))[rows], "TIME": np.asarray(data.time, dtype=float)[rows],
        "RECORD": rows, "ENDPOINT": np.array(names, dtype=object)[obs.endpoint], "CENS": obs.cens, "DV": dv,
        "PRED": pred, "IPRED": ipred, "RES": dv - pred, "WRES": wres, "CWRES": cwres, "IRES": dv - ipred,
        "IWRES": iwres, "EPRED": np.nan, "NPD": np.nan, "NPDE": np.nan,
    }
    for k, name in enumerate(data.covariate_names):
        if name not in frame:
            frame[name] = np.asarray(data.covariates[:, k], dtype=float)[rows]
    return pd.DataFrame(frame)


def _add_discrepancies(records: pd.DataFrame, inputs, obs, n_sim: int, seed, decorrelation):
    from nlme_lab.diagnostics.simulated import simulate_observations

    sim = simulate_observations(inputs, n_sim, seed)
    lo_nat, hi_nat = obs.natural(obs.lower), obs.natural(obs.upper)  # limits on DV's scale
    rng = np.random.default_rng(None if seed is None else [int(seed), 1])
    d = discrepancies(records["DV"].to_numpy(), sim.dv, obs.subject, obs.cens, lo_nat, hi_nat, rng, decorrelation)
    records["EPRED"], records["NPD"], records["NPDE"] = d.epred, d.npd, d.npde


def _subject_table(inputs, ev, values, etas) -> pd.DataFrame:
    """EBEs, their conditional SDs (inverse FOCEI curvature at the EBEs), individual parameters."""
    cov = ev.objectives(values, etas, MethodKind.FOCEI).covariance
    frame = {"ID": inputs.data.ids}
    labels = ev.eta_labels
    for k, name in enumerate(labels):
        frame[name] = etas[:, k]
    for k, name in enumerate(labels):
        with np.errstate(invalid="ignore"):
            frame[f"{name}_csd"] = np.sqrt(cov[:, k, k])
    indiv = ev.individual_parameters(values, etas)
    for k, name in enumerate(indiv.names):
        if name not in frame:
            frame[name] = indiv.values[:, k]
    return pd.DataFrame(frame)


def _shrinkage(inputs, ev, values, etas, cond):
    if inputs.fit is not None and inputs.fit.shrinkage is not None and inputs.etas is not None:
        return inputs.fit.shrinkage
    return ev.shrinkage(values, etas, cond.f)
