"""NUTS (nutpie) on theo_sd: seconds per 1000 draws, gradient-call cost, ESS per second, the cost
of the lock around the problem and of the live trace, and chains on one thread vs several.

Run: .venv/bin/python benchmarks/bench_nuts.py [--draws N --tune N --chains N --cores 2 1 --repeats R]
(`--cores` with no value: only the density and thread measurements)

Timings are medians over ``--repeats`` runs (the machine is shared; single runs are noisy).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1] / "tests" / "shared"


def _median_time(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return float(np.median(out))


def _threads(posts, x, n: int) -> None:
    def work(post):
        for _ in range(n):
            post.logp(x)
    threads = [threading.Thread(target=work, args=(p,)) for p in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def bench_density(model, data, repeats: int) -> None:
    """One log-density call; the lock's own cost; two threads sharing one problem (with the lock)
    against two threads with a problem each (what per-chain copies would give)."""
    from nlme_lab.estimation.bayes.density import Posterior
    from nlme_lab.estimation.bayes.priors import resolve_priors
    from nlme_lab.estimation.kernel_problem import KernelProblem
    from nlme_lab.estimation.model_space import parameter_space
    from nlme_lab.problem import bind

    space = parameter_space(model.ir, 1)
    posts = [Posterior(KernelProblem(bind(model, data)), space, resolve_priors(space, None)) for _ in range(2)]
    x = posts[0].initial()
    posts[0].logp(x)
    posts[1].logp(x)
    n = 400
    per_call = _median_time(lambda: [posts[0].logp(x) for _ in range(n)], repeats) / n
    lock = threading.Lock()

    def locked():
        for _ in range(100_000):
            with lock:
                pass
    per_lock = _median_time(locked, repeats) / 100_000
    print(f"log density + gradient: {per_call * 1e6:.0f} us per call ({posts[0].n_dim} dimensions); "
          f"the lock {per_lock * 1e9:.0f} ns ({100 * per_lock / per_call:.3f} %)")
    one = _median_time(lambda: _threads(posts[:1], x, 2 * n), repeats)
    shared = _median_time(lambda: _threads([posts[0], posts[0]], x, n), repeats)
    separate = _median_time(lambda: _threads(posts, x, n), repeats)
    print(f"{2 * n} calls: one thread {one:.2f} s; two threads, one problem (lock) {shared:.2f} s; "
          f"two threads, a problem each {separate:.2f} s (the engine holds the GIL)")


def bench_sampling(model, data, args, cores: int) -> None:
    import nlme_lab as nl
    from nlme_lab.estimation import NUTSOptions

    opts = NUTSOptions(draws=args.draws, tune=args.tune, chains=args.chains, cores=cores, is_samples=0)
    fits, times = [], []
    for _ in range(args.repeats):
        events = []
        t = time.perf_counter()
        fits.append(nl.fit(model, data, "nuts", seed=1, options=opts, covariance=None, callback=events.append))
        times.append(time.perf_counter() - t)
    elapsed, fit = float(np.median(times)), fits[0]
    total = args.chains * (args.draws + args.tune)
    ess = min(fit.posterior.ess_bulk.values())
    evals = fit.posterior.sample_stats["depth"]
    print(f"{args.chains} chains on {cores} thread(s) x ({args.tune} tune + {args.draws} draws), seed 1, "
          f"median of {args.repeats}: {elapsed:.1f} s  ({', '.join(f'{t:.1f}' for t in times)})")
    print(f"  {1000 * elapsed / total:.2f} s per 1000 draws (tuning included); {fit.n_evaluations / elapsed:.0f} "
          f"log-density calls/s; live trace {len(fit.history)} readings, {fit.posterior.live_trace_s:.2f} s")
    print(f"  min bulk ESS {ess:.0f} -> {ess / elapsed:.1f} ESS/s; max R-hat {max(fit.posterior.rhat.values()):.4f}; "
          f"{fit.posterior.divergences} divergences; <= {np.mean(2.0 ** evals):.1f} gradient calls per draw")
    for name, value in fit.estimates.items():
        lo, hi = fit.ci[name]
        print(f"  {name:8s} {value:9.4f}  [{lo:.4f}, {hi:.4f}]  ESS {fit.posterior.ess_bulk[name]:.0f}  "
              f"R-hat {fit.posterior.rhat[name]:.4f}")
    print(f"  last live reading: complete-data -2LL {fit.history[-1].ofv:.2f}; OFV (FOCEI at the medians) "
          f"{fit.ofv_linearization:.2f}")


def main() -> None:
    import nlme_lab as nl

    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--cores", type=int, nargs="*", default=[2])  # none: the density part only
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--skip-density", action="store_true")
    args = ap.parse_args()
    model = nl.Model.from_file(SHARED / "models" / "theo_sd.nlm")
    data = nl.read_nonmem(SHARED / "data" / "theo_sd.csv")
    if not args.skip_density:
        bench_density(model, data, max(args.repeats, 5))
    for cores in args.cores:
        bench_sampling(model, data, args, cores)


if __name__ == "__main__":
    main()
