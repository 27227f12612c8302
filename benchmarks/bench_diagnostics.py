"""How long the simulation-based diagnostics take: a 500-replicate VPC (plain, pcVPC) and
residuals with NPDE (1000 simulations) on pheno and theo_sd.

Run: ``.venv/bin/python benchmarks/bench_diagnostics.py``. Not a test: it prints times.
Models are compiled and the engine loaded before timing (a warm session); each VPC's time is
split into the simulation (``nl.simulate``, all replicates in one call) and the statistics.
Parameters: the published estimates (refs README 1a and 2a).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "shared"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import nlme_lab as nl  # noqa: E402
from nlme_lab.diagnostics import residuals, vpc  # noqa: E402

CASES = {
    "theo_sd": ("theo_sd.nlm", "theo_sd.csv", {"tka": 0.4663, "tcl": 1.012, "tv": 3.460, "add_sd": 0.6947,
                                               "eta_ka": 0.3988, "eta_cl": 0.06936, "eta_v": 0.01908}),
    "pheno": ("pheno.nlm", "pheno.csv", {"tvcl": 0.00469555, "tvv": 0.984258, "apgr_v": 0.158920,
                                         "eta_cl": 0.0293508, "eta_v": 0.0279060,
                                         "prop_sd": float(np.sqrt(0.0132410))}),
}
REPEATS = 3


def best_of(fn, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    print(f"{'case':<8} {'what':<34} {'best of ' + str(REPEATS):>10}")
    for name, (model_file, data_file, params) in CASES.items():
        model = nl.Model.from_file(SHARED / "models" / model_file)
        data = nl.read_nonmem(SHARED / "data" / data_file)
        vpc(model, data, params=params, n=2, seed=0)  # compile / load the kernels
        residuals(model, data, params=params, n_sim=2, seed=0)
        sim = best_of(lambda: nl.simulate(model, data, n=500, seed=1, params=params))
        rows = [
            ("nl.simulate, 500 replicates", sim),
            ("VPC, 500 replicates", best_of(lambda: vpc(model, data, params=params, n=500, seed=1))),
            ("pcVPC, 500 replicates", best_of(lambda: vpc(model, data, params=params, n=500, seed=1,
                                                          pred_corrected=True))),
            ("VPC by time after dose, 500", best_of(lambda: vpc(model, data, params=params, n=500, seed=1, x="tad"))),
            ("residuals without NPDE", best_of(lambda: residuals(model, data, params=params, npde=False))),
            ("residuals + NPDE, 1000 simulations", best_of(lambda: residuals(model, data, params=params, n_sim=1000,
                                                                            seed=1))),
        ]
        for what, seconds in rows:
            print(f"{name:<8} {what:<34} {seconds:>9.2f} s")


if __name__ == "__main__":
    main()
