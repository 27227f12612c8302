"""SAEM speed: warm theo_sd, a cold fit in a fresh process, and scaling with subjects, split by
phase.

Phases (timed by wrapping the functions ``saem.run`` / ``saem.finish`` call; the split adds
no work): SA iterations (MH sweeps + M-steps), conditional means, the linearized OFV (FOCEI
objective at the SAEM estimates), the covariance step (the linearized Fisher information),
the importance-sampling proposal (FOCEI modes and curvatures) and the importance-sampling draws.
Every line also reports the engine calls and the engine's share: the SA loop's cost is
``n_iterations x passes x n_chains x n_subjects`` subject solves (a pass is one engine call
for all chains), so a change in the number of calls (estimation) can be told from a change in
their cost (kernels). Targets from the issue: theo_sd warm < 0.5 s, 500 subjects < 3 s.

Prints numbers only (medians: the machine is shared). ``python benchmarks/bench_saem.py
[--quick] [--sizes 100 500 2000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import nlme_lab as nl  # noqa: E402
from bench_fit import BODIES, simulated  # noqa: E402

PHASES = {}  # phase -> seconds in the current fit


def _timed(name, fn):
    def wrapper(*args, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - t0
    return wrapper


def instrument() -> None:
    """Wrap the phase functions (module attributes looked up at call time)."""
    import nlme_lab.estimation.importance as imp
    import nlme_lab.estimation.saem.finish as fin
    import nlme_lab.estimation.saem.run as run

    run.SAEMState.iterate = _timed("SA iterations", run.SAEMState.iterate)
    run.SAEMState.conditional = _timed("conditional means", run.SAEMState.conditional)
    fin._linearization = _timed("linearized OFV", fin._linearization)
    fin.covariance_step = _timed("linearized Fisher information", fin.covariance_step)
    imp.proposal = _timed("IS proposal", imp.proposal)
    imp.importance_sampling = _timed("IS draws", imp.importance_sampling)


def saem(model, data, repeats: int, **kw):
    """Median total and per-phase seconds of ``repeats`` fits (seed 1), and the last result."""
    totals, cpu, phases = [], [], []
    for _ in range(repeats):
        PHASES.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        r = nl.fit(model, data, "saem", seed=1, **kw)
        totals.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        phases.append(dict(PHASES))
    med = {k: float(np.median([p.get(k, 0.0) for p in phases])) for k in phases[0]}
    return r, float(np.median(totals)), float(np.median(cpu)), med


def report(label, r, total, cpu, phases) -> None:
    """Wall time, and the process's CPU time (on a loaded machine the better measure of the
    work; on an idle one both agree for serial fits)."""
    print(f"  {label:28s} total {total:6.2f} s wall, {cpu:6.2f} s CPU (medians)  {r.n_evaluations} engine calls  "
          f"OFV {r.ofv:.2f} ({r.ofv_method}), {r.saem.n_chains} chain(s)")
    print("    " + "  ".join(f"{k} {v:.3f}" for k, v in phases.items()))


def warm(repeats: int) -> None:
    print(f"warm theo_sd SAEM (defaults: 5 + 200 + 300 iterations, IS 2000 draws, covariance), "
          f"median of {repeats}")
    model = nl.Model.from_file(SHARED / "models" / "theo_sd.nlm")
    data = nl.read_nonmem(SHARED / "data" / "theo_sd.csv")
    nl.fit(model, data, "saem", seed=1)
    report("theo_sd", *saem(model, data, repeats))
    report("theo_sd, no IS/covariance", *saem(model, data, repeats, covariance=None,
                                              options=nl.estimation.SAEMOptions(is_samples=0)))


def cold() -> None:
    code = ("import time; t0 = time.perf_counter(); import nlme_lab as nl; "
            f"r = nl.fit({str(SHARED / 'models' / 'theo_sd.nlm')!r}, {str(SHARED / 'data' / 'theo_sd.csv')!r}, "
            "'saem', seed=1); print(f'{time.perf_counter() - t0:.3f} {r.ofv:.4f}')")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    inner = out.stdout.split()[0] if out.returncode == 0 else "failed: " + out.stderr[-300:]
    print(f"cold theo_sd SAEM in a fresh process: {inner} s from import to result "
          f"({time.perf_counter() - t0:.2f} s with interpreter start)")


def scaling(sizes, repeats: int) -> None:
    print("scaling (simulated theo-like 1-cmt closed form, 10 samples per subject, covariance and IS included)")
    template, body = BODIES["1-cmt closed form"]
    model = nl.Model(template.format(body=body), name="1cmt")
    nl.fit(model, simulated(model, 20, seed=1), "saem", seed=1, covariance=None)  # compile / warm up
    for n in sizes:
        data = simulated(model, n, seed=n)
        report(f"{n} subjects", *saem(model, data, repeats if n <= 500 else 1))


def host_reference_ms() -> float:
    """Best of 5 of a fixed pure-Python loop (``sum(range(10**6))``): the machine's speed, to
    read the absolute times against (hosts of this machine kind measured 13-21 ms)."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best


def main(argv=None) -> None:
    import os

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; host reference loop "
          f"{host_reference_ms():.1f} ms")
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="warm and 100 subjects only")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    instrument()
    warm(args.repeats)
    if not args.quick:
        cold()
    scaling([100] if args.quick else args.sizes, args.repeats)


if __name__ == "__main__":
    main()
