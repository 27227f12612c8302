"""The Michaelis-Menten 2-compartment ODE benchmark data (issue 17, item 5).

``python benchmarks/mm2_data.py`` rewrites ``benchmarks/mm2_ode_100.csv``: 100 subjects, one
200 mg IV bolus into ``center`` at t = 0, 10 samples over 24 h (``TIMES``), simulated with
``nl.simulate`` from the initial estimates of ``benchmarks/mm2_ode.nlm`` (4 etas: vmax, v1,
q, v2; combined error), seed ``SEED``. ``bench_fit.py`` fits the kept CSV; ``bench_scaling.py``
simulates larger populations on the fly with ``simulated(model, n, seed)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nlme_lab as nl  # noqa: E402

MODEL = HERE / "mm2_ode.nlm"
DATA = HERE / "mm2_ode_100.csv"
SEED = 20261206
DOSE = 200.0
TIMES = [0.25, 0.5, 1, 2, 4, 6, 8, 12, 16, 24]


def design(n_sub: int) -> pd.DataFrame:
    """One IV bolus (CMT 1) and 10 observations (CMT 1) per subject, DV empty."""
    rows = []
    for i in range(1, n_sub + 1):
        rows.append((i, 0.0, 0.0, DOSE, 1, 1, 1))
        rows += [(i, float(t), 0.0, 0.0, 0, 0, 1) for t in TIMES]
    return pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT"])


def simulated_frame(model, n_sub: int, seed: int) -> pd.DataFrame:
    """``design(n_sub)`` with DV simulated under ``model`` (its initial estimates)."""
    frame = design(n_sub)
    sim = nl.simulate(model, nl.read_nonmem(frame), n=1, seed=seed).table
    frame["DV"] = np.where(frame["EVID"] == 0, np.round(sim["SIMDV"].to_numpy(), 5), 0.0)
    return frame


def simulated(model, n_sub: int, seed: int):
    return nl.read_nonmem(simulated_frame(model, n_sub, seed))


if __name__ == "__main__":
    frame = simulated_frame(nl.Model.from_file(MODEL), 100, SEED)
    frame.to_csv(DATA, index=False)
    print(f"wrote {DATA} ({len(frame)} rows); min DV {frame.DV[frame.EVID == 0].min():.4g}")
