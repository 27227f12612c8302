"""Reporting finished tasks as they arrive: the caller's ``on_result`` and, on request, a tqdm
progress bar on stderr (the CLI's fan-outs: ``nlme-lab bootstrap ...``)."""

from __future__ import annotations

import sys

from nlme_lab.distributed.tasks import TaskOutcome, TaskStatus


class Reporter:
    """Called with each outcome in the caller's thread. ``total`` given: a tqdm bar counting
    finished tasks, with the number failed so far beside it."""

    def __init__(self, on_result=None, total: int | None = None, description: str = ""):
        self._on_result = on_result
        self._bar = None
        self._failed = 0
        if total is not None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description or "tasks", unit="task", file=sys.stderr,
                             dynamic_ncols=True, leave=True)

    def __call__(self, outcome: TaskOutcome) -> None:
        if self._bar is not None:
            self._failed += outcome.status is TaskStatus.FAILED
            if self._failed:
                self._bar.set_postfix_str(f"{self._failed} failed", refresh=False)
            self._bar.update(1)
        if self._on_result is not None:
            self._on_result(outcome)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_bar(total: int, description: str = "", on_result=None) -> Reporter:
    """A tqdm bar on stderr to pass as ``run_tasks(..., on_result=...)`` (close it when done), for a
    caller that wants the bar and its own callback. ``run_tasks(..., progress=True)`` makes one."""
    return Reporter(on_result, total, description)
