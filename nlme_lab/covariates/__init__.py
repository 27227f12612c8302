"""Covariate model building: covariate effects as model transformations (``effects``), model
comparison tables (``compare``) and stepwise covariate modeling (``scm``), fanned out with
``nlme_lab.distributed.run_tasks``."""

from nlme_lab.covariates.effects import (
    FORMS,
    CovariateEffect,
    CovariateError,
    add_allometry,
    add_covariate_effect,
    covariate_relations,
    describe_effect,
    remove_covariate_effect,
)
from nlme_lab.covariates.compare import bic, compare
from nlme_lab.covariates.stepwise import SCMResult, scm

__all__ = ["FORMS", "CovariateEffect", "CovariateError", "SCMResult", "add_allometry", "add_covariate_effect", "bic",
           "compare", "covariate_relations", "describe_effect", "remove_covariate_effect", "scm"]
