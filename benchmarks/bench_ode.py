"""Time per solve of ``ode_advance`` (warm, compiled) vs scipy's ``solve_ivp``.

Not a test. Run: ``.venv/bin/python benchmarks/bench_ode.py``. Prints, for a 1-compartment
oral model (0 -> 24 h) and a stiff TMDD model (0 -> 200 h), the time of one solve of our
integrator (values only, and with full parameter sensitivities) and of ``solve_ivp`` (values
only, RK45 / LSODA / Radau with the exact Jacobian) at the same rtol/atol, and the ratios.

Our solves are timed from inside numba (a jitted loop calling ``ode_advance``), as the event
engine calls it. A call from Python pays a fixed cost for converting the model dispatchers to
first-class function values, printed separately ("python call overhead").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "kernels"))

import test_ode_models as models  # noqa: E402

from numba import njit  # noqa: E402

from nlme_lab.kernels.ode import OdeMethod, make_opts, ode_advance  # noqa: E402


@njit
def _solve_many(rhs, jac, dfdp, reps, t_end, y0, p, dP, rate, drate, opts0):
    """`reps` cold solves (fresh state and opts each time); returns the last opts."""
    n = y0.shape[0]
    nd = dP.shape[1]
    opts = opts0.copy()
    for _ in range(reps):
        y = y0.copy()
        S = np.zeros((n, nd))
        opts = opts0.copy()
        status = ode_advance(rhs, jac, dfdp, 0.0, t_end, y, S, p, dP, rate, drate, opts)
        if status != 0:
            opts[4] = -1.0
    return opts


def best_time(fn, min_total=0.2, repeat=5):
    """Best of `repeat` runs of the mean time over enough calls to last `min_total` s."""
    fn()
    t = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t, 1e-7)
    calls = max(1, int(min_total / one / repeat))
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def ours(model, t_end, rtol, atol, method, sens):
    n, npar = model.y0.size, model.p.size
    nd = npar if sens else 0
    dP = np.eye(npar)[:, :nd].copy()
    rate, drate = np.zeros(n), np.zeros((n, nd))

    opts0 = make_opts(rtol, atol, method=method)
    reps = [1]

    def run():
        opts = _solve_many(model.rhs, model.jac, model.dfdp, reps[0], t_end, model.y0, model.p,
                           dP, rate, drate, opts0)
        assert opts[4] >= 0
        return opts

    return run, reps


def python_call_overhead():
    model = models.ORAL1
    y, S = model.y0.copy(), np.zeros((2, 0))
    args = (S, model.p, np.zeros((3, 0)), np.zeros(2), np.zeros((2, 0)), make_opts())

    def noop():
        ode_advance(model.rhs, model.jac, model.dfdp, 0.0, 0.0, y, *args)

    return best_time(noop)


def scipy_run(model, t_end, rtol, atol, method):
    n = model.y0.size
    p = model.p
    out = np.empty(n)
    jout = np.empty((n, n))

    def f(t, y):
        model.rhs(t, np.ascontiguousarray(y), p, out)
        return out.copy()

    def jac(t, y):
        model.jac(t, np.ascontiguousarray(y), p, jout)
        return jout.copy()

    def run():
        kw = {} if method == "RK45" else {"jac": jac}
        sol = solve_ivp(f, (0.0, t_end), model.y0, method=method, rtol=rtol, atol=atol, **kw)
        assert sol.success
        return sol

    return run


def main():
    print(f"python call overhead of ode_advance (no-op call): "
          f"{python_call_overhead() * 1e6:.1f} us")
    cases = [(models.ORAL1, 24.0, ["RK45", "LSODA", "Radau"]),
             (models.TMDD, 200.0, ["LSODA", "Radau"])]
    for rtol in (1e-6, 1e-8):
        print(f"\n=== rtol={rtol:g} ===")
        for model, t_end, sp_methods in cases:
            atol = model.atol * 1e2 if rtol > 1e-7 else model.atol
            print(f"\n{model.name} (0 -> {t_end:g}), atol={atol:g}")
            sp_times = {}
            for m in sp_methods:
                sp_times[m] = best_time(scipy_run(model, t_end, rtol, atol, m), repeat=3)
                nfev = scipy_run(model, t_end, rtol, atol, m)().nfev
                print(f"  scipy {m:6s}            {sp_times[m] * 1e6:10.1f} us  (nfev {nfev})")
            sp_best = min(sp_times.values())
            for method in (OdeMethod.AUTO, OdeMethod.RODAS4, OdeMethod.DOPRI5):
                if model is models.TMDD and method == OdeMethod.DOPRI5:
                    continue
                for sens in (False, True):
                    run, reps = ours(model, t_end, rtol, atol, method, sens)
                    reps[0] = 50
                    tm = best_time(run, repeat=3) / reps[0]
                    opts = run()
                    label = f"{method.name}{'+sens' if sens else ''}"
                    print(f"  ours  {label:18s} {tm * 1e6:10.1f} us  (steps {int(opts[4])}, "
                          f"rhs {int(opts[5])}, jac {int(opts[6])})  "
                          f"scipy-best/ours = {sp_best / tm:8.1f}x")


if __name__ == "__main__":
    main()
