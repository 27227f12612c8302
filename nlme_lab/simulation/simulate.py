"""``simulate``: PRED, IPRED and simulated observations with every level of variability.

Random numbers come from one ``numpy.random.Generator(PCG64(seed))`` drawn in a fixed order
(per replicate: subject etas, then occasion kappas, then residual epsilons), so a seed gives
the same numbers on every machine and with any number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlme_lab.model.parameter_table import ParameterValues
from nlme_lab.problem import as_dataset, as_model, bind
from nlme_lab.problem.predict import Predictor
from nlme_lab.simulation.residual import residual_sd, simulate_observations


@dataclass(frozen=True)
class SimulationResult:
    """One row per input record and replicate (replicate-major, input order within)."""

    table: pd.DataFrame  # input columns + REP, PRED, IPRED, SIMDV
    etas: np.ndarray = field(repr=False)  # (n_rep, n_subjects, n_eta)
    eta_names: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def n_replicates(self) -> int:
        return int(self.etas.shape[0])

    def to_csv(self, path) -> None:
        self.table.to_csv(path, index=False, na_rep=".")

    def _repr_html_(self) -> str:
        head = self.table.head(12).to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return (f"<b>Simulation</b>: {self.n_replicates} replicate(s), seed {self.seed}, "
                f"{len(self.table)} rows<br>{head}")


def simulate(model, data, n: int = 1, seed: int | None = None, params: dict | None = None) -> SimulationResult:
    """Simulate ``n`` replicates of ``data`` under ``model``.

    ``params`` replaces initial estimates by name (thetas, residual SDs, eta/kappa variances,
    covariances of a block as ``"eta_a,eta_b"``, in either order). PRED uses etas = 0; IPRED the
    simulated etas; SIMDV adds residual error on observation records (EVID 0) and is missing
    elsewhere.
    """
    model, data = as_model(model), as_dataset(data)
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    bound = bind(model, data)
    values = model.parameters.values(params)
    predictor = Predictor(bound)
    rng = np.random.default_rng(seed)

    pred = predictor.predict(values.theta, predictor.zero_effects())
    n = int(n)
    ipred = np.empty((n, data.n_records))
    simdv = np.empty((n, data.n_records))
    all_etas = []
    for rep in range(n):
        etas, kappas = _draw_effects(rng, values, data.n_subjects, bound.n_occasions)
        ipred[rep] = predictor.predict(values.theta, predictor.record_effects(etas, kappas))
        sd = residual_sd(model.ir, values, ipred[rep], bound.endpoint)
        simdv[rep] = simulate_observations(model.ir, ipred[rep], sd, bound.endpoint, rng)
        all_etas.append(etas)
    simdv[:, data.evid != 0] = np.nan
    table = _table(data, n, pred, ipred, simdv)
    return SimulationResult(table, np.asarray(all_etas), values.eta_names, seed)


def _draw_effects(rng, values: ParameterValues, n_sub: int, n_occ: int):
    etas = _mvnormal(rng, values.omega, n_sub)
    kappas = _mvnormal(rng, values.omega_kappa, n_sub * n_occ).reshape(n_sub, n_occ, -1)
    return etas, kappas


def _mvnormal(rng, cov: np.ndarray, size: int) -> np.ndarray:
    """Normal draws with covariance ``cov`` (positive semi-definite: fixed-zero variances ok)."""
    k = cov.shape[0]
    z = rng.standard_normal((size, k))
    if k == 0:
        return z
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    return z @ root.T


def _table(data, n: int, pred, ipred, simdv) -> pd.DataFrame:
    """The input table repeated once per replicate, with REP, PRED, IPRED and SIMDV."""
    table = pd.concat([data.table] * n, ignore_index=True)
    table["REP"] = np.repeat(np.arange(1, n + 1), data.n_records)
    table["PRED"] = np.tile(pred, n)
    table["IPRED"] = ipred.ravel()
    table["SIMDV"] = simdv.ravel()
    return table
