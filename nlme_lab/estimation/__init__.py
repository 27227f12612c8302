"""Estimation: FO, FOCE, FOCEI and Laplace fits.

``fit(model, data, method)`` fits a model to a dataset (``nlme_lab.fit``); ``fit_problem`` fits
any batched ``PredictionProblem`` (``KernelProblem`` is the engine's)."""

# on a machine where the engine is not compiled yet, a second process compiles it while this one
# compiles the estimation kernels (imported below) and prepares the fit
from nlme_lab.problem import background_compile

background_compile.start()

from nlme_lab.estimation.problem import (
    EndpointError,
    Evaluation,
    PredictionProblem,
    ResidualModel,
)
from nlme_lab.estimation.parameters import ParameterSpace
from nlme_lab.estimation.methods import (
    CovarianceKind,
    FOCEIOptions,
    FOCEOptions,
    FOOptions,
    InnerOptions,
    LaplaceOptions,
    MethodKind,
    OuterOptions,
    NUTSOptions,
    SAEMOptions,
    get_method,
)
from nlme_lab.estimation.results import (
    CovarianceResult,
    FitResult,
    HistoryEntry,
    IterationEvent,
    Shrinkage,
    StopToken,
    Termination,
    lognormal_table,
)
from nlme_lab.estimation.fit import fit_problem
from nlme_lab.estimation.kernel_problem import KernelProblem
from nlme_lab.estimation.model_space import parameter_space
from nlme_lab.estimation.api import fit

__all__ = [
    "CovarianceKind", "CovarianceResult", "EndpointError", "Evaluation", "FitResult", "FOCEIOptions",
    "FOCEOptions", "FOOptions", "HistoryEntry", "InnerOptions", "IterationEvent", "LaplaceOptions",
    "MethodKind", "OuterOptions", "ParameterSpace", "PredictionProblem", "ResidualModel",
    "Shrinkage", "StopToken", "Termination", "fit", "fit_problem",
    "KernelProblem", "parameter_space", "get_method", "lognormal_table",
]
__all__ += ["SAEMOptions"]
__all__ += ["NUTSOptions"]
