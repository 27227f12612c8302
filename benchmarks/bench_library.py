"""The model library: time to build each template (text + ``Model``), to compile its kernels
(a new model: the engine is cached, the generated code is not) and its first simulation on a
small design; each against a hand-written model (theo_sd.nlm) measured the same way in the
same run.

Run: ``.venv/bin/python benchmarks/bench_library.py``. Not a test: it prints times. The
generated-code cache is a fresh temporary folder (``NLME_LAB_CACHE``), so every compile is real.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CACHE = tempfile.TemporaryDirectory()
os.environ["NLME_LAB_CACHE"] = _CACHE.name  # before nlme_lab is imported: new models compile here
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import nlme_lab as nl  # noqa: E402

TIMES = [0.5, 1, 2, 4, 8, 12, 24]


def host_reference() -> float:
    t0 = time.perf_counter()
    sum(range(10**6))
    return time.perf_counter() - t0


def design(model) -> pd.DataFrame:
    """4 units: a dose into CMT 1 and 7 observations for a model with compartments, 7 values of
    its x column otherwise (time when it uses t)."""
    rows = []
    for sid in range(1, 5):
        if model.compartments:
            rows.append({"ID": sid, "TIME": 0.0, "DV": 0.0, "AMT": 100.0, "EVID": 1, "CMT": 1})
        for t in TIMES:
            rows.append({"ID": sid, "TIME": t, "DV": 0.0, "AMT": 0.0, "EVID": 0, "CMT": 1})
    frame = pd.DataFrame(rows)
    for name in model.covariates:
        frame[name] = frame["TIME"]
    return frame


def measure(build) -> dict:
    t0 = time.perf_counter()
    model = build()
    t1 = time.perf_counter()
    model.compiled.compile_all()
    t2 = time.perf_counter()
    data = nl.read_nonmem(design(model))
    t3 = time.perf_counter()
    nl.simulate(model, data, n=1, seed=1)
    t4 = time.perf_counter()
    return {"build_s": t1 - t0, "compile_s": t2 - t1, "first_simulate_s": t4 - t3}


def main() -> None:
    print(f"host reference: sum(range(10**6)) = {host_reference() * 1e3:.1f} ms")
    nl.simulate(nl.Model.from_file(ROOT / "tests/shared/models/wang2007_add.nlm"),
                nl.read_nonmem(ROOT / "tests/shared/data/wang2007.csv"))  # the engine warm (not timed)
    baseline = measure(lambda: nl.Model((ROOT / "tests/shared/models/theo_sd.nlm").read_text()))
    print(f"baseline theo_sd.nlm (hand-written, linCmt): build {baseline['build_s']:.3f} s, "
          f"compile {baseline['compile_s']:.2f} s, first simulate {baseline['first_simulate_s']:.3f} s")
    cases = [(info.name, {}) for info in nl.library.list()]
    cases += [("three_compartment", {"route": "oral", "transit": 3}), ("tmdd_qss", {"route": "sc", "compartments": 2})]
    rows = []
    for name, options in cases:
        m = measure(lambda name=name, options=options: nl.library.get(name, **options))
        rows.append({"template": name + (f" {options}" if options else ""), **m,
                     "compile / baseline": m["compile_s"] / baseline["compile_s"]})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"median compile {np.median(table['compile_s']):.2f} s, max {table['compile_s'].max():.2f} s "
          f"({table.loc[table['compile_s'].idxmax(), 'template']})")


if __name__ == "__main__":
    main()
