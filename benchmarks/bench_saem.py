"""SAEM speed: warm theo_sd, a cold fit in a fresh process, and scaling with subjects.

Every line splits the time into the SA loop (MH sweeps + M-steps: the part the issue's
targets measure, taken from the last ``IterationEvent``) and the rest (importance-sampling
-2LL with ``is_samples`` draws, FOCEI linearization and its covariance step), and reports the
engine calls and the time per call. Targets from the issue: theo_sd warm < 0.5 s (pure-Python
peer 1.35 s), 500 subjects < 3 s (peer 9.4 s).

Prints numbers only. ``python benchmarks/bench_saem.py [--quick]``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import nlme_lab as nl  # noqa: E402
from bench_fit import BODIES, simulated  # noqa: E402


def saem(model, data, **kw):
    last = []
    t0 = time.perf_counter()
    r = nl.fit(model, data, "saem", seed=1, callback=last.append, **kw)
    total = time.perf_counter() - t0
    sa = last[-1].elapsed_s if last else float("nan")
    return r, total, sa


def line(label, r, total, sa) -> str:
    return (f"  {label:26s} total {total:6.2f} s  SA loop {sa:6.2f} s  rest {total - sa:5.2f} s  "
            f"{r.n_evaluations} evaluations in all ({1e3 * total / max(r.n_evaluations, 1):.3f} ms each)  "
            f"OFV {r.ofv:.2f} ({r.extra['ofv_method']}), {r.extra['n_chains']} chain(s)")


def warm() -> None:
    print("warm theo_sd SAEM (second fit; defaults: 200 + 300 iterations, IS 2000 draws, covariance)")
    model = nl.Model.from_file(SHARED / "models" / "theo_sd.nlm")
    data = nl.read_nonmem(SHARED / "data" / "theo_sd.csv")
    saem(model, data)
    print(line("theo_sd", *saem(model, data)))
    print(line("theo_sd, no IS/covariance", *saem(model, data, covariance=None,
                                                 options=nl.estimation.SAEMOptions(is_samples=0))))


def cold() -> None:
    code = ("import time; t0 = time.perf_counter(); import nlme_lab as nl; "
            f"r = nl.fit({str(SHARED / 'models' / 'theo_sd.nlm')!r}, {str(SHARED / 'data' / 'theo_sd.csv')!r}, "
            "'saem', seed=1); print(f'{time.perf_counter() - t0:.3f} {r.ofv:.4f}')")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    inner = out.stdout.split()[0] if out.returncode == 0 else "failed: " + out.stderr[-300:]
    print(f"cold theo_sd SAEM in a fresh process: {inner} s from import to result "
          f"({time.perf_counter() - t0:.2f} s with interpreter start)")


def scaling(sizes) -> None:
    print("scaling (simulated theo-like 1-cmt closed form, 10 samples per subject, covariance and IS included)")
    template, body = BODIES["1-cmt closed form"]
    model = nl.Model(template.format(body=body), name="1cmt")
    saem(model, simulated(model, 20, seed=1), covariance=None)  # compile the model / warm up
    for n in sizes:
        data = simulated(model, n, seed=n)
        print(line(f"{n} subjects", *saem(model, data)))


if __name__ == "__main__":
    warm()
    cold()
    scaling((100,) if "--quick" in sys.argv else (100, 500))
