"""``fit_problem``: estimate a population model by FO, FOCE, FOCEI or Laplace.

The outer problem is a BFGS over the unconstrained parameters (``outer.QuasiNewton``; see
``parameters`` for the scales), with the gradient of ``objective.Objective`` (exact
sensitivities and the implicit eta-hat correction, no inner re-solves). Each outer iteration sends an ``IterationEvent`` to
``callback``; ``stop`` (a ``StopToken`` or anything with ``is_set()``) or Ctrl-C ends the fit
with the best point so far. A problem whose parameters are all fixed is evaluated.

A failure after the first point (an exception from the engine or the linear algebra at some
trial point: numerical trouble the line searches could not step back from) ends the fit with
``Termination.FAILED``, the best point so far and a message naming what failed, so no
iteration is lost to a traceback; a failure at the initial estimates is raised (there is
nothing to keep, and the error says where the problem is).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.covariance import covariance_step, summarize
from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import METHODS, CovarianceKind, MethodKind, get_method, resolve_options
from nlme_lab.estimation.objective import Objective
from nlme_lab.estimation.outer import Point, QuasiNewton
from nlme_lab.estimation.parameters import ParameterSpace, Unconstrained
from nlme_lab.estimation.problem import check_problem
from nlme_lab.estimation.report import (collect_warnings, failure_words, flat_directions, information_criteria,
                                        initial_failure)
from nlme_lab.estimation.results import (CovarianceResult, Deferred, FitResult, HistoryEntry, IterationEvent, OFVKind,
                                         Termination)
from nlme_lab.estimation.shrinkage import shrinkage

log = logging.getLogger(__name__)


class _Stopped(Exception):
    pass


def fit_problem(problem, parameters: ParameterSpace, method="focei", options=None, *, callback=None,
        stop=None) -> FitResult:
    """Fit ``problem`` (a ``PredictionProblem``) with the declared ``parameters``."""
    t0 = time.perf_counter()
    spec = get_method(method)
    opts = resolve_options(spec, options)
    _check_sizes(problem, parameters)
    layout = ResidualLayout.build(parameters.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
    engine = SubjectEngine(problem, layout, spec, hessian_step=getattr(opts, "hessian_step", 1e-4))
    param = Unconstrained(parameters)
    obj = Objective(engine, param, np.zeros((problem.n_subjects, problem.n_eta)), opts.inner,
                    opts.outer.param_step, opts.outer.eta_step)
    v0 = param.from_reported(parameters.reported_initial())
    loop = _OuterLoop(obj, parameters, spec.kind, opts, callback, stop, t0)
    try:
        if param.n == 0:
            termination, message = Termination.EVALUATED, "every parameter is fixed: the objective was evaluated"
            loop.evaluate(v0)
        else:
            termination, message = loop.run(v0)
    except (ArithmeticError, np.linalg.LinAlgError) as err:  # at the initial estimates (later: FAILED)
        raise initial_failure(problem, layout, parameters, err) from err
    if loop.best_v is None:
        raise initial_failure(problem, layout, parameters)
    return _finish(loop, engine, layout, parameters, opts, termination, message, t0)


def run_laplace_family(problem, space: ParameterSpace, spec, options, *, callback=None, stop=None,
                       seed=None) -> FitResult:
    """The registry's runner for FO, FOCE, FOCEI and Laplace (deterministic: ``seed`` unused)."""
    return fit_problem(problem, space, spec.kind, options, callback=callback, stop=stop)


def _check_sizes(problem, space: ParameterSpace):
    check_problem(problem, space.residual)
    if problem.n_eta != space.n_eta:
        raise NlmeError(f"the problem has {problem.n_eta} etas, the parameters declare {space.n_eta}")
    if problem.n_theta != len(space.thetas):
        raise NlmeError(f"the problem has {problem.n_theta} thetas, the parameters declare "
                        f"{len(space.thetas)} ({', '.join(t.name for t in space.thetas)})")


