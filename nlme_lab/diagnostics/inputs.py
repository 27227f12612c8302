"""What every diagnostic starts from: a model, a dataset and parameter values (and, after a fit,
the empirical Bayes estimates).

``resolve`` accepts either a ``FitResult`` or a model. A fit supplies its ``estimates`` (and its
EBEs); its model and dataset are taken from ``fit.model`` / ``fit.data`` when the result
carries them, otherwise from the ``model=`` and ``data=`` arguments. A model (a ``Model`` or a
``.nlm`` path) needs ``data``; ``params`` then replaces initial estimates by reported name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.problem import as_dataset, as_model


@dataclass(frozen=True)
class DiagnosticInputs:
    model: object  # nlme_lab.model.Model
    data: object  # nlme_lab.data.Dataset
    params: dict  # reported name -> value (thetas, variances, covariances, residual SDs)
    fit: object = None  # the FitResult, when one was given
    etas: np.ndarray | None = None  # (n_subjects, n_eta) EBEs of the fit

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of the observation records (EVID 0, MDV 0)."""
        return np.asarray(self.data.observed)


def is_fit_result(obj) -> bool:
    from nlme_lab.estimation.results import FitResult

    return isinstance(obj, FitResult)


def resolve(fit_or_model, data=None, *, model=None, params: dict | None = None) -> DiagnosticInputs:
    """The model, dataset and parameter values of a diagnostic (see the module docstring)."""
    if is_fit_result(fit_or_model):
        fit = fit_or_model
        # explicit arguments win over what the fit carries (and are checked against the fit)
        model = _first(model, getattr(fit, "model", None))
        data = _first(data, getattr(fit, "data", None))
        model = as_model(_given(model, "the FitResult carries no model: pass model="))
        data = as_dataset(_given(data, "the FitResult carries no dataset: pass data="))
        _check_fit_matches(fit, data)
        values = dict(fit.estimates)
        values.update(params or {})
        etas = np.asarray(fit.etas, dtype=float) if fit.etas is not None else None
        return DiagnosticInputs(model, data, values, fit, etas)
    if model is not None:
        raise TypeError("model= is only for a FitResult that does not carry its model; pass the model first")
    model = as_model(_given(fit_or_model, "a diagnostic needs a FitResult or a model"))
    data = as_dataset(_given(data, "a model needs its dataset: pass data="))
    return DiagnosticInputs(model, data, dict(params or {}))


def _first(a, b):
    return a if a is not None else b


def _given(value, missing: str):
    if value is None:
        raise NlmeError(missing)
    return value


def _check_fit_matches(fit, data) -> None:
    ids = tuple(getattr(fit, "subject_ids", ()) or ())
    if fit.n_subjects != data.n_subjects:
        raise NlmeError(f"the fit has {fit.n_subjects} subjects but the dataset has {data.n_subjects}: "
                        "pass the dataset the model was fitted to")
    if ids and tuple(np.asarray(data.ids).tolist()) != tuple(np.asarray(ids).tolist()):
        first = next(k for k, (a, b) in enumerate(zip(ids, data.ids.tolist())) if a != b)
        raise NlmeError(f"subject {first + 1} of the fit has ID {ids[first]}, of the dataset ID {data.ids[first]}: "
                        "pass the dataset the model was fitted to")
