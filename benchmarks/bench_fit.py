"""Estimation speed: warm and cold fits on the shared models, and scaling in subjects.

* warm: a repeated ``nl.fit(model, data)`` with its defaults (FOCEI, sandwich covariance step)
  on already parsed model and dataset objects (compiled code in memory), median of 5;
* cold: a fresh process running ``import nlme_lab; nl.fit(path, path)`` (numba's on-disk cache
  warm, as after the first run on a machine);
* scaling: theo-like simulated populations (one 320 mg oral dose, 10 samples each) of 100, 500
  and 2000 subjects, 1- and 2-compartment, closed form and ODE, FOCEI with covariance step.

Every line reports the kernel evaluations (``FitResult.n_evaluations``: calls of the engine,
with or without sensitivities) and the time per evaluation, so a change in the number of
evaluations (estimation) can be told from a change in their cost (kernels).

Prints numbers only (no assertions). ``python benchmarks/bench_fit.py [--quick | --full |
--ode-routing]`` (the default plan leaves out the slowest combinations: ODE models above 100
subjects and the 2-compartment closed form at 2000; ``--full`` runs them all; ``--ode-routing``
only the warm theo_sd, theo_sd_ode and theo_sd_ode with ``solver="ode"`` fits; ``--mm-ode`` only
the Michaelis-Menten ODE fit, with ``--mm-reference`` also its tight-tolerance reference).

``MM-ODE``: ``benchmarks/mm2_ode.nlm`` on ``benchmarks/mm2_ode_100.csv`` (100 subjects, 2-cmt
with Michaelis-Menten elimination written as ODEs, 4 etas; made by ``benchmarks/mm2_data.py``),
FOCEI + covariance step at the engine's ODE tolerances (rtol 1e-8, atol 1e-10), wall and CPU
time; the reference refits at rtol 1e-11 / atol 1e-13 and prints the largest differences.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "shared"
sys.path.insert(0, str(ROOT))

import nlme_lab as nl  # noqa: E402

# (model, data, solver): theo_sd_ode runs on the exact linear propagator (its d/dt system is
# linear in the states); solver="ode" is the same model forced onto the ODE solver (before)
SHARED_FITS = [("theo_sd", "theo_sd.csv", "auto"), ("theo_sd_ode", "theo_sd.csv", "auto"),
               ("theo_sd_ode", "theo_sd.csv", "ode"), ("pheno", "pheno.csv", "auto"),
               ("warfarin_pk", "warfarin_pk.csv", "auto")]
ODE_ROUTING = SHARED_FITS[:3]  # --ode-routing: only these
WARM_REPEATS = 5  # the machine is shared: the median of several warm fits
TIMES = [0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24]

ONE_CMT = """
[ini]
tka = log(1.5)
tcl = log(2.7)
tv  = log(31)
eta_ka ~ 0.4
eta_cl ~ 0.07
eta_v  ~ 0.02
add_sd = 0.7
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl)
v  = exp(tv + eta_v)
{body}
cp ~ add(add_sd)
"""
TWO_CMT = """
[ini]
tka = log(1.5)
tcl = log(2.7)
tv  = log(31)
tq  = log(1.5)
tv2 = log(20)
eta_ka ~ 0.4
eta_cl ~ 0.07
eta_v  ~ 0.02
add_sd = 0.5
prop_sd = 0.05
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl)
v  = exp(tv + eta_v)
q  = exp(tq)
v2 = exp(tv2)
{body}
cp ~ add(add_sd) + prop(prop_sd)
"""
BODIES = {
    "1-cmt closed form": (ONE_CMT, "cp = linCmt()"),
    "1-cmt ODE": (ONE_CMT, "d/dt(depot) = -ka * depot\nd/dt(center) = ka * depot - cl / v * center\ncp = center / v"),
    "2-cmt closed form": (TWO_CMT, "cp = linCmt()"),
    "2-cmt ODE": (TWO_CMT, "d/dt(depot) = -ka * depot\n"
                           "d/dt(center) = ka * depot - cl / v * center - q / v * center + q / v2 * periph\n"
                           "d/dt(periph) = q / v * center - q / v2 * periph\ncp = center / v"),
}


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def warm_fits(fits=SHARED_FITS) -> None:
    print("warm fits (second nl.fit, FOCEI, covariance step included)")
    for name, data, solver in fits:
        model = nl.Model.from_file(SHARED / "models" / f"{name}.nlm", solver=solver)
        name = name if solver == "auto" else f"{name} (solver={solver})"
        ds = nl.read_nonmem(SHARED / "data" / data)
        _, first = timed(lambda: nl.fit(model, ds))
        runs = [timed(lambda: nl.fit(model, ds)) for _ in range(WARM_REPEATS)]
        r, warm = runs[0][0], float(np.median([dt for _, dt in runs]))
        print(f"  {name:25s} first {first:6.2f} s   warm {warm:6.3f} s (median of {WARM_REPEATS}, min "
              f"{min(dt for _, dt in runs):.3f})   OFV {r.ofv:.4f}  "
              f"{r.termination.name.lower()}, {r.iterations} iterations, {r.n_evaluations} model evaluations "
              f"({1e3 * warm / max(r.n_evaluations, 1):.2f} ms each)")


def mm_ode_fit(reference: bool = False) -> None:
    """The warm MM-ODE fit (module docstring); ``reference``: also the rtol 1e-11 refit."""
    from nlme_lab.estimation.evaluation import prepare
    from nlme_lab.estimation.fit import fit_problem

    model = nl.Model.from_file(ROOT / "benchmarks" / "mm2_ode.nlm")
    ds = nl.read_nonmem(ROOT / "benchmarks" / "mm2_ode_100.csv")
    _, first = timed(lambda: nl.fit(model, ds))
    runs = []
    for _ in range(3):
        c0 = time.process_time()
        r, dt = timed(lambda: nl.fit(model, ds))
        runs.append((r, dt, time.process_time() - c0))
    r, wall, cpu = runs[0][0], float(np.median([x[1] for x in runs])), float(np.median([x[2] for x in runs]))
    print(f"  {'MM-ODE 100 subjects':25s} first {first:6.2f} s   warm {wall:6.3f} s (median of 3; cpu {cpu:.3f} s)   "
          f"OFV {r.ofv:.4f}  {r.termination.name.lower()}, {r.iterations} iterations, {r.n_evaluations} model "
          f"evaluations ({1e3 * wall / max(r.n_evaluations, 1):.2f} ms each)")
    if not reference:
        return
    ev = prepare(model, ds)
    ref, dt = timed(lambda: fit_problem(ev.problem.with_tolerances(1e-11, 1e-13), ev.space, "focei"))
    names = [n for n in ref.estimates if n in r.estimates]
    rel = max(abs(r.estimates[n] - ref.estimates[n]) / max(abs(ref.estimates[n]), 1e-300) for n in names)
    se_rel = max((abs(r.se[n] - ref.se[n]) / abs(ref.se[n]) for n in ref.se
                  if n in r.se and np.isfinite(ref.se[n]) and ref.se[n]), default=float("nan"))
    print(f"  reference (rtol 1e-11, atol 1e-13): {dt:.2f} s, OFV {ref.ofv:.6f} (difference {r.ofv - ref.ofv:.2e}); "
          f"largest relative difference of the estimates {rel:.1e}, of the SEs {se_rel:.1e}")


def cold_fit(name: str = "theo_sd", data: str = "theo_sd.csv") -> None:
    code = ("import time; t0 = time.perf_counter(); import nlme_lab as nl; "
            f"r = nl.fit({str(SHARED / 'models' / (name + '.nlm'))!r}, {str(SHARED / 'data' / data)!r}); "
            "print(f'{time.perf_counter() - t0:.3f} {r.ofv:.4f}')")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    inner = out.stdout.split()[0] if out.returncode == 0 else "failed: " + out.stderr[-300:]
    print(f"cold fit of {name} in a fresh process: {inner} s from import to result ({wall:.2f} s with "
          "interpreter start)")


def design(n_sub: int) -> pd.DataFrame:
    rows = []
    for i in range(1, n_sub + 1):
        rows.append((i, 0.0, 0.0, 320.0, 1, 1, 1))
        rows += [(i, t, 0.0, 0.0, 0, 0, 2) for t in TIMES]
    return pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT"])


def simulated(model, n_sub: int, seed: int):
    frame = design(n_sub)
    sim = nl.simulate(model, nl.read_nonmem(frame), n=1, seed=seed).table
    frame["DV"] = np.where(frame["EVID"] == 0, sim["SIMDV"].to_numpy(), 0.0)
    return nl.read_nonmem(frame)


def scaling(sizes, kinds) -> None:
    print("scaling (simulated theo-like populations, 10 samples per subject, FOCEI + covariance step)")
    for kind in kinds:
        template, body = BODIES[kind]
        model = nl.Model(template.format(body=body), name=kind)
        for n_sub in sizes:
            data = simulated(model, n_sub, seed=n_sub)
            nl.fit(model, simulated(model, 20, seed=1), covariance=None)  # compile / warm up
            r, dt = timed(lambda: nl.fit(model, data))
            print(f"  {kind:18s} {n_sub:5d} subjects  {dt:7.2f} s  ({1e3 * dt / n_sub:.2f} ms/subject)  "
                  f"OFV {r.ofv:.2f}  {r.termination.name.lower()}, {r.iterations} iterations, "
                  f"{r.n_evaluations} evaluations")


DEFAULT_PLAN = {"1-cmt closed form": (100, 500, 2000), "2-cmt closed form": (100, 500),
                "1-cmt ODE": (100,), "2-cmt ODE": (100,)}  # the rest takes tens of minutes: --full


def main(argv) -> None:
    if "--ode-routing" in argv:
        warm_fits(ODE_ROUTING)
        return
    if "--mm-ode" in argv:
        print("warm MM-ODE fit (FOCEI, covariance step included)")
        mm_ode_fit(reference="--mm-reference" in argv)
        return
    warm_fits()
    mm_ode_fit()
    cold_fit()
    if "--quick" in argv:
        plan = {"1-cmt closed form": (100, 500)}
    elif "--full" in argv:
        plan = {kind: (100, 500, 2000) for kind in BODIES}
    else:
        plan = DEFAULT_PLAN
    for kind, sizes in plan.items():
        scaling(sizes, (kind,))


if __name__ == "__main__":
    main(sys.argv[1:])