class _OuterLoop:
    def __init__(self, obj: Objective, space, kind, opts, callback, stop, t0):
        self.obj, self.space, self.kind, self.opts = obj, space, kind, opts
        self.callback, self.stop, self.t0 = callback, stop, t0
        self.names = space.reported_names()
        self.best_ofv, self.best_v, self.best_etas, self.best_grad = np.inf, None, None, None
        self.best_per_subject = None
        # a HistoryEntry, or (iteration, ofv, v) whose estimates are worked out when the result's
        # history is first read (``history_result``: to_reported per iteration, ~40 us each)
        self.history: list = []
        self.iteration = 0

    def estimates(self, v) -> dict[str, float]:
        return dict(zip(self.names, map(float, self.obj.param.to_reported(v))))

    def history_result(self):
        """``FitResult.history``: a tuple of ``HistoryEntry``, deferred (``results.Deferred``)
        while some entry's estimates are not worked out yet (the same ``to_reported`` of the same
        ``v``: the same numbers whenever it runs)."""
        entries = list(self.history)
        if all(isinstance(e, HistoryEntry) for e in entries):
            return tuple(entries)
        param, names = self.obj.param, self.names

        def build():
            return tuple(e if isinstance(e, HistoryEntry) else
                         HistoryEntry(e[0], e[1], dict(zip(names, map(float, param.to_reported(e[2])))))
                         for e in entries)

        return Deferred(build)

    def evaluate(self, v):
        ofv = self.obj.value(v)
        if np.isfinite(ofv):
            self.best_ofv, self.best_v, self.best_etas = ofv, v.copy(), self.obj.etas.copy()
            self.history.append(HistoryEntry(0, ofv, self.estimates(v)))

    def check_stop(self):
        if self.stop is not None and self.stop.is_set():
            raise _Stopped

    def on_iteration(self, iteration: int, point: Point):
        self.iteration = iteration
        self.best_ofv, self.best_v, self.best_etas = point.ofv, point.v.copy(), self.obj.etas.copy()
        self.best_grad, self.best_per_subject = point.g.gradient, point.g.per_subject
        self._record(point.v, point.ofv)
        self.check_stop()

    def _record(self, v, ofv):
        if self.callback is None:  # nothing reads the estimates now
            self.history.append((self.iteration, ofv, np.array(v, dtype=float)))
            return
        est = self.estimates(v)
        self.history.append(HistoryEntry(self.iteration, ofv, est))
        if self.callback is not None:
            gnorm = float(np.max(np.abs(self.best_grad))) if self.best_grad is not None else float("nan")
            self.callback(IterationEvent(self.iteration, ofv, est, gnorm, self.obj.engine.n_evaluations,
                                         time.perf_counter() - self.t0, self.kind))

    def run(self, v0) -> tuple[Termination, str]:
        qn = QuasiNewton(self.obj, self.opts.outer, self.on_iteration, self.check_stop)
        try:
            return qn.run(v0)
        except (_Stopped, KeyboardInterrupt):
            return Termination.STOPPED, f"stopped by the user after {self.iteration} iterations"
        except Exception as err:  # keep the iterations done: see the module docstring
            if self.best_v is None:
                raise
            log.warning("the fit failed after %d iterations", self.iteration, exc_info=True)
            return Termination.FAILED, (f"the fit could not go on after iteration {self.iteration}: "
                                        f"{failure_words(err)}; the estimates are the best so far")


LARGE_COVARIATE = 1e6


def _covariate_scale(problem) -> list[str]:
    """Covariates whose values reach ``LARGE_COVARIATE``: a likely cause of a fit that cannot
    move (a weight in mg instead of kg, a time stamp), named with the size they reach."""
    bound = getattr(problem, "bound", None)
    if bound is None or not np.size(bound.covariates):
        return []
    with np.errstate(invalid="ignore"):
        top = np.nanmax(np.abs(np.asarray(bound.covariates, dtype=float)), axis=0)
    big = [(name, x) for name, x in zip(bound.model.ir.covariates, top) if x >= LARGE_COVARIATE]
    if not big:
        return []
    named = ", ".join(f"{name} (values up to {x:.3g})" for name, x in big)
    return [f"covariates on a very large scale: {named}; rescale them (e.g. WT/70) or check their units"]


