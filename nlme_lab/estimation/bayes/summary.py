"""The ``FitResult`` of a NUTS run: posterior medians, SDs and 95 % equal-tailed credible
intervals, R-hat and ESS (ArviZ, rank-normalised), divergences, the importance-sampling -2LL at
the posterior medians and the FOCEI objective there (``ofv_linearization``); the draws and
their diagnostics in ``FitResult.posterior``."""

from __future__ import annotations

import time

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.bayes.trace import Draws, chain_lengths, kept_draws
from nlme_lab.estimation.methods import METHODS, MethodKind
from nlme_lab.estimation.report import information_criteria
from nlme_lab.estimation.results import FitResult, OFVKind, Posterior, Termination
from nlme_lab.estimation.shrinkage import shrinkage

RHAT_LIMIT = 1.01


def diagnostics(draws: Draws, names) -> tuple[dict, dict, dict, int]:
    """R-hat, bulk and tail ESS per parameter, and the number of divergent transitions."""
    import arviz as az

    n_chain, n_draw = draws.parameters.shape[:2]
    div = int(np.asarray(draws.stats["diverging"]).sum())
    if n_draw < 4:
        nan = dict.fromkeys(names, float("nan"))
        return nan, nan, dict(nan), div
    data = az.convert_to_dataset({"parameters": draws.parameters})
    rhat = az.rhat(data)["parameters"].values if n_chain > 1 else np.full(len(names), np.nan)
    bulk = az.ess(data, method="bulk")["parameters"].values
    tail = az.ess(data, method="tail")["parameters"].values
    as_dict = lambda a: dict(zip(names, map(float, a)))  # noqa: E731
    return as_dict(rhat), as_dict(bulk), as_dict(tail), div


def _warnings(rhat, bulk, div, n_draws, termination, n_dropped) -> list[str]:
    out = []
    high = [f"{n} ({r:.3f})" for n, r in rhat.items() if np.isfinite(r) and r > RHAT_LIMIT]
    if high:
        out.append(f"R-hat above {RHAT_LIMIT} (chains disagree; sample longer or check the model): " + ", ".join(high))
    if div:
        out.append(f"{div} divergent transition(s) of {n_draws} draws: the posterior may be biased "
                   "(raise target_accept or reparameterise)")
    low = [f"{n} ({e:.0f})" for n, e in bulk.items() if np.isfinite(e) and e < 100]
    if low:
        out.append("bulk ESS below 100: " + ", ".join(low))
    if termination is Termination.STOPPED:
        out.append(f"sampling was stopped by the user: the summaries use the {n_draws} draws so far"
                   + (f" ({n_dropped} chain(s) with fewer than half the draws of the longest left out)"
                      if n_dropped else ""))
    return out


def _ofvs(post, values, z_hat, etas, options, seed):
    """Importance-sampling -2LL (when ``is_samples``) and the FOCEI objective at ``z_hat``."""
    from nlme_lab.estimation.individual import SubjectEngine
    from nlme_lab.estimation.objective import Objective
    from nlme_lab.estimation.parameters import Unconstrained

    engine = SubjectEngine(post.problem, post.layout, METHODS[MethodKind.FOCEI])
    param = Unconstrained(post.space)
    obj = Objective(engine, param, etas.copy(), options.inner, options.outer.param_step, options.outer.eta_step)
    ofv_lin = float(obj.value(param.from_reported(z_hat)))
    ofv, method, se = ofv_lin, "linearization (FOCEI objective at the posterior medians)", None
    if options.is_samples:
        from nlme_lab.estimation.importance import importance_sampling, proposal

        center, covs = proposal(post.problem, post.space, values, obj.etas.copy())
        imp = importance_sampling(post.problem, post.space, values, center, covs, n=options.is_samples,
                                  seed=None if seed is None else seed + 1, df=options.is_df)
        ofv, method, se = imp.ofv, "importance sampling (at the posterior medians)", imp.se
    return ofv, ofv_lin, method, se, engine.n_evaluations


def _extreme(d: dict, pick) -> float:
    finite = [v for v in d.values() if np.isfinite(v)]
    return float(pick(finite)) if finite else float("nan")


def _quantiles(flat):
    """Posterior median, SD and the 2.5 / 97.5 % quantiles of each column."""
    sd = flat.std(axis=0, ddof=1) if flat.shape[0] > 1 else np.full(flat.shape[1], np.nan)
    lo, hi = np.quantile(flat, [0.025, 0.975], axis=0)
    return np.median(flat, axis=0), sd, lo, hi


