"""Task functions the tests of ``nlme_lab.distributed`` send to worker processes (module level,
so a worker imports them by name; this folder is on the workers' path as on the tests')."""

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
THEO_MODEL = ROOT / "tests" / "shared" / "models" / "theo_sd.nlm"
THEO_DATA = ROOT / "tests" / "shared" / "data" / "theo_sd.csv"


def normal_draws(item, seed):
    """Three draws of the task's own generator, plus the item (seeds reach the task intact)."""
    return item + np.random.default_rng(seed).normal(size=3)


def identity(item, seed):
    return item


def fail_on_odd(item, seed):
    if item % 2:
        raise ValueError(f"odd item {item}")
    return item


def raise_data_error(item, seed):
    from nlme_lab.errors import DataError

    raise DataError("DV is negative", row=7, subject=3, column="DV")


def sleep_then_return(item, seed):
    time.sleep(item)
    return item


def whoami(item, seed):
    return os.getpid(), threading.get_ident(), os.environ.get("NUMBA_NUM_THREADS")


def die_once(item, seed):
    """Item ``(k, folder)``: task 0 writes its pid and waits to be killed the first time; started
    again (its pid file is there) it returns. The others return at once."""
    k, folder = item
    if k == 0:
        marker = Path(folder) / "victim.pid"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(120)  # the test kills this process long before
            return "not killed"
        return "second attempt"
    time.sleep(0.2)
    return k


def kill_own_worker(item, seed):
    """Item ``"die"`` kills the process it runs in, every time (after a moment, so that another
    task is waiting on that worker); the others take a moment and return."""
    time.sleep(0.2)
    if item == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def interrupt_self(item, seed):
    """Item 1 presses Ctrl-C (SIGINT to this process) and, like a fit, catches it and returns."""
    if item == 1:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            return "caught"
    return item


def append_pid(path):
    with open(path, "a") as out:
        out.write(f"{os.getpid()}\n")


def theo_refit(item, seed, *, model, frame, method="focei"):
    """A bootstrap-like refit: the theophylline subjects resampled with replacement by the task's
    seed (new IDs 1..n), fitted by ``method`` from the model's initial values; the OFV and every
    estimate, as Python floats (compared to the bit)."""
    import pandas as pd

    import nlme_lab as nl

    rng = np.random.default_rng(seed)
    ids = frame["ID"].unique()
    drawn = rng.choice(ids, size=ids.size, replace=True)
    data = pd.concat([frame[frame["ID"] == i].assign(ID=k + 1) for k, i in enumerate(drawn)], ignore_index=True)
    fit_seed = int(seed.generate_state(1)[0]) if method == "saem" else None
    fit = nl.fit(model, data, method=method, covariance=None, seed=fit_seed, **_short(method))
    return fit.ofv, dict(fit.estimates), tuple(int(i) for i in drawn)


def _short(method):
    if method != "saem":
        return {}
    from nlme_lab.estimation.methods import SAEMOptions

    return {"options": SAEMOptions(n_burn=30, n_em=30, n_anneal=15, is_samples=200)}


def engine_entry_points_loaded():
    import sys

    population = sys.modules.get("nlme_lab.kernels.population")
    return sorted(population._compiled) if population is not None else []


def return_a_lock(item, seed):
    return threading.Lock() if item == 1 else item


def nested_fan_out(item, seed):
    """A task that fans out itself (scheduler=None): the inner tasks run in this worker process."""
    from nlme_lab.distributed import run_tasks

    inner = run_tasks(normal_draws, [item, item], seed=seed)
    return os.getpid(), [o.worker.rsplit(":", 1)[1] for o in inner], [o.value.tolist() for o in inner]
