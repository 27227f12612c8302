"""Tasks on a dask cluster: submitting, and turning what came back into an outcome in words.

Each task is ``tasks.execute(fn, item, seed, label)`` under a key of its own (never dask's hash of
the arguments: two equal items with no seed are still two tasks, and a large dataset is not
hashed for a key). ``execute`` catches the function's exceptions on the worker, so an error that
reaches the client here is the cluster's own: a worker that died (``KilledWorker``: the caller
starts the task again), or a task that could not be sent, started or sent back.
"""

from __future__ import annotations

import itertools
import re
import uuid

from nlme_lab.distributed.tasks import TaskOutcome, cancelled, execute, failed, outcome_of, unpicklable

_WORKER_DIED = ("its worker process stopped while running it (killed, or out of memory), {n} time{s}; "
                "the other tasks are not affected")


def check_picklable(fn, what: str = "the task function") -> None:
    """Refuse, before anything runs, a function that cannot be sent to worker processes, saying
    why and what to do. dask sends functions with cloudpickle: a module-level function goes by
    name, a lambda or closure by value, which works unless it holds something that cannot
    travel (a lock, an open file, a widget, a generator)."""
    problem = unpicklable(fn)
    if problem:
        name = getattr(fn, "__qualname__", type(fn).__name__)
        raise TypeError(f"{what} {name!r} cannot be sent to a worker process ({problem}); define it at module "
                        "level and pass what it needs in the items (or use scheduler='serial')")


def check_item(item, label: str) -> None:
    problem = unpicklable(item)
    if problem:
        raise TypeError(f"{label}: its item ({type(item).__name__}) cannot be sent to a worker process ({problem}); "
                        "pass plain data (or use scheduler='serial')")


def _key_prefix(description: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", description.lower()).strip("-")
    return slug or "task"


class Submitter:
    """Submits the tasks of one run to ``client`` and reads their futures back."""

    def __init__(self, client, fn, description: str):
        check_picklable(fn)
        self.client = client
        self.fn = fn
        self._prefix = f"{_key_prefix(description)}-{uuid.uuid4().hex[:10]}"
        self._count = itertools.count()
        self._index: dict[str, int] = {}
        self._checked: set[int] = set()

    def submit(self, k: int, item, seed, label: str, callback):
        if k not in self._checked:  # pickled here first: dask would log its own traceback
            check_item(item, label)
            self._checked.add(k)
        key = f"{self._prefix}-{k}-{next(self._count)}"
        self._index[key] = k
        future = self.client.submit(execute, self.fn, item, seed, label, key=key, pure=False, retries=0)
        future.add_done_callback(callback)
        return future

    def index_of(self, future) -> int:
        """The item index of a future of this run (-1: already collected or cancelled)."""
        return self._index.get(future.key, -1)

    def dead_worker(self, future) -> str | None:
        """The address of the worker that died holding ``future``'s task (None: it did not)."""
        from distributed.scheduler import KilledWorker

        if future.status == "lost":
            return "?"
        if future.status != "error":
            return None
        error = future.exception()
        if not isinstance(error, KilledWorker):
            return None
        return str(getattr(error.last_worker, "address", "?"))

    def collect(self, future, k: int, seed, label: str, attempts: int) -> TaskOutcome:
        """The outcome of a future that finished, failed or was cancelled (not lost: ``dead_worker``)."""
        self._index.pop(future.key, None)
        status = future.status
        if status == "finished":
            return outcome_of(k, future.result(), seed, label, attempts)
        if status == "cancelled":
            return cancelled(k, seed, label, "cancelled by the dask cluster (its scheduler or client went away)",
                             attempts)
        error = future.exception()
        return failed(k, seed, label, f"the dask cluster could not run it: {type(error).__name__}: {error}",
                      attempts)

    @staticmethod
    def worker_died(k: int, seed, label: str, attempts: int) -> TaskOutcome:
        return failed(k, seed, label, _WORKER_DIED.format(n=attempts, s="" if attempts == 1 else "s"), attempts)

    def cancel(self, futures) -> None:
        try:
            self.client.cancel(futures)
        except Exception:  # noqa: BLE001 - the cluster may already be gone; nothing to cancel then
            pass
