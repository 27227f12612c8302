"""The fast paths of the estimation engine give the results of the slow ones: subjects in
parallel equal serial bit for bit, warm-started inner solves equal fresh ones, the sensitivity
gradient equals the difference gradient, ``Predictor.sensitivities`` equals the problem's, and
the evaluation counts stay within their budget."""

import numpy as np
import pytest
from tests.estimation.spaces import theo_space

import nlme_lab as nl
from nlme_lab.estimation import KernelProblem
from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import InnerOptions, get_method
from nlme_lab.estimation.objective import Objective
from nlme_lab.estimation.parameters import Unconstrained
from nlme_lab.problem import bind


@pytest.fixture(scope="module")
def theo_bound(shared_models, shared_data):
    return bind(shared_models["theo_sd"], shared_data["theo_sd.csv"])


def test_parallel_subjects_equal_serial_bit_for_bit(theo_bound):
    rng = np.random.default_rng(7)
    theta, etas = np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3))
    par = KernelProblem(theo_bound, parallel=True).evaluate(theta, etas, derivs=True, theta_derivs=True)
    ser = KernelProblem(theo_bound, parallel=False).evaluate(theta, etas, derivs=True, theta_derivs=True)
    for a, b in ((par.f, ser.f), (par.df_deta, ser.df_deta), (par.df_dtheta, ser.df_dtheta)):
        np.testing.assert_array_equal(a, b)


def test_a_parallel_fit_equals_the_serial_fit(shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    a = nl.fit(model, data, parallel=True)
    b = nl.fit(model, data, parallel=False)
    assert a.ofv == b.ofv and a.estimates == b.estimates and a.se == b.se
    np.testing.assert_array_equal(a.etas, b.etas)


def test_predictor_sensitivities_are_the_problems(theo_bound):
    problem = KernelProblem(theo_bound, parallel=False)
    rng = np.random.default_rng(8)
    theta, etas = np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3))
    ev = problem.evaluate(theta, etas, derivs=True, theta_derivs=True)
    pr = problem.predictor
    full = np.append(theta, 0.7)  # + add_sd, unused by the equations
    pred, d_eta, d_theta = pr.sensitivities(full, pr.record_effects(etas, np.zeros((12, 1, 0))))
    rows, ep = problem.obs_rec, problem.endpoint
    np.testing.assert_array_equal(pred[rows, ep], ev.f)
    np.testing.assert_array_equal(d_eta[rows, ep], ev.df_deta)
    np.testing.assert_array_equal(d_theta[rows, ep][:, problem.structural], ev.df_dtheta)
    assert np.all(d_theta[rows, ep][:, 3] == 0.0)


@pytest.mark.parametrize("twins", [True, False])
def test_the_stencil_in_one_engine_call_equals_its_points_bit_for_bit(theo_bound, twins):
    """``KernelProblem.evaluate_stencil``: the outer gradient's 1 + 2 n_eta points solved as
    copies of the dataset in one engine call give each point's own call's numbers."""
    rng = np.random.default_rng(10)
    theta, etas, h = np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3)), 1e-4
    problem = KernelProblem(theo_bound, parallel=False)
    if not twins:
        problem._set_twins(np.full(3, -1))
    calls = problem.n_calls
    F, D = problem.evaluate_stencil(theta, etas, h)
    assert problem.n_calls == calls + 1 and F.shape == (7, 132) and D.shape == (7, 132, 6)
    one = KernelProblem(theo_bound, parallel=False)
    if not twins:
        one._set_twins(np.full(3, -1))
    for b in range(7):
        e = etas.copy()
        if b:
            m, sign = (b - 1) // 2, (1.0 if b % 2 else -1.0)
            e[:, m] = etas[:, m] + sign * h
        f, d = one.evaluate_directions(theta, e, True, True)
        np.testing.assert_array_equal(F[b], f)
        np.testing.assert_array_equal(D[b], d)


def test_theta_twins_are_copied_and_a_repeated_point_skips_the_engine(theo_bound):
    """theo_sd's thetas are mu-referenced (ka = exp(tka + eta_ka)): their parameter directions
    equal the etas', so the engine sees the etas' only and the theta columns are copies, equal
    bit for bit to the engine's own; a call with theta derivatives at the point of the previous
    call without them is answered from it."""
    rng = np.random.default_rng(9)
    theta, etas = np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3))
    every = KernelProblem(theo_bound, parallel=False)
    every._set_twins(np.full(3, -1))  # no twins: every theta is a direction of the engine
    full = every.evaluate(theta, etas, derivs=True, theta_derivs=True)
    problem = KernelProblem(theo_bound, parallel=False)
    inner = problem.evaluate(theta, etas, derivs=True)
    np.testing.assert_array_equal(problem._twins, [0, 1, 2])
    calls = problem.n_calls
    again = problem.evaluate(theta, etas, derivs=True, theta_derivs=True)
    assert problem.n_calls == calls
    for a, b in ((again.f, full.f), (again.df_deta, full.df_deta), (again.df_dtheta, full.df_dtheta),
                 (inner.df_deta, full.df_deta)):
        np.testing.assert_array_equal(a, b)
    moved = problem.evaluate(theta + 0.01, etas, derivs=True, theta_derivs=True)
    assert problem.n_calls == calls + 1
    np.testing.assert_array_equal(moved.df_dtheta, every.evaluate(theta + 0.01, etas, True, True).df_dtheta)


