"""Where tasks run: the embedded local cluster, an attached cluster, or this process.

``scheduler=None`` starts, on first use, one ``dask.distributed.LocalCluster`` of process workers
(one thread each; the engine's numba code holds the GIL in places, so threads would not scale)
and keeps it for the life of the process (closed at exit, or by ``shutdown()``): the workers'
numba caches stay warm from one fan-out to the next. ``"serial"`` runs in the calling process.
An address (``"tcp://host:8786"``), a ``dask.distributed.Client`` or a cluster object attaches to a
cluster someone else started; nlme_lab never closes what it did not start.

Workers get the thread settings that keep a machine from being oversubscribed: numba's thread
pool sized to the physical cores each worker has to itself (``NUMBA_NUM_THREADS``; 1 when there
are as many workers as cores), BLAS single-threaded (dask's default). The engine's results do
not depend on its thread count (subjects are solved independently), so a worker computes what
a serial run computes.

dask is imported here only inside functions: ``import nlme_lab.distributed`` stays light.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass

SERIAL = "serial"
CONNECT_TIMEOUT_S = 10  # how long attaching to a scheduler address may try before it is an error

#: Scheduler settings of the embedded cluster. ``allowed-failures: 0``: a task whose worker dies
#: comes back at once as KilledWorker, so ``run_tasks`` counts and retries it itself (the same rule
#: on every cluster; it keeps one task per worker thread in flight, so only the task a dead
#: worker was running is blamed).
EMBEDDED_CONFIG = {"distributed.scheduler.allowed-failures": 0}


def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads do not speed up the engine)."""
    try:
        import psutil  # a dependency of dask.distributed

        physical = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        physical = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = physical
    return max(1, min(physical, usable))


def worker_environment(n_workers: int, cores: int | None = None) -> dict[str, str]:
    """Environment of each worker of a local cluster of ``n_workers`` processes."""
    cores = physical_cores() if cores is None else cores
    threads = max(1, cores // max(1, n_workers))
    limit = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        threads = min(threads, int(limit))
    return {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class _Embedded:
    cluster: object
    client: object
    n_workers: int


_lock = threading.Lock()
_embedded: _Embedded | None = None
_attached: dict[str, object] = {}  # address -> Client opened by nlme_lab (closed at exit)
_atexit_registered = False


def _check_workers(n_workers) -> int:
    if n_workers is None:
        return physical_cores()
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a whole number >= 1, not {n_workers!r}")
    return n_workers


def embedded_client(n_workers: int | None = None, *, dashboard: bool = False):
    """The client of this process's embedded ``LocalCluster``, started now if there is none (or
    if it has a different number of workers). ``dashboard``: serve dask's dashboard on a free
    port (off by default: it costs start-up time and needs bokeh)."""
    global _embedded
    n = _check_workers(n_workers)
    with _lock:
        if _embedded is not None and _embedded.n_workers == n and _alive(_embedded.client):
            return _embedded.client
        _close_embedded()
        _embedded = _start_local(n, dashboard)
        _register_atexit()
        return _embedded.client


_MAIN_GUARD = ("worker processes import the main module of a script: if this runs from one, put the "
               "script's code under `if __name__ == \"__main__\":`")


def _start_local(n: int, dashboard: bool) -> _Embedded:
    import multiprocessing

    import dask
    from distributed import Client, LocalCluster

    if getattr(multiprocessing.current_process(), "_inheriting", False):  # a worker importing __main__
        raise RuntimeError(f"a worker process tried to start a cluster of its own: {_MAIN_GUARD}")
    with dask.config.set(EMBEDDED_CONFIG):
        try:
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=":0" if dashboard else None, silence_logs=logging.CRITICAL,
                                   env=worker_environment(n))
        except Exception as err:  # noqa: BLE001 - said in words, with the usual cause
            raise RuntimeError(f"the local dask cluster could not start its {n} worker processes "
                               f"({type(err).__name__}: {err}); {_MAIN_GUARD}") from None
        client = Client(cluster, set_as_default=False)
    return _Embedded(cluster, client, n)


def _alive(client) -> bool:
    return getattr(client, "status", "") == "running"


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)
        _atexit_registered = True


def _close_embedded() -> None:
    global _embedded
    if _embedded is None:
        return
    embedded, _embedded = _embedded, None
    for closable in (embedded.client, embedded.cluster):
        try:
            closable.close()
        except Exception:  # noqa: BLE001 - closing a cluster that is already gone
            pass


def shutdown() -> None:
    """Close the embedded cluster and the clients nlme_lab opened to attach by address (never a
    cluster or client the caller handed in). The next fan-out starts a new one."""
    with _lock:
        while _attached:  # first: a client attached to the embedded cluster must not outlive it
            _, client = _attached.popitem()
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
        _close_embedded()


def attached_client(address: str):
    """A client of the cluster whose scheduler listens at ``address`` (kept and reused)."""
    with _lock:
        client = _attached.get(address)
        if client is not None and _alive(client):
            return client
        from distributed import Client

        try:
            client = Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT_S)
        except OSError as err:
            raise ConnectionError(f"no dask scheduler answers at {address!r}: {err}") from None
        _attached[address] = client
        _register_atexit()
        return client


def _require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError("running tasks on a dask cluster needs dask.distributed, which is not installed: "
                          "pip install 'dask[distributed]' (or pass scheduler='serial')") from None


def in_worker() -> bool:
    """Whether this is a task running on a dask worker: a fan-out nested in a task (a bootstrap
    inside a covariate-search candidate) then runs serially there, with the outer fan-out
    already using every core (a worker process cannot start processes of its own)."""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def resolve(scheduler, n_workers: int | None = None, *, dashboard: bool = False):
    """The dask ``Client`` tasks go to, or ``None`` to run them here (``scheduler="serial"``, or
    ``None`` inside a task on a worker: ``in_worker``)."""
    if isinstance(scheduler, str) and scheduler.strip().lower() == SERIAL:
        return None
    _require_dask()
    if isinstance(scheduler, str):
        text = scheduler.strip()
        if "://" in text or ":" in text:
            return attached_client(text)
        raise ValueError(f"scheduler must be None (a local cluster), 'serial', a dask scheduler address such "
                         f"as 'tcp://host:8786', or a dask Client; not {scheduler!r}")
    if scheduler is None:
        return None if in_worker() else embedded_client(n_workers, dashboard=dashboard)
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler
    address = getattr(scheduler, "scheduler_address", None)  # a LocalCluster, SpecCluster, ...
    if isinstance(address, str):
        return attached_client(address)
    raise TypeError(f"scheduler must be None, 'serial', a dask scheduler address or a dask Client; "
                    f"not a {type(scheduler).__name__}")
