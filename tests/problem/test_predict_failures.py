"""An arithmetic exception inside the engine (warfarin PK/PD, issue 15 item 1: an eta-hat trial
point with ktr = 1.7e304 and ka = 0 made the ODE path divide by zero, and the whole FOCEI fit
ended in a ``ZeroDivisionError`` traceback after 20 iterations) is a failure of the subject that
raised it, named and located, which the estimation backs off from; the other subjects' numbers
are those of a call without it."""

import numpy as np
import pytest

from nlme_lab.estimation.kernel_problem import KernelProblem
from nlme_lab.problem import bind

# the individual parameters of warfarin subject ID 21 (index 19) at the failing trial point
FAILING = {"ktr": 1.70630262e304, "ka": 0.0, "cl": 2.20533993e20, "v": 1.75236084e15}


@pytest.fixture(scope="module")
def warfarin(shared_models, shared_data):
    return KernelProblem(bind(shared_models["warfarin_pkpd"], shared_data["warfarin.csv"]), parallel=False)


def _etas_reaching(problem, subject: int) -> np.ndarray:
    """Per-subject etas, zero except ``subject``'s, which give it the failing PK parameters."""
    theta = problem.theta_full[problem.structural]
    names = problem.theta_names
    etas = np.zeros((problem.n_subjects, problem.n_eta))
    for k, (p, t) in enumerate((("ktr", "tktr"), ("ka", "tka"), ("cl", "tcl"), ("v", "tv"))):
        target = np.log(FAILING[p]) if FAILING[p] > 0 else -800.0  # exp(-800) is 0.0
        etas[subject, k] = target - theta[names.index(t)]
    return theta, etas


def test_a_division_by_zero_in_the_engine_fails_only_that_subject(warfarin):
    theta, etas = _etas_reaching(warfarin, 19)
    ev = warfarin.evaluate(theta, etas, derivs=True)
    rows = warfarin.obs_subject == 19
    assert np.all(np.isnan(ev.f[rows])) and np.all(np.isnan(ev.df_deta[rows]))
    assert "a division by zero in the solver" in warfarin.last_failure and "subject 21" in warfarin.last_failure
    assert "data rows 335-348" in warfarin.last_failure  # the file lines of ID 21's records
    healthy = warfarin.evaluate(theta, np.zeros_like(etas), derivs=True)
    np.testing.assert_array_equal(ev.f[~rows], healthy.f[~rows])
    np.testing.assert_array_equal(ev.df_deta[~rows], healthy.df_deta[~rows])


def test_the_failure_names_the_subject_for_callers_that_raise(warfarin):
    from nlme_lab.errors import SolverError

    theta, etas = _etas_reaching(warfarin, 19)
    predictor = warfarin.predictor
    theta_full = warfarin.theta_full.copy()
    theta_full[warfarin.structural] = theta
    with pytest.raises(SolverError, match=r"ID 21, time 0: the solution failed: a division by zero in the solver"):
        predictor.predict(theta_full, warfarin.record_effects(etas))