def _covariance(engine, space, z_hat, etas, opts) -> CovarianceResult:
    """The covariance step; an exception in it becomes a failed step with the reason (the
    estimates are kept, as for any failed covariance step)."""
    try:
        return covariance_step(engine, space, z_hat, etas, opts)
    except Exception as err:
        log.warning("the covariance step failed", exc_info=True)
        names = tuple(n for n, fixed in zip(space.reported_names(), space.reported_fixed()) if not fixed)
        return CovarianceResult(opts.covariance, names, None, None, None, failure_words(err))


def _finish(loop: _OuterLoop, engine, layout, space, opts, termination, message, t0) -> FitResult:
    obj, problem = loop.obj, engine.problem
    if obj.solved_at(loop.best_v, loop.best_etas):  # the last inner solve was there and converged
        ofv = loop.best_ofv
    else:
        obj.etas = loop.best_etas.copy()
        ofv = obj.value(loop.best_v)
    if not np.isfinite(ofv):  # keep what the fit saw there, and say the objective is unstable
        ofv, obj.etas = loop.best_ofv, loop.best_etas.copy()
        if termination is not Termination.STOPPED:
            termination, message = Termination.FAILED, (
                f"the objective is not finite when evaluated again at the best estimates (it was {ofv:.6g} there "
                f"during the fit): the problem is numerically unstable at these values; {message}")
    z_hat = obj.param.to_reported(loop.best_v)
    values = space.values_from_reported(z_hat)
    estimates = dict(zip(space.reported_names(), map(float, z_hat)))
    etas = obj.etas.copy()
    if engine.spec.kind is MethodKind.FO:  # FO's eta-hat is 0; report FOCEI posthoc estimates
        posthoc = SubjectEngine(problem, layout, METHODS[MethodKind.FOCEI])
        etas = posthoc.solve(values, etas, opts.inner, final_around=False).etas
    ipred = layout.to_log_scale(np.asarray(problem.evaluate(values.theta, etas, derivs=False).f, float), None)[0]
    has_obs = engine.index.counts > 0
    shrink = shrinkage(etas, values.omega, space.eta_labels, has_obs, layout, ipred, values.sd)
    cov = None
    free = ~space.reported_fixed()
    if opts.covariance is not CovarianceKind.NONE and free.any() and termination not in (Termination.STOPPED,
                                                                                          Termination.FAILED):
        cov = _covariance(engine, space, z_hat, obj.etas.copy(), opts)
    se, rse, ci, corr, cond = summarize(cov, estimates) if cov is not None else ({}, {}, {}, None, None)
    n_obs, n_free = len(problem.dv), int(free.sum())
    loglik, aic, bic = information_criteria(ofv, layout, n_free)
    warnings = collect_warnings(space, estimates, rse, cov, corr, shrink, obj, termination)
    if cov is None or cov.r_matrix is None and cov.s_matrix is None:
        # no covariance step (or one that failed before its matrices) to say which parameters the
        # data cannot separate: the per-subject gradients of the best point tell
        warnings += flat_directions(loop.best_per_subject, [n for n, f in zip(space.reported_names(), free) if f])
    if termination is Termination.FAILED or any(w.startswith("no parameter moved") for w in warnings):
        warnings += _covariate_scale(problem)
    return FitResult(
        method=engine.spec.kind, ofv=ofv, loglik=loglik, aic=aic, bic=bic, n_subjects=problem.n_subjects,
        n_observations=n_obs, n_parameters=n_free, estimates=estimates,
        fixed=tuple(n for n, f in zip(space.reported_names(), free) if not f), se=se, rse=rse, ci=ci,
        correlation=corr, condition_number=cond, covariance=cov, etas=etas, eta_names=tuple(space.eta_labels),
        shrinkage=shrink, termination=termination, message=message, history=loop.history_result(),
        warnings=tuple(warnings), elapsed_s=time.perf_counter() - t0, n_evaluations=engine.n_evaluations,
        iterations=loop.iteration, ofv_kind=OFVKind.of_method(engine.spec.kind), parameters=space.table,
        covariance_method=f"{engine.spec.kind.value.upper()} covariance step ({cov.kind.value})" if cov else "")
