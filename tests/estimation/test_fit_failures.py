"""A numerical failure inside a fit ends it with the best point so far, marked as such, and
nothing streamed is lost (issue 15, item 1); a fit whose estimates mean nothing says so in plain
words (issue 16, item 8)."""

import numpy as np
import pytest
from tests.estimation.problems import Theophylline
from tests.estimation.spaces import make_space, theo_space

from nlme_lab.errors import NlmeError
from nlme_lab.estimation import (EndpointError, Evaluation, ResidualModel, SAEMOptions, Termination, fit_problem,
                                 get_method)
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.estimation.saem.run import run_saem


class FragileTheo(Theophylline):
    """Theophylline whose solver divides by zero wherever ka is above ``ka_limit`` (log scale):
    the fit starts at tka = 0 and its optimum (0.46) lies beyond the limit."""

    ka_limit = 0.3

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        if np.any(np.asarray(theta)[..., 0] > self.ka_limit):
            raise ZeroDivisionError("float division by zero")
        return super().evaluate(theta, etas, derivs, theta_derivs)


def test_a_division_by_zero_mid_fit_keeps_the_best_point_and_every_iteration():
    events = []
    r = fit_problem(FragileTheo(), theo_space(tka=0.0), "focei", callback=events.append)
    assert r.termination is Termination.FAILED and not r.converged
    assert "could not go on after iteration" in r.message and "a division by zero (ZeroDivisionError" in r.message
    assert "the estimates are the best so far" in r.message
    assert 0 < r.estimates["tka"] <= FragileTheo.ka_limit
    assert len(events) == len(r.history) == r.iterations + 1 >= 2
    assert r.ofv == pytest.approx(min(e.ofv for e in events), abs=1e-8)
    assert r.estimates["tka"] == pytest.approx(events[-1].estimates["tka"], abs=1e-12)
    assert r.covariance is None and any("did not converge: failed" in w for w in r.warnings)


def test_a_failure_at_the_initial_estimates_is_raised_in_words():
    with pytest.raises(NlmeError, match=r"the objective is not finite at the initial estimates: the predictions cannot "
                                        r"be computed there \(a division by zero \(ZeroDivisionError"):
        fit_problem(FragileTheo(), theo_space(tka=0.5), "focei")


class FlakyLinear:
    """y_ij = mu + eta_i + eps_ij whose evaluation raises once, on call ``fail_at``."""

    n_eta, n_theta = 1, 1

    def __init__(self, fail_at: int):
        rng = np.random.default_rng(1)
        self.n_subjects, n_per = 30, 4
        self.obs_subject = np.repeat(np.arange(self.n_subjects), n_per)
        self.dv = np.repeat(rng.normal(1.0, 0.8, self.n_subjects), n_per) + rng.normal(0, 0.5, 30 * n_per)
        self.cens = np.zeros(len(self.dv), dtype=int)
        self.limit = np.full(len(self.dv), np.nan)
        self.endpoint = np.zeros(len(self.dv), dtype=int)
        self.n_calls, self.fail_at = 0, fail_at

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        self.n_calls += 1
        if self.n_calls == self.fail_at:
            raise OverflowError("overflow in the solver")
        f = theta[0] + np.asarray(etas)[self.obs_subject, 0]
        ones = np.ones((len(f), 1))
        return Evaluation(f, ones if derivs else None, ones if theta_derivs else None)


def _linear_space():
    res = ResidualModel((Theta("sd", 1.0),), (EndpointError(add=0),))
    return make_space((Theta("mu", 0.0),), (OmegaBlock(("eta",), (1.0,)),), res, 1)


def test_saem_ends_at_the_last_completed_iteration_when_one_fails():
    opts = SAEMOptions(n_burn=30, n_em=30, mu_reference=(0,), is_samples=0, n_chains=1, n_kernel=(1, 0, 0))
    whole = run_saem(FlakyLinear(fail_at=10**9), _linear_space(), get_method("saem"), opts, seed=3)
    events = []
    flaky = FlakyLinear(fail_at=40)
    r = run_saem(flaky, _linear_space(), get_method("saem"), opts, seed=3, callback=events.append)
    assert r.termination is Termination.FAILED and "an overflow (OverflowError: overflow in the solver)" in r.message
    k = len(r.history)
    assert 0 < k < 60 and f"after iteration {k}" in r.message and [e.iteration for e in events] == list(range(1, k + 1))
    assert r.estimates == r.history[-1].estimates  # the parameters of the last completed iteration
    assert r.history == whole.history[:k]  # the same iterations as a run without the failure
    assert np.isfinite(r.ofv)


def test_data_without_observations_is_refused_before_fitting():
    class NoObservations(Theophylline):
        def __init__(self):
            super().__init__()
            for name in ("obs_subject", "dv", "cens", "limit", "endpoint"):
                setattr(self, name, getattr(self, name)[:0])

    with pytest.raises(NlmeError, match="the data have no observations .*there is nothing to fit"):
        fit_problem(NoObservations(), theo_space(), "focei")
    with pytest.raises(NlmeError, match="the data have no observations"):
        run_saem(NoObservations(), theo_space(), get_method("saem"), SAEMOptions())


def test_saem_refuses_a_seed_numpy_cannot_take():
    for seed in (-1, "x", 1.5):
        with pytest.raises(NlmeError, match=f"seed must be a non-negative integer or None, got {seed!r}"):
            run_saem(FlakyLinear(fail_at=0), _linear_space(), get_method("saem"), SAEMOptions(), seed=seed)
