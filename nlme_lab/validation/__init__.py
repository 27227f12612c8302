"""Model validation: nonparametric bootstrap, case-deletion diagnostics, cross-validation and
external validation (issue 19). Every fan-out (replicates, left-out subjects, folds) runs through
``nlme_lab.distributed.run_tasks``; prediction OFVs and errors come from the evaluation API.

    bootstrap(fit, n=200, seed=1)          BootstrapResult (.replicates, .summary())
    cdd(fit)                               CDDResult (Cook's score, covariance ratio, dOFV)
    crossvalidate(fit, folds=5, seed=1)    CrossValidationResult (per-fold table)
    validate(fit, new_data)                ValidationResult (prediction OFV, PRED/IPRED errors, NPDE)
"""

from nlme_lab.validation.bootstrap import BootstrapResult, bootstrap
from nlme_lab.validation.cdd import CDDResult, cdd
from nlme_lab.validation.crossval import CrossValidationResult, crossvalidate
from nlme_lab.validation.external import ValidationResult, validate

__all__ = ["BootstrapResult", "CDDResult", "CrossValidationResult", "ValidationResult", "bootstrap", "cdd",
           "crossvalidate", "validate"]
