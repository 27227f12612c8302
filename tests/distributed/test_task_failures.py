"""run_tasks when things go wrong: a task raises, a worker dies, the user stops or presses Ctrl-C.
Each loses only its own task; the others' results are kept; messages are in words."""

import os
import signal
import threading
import time

import pytest

from distributed_tasks import (die_once, fail_on_odd, identity, interrupt_self, kill_own_worker, raise_data_error,
                               return_a_lock, sleep_then_return)
from nlme_lab.distributed import TaskStatus, run_tasks

SCHEDULERS = ["serial", None]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_an_exception_becomes_its_tasks_failed_outcome_in_words(two_workers, scheduler):
    outcomes = run_tasks(fail_on_odd, range(4), scheduler=scheduler, n_workers=2, description="bootstrap")
    assert [o.status for o in outcomes] == [TaskStatus.OK, TaskStatus.FAILED] * 2
    assert [o.value for o in outcomes] == [0, None, 2, None]
    assert outcomes[1].error == ("bootstrap task 1 (1): ValueError: odd item 1 "
                                 "(raised in fail_on_odd, distributed_tasks.py line 28)")
    assert "Traceback" not in outcomes[3].error and outcomes[3].label == "bootstrap task 3 (3)"


def test_failure_text_is_the_same_serial_and_on_workers(two_workers):
    serial = run_tasks(fail_on_odd, range(4), scheduler="serial")
    spread = run_tasks(fail_on_odd, range(4), n_workers=2)
    assert [o.error for o in serial] == [o.error for o in spread]


def test_nlme_lab_errors_keep_their_own_message_without_a_class_name(two_workers):
    [outcome] = run_tasks(raise_data_error, ["x"], n_workers=2, label=lambda item: "replicate 12")
    assert outcome.status is TaskStatus.FAILED
    assert outcome.error == "replicate 12: row 7, ID 3, column DV: DV is negative"


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_result_that_cannot_travel_fails_its_task_alike_serial_and_on_workers(two_workers, scheduler):
    outcomes = run_tasks(return_a_lock, range(3), scheduler=scheduler, n_workers=2)
    assert [o.status for o in outcomes] == [TaskStatus.OK, TaskStatus.FAILED, TaskStatus.OK]
    assert outcomes[1].error == ("task 1 (1): its result (lock) cannot be sent back from a worker process "
                                 "(TypeError: cannot pickle '_thread.lock' object); return plain data (numbers, "
                                 "arrays, tables, dataclasses)")


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_stop_cancels_what_has_not_finished_and_keeps_what_has(two_workers, scheduler):
    stop = threading.Event()
    finished = []

    def note(outcome):
        finished.append(outcome.index)
        if len(finished) == 2:
            stop.set()

    outcomes = run_tasks(sleep_then_return, [0.3] * 8, scheduler=scheduler, n_workers=2, stop=stop, on_result=note)
    done = [o for o in outcomes if o.status is TaskStatus.OK]
    rest = [o for o in outcomes if o.status is TaskStatus.CANCELLED]
    assert sorted(o.index for o in done) == sorted(finished) and len(done) >= 2 and len(rest) >= 4
    assert len(done) + len(rest) == 8 and all(o.value == 0.3 for o in done)
    assert all(o.value is None and "the run was stopped before this task finished" in o.error for o in rest)
    # the cluster is free again: the cancelled tasks did not linger
    assert [o.value for o in run_tasks(identity, range(3), scheduler=scheduler, n_workers=2)] == [0, 1, 2]


def test_a_stop_already_set_runs_nothing():
    stop = threading.Event()
    stop.set()
    outcomes = run_tasks(identity, range(3), scheduler="serial", stop=stop)
    assert [o.status for o in outcomes] == [TaskStatus.CANCELLED] * 3 and all(o.attempts == 0 for o in outcomes)


def test_ctrl_c_in_a_serial_task_that_catches_it_still_stops_the_run():
    outcomes = run_tasks(interrupt_self, range(4), scheduler="serial")
    assert [o.status for o in outcomes] == [TaskStatus.OK] + [TaskStatus.CANCELLED] * 3
    assert "interrupted (Ctrl-C)" in outcomes[1].error and outcomes[1].value is None


def test_ctrl_c_while_waiting_for_workers_returns_what_finished(two_workers):
    def press_ctrl_c(outcome):
        os.kill(os.getpid(), signal.SIGINT)

    outcomes = run_tasks(sleep_then_return, [0.3] * 8, n_workers=2, on_result=press_ctrl_c)
    statuses = [o.status for o in outcomes]
    assert TaskStatus.OK in statuses and statuses.count(TaskStatus.CANCELLED) >= 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_an_error_in_on_result_reaches_the_caller_and_cancels_the_rest(two_workers):
    def broken(outcome):
        raise RuntimeError("the table widget is gone")

    with pytest.raises(RuntimeError, match="the table widget is gone"):
        run_tasks(sleep_then_return, [0.2] * 6, n_workers=2, on_result=broken)
    assert [o.value for o in run_tasks(identity, range(2), n_workers=2)] == [0, 1]


def test_a_killed_worker_loses_only_its_task_which_is_started_again(two_workers, tmp_path):
    marker = tmp_path / "victim.pid"

    def kill_when_started():
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    outcomes = run_tasks(die_once, [(k, str(tmp_path)) for k in range(6)], n_workers=2, seed=5)
    killer.join()
    assert [o.status for o in outcomes] == [TaskStatus.OK] * 6
    assert outcomes[0].value == "second attempt" and outcomes[0].attempts == 2
    assert [o.value for o in outcomes[1:]] == [1, 2, 3, 4, 5] and all(o.attempts == 1 for o in outcomes[1:])


def test_a_task_that_kills_every_worker_it_runs_on_is_reported_after_one_retry(two_workers):
    items = ["a", "die", "b", "c", "d", "e", "f"]
    outcomes = run_tasks(kill_own_worker, items, n_workers=2, description="scm")
    assert [o.status for o in outcomes] == [TaskStatus.OK, TaskStatus.FAILED] + [TaskStatus.OK] * 5
    assert outcomes[1].attempts == 2
    # the tasks that were waiting on the dying worker are not blamed: each started once
    assert [o.value for o in outcomes if o.ok] == ["a", "b", "c", "d", "e", "f"]
    assert all(o.attempts == 1 for o in outcomes if o.ok)
    assert outcomes[1].error == ("scm task 1 ('die'): its worker process stopped while running it (killed, or out "
                                 "of memory), 2 times; the other tasks are not affected")
    assert [o.value for o in run_tasks(identity, range(4), n_workers=2)] == [0, 1, 2, 3]  # restarted workers
