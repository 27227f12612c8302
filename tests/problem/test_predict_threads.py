"""Predictor's default thread choice follows the work per engine call (see predict.py)."""

from nlme_lab.problem import bind
from nlme_lab.problem.predict import (
    ADAPTIVE_MIN_SUBJECTS,
    PARALLEL_MIN_RECORDS_LINEAR,
    PARALLEL_MIN_SUBJECTS,
    Predictor,
    adaptive_min_subjects,
    default_parallel,
)


def test_threads_only_when_the_work_per_call_is_large():
    assert not default_parallel(PARALLEL_MIN_SUBJECTS - 1, 10**6, linear=False)
    assert not default_parallel(10_000, 10**6, linear=False)  # ODE: timed, never threaded outright
    assert adaptive_min_subjects(linear=False) == PARALLEL_MIN_SUBJECTS < ADAPTIVE_MIN_SUBJECTS
    assert adaptive_min_subjects(linear=True) == ADAPTIVE_MIN_SUBJECTS
    assert not default_parallel(2000, 22_000, linear=True)  # closed form: ~1 us per record
    assert default_parallel(6000, PARALLEL_MIN_RECORDS_LINEAR, linear=True)


def test_small_closed_form_problems_run_serially_unless_asked(shared_models, shared_data):
    bound = bind(shared_models["theo_sd"], shared_data["theo_sd.csv"])
    assert not Predictor(bound).parallel
    assert Predictor(bound, parallel=True).parallel


def test_adaptive_threads_keeps_the_faster_entry_point_and_passes_the_arguments():
    import time

    from nlme_lab.problem.predict import AdaptiveThreads

    calls = []

    def slow(*args):
        calls.append(("serial", args))
        time.sleep(0.003)

    def fast(*args):
        calls.append(("threaded", args))

    pick = AdaptiveThreads(slow, fast)
    for k in range(2 * AdaptiveThreads.TRIALS):
        pick(k)
    assert pick.choice == "threaded"
    assert [c[1] for c in calls] == [(k,) for k in range(2 * AdaptiveThreads.TRIALS)]
    calls.clear()
    for k in range(10):
        pick(k)
    assert all(name == "threaded" for name, _ in calls) and pick.n_threaded == AdaptiveThreads.TRIALS + 10
