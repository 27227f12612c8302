"""Optimal design (issue 20): population FIM evaluation and optimisation times on PopED's
warfarin_basic example (7 parameters, 32 subjects, 8 samples).

* warm FIM: the same design again (bound once; target under 5 ms);
* new design: times changed, so the design is bound again (the Lab's live update while
  dragging; target under 50 ms);
* the full FIM; the FOCE approximation (25 eta draws);
* D-optimal 3 samples in [0, 120] h (``optimize_design``, method auto) and its efficiency
  against the 8-sample design;
* the Lab's Design tab: one moved time to new bars (target under 50 ms for this 7-parameter
  closed-form model);
* baseline in the same run: one engine evaluation with eta and theta sensitivities of the same
  bound design (what the FIM is built on).

Run: ``.venv/bin/python benchmarks/bench_design.py``. Not a test: it prints times.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import nlme_lab as nl  # noqa: E402
from nlme_lab.design import Design, DesignInformation  # noqa: E402


def best(fn, n=20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    model = nl.Model.from_file(nl.example_path("warfarin_design.nlm"))
    design = Design.from_json(nl.example_path("warfarin_design.json"))
    t0 = time.perf_counter()
    nl.fim(model, design)
    print(f"first FIM (engine load/compile included): {time.perf_counter() - t0:.2f} s")
    info = DesignInformation(model)
    info(design)
    ev, _ = info._bind(design)
    engine = ev._engine("fo")
    values = ev.values()
    base = best(lambda: engine.evaluate_with_theta(values.theta, ev.zero_etas()), 50)
    warm = best(lambda: info(design), 50)
    full_info = DesignInformation(model, kind="full")
    full_info(design)
    full = best(lambda: full_info(design), 20)
    rng = np.random.default_rng(1)
    designs = [design.with_times([{1: np.sort(rng.uniform(0.1, 120, 8))}]) for _ in range(20)]
    it = iter(designs)
    new = best(lambda: info(next(it)), 20)
    foce_info = DesignInformation(model, approximation="foce")
    foce_info(design)
    foce = best(lambda: foce_info(design), 5)
    print(f"baseline: one engine evaluation with sensitivities: {1e3 * base:.2f} ms")
    print(f"warm FO FIM (block, same design):   {1e3 * warm:.2f} ms  (x{warm / base:.1f} baseline; target < 5 ms)")
    print(f"warm FO FIM (full):                 {1e3 * full:.2f} ms  (x{full / base:.1f} baseline)")
    print(f"FO FIM of a new design (re-bound):  {1e3 * new:.2f} ms  (x{new / base:.1f} baseline; Lab target < 50 ms)")
    print(f"warm FOCE FIM (25 draws):           {1e3 * foce:.2f} ms  (x{foce / base:.1f} baseline)")
    try:
        from nlme_lab.widgets.design_tab import DesignTab
    except ImportError:  # the jupyter extra is not installed
        DesignTab = None
    if DesignTab is not None:
        tab = DesignTab(model=model, design=design)
        moves = iter(np.linspace(0.5, 30, 40))
        lab = best(lambda: tab.set_times([0.5, 1, 2, next(moves), 24, 36, 72, 120]), 20)
        print(f"Lab Design tab, one dragged time (FIM + bars + table): {1e3 * lab:.2f} ms  (target < 50 ms)")
    for method in ("continuous", "auto"):
        t0 = time.perf_counter()
        opt = nl.optimize_design(model, design, n_samples=3, windows=(0, 120), method=method)
        dt = time.perf_counter() - t0
        print(f"optimize_design 3 samples in [0, 120] h, {method}: {dt:.1f} s, {opt.n_evaluations} FIM evaluations, "
              f"times {[round(float(t), 2) for t in opt.times[0]]}, ln det {opt.fim.ln_det:.3f}, "
              f"efficiency vs 8 samples {opt.efficiency:.3f}")


if __name__ == "__main__":
    main()
