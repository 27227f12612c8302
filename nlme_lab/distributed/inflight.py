"""The tasks of a cluster run that are submitted and not yet collected.

At most ``PER_THREAD`` tasks per worker thread are in flight: one running, one waiting on the
worker, so a worker never idles for the round trip to the client (dask's client batches what it
sends every 10 ms). Submitting everything at once would lose two things: ``stop`` would have
thousands of futures to cancel, and a worker's death would be blamed on every task queued there.

When a worker process dies, the scheduler reports every task it held as lost (``KilledWorker``).
A one-thread worker runs the tasks it holds in the order they were submitted, so of the tasks
lost with one worker the earliest submitted was the one running: it alone counts the death as an
attempt (started again while it has ``retries`` left, then reported FAILED); the others were only
waiting and go back to the queue as if never sent. Losses reported within ``SIBLING_WAIT_S`` of
each other are judged together.
"""

from __future__ import annotations

import itertools
import queue
import time
from collections import defaultdict

PER_THREAD = 2
POLL_S = 0.1  # how often a waiting run looks at ``stop``
SIBLING_WAIT_S = 0.25  # the tasks lost with one worker arrive together; wait this long for them
RECOUNT_S = 1.0  # how stale the count of worker threads may be


class InFlight:
    def __init__(self, submitter, run, retries: int):
        self.submitter, self.run, self.retries = submitter, run, retries
        self.arrived: queue.Queue = queue.Queue()
        self.waiting = list(range(len(run.items)))[::-1]  # popped from the end: item order
        self.live: dict = {}  # index -> future
        self.attempts: dict[int, int] = {}  # index -> times started
        self._order: dict[int, int] = {}  # index -> submission number of its live future
        self._numbers = itertools.count()
        self._limit, self._counted = 1, -float("inf")

    def limit(self) -> int:
        now = time.monotonic()
        if now - self._counted > RECOUNT_S:
            self._limit = PER_THREAD * max(1, sum(self.submitter.client.nthreads().values()))
            self._counted = now
        return self._limit

    def fill(self) -> None:
        run = self.run
        while self.waiting and len(self.live) < self.limit() and not run.stopping():
            k = self.waiting.pop()
            self.attempts[k] = self.attempts.get(k, 0) + 1
            self._order[k] = next(self._numbers)
            self.live[k] = self.submitter.submit(k, run.items[k], run.seeds[k], run.labels[k], self.arrived.put)

    def step(self) -> None:
        """Collect what has arrived (waiting up to ``POLL_S``), start lost tasks again, refill."""
        try:
            batch = [self.arrived.get(timeout=POLL_S)]
        except queue.Empty:
            return
        lost: list[tuple[str, int, int]] = []  # (dead worker, submission number, index)
        while batch:
            for future in batch:
                self._arrive(future, lost)
            batch = self._more(wait=bool(lost) and not self.run.stopping())
        if lost:
            self._restart(lost)
        self.fill()

    def _more(self, wait: bool) -> list:
        more = []
        deadline = time.monotonic() + (SIBLING_WAIT_S if wait else 0.0)
        while True:
            try:
                more.append(self.arrived.get(timeout=max(0.0, deadline - time.monotonic())) if wait
                            else self.arrived.get_nowait())
            except queue.Empty:
                return more

    def _arrive(self, future, lost: list) -> None:
        k = self.submitter.index_of(future)
        if self.live.get(k) is not future:
            return  # a future this run already gave up on
        del self.live[k]
        dead = self.submitter.dead_worker(future)
        if dead is not None:
            lost.append((dead, self._order.pop(k), k))
            return
        run = self.run
        run.finish(self.submitter.collect(future, k, run.seeds[k], run.labels[k], self.attempts[k]))

    def _restart(self, lost: list) -> None:
        by_worker = defaultdict(list)
        for dead, number, k in lost:
            by_worker[dead].append((number, k))
        run = self.run
        for tasks in by_worker.values():
            tasks.sort()
            for _, k in tasks[1:]:  # only waiting on the dead worker: never started
                self.attempts[k] -= 1
                self.waiting.append(k)
            k = tasks[0][1]
            if self.attempts[k] > self.retries:
                run.finish(self.submitter.worker_died(k, run.seeds[k], run.labels[k], self.attempts[k]))
            else:
                self.waiting.append(k)
        self._counted = -float("inf")  # the cluster has one worker fewer until it is restarted

    def cancel(self) -> None:
        if self.live:
            self.submitter.cancel(list(self.live.values()))
            self.live.clear()
