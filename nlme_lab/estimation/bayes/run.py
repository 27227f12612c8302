"""``run_nuts``: the NUTS runner of the method registry (``MethodKind.NUTS``), sampling with nutpie.

nutpie (a Rust NUTS with mass-matrix adaptation from draws and gradients) takes the log density
and its gradient as a Python function (``nutpie.compiled_pyfunc.from_pyfunc``); every call is
one batched ``problem.evaluate`` with exact sensitivities (``density.Posterior``). The chains
start at the ``[ini]`` values (z = 0) with a small jitter from the seed; the same seed gives the
same draws. Draws are kept on the reported scale (``extra["draws"]``) and exported by
``FitResult.to_arviz()``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.bayes.density import Posterior
from nlme_lab.estimation.bayes.priors import resolve_priors
from nlme_lab.estimation.problem import check_problem
from nlme_lab.estimation.results import Termination


def _compiled(post: Posterior, seed, jitter: float):
    try:
        from nutpie.compiled_pyfunc import from_pyfunc
    except ImportError:
        raise NlmeError("method='nuts' needs nutpie and arviz: pip install 'nlme_lab[bayes]'") from None

    names = [n for n, f in zip(post.space.reported_names(), ~post.space.reported_fixed()) if f]
    free = ~post.space.reported_fixed()
    x0 = post.initial()

    def make_logp():
        return post.logp

    def make_expand(seed1, seed2, chain):
        def expand(x):
            rep, eta = post.reported(x)
            return {"parameters": np.ascontiguousarray(rep[free]), "eta": np.ascontiguousarray(eta)}
        return expand

    def make_initial(point_seed):
        rng = np.random.Generator(np.random.PCG64([0 if seed is None else seed, int(point_seed) % 2**32]))
        return x0 + jitter * rng.uniform(-1.0, 1.0, len(x0))

    model = from_pyfunc(
        post.n_dim, make_logp, make_expand, [np.dtype("float64")] * 2,
        [(len(names),), (post.n_sub, post.n_eta)], ["parameters", "eta"],
        coords={"parameter": names, "subject": [str(i) for i in range(post.n_sub)], "eta_name": list(post.space.eta_labels)},
        dims={"parameters": ("parameter",), "eta": ("subject", "eta_name")},
        make_initial_point_fn=make_initial)
    return model, names


def _finished(sampler) -> bool:
    try:  # nutpie 0.16 raises TimeoutError from is_finished while the chains still run
        return bool(sampler.is_finished)
    except TimeoutError:
        return False


def _sample(model, options, seed, stop):
    import nutpie

    cores = options.cores or min(options.chains, os.cpu_count() or 1)
    sampler = nutpie.sample(model, draws=options.draws, tune=options.tune, chains=options.chains, cores=cores,
                            seed=seed, progress_bar=False, target_accept=options.target_accept,
                            save_warmup=False, blocking=False, maxdepth=options.max_depth)
    try:
        while not _finished(sampler):
            if stop is not None and stop.is_set():
                return sampler.abort(), Termination.STOPPED
            time.sleep(0.05)
    except KeyboardInterrupt:
        return sampler.abort(), Termination.STOPPED
    return sampler.wait(), Termination.CONVERGED


def run_nuts(problem, space, spec, options, *, callback=None, stop=None, seed=None):
    """The registry's runner for NUTS: full posterior of thetas, omegas and residual SDs."""
    t0 = time.perf_counter()
    check_problem(problem, space.residual)
    if problem.n_eta != space.n_eta:
        raise NlmeError(f"the problem has {problem.n_eta} etas, the parameters declare {space.n_eta}")
    priors = resolve_priors(space, options.priors)
    post = Posterior(problem, space, priors)
    value, grad = post.logp(post.initial())
    if not (np.isfinite(value) and np.all(np.isfinite(grad))):
        raise NlmeError("the log posterior is not finite at the initial estimates (check initial values and data)")
    if post.n_globals == 0:
        raise NlmeError("every population parameter is fixed: there is nothing to sample (use method='focei')")
    model, names = _compiled(post, seed, options.jitter)
    trace, termination = _sample(model, options, seed, stop)
    from nlme_lab.estimation.bayes.summary import finish

    return finish(post, trace, names, priors, options, termination, seed, t0)
