"""Simulated observations for the simulation-based diagnostics (VPC, NPDE, EPRED).

All replicates come from one ``nlme_lab.simulate`` call (deterministic for a seed; subjects are
solved in parallel). Only the observation records (EVID 0, MDV 0) are kept, in dataset order.
Simulated values are never censored: a censoring rule (BLQ) is applied by the diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimulatedObservations:
    pred: np.ndarray  # (n_obs,) population prediction (etas 0)
    dv: np.ndarray  # (n_rep, n_obs) simulated observations
    seed: int | None

    @property
    def n_replicates(self) -> int:
        return int(self.dv.shape[0])


def simulate_observations(inputs, n: int, seed: int | None) -> SimulatedObservations:
    """``n`` replicates of the observation records of ``inputs.data``."""
    from nlme_lab.simulation import simulate

    n = int(n)
    if n < 1:
        raise ValueError(f"the number of simulated replicates must be at least 1, got {n}")
    sim = simulate(inputs.model, inputs.data, n=n, seed=seed, params=inputs.params)
    n_rec = inputs.data.n_records
    obs = inputs.observed
    table = sim.table
    simdv = table["SIMDV"].to_numpy(dtype=float).reshape(n, n_rec)[:, obs]
    pred = table["PRED"].to_numpy(dtype=float)[:n_rec][obs]
    return SimulatedObservations(pred, np.ascontiguousarray(simdv), seed)
