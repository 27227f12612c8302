"""What one task is and what became of it: seeds, labels, the call itself and its outcome.

``execute`` is the one place a task's function is called, on a worker process or (for
``scheduler="serial"``) in the caller's process: the same seeds and the same error capture either
way, so a task fails with the same words wherever it ran. It never lets an exception out: a
failure becomes text, never a traceback that must cross processes (some exceptions cannot be
pickled, and a remote traceback tells a user nothing).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from nlme_lab.errors import NlmeError


class TaskStatus(Enum):
    """What became of a task: it returned (``OK``), raised or lost its worker too often
    (``FAILED``), or was never finished because the run was stopped (``CANCELLED``)."""

    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TaskOutcome:
    """One task's result. ``value`` is what the function returned (None unless ``OK``);
    ``error`` says in words why it failed or was cancelled (empty when ``OK``); ``seed`` is the
    ``numpy.random.SeedSequence`` it was given (None without a run seed); ``seconds`` the time
    its last attempt spent in the function; ``attempts`` how often it was started (a task whose
    worker died is started again); ``worker`` where it ran (``"serial"`` or host:pid)."""

    index: int
    status: TaskStatus
    value: object = None
    error: str = ""
    seed: object = None
    label: str = ""
    seconds: float = 0.0
    attempts: int = 1
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.status is TaskStatus.OK


@dataclass(frozen=True)
class Finished:
    """What ``execute`` sends back from a worker: the value, or the failure in words."""

    value: object
    error: str | None
    seconds: float
    worker: str


def task_seeds(seed, n: int) -> list:
    """One independent ``SeedSequence`` per task (``SeedSequence(seed).spawn(n)``), or ``[None] * n``
    for ``seed=None``. Child ``k`` depends only on ``seed`` and ``k``, never on where or when the
    task runs, which is what makes a distributed run repeat a serial one bit for bit."""
    if seed is None:
        return [None] * n
    import numpy as np

    if isinstance(seed, np.random.SeedSequence):
        return list(seed.spawn(n))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0 (or None for no seeds), not {seed!r}")
    return list(np.random.SeedSequence(int(seed)).spawn(n))


_SIMPLE = (str, int, float, bool)
_LABEL_REPR_MAX = 60


def default_label(description: str, index: int, item) -> str:
    """``"bootstrap task 3"``, with the item when it is short and plain (``"scm task 2 ('cl-WT')"``):
    a message names the task without printing a whole dataset."""
    name = f"{description} task {index}" if description else f"task {index}"
    plain = isinstance(item, _SIMPLE) or (isinstance(item, tuple) and all(isinstance(x, _SIMPLE) for x in item))
    text = repr(item) if plain else ""
    return f"{name} ({text})" if text and len(text) <= _LABEL_REPR_MAX else name


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def describe_failure(exc: BaseException, label: str) -> str:
    """The failure in words: the task's label, then nlme_lab's own message as it is (it names the
    subject, row or model line already), or for any other exception its type, text and the line
    that raised it (where a programming error is)."""
    text = str(exc).strip() or "(no message)"
    if isinstance(exc, NlmeError):
        return f"{label}: {text}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (raised in {frames[-1].name}, {Path(frames[-1].filename).name} line {frames[-1].lineno})" if frames else ""
    return f"{label}: {type(exc).__name__}: {text}{where}"


def execute(fn, item, seed, label: str) -> Finished:
    """Call ``fn(item, seed)`` and capture what happened (any ``Exception``; a Ctrl-C or a
    ``SystemExit`` goes through, as it must). A value that cannot be pickled fails the task here,
    serially too: it could not come back from a worker, and a run must not depend on where it ran."""
    start = time.perf_counter()
    try:
        value = fn(item, seed)
    except Exception as exc:  # noqa: BLE001 - every failure of a task becomes its outcome
        return Finished(None, describe_failure(exc, label), time.perf_counter() - start, worker_name())
    seconds = time.perf_counter() - start
    problem = unpicklable(value)
    if problem:
        return Finished(None, f"{label}: its result ({type(value).__name__}) cannot be sent back from a worker "
                              f"process ({problem}); return plain data (numbers, arrays, tables, dataclasses)",
                        seconds, worker_name())
    return Finished(value, None, seconds, worker_name())


def unpicklable(value) -> str:
    """Why ``value`` cannot be pickled the way dask sends results ('' when it can)."""
    try:
        import cloudpickle as pickler  # dask's fallback for what plain pickle refuses
    except ImportError:
        import pickle as pickler
    try:
        pickler.dumps(value)
    except Exception as err:  # noqa: BLE001 - any failure to pickle is the same problem
        return f"{type(err).__name__}: {err}"
    return ""


def outcome_of(index: int, finished: Finished, seed, label: str, attempts: int) -> TaskOutcome:
    status = TaskStatus.OK if finished.error is None else TaskStatus.FAILED
    return TaskOutcome(index, status, finished.value, finished.error or "", seed, label, finished.seconds,
                       attempts, finished.worker)


def cancelled(index: int, seed, label: str, why: str, attempts: int = 0) -> TaskOutcome:
    return TaskOutcome(index, TaskStatus.CANCELLED, None, f"{label}: {why}", seed, label, 0.0, attempts, "")


def failed(index: int, seed, label: str, why: str, attempts: int) -> TaskOutcome:
    return TaskOutcome(index, TaskStatus.FAILED, None, f"{label}: {why}", seed, label, 0.0, attempts, "")
