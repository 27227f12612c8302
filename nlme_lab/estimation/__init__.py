"""Estimation: FO, FOCE, FOCEI and Laplace fits of a batched ``PredictionProblem``."""

from nlme_lab.estimation.problem import (
    EndpointError,
    Evaluation,
    PredictionProblem,
    ResidualModel,
    ResidualSD,
)
from nlme_lab.estimation.parameters import OmegaBlock, ParameterSpace, Theta
from nlme_lab.estimation.methods import (
    CovarianceKind,
    FOCEIOptions,
    FOCEOptions,
    FOOptions,
    InnerOptions,
    LaplaceOptions,
    MethodKind,
    OuterOptions,
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
from nlme_lab.estimation.fit import fit

__all__ = [
    "CovarianceKind", "CovarianceResult", "EndpointError", "Evaluation", "FitResult", "FOCEIOptions",
    "FOCEOptions", "FOOptions", "HistoryEntry", "InnerOptions", "IterationEvent", "LaplaceOptions",
    "MethodKind", "OmegaBlock", "OuterOptions", "ParameterSpace", "PredictionProblem", "ResidualModel",
    "ResidualSD", "Shrinkage", "StopToken", "Termination", "Theta", "fit", "get_method", "lognormal_table",
]
