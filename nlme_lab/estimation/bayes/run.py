"""``run_nuts``: the NUTS runner of the method registry (``MethodKind.NUTS``), sampling with nutpie.

nutpie (a Rust NUTS with mass-matrix adaptation from draws and gradients) takes the log density
and its gradient as a Python function (``nutpie.compiled_pyfunc.from_pyfunc``); every call is
one batched ``problem.evaluate`` with exact sensitivities (``density.Posterior``). The chains
start at the ``[ini]`` values (z = 0) with a small jitter from the seed; the same seed gives the
same draws. Draws are kept on the reported scale (``FitResult.posterior.draws``) and exported by
``FitResult.to_arviz()``.

Sampling is non-blocking: the loop waits on the sampler in slices of ``POLL_S`` seconds; a
``stop`` request or Ctrl-C aborts it and the result is built from the draws so far
(``Termination.STOPPED``; ``trace.kept_draws`` says which chains are kept). With a
``callback``, the trace is read every ``PROGRESS_S`` seconds and sent as ``IterationEvent``s
(``progress``); it is read once more at the end, so the history ends at the final medians.

Chains run on ``min(chains, CPUs)`` threads by default. They share one problem behind a lock
(``density.Posterior._evaluate``); the engine holds the GIL, so on this machine two chains on
two threads sample about 10 % slower than on one thread (``benchmarks/bench_nuts.py``), but one
thread runs the chains one after another: a stopped run would have one chain, and a live
trace that follows only it.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.bayes.density import Posterior
from nlme_lab.estimation.bayes.priors import resolve_priors
from nlme_lab.estimation.bayes.progress import LiveTrace
from nlme_lab.estimation.problem import check_problem
from nlme_lab.estimation.results import Termination

POLL_S = 0.1  # how long a stop request may wait
PROGRESS_S = 0.5  # how often the live trace is read (each reading costs ~30 ms of the GIL)


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
            rep, eta, log_prior, log_p_eta = post.draw(x)
            return {"parameters": np.ascontiguousarray(rep[free]), "eta": np.ascontiguousarray(eta),
                    "log_prior": np.array(log_prior), "log_p_eta": np.array(log_p_eta)}
        return expand

    def make_initial(point_seed):
        rng = np.random.Generator(np.random.PCG64([0 if seed is None else seed, int(point_seed) % 2**32]))
        return x0 + jitter * rng.uniform(-1.0, 1.0, len(x0))

    model = from_pyfunc(
        post.n_dim, make_logp, make_expand, [np.dtype("float64")] * 4,
        [(len(names),), (post.n_sub, post.n_eta), (), ()], ["parameters", "eta", "log_prior", "log_p_eta"],
        coords={"parameter": names, "subject": [str(i) for i in range(post.n_sub)],
                "eta_name": list(post.space.eta_labels)},
        dims={"parameters": ("parameter",), "eta": ("subject", "eta_name")},
        make_initial_point_fn=make_initial)
    return model, names


def _quiet(call, **kwargs):
    """nutpie's trace conversion warns (arviz) while a chain has no draws yet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return call(**kwargs)


def _sample(model, options, seed, stop, live: LiveTrace, report: bool):
    """The trace and the termination; ``live`` gets trace readings (every ``PROGRESS_S`` s
    when ``report``, and the final trace)."""
    import nutpie

    cores = options.cores or min(options.chains, os.cpu_count() or 1)
    sampler = nutpie.sample(model, draws=options.draws, tune=options.tune, chains=options.chains, cores=cores,
                            seed=seed, progress_bar=False, target_accept=options.target_accept,
                            save_warmup=True, blocking=False, maxdepth=options.max_depth)
    try:
        trace, termination = _wait(sampler, stop, live if report else None)
    except BaseException:
        _cancel(sampler)  # a failing callback: the chains must not run on
        raise
    live(trace)
    return trace, termination


def _cancel(sampler) -> None:
    try:
        sampler.cancel()
    except BaseException:  # noqa: S110 - a sampler that failed itself cannot be cancelled; the error raised tells why
        pass


def _wait(sampler, stop, live):
    next_reading = time.monotonic() + PROGRESS_S
    try:
        while True:
            try:  # nutpie 0.16: wait(timeout) raises TimeoutError while the chains still run
                return _quiet(sampler.wait, timeout=POLL_S), Termination.CONVERGED
            except TimeoutError:
                pass
            if stop is not None and stop.is_set():
                return _quiet(sampler.abort), Termination.STOPPED
            if live is not None and time.monotonic() >= next_reading:
                live(_quiet(sampler.inspect))
                next_reading = time.monotonic() + PROGRESS_S
    except KeyboardInterrupt:
        return _quiet(sampler.abort), Termination.STOPPED


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
    live = LiveTrace(post, callback, t0)
    trace, termination = _sample(model, options, seed, stop, live, report=callback is not None)
    from nlme_lab.estimation.bayes.summary import finish

    return finish(post, trace, names, priors, options, termination, seed, t0, live)
