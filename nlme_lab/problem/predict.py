"""Predictions of every record for given thetas and random effects, through the engine.

``Predictor`` holds a bound model's arrays in the layout the kernels want and calls
``kernels.population``: ``compute_p`` (individual parameters per record) then
``solve_population`` (doses, infusions, steady states; closed form or ODE). It turns the
engine's status codes into a ``SolverError`` naming the subject and time.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.errors import SolverError
from nlme_lab.problem import BoundModel

DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 1e-10


def _owned(values, dtype) -> np.ndarray:
    """A writable C-contiguous copy (the dataset's arrays are read-only; numba's kernel
    signatures take writable arrays)."""
    return np.array(values, dtype=dtype, order="C")


class Predictor:
    """Predictions of a bound model; reusable across parameter values (no recompilation)."""

    def __init__(self, bound: BoundModel, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                 parallel: bool = True):
        from nlme_lab.kernels import ode, population
        from nlme_lab.kernels.function_refs import function_refs

        self._population = population
        self.bound = bound
        self.compiled = bound.model.compiled
        ds = bound.dataset
        self.n_records = ds.n_records
        self._records = (
            _owned(ds.offsets, dtype=np.int64),
            _owned(ds.time, dtype=np.float64),
            _owned(ds.evid, dtype=np.int64),
            _owned(ds.amt, dtype=np.float64),
            _owned(bound.cmt_index, dtype=np.int64),
            _owned(ds.rate, dtype=np.float64),
            _owned(ds.ii, dtype=np.float64),
            _owned(ds.addl, dtype=np.int64),
            _owned(ds.ss, dtype=np.int64),
        )
        self._cov = _owned(bound.covariates, dtype=np.float64)
        self._opts = ode.make_opts(rtol=rtol, atol=atol)
        self._solve = population.solve_population if parallel else population.solve_population_serial
        self._refs = refs = function_refs(self.compiled)
        self._fns = tuple(refs[name] for name in (
            "rhs", "jac", "dfdp", "init", "dinit", "obs", "dobs_dy", "dobs_dp", "linsys", "dlinsys"))

    # ------------------------------------------------------------------ random effects
    def zero_effects(self) -> np.ndarray:
        return np.zeros((self.n_records, self.compiled.n_re))

    def record_effects(self, etas: np.ndarray, kappas: np.ndarray) -> np.ndarray:
        """Per-record random effects: the subject's etas, then its occasion's kappas.

        ``etas`` (n_subjects, n_eta); ``kappas`` (n_subjects, n_occasions, n_kappa).
        """
        ds = self.bound.dataset
        subject = np.repeat(np.arange(ds.n_subjects), np.diff(ds.offsets))
        per_record = [np.asarray(etas)[subject]]
        if kappas.shape[-1]:
            per_record.append(np.asarray(kappas)[subject, self.bound.occasion])
        return np.ascontiguousarray(np.hstack(per_record), dtype=np.float64)

    # ------------------------------------------------------------------ predictions
    def individual_parameters(self, theta: np.ndarray, eta_rec: np.ndarray) -> np.ndarray:
        """``P`` (n_records, n_p): the model's individual parameters on every record."""
        P = np.zeros((self.n_records, self.compiled.n_p))
        self._population.compute_p(self._refs["pk"], self._records[1],
                                   np.ascontiguousarray(theta, dtype=np.float64), eta_rec, self._cov, P)
        return P

    def predict_all(self, theta: np.ndarray, eta_rec: np.ndarray) -> np.ndarray:
        """Predictions of every endpoint on every record, (n_records, n_endpoint)."""
        cm = self.compiled
        P = self.individual_parameters(theta, eta_rec)
        n_sub = self.bound.dataset.n_subjects
        pred = np.zeros((self.n_records, cm.n_endpoint))
        dP = np.zeros((self.n_records, cm.n_p, 0))
        dpred = np.zeros((self.n_records, cm.n_endpoint, 0))
        status = np.zeros(n_sub, dtype=np.int64)
        fail = np.full(n_sub, -1, dtype=np.int64)
        self._solve(*self._records, P, np.ascontiguousarray(cm.dose_index, dtype=np.int64), *self._fns,
                    bool(cm.is_linear), dP, self._opts.copy(), pred, dpred, status, fail)
        self._raise_on_failure(status, fail)
        return pred

    def predict(self, theta: np.ndarray, eta_rec: np.ndarray) -> np.ndarray:
        """The prediction of each record's own endpoint, (n_records,)."""
        pred = self.predict_all(theta, eta_rec)
        return pred[np.arange(self.n_records), self.bound.endpoint]

    def _raise_on_failure(self, status: np.ndarray, fail: np.ndarray) -> None:
        bad = np.flatnonzero(status)
        if not bad.size:
            return
        from nlme_lab.kernels.events import Status

        s = int(bad[0])
        ds = self.bound.dataset
        rec = int(fail[s]) if fail[s] >= 0 else int(ds.offsets[s])
        what = Status(int(status[s])).name.lower().replace("_", " ")
        more = f" ({bad.size - 1} other subject(s) too)" if bad.size > 1 else ""
        raise SolverError(f"the solution failed: {what}, at data row {int(ds.rows[rec])}{more}",
                          subject=ds.ids[s], time=float(ds.time[rec]))