def _kept(draws: Draws, names, options, live) -> dict:
    """What the result keeps of the run: draws, eta draws, log-likelihoods, sampler statistics."""
    return {"draws": draws.parameters, "draw_names": tuple(names), "eta_draws": draws.eta,
            "eta_sd": draws.eta.std(axis=(0, 1)), "loglik_draws": draws.loglik,
            "complete_ofv_draws": draws.complete, "sample_stats": draws.stats,
            "chains": draws.n_chains, "draws_per_chain": draws.n_draws, "chains_dropped": draws.n_dropped,
            "tune": options.tune, "live_trace_s": live.seconds,
            "sampler": "nutpie NUTS (diagonal mass matrix adapted from draws and gradients)"}


def _no_draws(trace, options) -> NlmeError:
    warm = chain_lengths(trace.warmup_sample_stats if "warmup_sample_stats" in trace.groups() else None)
    done = f"{int(warm.min())}-{int(warm.max())}" if warm.size else "0"
    return NlmeError(f"NUTS has no posterior draws: stopped during tuning ({done} of {options.tune} tuning draws "
                     "per chain); stop after tuning, or lower NUTSOptions.tune")


def finish(post, trace, names, priors, options, termination, seed, t0, live) -> FitResult:
    """The result from nutpie's ``trace`` (``live``: the ``progress.LiveTrace`` of the run)."""
    space, problem = post.space, post.problem
    kept = kept_draws(trace)
    if kept.n_draws == 0:
        raise _no_draws(trace, options)
    draws, eta_draws = kept.parameters, kept.eta  # (chain, draw, n_free), (chain, draw, n_sub, n_eta)
    flat = draws.reshape(-1, draws.shape[-1])
    median, sd, lo, hi = _quantiles(flat)
    all_names = space.reported_names()
    z_hat = space.reported_initial()
    free = ~space.reported_fixed()
    z_hat[free] = median
    estimates = dict(zip(all_names, map(float, z_hat)))
    values = space.values_from_reported(z_hat)
    etas = eta_draws.mean(axis=(0, 1))
    rhat, bulk, tail, div = diagnostics(kept, names)
    try:
        ofv, ofv_lin, ofv_method, ofv_se, n_lin = _ofvs(post, values, z_hat, etas, options, seed)
    except (NlmeError, np.linalg.LinAlgError) as err:
        ofv, ofv_lin, ofv_method, ofv_se, n_lin = np.nan, np.nan, f"not available: {err}", None, 0
    ipred = post.layout.to_log_scale(np.asarray(problem.evaluate(values.theta, etas, derivs=False).f, float), None)[0]
    has_obs = np.bincount(problem.obs_subject, minlength=problem.n_subjects) > 0
    shrink = shrinkage(etas, values.omega, space.eta_labels, has_obs, post.layout, ipred, values.sd)
    n_free = int(free.sum())
    loglik, aic, bic = information_criteria(ofv, post.layout, n_free)
    corr = np.corrcoef(flat, rowvar=False) if flat.shape[0] > 2 and len(names) > 1 else None
    n_draws = int(np.prod(draws.shape[:2]))
    warnings = _warnings(rhat, bulk, div, n_draws, termination, kept.n_dropped)
    posterior = Posterior(rhat=rhat, ess_bulk=bulk, ess_tail=tail, divergences=div, priors=priors.text(),
                          failed_evaluations=post.n_failures, **_kept(kept, names, options, live))
    message = (f"NUTS: {draws.shape[0]} chain(s) x {draws.shape[1]} draws after {options.tune} tuning; "
               f"max R-hat {_extreme(rhat, max):.4f}, min bulk ESS {_extreme(bulk, min):.0f}, "
               f"{div} divergence(s)\n{priors.text()}")
    return FitResult(
        method=MethodKind.NUTS, ofv=float(ofv), loglik=loglik, aic=aic, bic=bic, n_subjects=problem.n_subjects,
        n_observations=len(problem.dv), n_parameters=n_free, estimates=estimates,
        fixed=tuple(n for n, f in zip(all_names, free) if not f),
        se=dict(zip(names, map(float, sd))),
        rse={n: float(100 * s / abs(m)) if m != 0 else float("nan") for n, s, m in zip(names, sd, median)},
        ci={n: (float(a), float(b)) for n, a, b in zip(names, lo, hi)}, correlation=corr, condition_number=None,
        covariance=None, etas=etas, eta_names=tuple(space.eta_labels), shrinkage=shrink, termination=termination,
        message=message, history=tuple(live.history), warnings=tuple(warnings), elapsed_s=time.perf_counter() - t0,
        n_evaluations=post.n_evaluations + n_lin, iterations=n_draws, ofv_kind=OFVKind.POSTERIOR, parameters=space.table,
        ofv_method=ofv_method, ofv_linearization=float(ofv_lin), ofv_mc_se=ofv_se, posterior=posterior, seed=seed)
