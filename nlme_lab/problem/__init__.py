"""A problem: a model bound to a dataset, with parameter values, and the predictions of the
engine for it. Shared by simulation and estimation (``Predictor`` loads the kernels lazily)."""

from nlme_lab.problem.binding import BoundModel, bind
from nlme_lab.problem.inputs import as_dataset, as_model

__all__ = ["BoundModel", "bind", "as_dataset", "as_model", "Predictor"]


def __getattr__(name):
    if name == "Predictor":
        from nlme_lab.problem.predict import Predictor

        return Predictor
    raise AttributeError(name)
