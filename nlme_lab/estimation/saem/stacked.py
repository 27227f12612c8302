"""Many eta sets of one population in one engine call: ``StackedPredictions``.

SAEM moves several chains at once and importance sampling draws many etas per subject; each
set is a full population's etas. Evaluated one set per ``problem.evaluate``, every call pays
the Python and dispatch cost of the call (~10-30 us) plus the NumPy glue around it, which
for a small study (theo_sd: 12 subjects, ~70 us of engine work per set) is as large as the
work. ``StackedPredictions`` evaluates ``B`` sets at once on a *replicated* problem: the
dataset with its subjects repeated ``B`` times (copy-major: copy ``b``'s subject ``i`` is
subject ``b * n_sub + i``), so the engine solves ``B * n_sub`` independent subjects in one
call. The replicated dataset keeps each record's file row and subject ID, so an engine failure
still names the data row of the original subject.

Problems that are not a ``KernelProblem`` (test problems written in NumPy) are evaluated one
set after the other through their own ``evaluate``; the numbers are the same either way.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

#: per-record arrays of a ``Dataset`` (tiled when the subjects are repeated)
_RECORD_FIELDS = ("time", "dv", "amt", "rate", "ii", "limit", "evid", "mdv", "cmt", "addl", "ss", "cens",
                  "occ", "dvid", "covariates", "rows")
#: per-record arrays of a ``BoundModel``
_BOUND_FIELDS = ("covariates", "cmt_index", "endpoint", "occasion")


def _tiled(a, copies: int):
    if a is None:
        return None
    out = np.concatenate([np.asarray(a)] * copies, axis=0)
    out.flags.writeable = False
    return out


def replicate_dataset(ds, copies: int):
    """``ds`` with its subjects repeated ``copies`` times (copy-major), rows and IDs kept."""
    sizes = np.diff(np.asarray(ds.offsets))
    offsets = np.concatenate([[0], np.cumsum(np.tile(sizes, copies))]).astype(np.int64)
    offsets.flags.writeable = False
    fields = {name: _tiled(getattr(ds, name), copies) for name in _RECORD_FIELDS}
    return replace(ds, offsets=offsets, ids=_tiled(ds.ids, copies), **fields)


def replicate_problem(problem, copies: int):
    """A ``KernelProblem`` of ``problem``'s bound model on the replicated dataset (same ODE
    tolerances and thread request: ``parallel=None`` decides again for the larger problem)."""
    from nlme_lab.estimation.kernel_problem import KernelProblem

    bound = problem.bound
    rep = replace(bound, dataset=replicate_dataset(bound.dataset, copies),
                  **{name: _tiled(getattr(bound, name), copies) for name in _BOUND_FIELDS})
    kw = {k: getattr(problem, k) for k in ("rtol", "atol") if hasattr(problem, k)}
    return KernelProblem(rep, parallel=problem.predictor.requested_parallel, **kw)


class StackedPredictions:
    """Predictions (error scale) of ``B`` eta sets at once: ``predict(theta, etas)`` with
    ``etas`` (B, n_sub, n_eta) -> (B, n_obs). Replicated problems are built per ``B`` on first
    use and kept."""

    def __init__(self, problem, layout):
        self.problem, self.layout = problem, layout
        self.n_sub = problem.n_subjects
        self.n_obs = len(problem.dv)
        self.replicable = hasattr(problem, "bound") and hasattr(problem, "predictor")
        self._log_scale = np.asarray(layout.log_scale, dtype=bool)
        self._any_log = bool(self._log_scale.any())
        self._copies: dict[int, object] = {}
        self.n_calls = 0

    def problem_for(self, copies: int):
        """The problem whose subjects are ``copies`` copies of the population (itself for 1)."""
        if copies == 1:
            return self.problem
        if copies not in self._copies:
            self._copies[copies] = replicate_problem(self.problem, copies)
        return self._copies[copies]

    def predict(self, theta, etas: np.ndarray) -> np.ndarray:
        etas = np.asarray(etas, dtype=float)
        B = etas.shape[0]
        if self.replicable:
            self.n_calls += 1
            f = self.problem_for(B).predict_observations(theta, etas.reshape(B * self.n_sub, -1))
            f = f.reshape(B, self.n_obs)
        else:
            self.n_calls += B
            f = np.stack([np.asarray(self.problem.evaluate(theta, etas[b], derivs=False).f, dtype=float)
                          for b in range(B)])
        if self._any_log:
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(self._log_scale, np.log(f), f)
        return f
