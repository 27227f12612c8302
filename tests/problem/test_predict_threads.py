"""Predictor's default thread choice follows the work per engine call (see predict.py)."""

from nlme_lab.problem import bind
from nlme_lab.problem.predict import PARALLEL_MIN_RECORDS_LINEAR, PARALLEL_MIN_SUBJECTS, Predictor, default_parallel


def test_threads_only_when_the_work_per_call_is_large():
    assert not default_parallel(PARALLEL_MIN_SUBJECTS - 1, 10**6, linear=False)
    assert default_parallel(PARALLEL_MIN_SUBJECTS, 700, linear=False)  # ODE: ~30 us per record
    assert not default_parallel(2000, 22_000, linear=True)  # closed form: ~1 us per record
    assert default_parallel(6000, PARALLEL_MIN_RECORDS_LINEAR, linear=True)


def test_small_closed_form_problems_run_serially_unless_asked(shared_models, shared_data):
    bound = bind(shared_models["theo_sd"], shared_data["theo_sd.csv"])
    assert not Predictor(bound).parallel
    assert Predictor(bound, parallel=True).parallel
