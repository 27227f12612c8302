"""The ``FitResult`` of a SAEM run: conditional etas, the importance-sampling and linearized
-2LL, and the Fisher information of the model linearized at the FOCEI eta-hat (or another
covariance kind of the FOCEI covariance step at the SAEM estimates)."""

from __future__ import annotations

import time

import numpy as np

from nlme_lab.estimation.covariance import covariance_step, summarize
from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.methods import METHODS, CovarianceKind, MethodKind
from nlme_lab.estimation.objective import Objective
from nlme_lab.estimation.parameters import Unconstrained
from nlme_lab.estimation.report import collect_warnings, information_criteria
from nlme_lab.estimation.results import FitResult, OFVKind, SAEMDetails, Termination
from nlme_lab.estimation.shrinkage import shrinkage


def _notes(state) -> list[str]:
    names = [t.name for t in state.space.thetas]
    out = []
    if state.other.size:
        out.append("not mu-referenced (estimated by a stochastic Fisher-scoring M-step, not in closed form): "
                   + ", ".join(names[k] for k in state.other))
    if state.cov_thetas.size:
        out.append("estimated from the individual parameters as a covariate model of their prior mean "
                   "(weighted least squares on the sufficient statistics, covariates at each subject's first "
                   "record): " + ", ".join(names[k] for k in state.cov_thetas))
    if state.tv_thetas.size:
        out.append("in a factor that changes within subjects (time-varying covariate): estimated by a stochastic "
                   "Fisher-scoring M-step with the individual parameters held fixed: "
                   + ", ".join(names[k] for k in state.tv_thetas))
    if state.residual.numeric.any():
        sds = state.space.residual.sd_names
        out.append("residual SDs without a closed-form M-step (minimised on each sample): "
                   + ", ".join(sds[k] for k in np.flatnonzero(state.residual.numeric)))
    return out


def _covariance_method(cov) -> str:
    if cov is None:
        return ""
    if cov.kind is CovarianceKind.FIM:
        return "linearization (Fisher information of the model linearized at eta-hat)"
    return f"FOCEI covariance step ({cov.kind.value}) at the SAEM estimates"


def _linearization(state, z_hat, etas0, options):
    """FOCEI objective, its eta-hat and its covariance step at the SAEM estimates."""
    problem, space = state.problem, state.space
    engine = SubjectEngine(problem, state.layout, METHODS[MethodKind.FOCEI])
    param = Unconstrained(space)
    obj = Objective(engine, param, etas0.copy(), options.inner, options.outer.param_step, options.outer.eta_step)
    ofv_lin = obj.value(param.from_reported(z_hat))
    return engine, obj, ofv_lin


def finish(state, spec, options, termination, message, history, seed, t0) -> FitResult:
    space, problem = state.space, state.problem
    z_hat = state.reported()
    names = space.reported_names()
    estimates = dict(zip(names, map(float, z_hat)))
    values = space.values_from_reported(z_hat)
    cond_mean, cond_sd = state.conditional()
    engine, obj, ofv_lin = _linearization(state, z_hat, cond_mean, options)
    etas_hat = obj.etas.copy()
    cov = None
    free = ~space.reported_fixed()
    if options.covariance is not CovarianceKind.NONE and free.any() and termination is not Termination.STOPPED:
        cov = covariance_step(engine, space, z_hat, etas_hat, options)
    se, rse, ci, corr, cond = summarize(cov, estimates) if cov is not None else ({}, {}, {}, None, None)
    ofv, ofv_method, is_se = ofv_lin, "linearization (FOCEI objective at the SAEM estimates)", None
    ofv_kind = OFVKind.LINEARIZED
    if options.is_samples and termination is not Termination.STOPPED:
        from nlme_lab.estimation.importance import importance_sampling, proposal

        prop = proposal(problem, space, values, etas_hat)
        imp = importance_sampling(problem, space, values, prop.center, prop.covariance, n=options.is_samples,
                                  seed=None if seed is None else seed + 1, df=options.is_df)
        ofv, ofv_method, is_se = imp.ofv, "importance sampling", imp.se
        ofv_kind = OFVKind.IMPORTANCE_SAMPLING
    ipred = state.lik.predict(values.theta, cond_mean)
    has_obs = np.bincount(problem.obs_subject, minlength=problem.n_subjects) > 0
    shrink = shrinkage(cond_mean, values.omega, space.eta_labels, has_obs, state.layout, ipred, values.sd)
    n_free = int(free.sum())
    loglik, aic, bic = information_criteria(ofv, state.layout, n_free)
    warnings = collect_warnings(space, estimates, rse, cov, corr, shrink, obj, termination) + _notes(state)
    theta_names = [t.name for t in space.thetas]
    details = SAEMDetails(
        n_chains=int(state.chains.etas.shape[0]), conditional_sd=cond_sd, ebe=etas_hat,
        mu_referenced={space.eta_labels[c]: (f"log({theta_names[m]})" if state.mu_log[c] else theta_names[m])
                       for c, m in enumerate(state.mu) if m >= 0})
    return FitResult(
        method=MethodKind.SAEM, ofv=float(ofv), loglik=loglik, aic=aic, bic=bic, n_subjects=problem.n_subjects,
        n_observations=len(problem.dv), n_parameters=n_free, estimates=estimates,
        fixed=tuple(n for n, f in zip(names, free) if not f), se=se, rse=rse, ci=ci, correlation=corr,
        condition_number=cond, covariance=cov, etas=cond_mean, eta_names=tuple(space.eta_labels),
        shrinkage=shrink, termination=termination, message=message, history=history, warnings=tuple(warnings),
        elapsed_s=time.perf_counter() - t0, n_evaluations=state.lik.n_evaluations + engine.n_evaluations,
        iterations=len(history), ofv_kind=ofv_kind, parameters=space.table, ofv_method=ofv_method, ofv_linearization=float(ofv_lin),
        ofv_mc_se=is_se, covariance_method=_covariance_method(cov), saem=details, seed=seed)