def _objective(problem, method):
    space = theo_space()
    layout = ResidualLayout.build(space.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
    param = Unconstrained(space)
    obj = Objective(SubjectEngine(problem, layout, get_method(method)), param,
                    np.zeros((problem.n_subjects, problem.n_eta)), InnerOptions())
    return obj, param.from_reported(space.reported_initial())


@pytest.mark.parametrize("method", ["fo", "foce", "focei"])
def test_sensitivity_gradient_equals_the_difference_gradient(theo, method):
    obj, v = _objective(theo, method)
    ofv = obj.value(v)
    fast = obj.gradient(v, ofv)
    slow = obj._difference_gradient(v, ofv)
    np.testing.assert_allclose(fast.per_subject, slow.per_subject, rtol=1e-6, atol=1e-7)


def test_warm_started_inner_solves_equal_fresh_ones(theo):
    """The anchor's predicted eta-hat and chord Hessian change the path, not the answer."""
    obj, v = _objective(theo, "focei")
    obj.value_and_gradient(v)
    rng = np.random.default_rng(9)
    for _ in range(3):
        w = v + rng.normal(0, 0.05, len(v))
        warm = obj.value(w)
        warm_etas = obj.etas.copy()
        obj.anchor, obj.etas = None, np.zeros_like(obj.etas)
        fresh = obj.value(w)
        assert warm == pytest.approx(fresh, abs=1e-7)  # eta-hat to the inner step tolerance (1e-9)
        np.testing.assert_allclose(warm_etas, obj.etas, atol=1e-7)
        obj.value_and_gradient(v)  # back to the anchor at v


def test_theo_sd_focei_fits_within_its_evaluation_budget(shared_models, shared_data):
    """928 kernel evaluations before the sensitivity gradient, the BFGS with a BHHH start and
    the warm starts; 335 after (covariance step included); 268 since the outer gradient and
    the covariance step reuse the inner solve's last evaluation and the fit's last gradient,
    and the inner solve takes the exact eta-Hessian when Gauss-Newton contracts slowly."""
    r = nl.fit(shared_models["theo_sd"], shared_data["theo_sd.csv"])
    assert r.converged and r.n_evaluations < 290, r.n_evaluations


@pytest.mark.parametrize("method", ["focei", "foce"])
def test_covariance_step_at_predicted_etas_equals_the_resolved_one(theo, method):
    """The R matrix from gradients at the first-order eta-hat prediction (no inner solves) is
    the R matrix at re-solved eta-hats to the O(h^2) of the central difference, and costs
    exactly (2 n + 1) gradients of 1 + 2 n_eta engine evaluations each (it was 2 n inner solves
    more, two or more evaluations each)."""
    from nlme_lab.estimation.covariance import _r_matrix, covariance_step
    from nlme_lab.estimation.fit import fit_problem
    from nlme_lab.estimation.methods import resolve_options
    from nlme_lab.estimation.parameters import ReportedScale

    space = theo_space()
    fit = fit_problem(theo, space, method)
    z_hat = np.array([fit.estimates[n] for n in space.reported_names()])
    obj, _ = _objective(theo, method)
    engine, opts = obj.engine, resolve_options(get_method(method), None)
    before = engine.n_evaluations
    cov = covariance_step(engine, space, z_hat, fit.etas, opts)
    n, n_eta = len(z_hat), theo.n_eta
    at_zero = 0 if method == "focei" else 1 + 2 * theo.n_theta  # FOCE: f(eta = 0), once per theta
    assert engine.n_evaluations - before == (2 * n + 1) * (1 + 2 * n_eta) + at_zero
    param = ReportedScale(space).with_base(z_hat)
    ref = Objective(engine, param, fit.etas, opts.inner, opts.outer.param_step, opts.outer.eta_step)
    w0 = param.from_reported(z_hat)
    ref.value_and_gradient(w0)  # eta-hat re-solved at the estimates and the anchor there
    R = _r_matrix(ref, w0, fit.etas, opts.covariance_step, resolve=True)  # as before: inner solves
    np.testing.assert_allclose(cov.r_matrix, R, rtol=2e-6, atol=1e-6 * np.max(np.abs(R)))
    np.testing.assert_allclose(np.sqrt(np.diag(cov.covariance)), [fit.se[k] for k in cov.names], rtol=1e-10)
