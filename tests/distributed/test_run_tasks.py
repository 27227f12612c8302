"""run_tasks: seeds, order, schedulers (serial, the embedded cluster, attached by address and by
Client), callbacks in the caller's thread, warm-up once per worker, refusals of bad input."""

import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

from distributed_tasks import append_pid, identity, normal_draws, whoami
from nlme_lab.distributed import TaskStatus, clusters, run_tasks, task_seeds, worker_environment


def test_task_seeds_are_the_spawned_children_of_the_run_seed():
    seeds = task_seeds(11, 4)
    expected = np.random.SeedSequence(11).spawn(4)
    assert [s.generate_state(4).tolist() for s in seeds] == [e.generate_state(4).tolist() for e in expected]
    assert task_seeds(None, 3) == [None, None, None]
    child = np.random.SeedSequence(5)
    assert [s.spawn_key for s in task_seeds(child, 2)] == [(0,), (1,)]
    for bad in (-1, 1.5, "1", True):
        with pytest.raises(ValueError, match="seed must be a whole number"):
            task_seeds(bad, 2)


def test_serial_run_gives_each_item_its_child_seed_in_item_order():
    outcomes = run_tasks(normal_draws, [10, 20, 30], scheduler="serial", seed=3)
    children = np.random.SeedSequence(3).spawn(3)
    for k, (outcome, child) in enumerate(zip(outcomes, children)):
        assert outcome.index == k and outcome.status is TaskStatus.OK and outcome.error == ""
        np.testing.assert_array_equal(outcome.value, [10, 20, 30][k] + np.random.default_rng(child).normal(size=3))
        assert outcome.seed.spawn_key == child.spawn_key and outcome.attempts == 1


def test_cluster_repeats_the_serial_run_bit_for_bit(two_workers):
    items = list(range(12))
    serial = run_tasks(normal_draws, items, scheduler="serial", seed=42)
    spread = run_tasks(normal_draws, items, scheduler=None, n_workers=2, seed=42)
    assert [o.index for o in spread] == items
    assert all(o.status is TaskStatus.OK for o in spread)
    assert all(np.array_equal(a.value, b.value) for a, b in zip(serial, spread))
    assert len({o.worker for o in spread}) == 2  # both workers took tasks
    assert {o.worker for o in serial} == {f"{os.uname().nodename}:{os.getpid()}"}


def test_without_seed_tasks_get_none_and_equal_items_stay_separate_tasks(two_workers):
    outcomes = run_tasks(identity, [7, 7, 7], n_workers=2)
    assert [o.value for o in outcomes] == [7, 7, 7] and [o.seed for o in outcomes] == [None] * 3


def test_on_result_runs_in_the_callers_thread_once_per_task(two_workers):
    seen = []

    def note(outcome):
        seen.append((threading.get_ident(), outcome.index))

    run_tasks(identity, range(6), n_workers=2, on_result=note)
    assert sorted(k for _, k in seen) == list(range(6))
    assert {ident for ident, _ in seen} == {threading.get_ident()}


def test_attaching_by_address_and_by_client_never_starts_a_cluster(two_workers):
    before = clusters._embedded
    address = two_workers.scheduler.address
    by_address = run_tasks(whoami, range(4), scheduler=address)
    by_client = run_tasks(whoami, range(4), scheduler=two_workers)
    assert clusters._embedded is before
    workers = {pid for pid, _, _ in (o.value for o in by_address + by_client)}
    assert workers == set(two_workers.run(os.getpid).values())
    assert clusters.attached_client(address) is clusters.attached_client(address)  # reused


def test_workers_get_one_numba_thread_each_on_two_cores(two_workers):
    assert worker_environment(2, cores=2)["NUMBA_NUM_THREADS"] == "1"
    assert worker_environment(1, cores=4)["NUMBA_NUM_THREADS"] == "4"
    expected = worker_environment(2)["NUMBA_NUM_THREADS"]
    outcomes = run_tasks(whoami, range(4), n_workers=2)
    assert {o.value[2] for o in outcomes} == {expected}


