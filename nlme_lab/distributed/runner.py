"""``run_tasks``: the one fan-out of independent tasks every tool uses (bootstrap replicates,
SCM candidates, case deletions, folds, simulated trials).

The caller's thread submits every task, then collects them as they finish, calling
``on_result`` for each in that same thread (progress bars, live tables), and checks ``stop``
between arrivals. A task whose worker process died (killed, out of memory) is started again
``retries`` times, then reported FAILED; the others lose nothing. When ``stop`` is set or Ctrl-C
is pressed, the tasks not yet finished are cancelled and reported CANCELLED, and the finished
ones are returned (a task already running on a worker runs to its end there, unseen).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence

from nlme_lab.distributed import clusters
from nlme_lab.distributed.tasks import TaskOutcome, cancelled, default_label, execute, outcome_of, task_seeds

_WHY_STOPPED = "cancelled: the run was stopped before this task finished"
_WHY_INTERRUPTED = "cancelled: the run was interrupted (Ctrl-C) before this task finished"


def run_tasks(fn: Callable, items: Sequence, *, scheduler=None, seed=None, description: str = "",
              on_result: Callable[[TaskOutcome], object] | None = None, stop=None, n_workers: int | None = None,
              retries: int = 1, label: Callable[[object], str] | None = None, warmup: Callable[[], object] | None = None,
              progress: bool = False) -> list[TaskOutcome]:
    """Run ``fn(item, seed)`` for every item, on a dask cluster or here; outcomes in item order.

    ``fn``: a function of the item and its ``numpy.random.SeedSequence`` (None without ``seed``),
    returning a picklable value; module-level, so worker processes can import it (a lambda or a
    closure over plain data is sent by value; one that holds a lock, a file or a widget is
    refused before anything runs). ``seed``: an int (or a SeedSequence) spawns one independent
    child per item (``SeedSequence(seed).spawn(len(items))``): results are bit for bit those of
    ``scheduler="serial"``, on any number of workers. ``scheduler``: None (the embedded local
    cluster, started on first use with ``n_workers`` processes, default one per physical core),
    ``"serial"`` (this process), ``"tcp://host:port"`` or a dask ``Client`` (attach).
    ``on_result(outcome)`` is called in this thread as each task ends; ``stop`` (a
    ``threading.Event``, or anything with ``is_set()``) cancels what has not finished.
    ``retries``: how often a task whose worker died is started again. ``label(item)``: how
    messages name a task (default: ``"<description> task <index>"`` and a short plain item).
    ``warmup``: a module-level function run once on each worker before its tasks (e.g. one
    that loads the engine's compiled kernels), and once here for a serial run.
    ``progress``: a tqdm bar on stderr.

    A task on a cluster costs about 5 ms of dask's round trips (``benchmarks/bench_distributed.py``):
    work far shorter than that (one simulated replicate of a small model) goes several to a task.
    """
    items = list(items)
    if not callable(fn):
        raise TypeError(f"run_tasks needs a function to call for each item, not {type(fn).__name__}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
    seeds = task_seeds(seed, len(items))
    labels = [label(item) if label is not None else default_label(description, k, item)
              for k, item in enumerate(items)]
    report = _reporter(on_result, progress, len(items), description)
    try:
        client = clusters.resolve(scheduler, n_workers) if items else None
        run = _Run(fn, items, seeds, labels, report, stop)
        with _CtrlC() as ctrl_c:
            run.ctrl_c = ctrl_c
            if client is None:
                return run.serial(warmup)
            return run.distributed(client, retries, warmup, description)
    finally:
        report.close()


def _reporter(on_result, progress: bool, total: int, description: str):
    from nlme_lab.distributed.progress import Reporter

    return Reporter(on_result, total, description) if progress else Reporter(on_result)


class _CtrlC:
    """Notes a Ctrl-C (SIGINT in the main thread) and lets it raise as usual: a task that
    catches KeyboardInterrupt itself (a fit ends with its best point) still stops the run."""

    def __init__(self):
        self.pressed = threading.Event()
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.pressed.set()
        if callable(self._previous):
            self._previous(signum, frame)
        else:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


class _Run:
    def __init__(self, fn, items, seeds, labels, report, stop):
        self.fn, self.items, self.seeds, self.labels = fn, items, seeds, labels
        self.report, self.stop = report, stop
        self.outcomes: list[TaskOutcome | None] = [None] * len(items)
        self.ctrl_c: _CtrlC | None = None

    def stopping(self) -> bool:
        return bool(self.stop is not None and self.stop.is_set()) or self.ctrl_c.pressed.is_set()

    def finish(self, outcome: TaskOutcome) -> None:
        self.outcomes[outcome.index] = outcome
        self.report(outcome)

    def rest_cancelled(self, attempts: dict | None = None) -> list[TaskOutcome]:
        why = _WHY_INTERRUPTED if self.ctrl_c.pressed.is_set() else _WHY_STOPPED
        for k, outcome in enumerate(self.outcomes):
            if outcome is None:
                self.outcomes[k] = cancelled(k, self.seeds[k], self.labels[k], why, (attempts or {}).get(k, 0))
        return list(self.outcomes)

    # ------------------------------------------------------------------ here
    def serial(self, warmup) -> list[TaskOutcome]:
        if warmup is not None:
            from nlme_lab.distributed.warmup import warm_here

            warm_here(warmup)
        try:
            for k, item in enumerate(self.items):
                if self.stopping():
                    break
                finished = execute(self.fn, item, self.seeds[k], self.labels[k])
                if self.ctrl_c.pressed.is_set():  # the task caught Ctrl-C itself: its value is not a result
                    break
                self.finish(outcome_of(k, finished, self.seeds[k], self.labels[k], 1))
        except KeyboardInterrupt:
            self.ctrl_c.pressed.set()
        return self.rest_cancelled()

    # ------------------------------------------------------------------ on a cluster
    def distributed(self, client, retries: int, warmup, description: str) -> list[TaskOutcome]:
        from nlme_lab.distributed.inflight import InFlight
        from nlme_lab.distributed.submit import Submitter

        submitter = Submitter(client, self.fn, description)
        if warmup is not None:
            from nlme_lab.distributed.warmup import warm_workers

            warm_workers(client, warmup)
        flight = InFlight(submitter, self, retries)
        try:
            flight.fill()
            while flight.live and not self.stopping():
                flight.step()
        except KeyboardInterrupt:
            self.ctrl_c.pressed.set()
        finally:
            flight.cancel()
        return self.rest_cancelled(flight.attempts)
