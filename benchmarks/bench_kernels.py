"""Engine speed for linear (linCmt) models: microseconds per record of ``solve_population``.

Not a test. Run: ``.venv/bin/python benchmarks/bench_kernels.py [--quick]``.

Populations of 500 theo-like subjects (one dose at t = 0, 11 observations up to 24 h, random
etas), for three generated models (the real codegen path, ``nl.Model(...).compiled``):

* 1-cmt oral (ka, cl, v), dose into the depot;
* 2-cmt IV (cl, v, q, v2), bolus into the central compartment;
* 2-cmt oral (ka, cl, v, q, v2).

Each is timed values-only (0 directions) and with the 3 eta directions (what FOCEI's inner
and outer steps ask for), with the linear propagator of ``kernels/linear.py``:

* ``expm``: the reference path (Padé matrix exponential of the augmented matrix per interval
  and of a block matrix per direction), selected by ``linear.with_linear_method``;
* ``eigen``: the default path (cached eigendecomposition of K, divided differences).

and with ``solve_population`` (threads) vs ``solve_population_serial``. Prints microseconds
per record (best of several repeats) and the ratios before / after and serial / parallel.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nlme_lab as nl  # noqa: E402
from nlme_lab.kernels import linear, ode, population  # noqa: E402
from nlme_lab.kernels.function_refs import function_refs  # noqa: E402

N_SUB = 500
OBS_T = np.array([0.25, 0.5, 1.0, 2.0, 3.5, 5.0, 7.0, 9.0, 12.0, 18.0, 24.0])

HEAD = """
[ini]
tka = log(1.5)
tcl = log(2.7)
tv  = log(31)
tq  = log(1.5)
tv2 = log(20)
eta_a ~ 0.3
eta_cl ~ 0.1
eta_v  ~ 0.1
add_sd = 0.5
[model]
cl = exp(tcl + eta_cl)
v  = exp(tv + eta_v)
"""
MODELS = {
    # name: (extra [model] lines, dose compartment (0-based state))
    "1-cmt oral": ("ka = exp(tka + eta_a)\n", 0),
    "2-cmt IV": ("q = exp(tq + eta_a)\nv2 = exp(tv2)\n", 0),
    "2-cmt oral": ("ka = exp(tka + eta_a)\nq = exp(tq)\nv2 = exp(tv2)\n", 0),
}


def build(name: str):
    extra, dose_cmt = MODELS[name]
    text = HEAD + extra + "cp = linCmt()\ncp ~ add(add_sd)\n"
    cm = nl.Model(text, name=name.replace(" ", "_")).compiled
    cm.compile_all()
    assert cm.is_linear
    refs = function_refs(cm)
    n_rec = N_SUB * (1 + OBS_T.size)
    per = 1 + OBS_T.size
    rng = np.random.default_rng(1)
    time_ = np.tile(np.r_[0.0, OBS_T], N_SUB)
    evid = np.tile(np.r_[1, np.zeros(OBS_T.size, np.int64)], N_SUB).astype(np.int64)
    amt = np.where(evid == 1, 320.0, 0.0)
    cmt = np.full(n_rec, dose_cmt, np.int64)
    zi = np.zeros(n_rec, np.int64)
    zf = np.zeros(n_rec)
    recs = (np.arange(0, n_rec + 1, per, dtype=np.int64), time_, evid, amt, cmt, zf.copy(),
            zf.copy(), zi.copy(), zi.copy())
    theta = np.array([t.init for t in cm.ir.thetas])
    eta = np.ascontiguousarray(np.repeat(rng.normal(0, 0.3, (N_SUB, cm.n_re)), per, axis=0))
    cov = np.zeros((n_rec, max(cm.n_cov, 0)))
    P = np.zeros((n_rec, cm.n_p))
    dP = np.zeros((n_rec, cm.n_p, cm.n_re))
    population.compute_dp(refs["dpk"], time_, theta, eta, cov, P, dP,
                          np.zeros((n_rec, cm.n_p, cm.n_theta)), cm.p_uses_time)
    fns = tuple(refs[k] for k in ("rhs", "jac", "dfdp", "init", "dinit", "obs", "dobs_dy",
                                  "dobs_dp", "linsys", "dlinsys"))
    return cm, recs, P, dP, fns


def run_once(solve, cm, recs, P, dP, fns, opts):
    n_rec = P.shape[0]
    n_sub = recs[0].shape[0] - 1
    pred = np.zeros((n_rec, cm.n_endpoint))
    dpred = np.zeros((n_rec, cm.n_endpoint, dP.shape[2]))
    status = np.zeros(n_sub, np.int64)
    fail = np.zeros(n_sub, np.int64)

    def call():
        solve(*recs, P, cm.dose_index, *fns, True, dP, opts, pred, dpred, status, fail)

    call()
    assert not status.any(), status
    return call, pred, dpred


def best_us_per_record(call, n_rec, min_total=0.3, repeat=5):
    t = time.perf_counter()
    call()
    one = max(time.perf_counter() - t, 1e-6)
    calls = max(1, int(min_total / one / repeat))
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - t) / calls)
    return 1e6 * best / n_rec


def main(quick: bool = False) -> None:
    base = ode.make_opts(rtol=1e-8, atol=1e-10)
    opts = {"expm": linear.with_linear_method(base, linear.LinearMethod.EXPM),
            "eigen": linear.with_linear_method(base, linear.LinearMethod.AUTO)}
    solvers = {"serial": population.solve_population_serial,
               "parallel": population.solve_population}
    print(f"us per record, {N_SUB} subjects x {1 + OBS_T.size} records "
          f"(numba threads: {population.numba_threads()})")
    header = f"{'model':11s} {'dirs':>4s} {'mode':>8s} {'expm':>8s} {'eigen':>8s} {'ratio':>7s}"
    print(header)
    for name in MODELS:
        cm, recs, P, dP_full, fns = build(name)
        n_rec = P.shape[0]
        for nd in (0, 3):
            dP = np.ascontiguousarray(dP_full[:, :, :nd])
            res = {}
            outs = {}
            for mode, solve in solvers.items():
                for method, o in opts.items():
                    call, pred, dpred = run_once(solve, cm, recs, P, dP, fns, o)
                    outs[(mode, method)] = (pred.copy(), dpred.copy())
                    res[(mode, method)] = best_us_per_record(
                        call, n_rec, min_total=0.1 if quick else 0.3)
                a, b = res[(mode, "expm")], res[(mode, "eigen")]
                print(f"{name:11s} {nd:4d} {mode:>8s} {a:8.3f} {b:8.3f} {a / b:6.2f}x")
            for method in opts:
                s, p = res[("serial", method)], res[("parallel", method)]
                same = all(np.array_equal(x, y) for x, y in
                           zip(outs[("serial", method)], outs[("parallel", method)]))
                print(f"{'':11s} {'':4s} {method:>8s} serial/parallel {s / p:5.2f}x "
                      f"(bit-identical: {same})")
            pe, de = outs[("serial", "eigen")]
            px, dx = outs[("serial", "expm")]
            rel = np.abs(pe - px).max() / np.abs(px).max()
            reld = (np.abs(de - dx).max() / np.abs(dx).max()) if nd else 0.0
            print(f"{'':11s} {'':4s} max |eigen - expm| / max|expm|: pred {rel:.1e}, "
                  f"dpred {reld:.1e}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