def test_warmup_runs_once_per_worker_across_runs(two_workers, tmp_path):
    import functools

    log = tmp_path / "warm.txt"
    warm = functools.partial(append_pid, str(log))
    warm.__module__, warm.__qualname__ = "distributed_tasks", f"append_pid[{log}]"  # its plugin name
    for _ in range(2):
        outcomes = run_tasks(whoami, range(4), n_workers=2, warmup=warm)
    pids = [int(line) for line in log.read_text().split()]
    assert sorted(pids) == sorted(two_workers.run(os.getpid).values())
    assert {o.value[0] for o in outcomes} <= set(pids)


def test_a_plain_lambda_travels_by_value_and_one_holding_a_lock_is_refused(two_workers):
    assert [o.value for o in run_tasks(lambda item, seed: item * 2, range(3), n_workers=2)] == [0, 2, 4]
    lock = threading.Lock()
    with pytest.raises(TypeError, match=r"cannot be sent to a worker process .*lock.*define it at module level"):
        run_tasks(lambda item, seed: lock and item, range(3), n_workers=2)
    assert [o.value for o in run_tasks(lambda item, seed: lock and item, range(3), scheduler="serial")] == [0, 1, 2]
    with pytest.raises(TypeError, match=r"^task 1: its item \(lock\) cannot be sent to a worker process"):
        run_tasks(identity, [0, lock], n_workers=2)


def test_bad_arguments_are_refused_in_words(monkeypatch):
    monkeypatch.setattr(clusters, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ValueError, match="scheduler must be None"):
        run_tasks(identity, [1], scheduler="threads")
    with pytest.raises(TypeError, match="not a int"):
        run_tasks(identity, [1], scheduler=42)
    with pytest.raises(ValueError, match="n_workers must be a whole number >= 1, not 0"):
        run_tasks(identity, [1], n_workers=0)
    with pytest.raises(ValueError, match="retries must be"):
        run_tasks(identity, [1], scheduler="serial", retries=-1)
    with pytest.raises(TypeError, match="needs a function"):
        run_tasks(3, [1], scheduler="serial")
    with pytest.raises(ConnectionError, match="no dask scheduler answers at 'tcp://127.0.0.1:9'"):
        run_tasks(identity, [1], scheduler="tcp://127.0.0.1:9")


def test_no_items_start_nothing():
    before = clusters._embedded
    assert run_tasks(identity, [], seed=1) == []
    assert clusters._embedded is before


def test_progress_bar_counts_tasks_on_stderr(capsys):
    run_tasks(identity, range(3), scheduler="serial", progress=True, description="bootstrap")
    err = capsys.readouterr().err
    assert "bootstrap" in err and "3/3" in err


def test_models_travel_as_their_text_and_are_rebuilt_once_per_process(theo):
    model, _ = theo
    copy = pickle.loads(pickle.dumps(model))
    assert copy == model and copy.name == model.name and copy.text == model.text
    assert pickle.loads(pickle.dumps(model)) is copy


def test_importing_the_package_loads_no_dask():
    code = "import nlme_lab.distributed, sys; print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"


def test_the_engine_warm_up_loads_the_kernels_once_on_every_worker(two_workers):
    from distributed_tasks import engine_entry_points_loaded
    from nlme_lab.distributed.warmup import warm_workers
    from nlme_lab.problem.compiling import warm_engine

    seconds = warm_workers(two_workers, warm_engine)
    assert set(seconds) == set(two_workers.scheduler_info()["workers"]) and all(s is not None for s in seconds.values())
    loaded = two_workers.run(engine_entry_points_loaded)
    assert all(names == ["solve_population_at", "solve_population_at_serial"] for names in loaded.values())
    assert warm_workers(two_workers, warm_engine) == seconds  # not run again


def test_a_fan_out_inside_a_task_runs_serially_in_that_worker_with_the_same_numbers(two_workers):
    from distributed_tasks import nested_fan_out

    serial = run_tasks(nested_fan_out, [1, 2], scheduler="serial", seed=9)
    spread = run_tasks(nested_fan_out, [1, 2], n_workers=2, seed=9)
    for outcome in spread:
        pid, inner_pids, _ = outcome.value
        assert outcome.ok and inner_pids == [str(pid)] * 2 and pid != os.getpid()
    assert [o.value[2] for o in serial] == [o.value[2] for o in spread]
