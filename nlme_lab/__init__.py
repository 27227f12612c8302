"""nlme_lab: nonlinear mixed-effects (population PK/PD) modeling, Jupyter-native.

The top-level names load their modules on first use, so ``import nlme_lab`` stays fast
(no numba, sympy, bokeh or widgets at import time).
"""

from __future__ import annotations

from nlme_lab._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "read_nonmem": "nlme_lab.data",
    "Dataset": "nlme_lab.data",
    "Model": "nlme_lab.model",
    "simulate": "nlme_lab.simulation",
    "SimulationResult": "nlme_lab.simulation",
    "bind": "nlme_lab.problem",
    "fit": "nlme_lab.estimation",
    "FitResult": "nlme_lab.estimation",
    "example_path": "nlme_lab.examples",
    "ModelEditor": "nlme_lab.widgets",
    "Lab": "nlme_lab.widgets",
    "vpc": "nlme_lab.diagnostics",
    "residuals": "nlme_lab.diagnostics",
    "report": "nlme_lab.plots.report",
    "to_polars": "nlme_lab.frames",
    # optimal design
    "Design": "nlme_lab.design",
    "Dose": "nlme_lab.design",
    "fim": "nlme_lab.design",
    "FIMResult": "nlme_lab.design",
    "optimize_design": "nlme_lab.design",
    "wald_power": "nlme_lab.design",
    # NONMEM control streams
    "from_nonmem": "nlme_lab.nonmem",
    "to_nonmem": "nlme_lab.nonmem",
    # validation (issue 19)
    "bootstrap": "nlme_lab.validation",
    "crossvalidate": "nlme_lab.validation",
    "validate": "nlme_lab.validation",
    "cdd": "nlme_lab.validation",
    "validation_report": "nlme_lab.plots.validation_report",
    # covariate model building
    "add_covariate_effect": "nlme_lab.covariates",
    "add_allometry": "nlme_lab.covariates",
    "remove_covariate_effect": "nlme_lab.covariates",
    "compare": "nlme_lab.covariates",
    "scm": "nlme_lab.covariates",
    "SCMResult": "nlme_lab.covariates",
    # from a model to a decision (issue 21)
    "map_estimate": "nlme_lab.trials",
    "individual_dose": "nlme_lab.trials",
    "virtual_trial": "nlme_lab.trials",
    "recommend_dose": "nlme_lab.trials",
    "Target": "nlme_lab.trials",
    "Regimen": "nlme_lab.trials",
    "Population": "nlme_lab.trials",
}

# subpackages that are public namespaces (loaded on first use): ``nl.library.list()``
_NAMESPACES = ["library"]

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, globals(), extra=["__version__", *_NAMESPACES])
