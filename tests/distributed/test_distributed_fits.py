"""Real fits through run_tasks: bootstrap-like theophylline refits (subjects resampled by each
task's seed) give the same OFVs and estimates to the bit serially and on two worker processes."""

import functools

import pytest

from distributed_tasks import theo_refit
from nlme_lab.distributed import TaskStatus, run_tasks
from nlme_lab.problem.compiling import warm_engine


@pytest.mark.parametrize("method, n", [("focei", 3), ("saem", 2)])
def test_refits_on_two_workers_equal_the_serial_refits_to_the_bit(two_workers, theo, method, n):
    model, frame = theo
    refit = functools.partial(theo_refit, model=model, frame=frame, method=method)
    serial = run_tasks(refit, range(n), scheduler="serial", seed=2024)
    spread = run_tasks(refit, range(n), scheduler=None, n_workers=2, seed=2024, warmup=warm_engine)
    assert all(o.status is TaskStatus.OK for o in serial + spread), [o.error for o in serial + spread]
    for a, b in zip(serial, spread):
        ofv_a, estimates_a, drawn_a = a.value
        ofv_b, estimates_b, drawn_b = b.value
        assert drawn_a == drawn_b
        assert ofv_a == ofv_b and estimates_a == estimates_b  # exact float equality: bit for bit
    assert len({o.value[2] for o in serial}) == n  # different seeds drew different subjects
    assert len({o.worker for o in spread}) == 2 or n < 2
