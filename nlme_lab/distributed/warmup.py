"""Warming worker processes once: a function (e.g. one that loads the engine's compiled numba
kernels from their on-disk cache) run on each worker before its first task, never per task.

It is registered as a dask ``WorkerPlugin`` under a name of its own, so a worker that joins
later, or one the nanny restarts after it died, runs it too; registering it again is a no-op
(``idempotent``), and within a process it runs once whatever asks for it. A warm-up that fails is
logged and skipped: the tasks then pay the cost themselves, and report their own errors.
"""

from __future__ import annotations

import logging
import time

from distributed.diagnostics.plugin import WorkerPlugin

logger = logging.getLogger(__name__)

_seconds: dict[str, float] = {}  # in each process: name -> seconds its warm-up took


def warmup_name(fn) -> str:
    return f"nlme_lab-warmup-{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def warm_here(fn) -> float:
    """Run ``fn()`` in this process unless it already ran here; the seconds it took (0 if it had
    already run)."""
    name = warmup_name(fn)
    if name in _seconds:
        return 0.0
    start = time.perf_counter()
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - a warm-up is an optimisation, never a failure
        logger.warning("warm-up %s failed (tasks will load what they need themselves): %s: %s", name,
                       type(err).__name__, err)
    _seconds[name] = time.perf_counter() - start
    return _seconds[name]


def warm_seconds(name: str) -> float | None:
    """How long the warm-up ``name`` took in this process (None: it has not run here)."""
    return _seconds.get(name)


class WarmUp(WorkerPlugin):
    """Runs a warm-up function once on every worker (present and future)."""

    idempotent = True

    def __init__(self, fn):
        self.fn = fn
        self.name = warmup_name(fn)

    def setup(self, worker):
        warm_here(self.fn)


def warm_workers(client, fn) -> dict[str, float]:
    """Warm every worker of ``client``'s cluster with ``fn`` (each in parallel, once); returns
    worker address -> seconds its warm-up took."""
    from nlme_lab.distributed.submit import check_picklable

    check_picklable(fn, "the warm-up function")
    plugin = WarmUp(fn)
    client.register_plugin(plugin, name=plugin.name)
    return client.run(warm_seconds, plugin.name)
