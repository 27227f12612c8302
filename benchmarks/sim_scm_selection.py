"""How often the SCM selects a true covariate and a null one, on simulated data.

Run: ``.venv/bin/python benchmarks/sim_scm_selection.py [N_DATASETS] [N_WORKERS]`` (100, 2). Not
a test: it prints the selection rates. Each dataset: 50 subjects, an IV bolus of 100 mg and 6
samples (0.5 to 24 h); CL = 5 * (WT/70)**0.75 * exp(eta_cl) with WT uniform on 40-120 kg
(the true effect), V = 50 * exp(eta_v), AGE uniform on 20-80 years with no effect (the null
covariate); omegas 0.09, proportional error 0.15. The search: the base model (no covariate), WT
and AGE linear on cl, forward p = 0.05, backward p = 0.001, FOCEI. One dataset is one task of
``nlme_lab.distributed.run_tasks`` (its seed draws the subjects and the simulation); each search
runs serially inside its task.
"""

from __future__ import annotations

import sys
import time

import numpy as np

TRUTH = """\
[ini]
tcl = (0, 5)
tv = (0, 50)
cl_wt = fix(0.75)
eta_cl ~ 0.09
eta_v ~ 0.09
prop_sd = (0, 0.15)

[model]
cl = tcl * (WT / 70) ** cl_wt * exp(eta_cl)
v = tv * exp(eta_v)
cp = linCmt()
cp ~ prop(prop_sd)
"""

BASE = """\
[ini]
tcl = (0, 4)
tv = (0, 40)
eta_cl ~ 0.2
eta_v ~ 0.2
prop_sd = (0, 0.2)

[model]
cl = tcl * exp(eta_cl)
v = tv * exp(eta_v)
cp = linCmt()
cp ~ prop(prop_sd)
"""
TIMES = (0.5, 1, 2, 6, 12, 24)


def one_dataset(item, seed):
    """Simulate one dataset from the task's seed and run the search; the final relations."""
    import pandas as pd

    import nlme_lab as nl

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, 51):
        wt, age = rng.uniform(40, 120), rng.uniform(20, 80)
        rows.append((i, 0.0, 0.0, 100.0, 1, 1, wt, age))
        rows += [(i, t, 0.0, 0.0, 0, 0, wt, age) for t in TIMES]
    frame = pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "WT", "AGE"])
    sim = nl.simulate(nl.Model(TRUTH), frame, n=1, seed=int(rng.integers(2**31)))
    frame["DV"] = np.where(frame["EVID"] == 0, sim.table["SIMDV"].to_numpy(), 0.0)
    result = nl.scm(nl.Model(BASE), frame, {"cl": ["WT", "AGE"]}, p_forward=0.05, p_backward=0.001,
                    method="focei", scheduler="serial")
    return tuple(result.final_relations)


def main(n: int = 100, n_workers: int = 2) -> None:
    from nlme_lab.distributed import embedded_client, run_tasks, shutdown
    from nlme_lab.problem.compiling import warm_engine

    t0 = time.perf_counter()
    client = embedded_client(n_workers)
    try:
        outcomes = run_tasks(one_dataset, range(n), scheduler=client, seed=2026, warmup=warm_engine,
                             description="simulated SCM", progress=True)
    finally:
        shutdown()
    done = [o.value for o in outcomes if o.ok]
    failed = [o.error for o in outcomes if not o.ok]
    wt = sum("cl-WT" in r for r in done)
    age = sum("cl-AGE" in r for r in done)
    print(f"{len(done)} of {n} datasets searched ({len(failed)} failed) in {time.perf_counter() - t0:.0f} s "
          f"on {n_workers} workers")
    print(f"true covariate WT on cl selected: {wt}/{len(done)} = {wt / max(len(done), 1):.0%}")
    print(f"null covariate AGE on cl selected: {age}/{len(done)} = {age / max(len(done), 1):.0%}")
    for err in failed[:5]:
        print("failed:", err)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 2)
