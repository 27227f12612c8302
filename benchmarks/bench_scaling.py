"""Scaling in subjects: closed form vs Michaelis-Menten ODE (issue 17, item 5).

Both models have the design of ``benchmarks/mm2_data.py`` (one 200 mg IV bolus, 10 samples over
24 h, 4 etas, combined error): ``2-cmt closed form`` (``linCmt()``, etas on cl, v, q, v2) and
``MM 2-cmt ODE`` (``benchmarks/mm2_ode.nlm``). For 100, 500 and 2000 subjects (simulated on the
fly with ``nl.simulate``, seed = the number of subjects) it times, warm (compiled, second call):

* engine: one pass of the engine with the sensitivities FOCEI's inner problem uses (the 4
  eta directions) at the initial estimates (``Evaluator.predictions``);
* objective: one FOCEI objective evaluation (the inner problem's EBEs from eta = 0, then the
  per-subject objectives: ``Evaluator.modes`` + ``Evaluator.objectives``);
* fit: a whole FOCEI fit with the covariance step (``nl.fit``), only up to ``--fit-max``
  subjects (default 500: the 2000-subject ODE fit takes minutes on 2 shared cores).

Each time is given in wall and CPU seconds (``time.process_time``: threads add up) and per
subject, so linear scaling shows as a constant ms/subject down a column.
``python benchmarks/bench_scaling.py [--fit-max N] [--sizes 100,500,2000]``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import nlme_lab as nl  # noqa: E402
from mm2_data import MODEL, simulated  # noqa: E402
from nlme_lab.estimation.evaluation import prepare  # noqa: E402

CLOSED = (HERE / "two_cmt_closed.nlm").read_text()


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def row(label, n_sub, wall, cpu, extra=""):
    print(f"  {label:10s} {n_sub:5d} subjects  wall {wall:8.3f} s  cpu {cpu:8.3f} s  "
          f"({1e3 * wall / n_sub:7.3f} ms/subject wall, {1e3 * cpu / n_sub:7.3f} cpu){extra}")


def objective(ev, values):
    modes = ev.modes(values, "focei")
    return ev.objectives(values, modes.etas, "focei").total


def run(name, model, sizes, fit_max):
    print(name)
    for n_sub in sizes:
        data = simulated(model, n_sub, seed=n_sub)
        ev = prepare(model, data)
        values = ev.values()
        for label, fn in (("engine", lambda: ev.predictions(values, ev.zero_etas())),
                          ("objective", lambda: objective(ev, values))):
            fn()  # warm: compiled, threads timed (AdaptiveThreads)
            out, wall, cpu = timed(fn)
            row(label, n_sub, wall, cpu, f"  OFV {out:.3f}" if label == "objective" else "")
        if n_sub <= fit_max:
            nl.fit(model, simulated(model, 20, seed=1), covariance=None)  # warm the fit's kernels
            r, wall, cpu = timed(lambda: nl.fit(model, data))
            row("FOCEI fit", n_sub, wall, cpu, f"  OFV {r.ofv:.3f}, {r.iterations} iterations, "
                f"{r.n_evaluations} evaluations, {r.termination.name.lower()}")


def main(argv):
    sizes = (100, 500, 2000)
    fit_max = 500
    if "--sizes" in argv:
        sizes = tuple(int(s) for s in argv[argv.index("--sizes") + 1].split(","))
    if "--fit-max" in argv:
        fit_max = int(argv[argv.index("--fit-max") + 1])
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: compare cpu columns)")
    run("2-cmt closed form (linCmt)", nl.Model(CLOSED, name="2-cmt closed form"), sizes, fit_max)
    run("MM 2-cmt ODE (mm2_ode.nlm)", nl.Model.from_file(MODEL), sizes, fit_max)


if __name__ == "__main__":
    main(sys.argv[1:])
