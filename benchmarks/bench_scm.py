"""Wall time of the phenobarbital covariate search (``nl.scm``), serial and on a 2-worker LocalCluster.

Run: ``.venv/bin/python benchmarks/bench_scm.py [N_WORKERS]`` (2). Not a test: it prints times.
The search: ``pheno_base.nlm`` on ``pheno.csv``, WT and APGR (linear) on cl and v (4 relations),
forward p = 0.05, backward p = 0.001, FOCEI. Measured in one process, after one untimed serial
search that compiles every candidate model (numba's disk cache; the issue's target is the search,
not compilation):

* the serial search (``scheduler="serial"``);
* the start-up of the embedded LocalCluster and the warm-up of its workers (reported apart);
* the search on the cluster, with its step table checked identical to the serial one.

The host's speed is printed first (``sum(range(10**6))``) so numbers compare across machines.
"""

from __future__ import annotations

import sys
import time


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main(n_workers: int = 2) -> None:
    import nlme_lab as nl
    from nlme_lab.distributed import embedded_client, run_tasks, shutdown
    from nlme_lab.problem.compiling import warm_engine

    host = min(_timed(lambda: sum(range(10**6)))[0] for _ in range(5))
    print(f"host: sum(range(10**6)) {host * 1e3:.1f} ms")
    data = nl.read_nonmem(nl.example_path("pheno.csv"))
    base = nl.Model.from_file(nl.example_path("pheno_base.nlm"))
    relations = {"cl": ["WT", "APGR"], "v": ["WT", "APGR"]}

    def search(scheduler):
        return nl.scm(base, data, relations, p_forward=0.05, p_backward=0.001, method="focei", scheduler=scheduler)

    cold, _ = _timed(lambda: search("serial"))
    print(f"first serial search (compiles or loads every candidate model): {cold:.2f} s")
    t_serial, serial = _timed(lambda: search("serial"))
    n = len(serial.steps)
    print(f"serial search: {t_serial:.2f} s ({n} candidates + base + final fit; "
          f"final relations {', '.join(serial.final_relations)})")
    t_start, client = _timed(lambda: embedded_client(n_workers))
    t_warm, _ = _timed(lambda: run_tasks(lambda item, seed: item, list(range(n_workers)), scheduler=client,
                                         warmup=warm_engine))
    print(f"LocalCluster start-up ({n_workers} workers): {t_start:.2f} s; worker warm-up: {t_warm:.2f} s")
    try:
        t_first, _ = _timed(lambda: search(client))
        print(f"first cluster search (workers load each candidate model): {t_first:.2f} s")
        t_cluster, cluster = _timed(lambda: search(client))
    finally:
        shutdown()
    same = cluster.steps.equals(serial.steps)
    print(f"cluster search ({n_workers} workers): {t_cluster:.2f} s; speed-up {t_serial / t_cluster:.2f}x; "
          f"steps identical to serial: {same}")
    print(serial.steps.to_string(index=False))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
