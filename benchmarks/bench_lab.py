"""Latencies of the Lab (``nl.Lab``) in a plain Python process, warm engine.

Run: ``.venv/bin/python benchmarks/bench_lab.py``. Not a test: it prints times.

* slider -> data: a slider's value set until every live ColumnDataSource (spaghetti overlay,
  individual panels) holds the new PRED/IPRED, for 100 subjects (the theophylline design
  repeated, with the fitted EBEs for IPRED); median and max of 30 moves;
* model edit -> first prediction: ``editor.compile(new text)`` until the plots hold the new
  model's predictions (numba compile included when the model is new to the disk cache);
* fit start -> first streamed iteration: ``lab.fit(wait=False)`` until the first
  ``IterationEvent`` reached the trace source (FOCEI, theophylline, 12 subjects).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import nlme_lab as nl  # noqa: E402

DATA = ROOT / "nlme_lab" / "examples" / "theo_sd.csv"
MODEL = ROOT / "nlme_lab" / "examples" / "theo_sd.nlm"


def hundred_subjects() -> pd.DataFrame:
    base = pd.read_csv(DATA)
    copies = []
    for k in range(-(-100 // base["ID"].nunique())):
        part = base.copy()
        part["ID"] = part["ID"] + 100 * k
        copies.append(part)
    frame = pd.concat(copies, ignore_index=True)
    keep = frame["ID"].drop_duplicates().iloc[:100]
    return frame[frame["ID"].isin(keep)].reset_index(drop=True)


def slider_latency() -> None:
    data = nl.read_nonmem(hundred_subjects())
    lab = nl.Lab(data=data, model=MODEL)
    rng = np.random.default_rng(1)
    lab.live.set_etas(rng.normal(0.0, 0.3, (data.n_subjects, 3)))  # IPRED differs from PRED
    slider = lab.parameter_panel.slider("tcl")
    times = []
    for value in np.linspace(0.8, 1.2, 31):
        t0 = time.perf_counter()
        slider.value = float(value)
        times.append(time.perf_counter() - t0)
    times = times[1:]
    print(f"slider -> updated ColumnDataSource data, {data.n_subjects} subjects, {data.n_records} records: "
          f"median {1e3 * statistics.median(times):.1f} ms, max {1e3 * max(times):.1f} ms (target < 50 ms)")
    predict = []
    for value in np.linspace(0.8, 1.2, 30):
        t0 = time.perf_counter()
        lab.live({**lab.parameters, "tcl": float(value)})
        predict.append(time.perf_counter() - t0)
    print(f"  of which PRED+IPRED through the bound Predictor: median {1e3 * statistics.median(predict):.2f} ms")


def edit_and_fit_latency() -> None:
    lab = nl.Lab(data=DATA, model=MODEL)
    text = lab.model.text.replace("add_sd = 0.7", "add_sd = 0.75")
    t0 = time.perf_counter()
    assert lab.editor.compile(text)
    print(f"model edit (new [ini] value) -> first prediction: {time.perf_counter() - t0:.3f} s "
          f"(of which rebind+predict {lab.timings['model_to_prediction_s']:.3f} s)")
    t0 = time.perf_counter()
    lab.fit("focei", wait=False)
    while "fit_start_to_first_iteration_s" not in lab.timings and lab.running:
        time.sleep(0.001)
    first = time.perf_counter() - t0
    lab.wait()
    print(f"fit start -> first streamed iteration (FOCEI, theo_sd): {first:.3f} s; "
          f"whole fit {lab.last_fit.elapsed_s:.2f} s, {len(lab.last_fit.history)} iterations")


if __name__ == "__main__":
    slider_latency()
    edit_and_fit_latency()
