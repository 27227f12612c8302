"""Virtual trial and MAP timings (issue 21).

* one trial of 10,000 subjects x 4 regimens of a closed-form model (one compartment, log-normal
  CL and V, a weight covariate resampled): target under 5 s on a 2-core machine, on the
  embedded local cluster (``scheduler=None``) and in this process (``"serial"``);
* MAP estimation of one patient (mapbayr's README example), warm: target under 20 ms; with
  and without the posterior band.

    PYTHONPATH=$PWD python benchmarks/bench_trial.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import nlme_lab as nl

MODEL = """
[ini]
tcl = log(2)
tv = log(20)
eta_cl ~ 0.09
eta_v ~ 0.04
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl) * (WT / 70)^0.75
v = exp(tv + eta_v) * WT / 70
cp = linCmt()
cp ~ add(add_sd)
"""

REGIMENS = {f"{d} mg q24h": {"dose": d, "interval": 24} for d in (50, 100, 150, 200)}


def best(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    model = nl.Model(MODEL)
    population = {"WT": {"lognormal": [70, 0.25], "min": 35, "max": 160}}
    kw = dict(population=population, n_subjects=10_000, n_trials=1, seed=1)
    nl.virtual_trial(model, REGIMENS, **{**kw, "n_subjects": 20}, scheduler="serial")  # warm here
    ser = None

    def here():
        nonlocal ser
        ser = nl.virtual_trial(model, REGIMENS, **kw, scheduler="serial")

    serial = best(here, 2)
    print(f"trial 10,000 subjects x 4 regimens, serial: {serial:.2f} s (target < 5 s)")
    nl.virtual_trial(model, REGIMENS, **{**kw, "n_subjects": 20}, scheduler=None)  # start and warm the cluster
    res = None

    def cluster():
        nonlocal res
        res = nl.virtual_trial(model, REGIMENS, **kw, scheduler=None)

    par = best(cluster, 2)
    print(f"trial 10,000 subjects x 4 regimens, local cluster (chunks of 5,000): {par:.2f} s (target < 5 s)")
    pd.testing.assert_frame_equal(ser.subjects, res.subjects)  # the same seeds give the same trial anywhere
    print("serial and cluster results identical: yes")
    pta = res.target_attainment("auc", (30, 70))
    print(pta.to_string(index=False))

    m = nl.Model.from_file(nl.example_path("mapbayr_2cmt.nlm"))
    patient = pd.read_csv(nl.example_path("mapbayr_patient.csv"))
    nl.map_estimate(m, patient, times=[24])
    no_band = best(lambda: nl.map_estimate(m, patient, times=[24], band=None), 20)
    with_band = best(lambda: nl.map_estimate(m, patient, times=[24]), 10)
    post = nl.map_estimate(m, patient, times=[24])
    print(f"MAP one patient, warm: {1e3 * no_band:.1f} ms (mode, covariance, predictions; target < 20 ms), "
          f"{1e3 * with_band:.1f} ms with the 90% band ({200} posterior draws)")
    print(f"  etas {np.round(post.eta_vector, 7)} (mapbayr 0.3872104, 0.1569604), CL {post.individual['cl']:.5f}")
    from nlme_lab.distributed import shutdown

    shutdown()


if __name__ == "__main__":
    main()
