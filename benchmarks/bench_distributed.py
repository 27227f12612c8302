"""The fan-out helper's costs (``nlme_lab.distributed.run_tasks``) and what two workers buy.

Run: ``.venv/bin/python benchmarks/bench_distributed.py [N_REFITS] [N_WORKERS]`` (20, 2). Not a
test: it prints times. It measures, in one process:

* the start-up of the embedded ``LocalCluster`` (process workers, one thread each);
* the per-worker warm-up (``warm_engine``: the engine's kernels from numba's disk cache), as
  timed inside each worker, and the wall time of warming them all;
* the per-task overhead: trivial tasks (the function returns its item) serial vs on the
  workers, and one theophylline FOCEI fit serial vs as one task on a warm worker;
* the speed-up of N theophylline FOCEI refits (subjects resampled with replacement by each
  task's seed, bootstrap-like, no covariance step) on the workers vs serial, alternating
  serial and distributed runs (the machine may be shared), with the results checked identical.

The host's speed is printed first (``sum(range(10**6))``) so numbers compare across machines.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
THEO_MODEL = ROOT / "tests" / "shared" / "models" / "theo_sd.nlm"
THEO_DATA = ROOT / "tests" / "shared" / "data" / "theo_sd.csv"


def identity(item, seed):
    return item


def refit(item, seed, *, model, frame):
    """Subjects resampled with replacement by the task's seed (new IDs 1..n), refitted by FOCEI."""
    import pandas as pd

    import nlme_lab as nl

    rng = np.random.default_rng(seed)
    ids = frame["ID"].unique()
    drawn = rng.choice(ids, size=ids.size, replace=True)
    data = pd.concat([frame[frame["ID"] == i].assign(ID=k + 1) for k, i in enumerate(drawn)], ignore_index=True)
    fit = nl.fit(model, data, method="focei", covariance=None)
    return fit.ofv, dict(fit.estimates)


def host_reference() -> float:
    return min(_timed(lambda: sum(range(10**6))) for _ in range(5))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _wall(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def trivial_overhead(run_tasks, n_workers: int, n: int = 200) -> tuple[float, float]:
    serial = min(_timed(lambda: run_tasks(identity, range(n), scheduler="serial")) for _ in range(3)) / n
    spread = min(_timed(lambda: run_tasks(identity, range(n), n_workers=n_workers)) for _ in range(3)) / n
    return serial, spread


def one_fit_overhead(run_tasks, n_workers: int, fit_one, repeats: int = 5) -> tuple[float, float]:
    serial = statistics.median(_timed(lambda: run_tasks(fit_one, [0], scheduler="serial", seed=1))
                               for _ in range(repeats))
    spread = statistics.median(_timed(lambda: run_tasks(fit_one, [0], n_workers=n_workers, seed=1))
                               for _ in range(repeats))
    return serial, spread


def refits_speedup(run_tasks, n_workers: int, fit_one, n: int, rounds: int = 3):
    """Best of ``rounds`` alternating runs: (serial wall, distributed wall, seconds the tasks spent
    in the fits serially and on the workers, identical results)."""
    serial_times, spread_times, busy, identical = [], [], [], True
    for _ in range(rounds):
        t_serial, serial = _wall(lambda: run_tasks(fit_one, range(n), scheduler="serial", seed=7))
        t_spread, spread = _wall(lambda: run_tasks(fit_one, range(n), n_workers=n_workers, seed=7))
        serial_times.append(t_serial)
        spread_times.append(t_spread)
        busy.append((sum(o.seconds for o in serial), sum(o.seconds for o in spread)))
        identical &= all(a.ok and b.ok and a.value == b.value for a, b in zip(serial, spread))
    best = int(np.argmin(spread_times))
    return min(serial_times), spread_times[best], busy[best], identical


def main(n_refits: int = 20, n_workers: int = 2) -> None:
    import pandas as pd

    import nlme_lab as nl
    from nlme_lab.distributed import embedded_client, physical_cores, run_tasks, shutdown
    from nlme_lab.distributed.warmup import warm_workers
    from nlme_lab.problem.compiling import warm_engine

    print(f"host reference: sum(range(10**6)) = {host_reference() * 1e3:.1f} ms; physical cores "
          f"{physical_cores()}; workers {n_workers}")
    model, frame = nl.Model.from_file(THEO_MODEL), pd.read_csv(THEO_DATA)
    fit_one = functools.partial(refit, model=model, frame=frame)
    run_tasks(fit_one, [0], scheduler="serial", seed=1)  # this process warm too (engine, model)

    start_up, client = _wall(lambda: embedded_client(n_workers))
    print(f"cluster start-up ({n_workers} process workers): {start_up:.2f} s")
    wall, seconds = _wall(lambda: warm_workers(client, warm_engine))
    inside = ", ".join(f"{s:.2f}" for s in seconds.values())
    print(f"per-worker warm-up (engine kernels from the disk cache): {inside} s in the workers, {wall:.2f} s wall")
    first, _ = _wall(lambda: run_tasks(fit_one, range(n_workers), n_workers=n_workers, seed=1))
    print(f"first theophylline fit on each fresh worker (model rebuilt and compiled there): {first:.2f} s wall")

    serial, spread = trivial_overhead(run_tasks, n_workers)
    print(f"trivial task: serial {serial * 1e6:.0f} us/task, on {n_workers} workers {spread * 1e3:.2f} ms/task "
          f"(overhead {(spread - serial) * 1e3:.2f} ms per task)")
    serial, spread = one_fit_overhead(run_tasks, n_workers, fit_one)
    print(f"one theophylline FOCEI fit: serial {serial:.3f} s, as one task on a warm worker {spread:.3f} s "
          f"(overhead {(spread - serial) * 1e3:.0f} ms)")
    t_serial, t_spread, (in_serial, in_workers), identical = refits_speedup(run_tasks, n_workers, fit_one, n_refits)
    print(f"{n_refits} theophylline FOCEI refits: serial {t_serial:.2f} s, {n_workers} workers {t_spread:.2f} s, "
          f"speed-up x{t_serial / t_spread:.2f}; results identical to the bit: {identical}")
    print(f"  time inside the fits: serial {in_serial:.2f} s, on the workers {in_workers:.2f} s in all (above the "
          f"serial figure: the workers competed for the cores with each other or the machine's other load); "
          f"workers busy {in_workers / (n_workers * t_spread):.0%} of the distributed wall time")
    shutdown()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(*(int(a) for a in sys.argv[1:3]))
