"""NUTS (nutpie) on theo_sd: seconds per 1000 draws, gradient-call cost and ESS per second.

Run: .venv/bin/python benchmarks/bench_nuts.py [--draws N --tune N --chains N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    import nlme_lab as nl
    from nlme_lab.estimation import NUTSOptions
    from nlme_lab.estimation.bayes.density import Posterior
    from nlme_lab.estimation.bayes.priors import resolve_priors
    from nlme_lab.estimation.kernel_problem import KernelProblem
    from nlme_lab.estimation.model_space import parameter_space
    from nlme_lab.problem import bind

    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=2)
    args = ap.parse_args()
    model = nl.Model.from_file(SHARED / "models" / "theo_sd.nlm")
    data = nl.read_nonmem(SHARED / "data" / "theo_sd.csv")
    problem = KernelProblem(bind(model, data))
    space = parameter_space(model.ir, model.compiled.error_index, 1)
    post = Posterior(problem, space, resolve_priors(space, None))
    x = post.initial()
    post.logp(x)
    n = 500
    t = time.perf_counter()
    for _ in range(n):
        post.logp(x)
    per_grad = (time.perf_counter() - t) / n
    print(f"log density + gradient: {per_grad * 1e6:.0f} us per call ({post.n_dim} dimensions)")
    opts = NUTSOptions(draws=args.draws, tune=args.tune, chains=args.chains, is_samples=0)
    t = time.perf_counter()
    fit = nl.fit(model, data, "nuts", seed=1, options=opts, covariance=None)
    elapsed = time.perf_counter() - t
    total = args.chains * (args.draws + args.tune)
    steps = int(np.sum(2 ** fit.extra["sample_stats"]["depth"]))  # upper bound of leapfrog steps (kept draws)
    ess = min(fit.extra["ess_bulk"].values())
    print(f"{args.chains} chains x ({args.tune} tune + {args.draws} draws), seed 1: {elapsed:.1f} s")
    print(f"  {1000 * elapsed / total:.2f} s per 1000 draws (tuning included)")
    print(f"  min bulk ESS {ess:.0f} -> {ess / elapsed:.1f} ESS/s; max R-hat {max(fit.extra['rhat'].values()):.4f}; "
          f"{fit.extra['divergences']} divergences; <= {steps / (args.chains * args.draws):.1f} gradient calls per draw")
    for name, value in fit.estimates.items():
        lo, hi = fit.ci[name]
        print(f"  {name:8s} {value:9.4f}  [{lo:.4f}, {hi:.4f}]  ESS {fit.extra['ess_bulk'][name]:.0f}")


if __name__ == "__main__":
    main()
