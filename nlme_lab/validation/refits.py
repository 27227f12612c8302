"""What every validation run starts from, and the one refit its tasks do.

``origin(fit_or_model, data, method)`` gives the model, the dataset, the original fit (a model
is fitted first) and the method. Every refit (bootstrap replicate, left-out subjects, training
folds) starts from the original estimates and runs on the worker processes of
``nlme_lab.distributed.run_tasks`` through ``refit``, a module-level function of plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.problem import as_dataset, as_model


@dataclass(frozen=True)
class Origin:
    model: object  # the Model as given
    data: object  # the Dataset
    fit: object  # the original FitResult
    method: str

    @property
    def start(self):
        """The model with the original estimates as its initial values."""
        return start_model(self.model, self.fit.estimates)

    @property
    def estimated(self) -> list[str]:
        """The estimated (not fixed) parameters, in the model's order."""
        fixed = set(self.fit.fixed)
        return [name for name in self.fit.estimates if name not in fixed]


def origin(fit_or_model, data=None, method=None, *, covariance="default") -> Origin:
    """The starting point of a validation run (module docstring)."""
    from nlme_lab.estimation.results import FitResult

    if isinstance(fit_or_model, FitResult):
        fit = fit_or_model
        model = fit.model
        data = as_dataset(data) if data is not None else fit.data
        if model is None or data is None:
            raise NlmeError("this FitResult carries no model or dataset (one restored from a file?): "
                            "pass the model and its data instead")
        if data.n_subjects != fit.n_subjects:
            raise NlmeError(f"the fit has {fit.n_subjects} subjects but the dataset has {data.n_subjects}: "
                            "pass the dataset the model was fitted to")
        used = fit.method.value
        if method is not None and str(method).lower() != used:
            fit = _fit(model, data, method, covariance)
        return Origin(model, data, fit, str(method or used).lower())
    if fit_or_model is None:
        raise NlmeError("a validation run needs a FitResult or a model and its data")
    if data is None:
        raise NlmeError("a model needs its dataset: pass data=")
    model, data = as_model(fit_or_model), as_dataset(data)
    method = str(method or "focei").lower()
    return Origin(model, data, _fit(model, data, method, covariance), method)


def _fit(model, data, method, covariance):
    from nlme_lab.estimation import fit

    return fit(model, data, method=method, covariance=covariance)


def start_model(model, estimates: dict):
    """``model`` with ``estimates`` as initial values (fixed parameters keep theirs)."""
    return model.with_initial(**{k: float(v) for k, v in estimates.items() if np.isfinite(v)})


@dataclass(frozen=True)
class Refit:
    """What a refit sends back: plain numbers."""

    ofv: float
    termination: str
    converged: bool
    estimates: dict
    se: dict
    covariance: np.ndarray | None  # of the estimated parameters in ``names`` order (covariance step)
    names: tuple


def refit(frame, *, model, method: str, covariance=None) -> Refit:
    """Fit ``model`` (already at its starting values) to the dataset ``frame``."""
    from nlme_lab.data import read_nonmem
    from nlme_lab.estimation import fit

    result = fit(model, read_nonmem(frame), method=method, covariance=covariance, parallel=False)
    cov = result.covariance
    matrix = np.asarray(cov.covariance) if cov is not None and cov.ok else None
    names = tuple(cov.names) if cov is not None else ()
    return Refit(float(result.ofv), result.termination.value, bool(result.converged),
                 {k: float(v) for k, v in result.estimates.items()}, {k: float(v) for k, v in result.se.items()},
                 matrix, names)


def run(fn, items, *, scheduler, seed, description, on_result=None, stop=None, progress=False):
    """``run_tasks`` with the engine warmed once per worker."""
    from nlme_lab.distributed import run_tasks
    from nlme_lab.problem.compiling import warm_engine

    return run_tasks(fn, items, scheduler=scheduler, seed=seed, description=description, on_result=on_result,
                     stop=stop, warmup=warm_engine, progress=progress)
