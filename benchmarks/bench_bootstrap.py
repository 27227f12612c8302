"""Pheno bootstrap wall time: ``nl.bootstrap`` of the phenobarbital FOCEI fit, serial and on the
embedded Dask cluster, and the tables checked identical.

Run: ``.venv/bin/python benchmarks/bench_bootstrap.py [N] [WORKERS ...]`` (defaults 200 and 2).
Not a test: it prints times and the bootstrap table beside the covariance-step SEs. Workers
beyond the physical cores are skipped (their times would measure the sharing, not the scaling).
The target (issue 19): n = 200 under 60 s on 2 workers of a 2-core machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHENO_MODEL = ROOT / "tests" / "shared" / "models" / "pheno.nlm"
PHENO_DATA = ROOT / "tests" / "shared" / "data" / "pheno.csv"


def main(argv: list[str]) -> None:
    import pandas as pd

    import nlme_lab as nl
    from nlme_lab.distributed import embedded_client, physical_cores, shutdown

    n = int(argv[0]) if argv else 200
    workers = [int(a) for a in argv[1:]] or [2]
    fit = nl.fit(nl.Model.from_file(PHENO_MODEL), nl.read_nonmem(PHENO_DATA), "focei")
    print(f"pheno FOCEI: OFV {fit.ofv:.4f}, {fit.elapsed_s:.2f} s; bootstrap n = {n}; "
          f"physical cores {physical_cores()}")
    t0 = time.perf_counter()
    serial = nl.bootstrap(fit, n=n, seed=1, scheduler="serial", progress=True)
    t_serial = time.perf_counter() - t0
    print(f"serial:    {t_serial:7.1f} s ({t_serial / n * 1000:.0f} ms per replicate), "
          f"{serial.n_successful} of {n} converged")
    for k in workers:
        if k > physical_cores():
            print(f"{k} workers: skipped ({physical_cores()} physical cores)")
            continue
        shutdown()
        t0 = time.perf_counter()
        client = embedded_client(k)
        t_start = time.perf_counter() - t0
        t0 = time.perf_counter()
        spread = nl.bootstrap(fit, n=n, seed=1, scheduler=client, progress=True)
        t_k = time.perf_counter() - t0
        same = spread.replicates.equals(serial.replicates)
        print(f"{k} workers: {t_k:7.1f} s (+ {t_start:.1f} s cluster start), speed-up {t_serial / t_k:.2f}, "
              f"table identical to serial: {same}")
    shutdown()
    pd.set_option("display.width", 200)
    cols = ["parameter", "estimate", "median", "se", "covariance_se", "rse_percent", "bias_percent", "ci_low",
            "ci_high"]
    print(serial.summary()[cols].to_string(index=False, float_format=lambda v: f"{v:.5g}"))


if __name__ == "__main__":
    main(sys.argv[1:])
