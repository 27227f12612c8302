"""Importance-sampling -2LL against brute-force numerical integration (scipy quad) on
wang2007 (one eta per subject, proportional and additive error), and against the exact
marginal -2LL of a linear Gaussian model."""

import numpy as np
import pytest
from scipy.integrate import quad
from tests.estimation.problems import Wang2007
from tests.estimation.spaces import wang_space
from tests.estimation.test_saem import LinearGaussian, _linear_space

from nlme_lab.estimation.importance import importance_sampling, proposal
from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms


def _quad_ofv(prob, space, values) -> float:
    """-2 sum_i log integral p(y_i | eta) N(eta; 0, w) d eta, one subject at a time."""
    layout = ResidualLayout.build(space.residual, prob.endpoint, prob.dv, prob.cens, prob.limit)
    w = values.omega[0, 0]
    total = 0.0
    for i in range(prob.n_subjects):
        rows = prob.obs_subject == i

        def integrand(e):
            etas = np.zeros((prob.n_subjects, 1))
            etas[i, 0] = e
            f = prob.evaluate(values.theta, etas, derivs=False).f
            V, _ = layout.variance(values.sd, f)
            l = observation_terms(layout, f, V).l[rows].sum()
            return np.exp(-0.5 * l - 0.5 * e * e / w) / np.sqrt(2 * np.pi * w)

        total += -2 * np.log(quad(integrand, -2.0, 2.0, epsabs=0, epsrel=1e-12, limit=200)[0])
    return total


@pytest.mark.parametrize("error, exact_ref", [("prop", 39.3548), ("add", -1.9896)])
def test_importance_sampling_agrees_with_quadrature_on_wang2007(error, exact_ref):
    prob, space = Wang2007(), wang_space(error)
    values = space.values_from_reported(space.reported_initial())
    brute = _quad_ofv(prob, space, values)
    assert abs(brute - exact_ref) < 1e-3, (brute, exact_ref)  # the refs README's 1-D integration
    center, cov = proposal(prob, space, values, np.zeros((prob.n_subjects, 1)))
    imp = importance_sampling(prob, space, values, center, cov, n=4000, seed=3)
    assert 0 < imp.se < 0.05
    assert abs(imp.ofv - brute) < 4 * imp.se + 1e-3, (imp.ofv, brute, imp.se)
    again = importance_sampling(prob, space, values, center, cov, n=4000, seed=3)
    assert again.ofv == imp.ofv  # same seed, same number
    normal = importance_sampling(prob, space, values, center, cov, n=4000, seed=4, df=np.inf)
    assert abs(normal.ofv - brute) < 4 * normal.se + 1e-3


def test_importance_sampling_of_a_linear_gaussian_model_is_exact():
    rng = np.random.default_rng(9)
    n_sub, n_per, w, s2 = 20, 3, 0.6, 0.2
    y = np.repeat(rng.normal(0.5, np.sqrt(w), n_sub), n_per) + rng.normal(0, np.sqrt(s2), n_sub * n_per)
    prob, space = LinearGaussian(y, n_per), _linear_space(0.5, w, np.sqrt(s2))
    values = space.values_from_reported(space.reported_initial())
    V = w * np.ones((n_per, n_per)) + s2 * np.eye(n_per)
    r = y.reshape(n_sub, n_per) - 0.5
    exact = n_sub * np.linalg.slogdet(V)[1] + np.einsum("si,ij,sj->", r, np.linalg.inv(V), r)
    center, cov = proposal(prob, space, values, np.zeros((n_sub, 1)))
    imp = importance_sampling(prob, space, values, center, cov, n=500, seed=1, df=np.inf)
    assert abs(imp.ofv - exact) < 1e-8  # the proposal is the exact posterior: every weight equals L_i


@pytest.mark.parametrize("case, df", [("theo_sd", 5.0), ("theo_sd", np.inf), ("iov_combined", 5.0)])
def test_compiled_batches_equal_the_numpy_weights(case, df, shared_models, shared_data, monkeypatch):
    """On the engine's problems each batch of draws is one compiled call
    (``kernels.metropolis.importance_weights``); the NumPy formulas, one population copy per
    evaluation, give the same -2LL to rounding (a short last batch included: 250 = 3 x 64 +
    58 draws of 64 copies per call), and the same engine-call count per batch."""
    import nlme_lab as nl
    from nlme_lab.estimation import KernelProblem, parameter_space
    from nlme_lab.estimation.saem import stacked
    from nlme_lab.problem import bind
    from tests.estimation.test_kernel_problem import IOV, _iov_data

    model, data = {"theo_sd": (shared_models["theo_sd"], shared_data["theo_sd.csv"]),
                   "iov_combined": (nl.Model(IOV), _iov_data())}[case]
    problem = KernelProblem(bind(model, data))
    space = parameter_space(model.ir, max(problem.n_occasions, 1))
    values = space.values_from_reported(space.reported_initial())
    center, cov = proposal(problem, space, values, np.zeros((problem.n_subjects, problem.n_eta)))
    monkeypatch.setattr("nlme_lab.estimation.importance.BATCH_SUBJECTS", 64 * problem.n_subjects)
    calls = problem.n_calls
    fast = importance_sampling(problem, space, values, center, cov, n=250, seed=4, df=df)
    assert problem.n_calls == calls  # the batches ran on the replicated problems
    original_init = stacked.StackedPredictions.__init__

    def numpy_only(self, *args):
        original_init(self, *args)
        self.replicable = False  # one evaluate per population copy, weights in NumPy

    monkeypatch.setattr(stacked.StackedPredictions, "__init__", numpy_only)
    slow = importance_sampling(problem, space, values, center, cov, n=250, seed=4, df=df)
    assert problem.n_calls - calls == 4 * 64  # padded batches: 4 calls of 64 copies
    np.testing.assert_allclose(fast.per_subject, slow.per_subject, rtol=1e-12, atol=1e-9)
    assert abs(fast.ofv - slow.ofv) < 1e-9 and fast.se == pytest.approx(slow.se, rel=1e-9)
    monkeypatch.setattr(stacked.StackedPredictions, "__init__", original_init)
    for parallel in (False, True):  # one chunk, or one per thread: the same bits
        threads = KernelProblem(bind(model, data), parallel=parallel)
        again = importance_sampling(threads, space, values, center, cov, n=250, seed=4, df=df)
        assert again.ofv == fast.ofv and np.array_equal(again.per_subject, fast.per_subject)
