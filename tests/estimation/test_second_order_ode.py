"""Exact second-order sensitivities of ODE models (``KernelProblem.second_order``: one solve of
the model augmented with dy/dp, ``model.codegen.second_order``) against central differences of
the engine's exact first-order sensitivities, on the Michaelis-Menten 2-compartment benchmark
model; where the route does not apply it answers None (the objective then differences)."""

import numpy as np
import pytest

import nlme_lab as nl
from nlme_lab.estimation import KernelProblem
from nlme_lab.model.codegen.second_order import qualifies
from nlme_lab.problem import bind
from tests.conftest import ROOT, mm_benchmark


@pytest.fixture(scope="module")
def mm_problem():
    model, data = mm_benchmark(6)
    return KernelProblem(bind(model, data), parallel=False)


def test_second_order_matches_differences_of_first_order(mm_problem):
    prob = mm_problem
    theta = prob.theta_full[prob.structural].copy()
    etas = np.random.default_rng(5).normal(scale=0.25, size=(prob.n_subjects, prob.n_eta))
    f, g, f_th, g_eta, g_th = prob.second_order(theta, etas)
    f1, D = prob.evaluate_directions(theta, etas, True, True)
    n_e = prob.n_eta
    # first order: the same steps as the first-order solve (the dy/dp states are not error-controlled)
    np.testing.assert_allclose(f, f1, rtol=1e-11)
    np.testing.assert_allclose(g, D[:, :n_e], rtol=1e-9, atol=1e-12 * np.abs(D).max())
    np.testing.assert_allclose(f_th, D[:, n_e:], rtol=1e-9, atol=1e-12 * np.abs(D).max())
    h = 1e-4
    fd_eta, fd_th = np.empty_like(g_eta), np.empty_like(g_th)
    for m in range(n_e):
        up, down = etas.copy(), etas.copy()
        up[:, m] += h
        down[:, m] -= h
        Dp, Dm = prob.evaluate_directions(theta, up, True, True)[1], prob.evaluate_directions(theta, down, True, True)[1]
        fd_eta[:, :, m] = (Dp[:, :n_e] - Dm[:, :n_e]) / (2 * h)
        fd_th[:, m, :] = (Dp[:, n_e:] - Dm[:, n_e:]) / (2 * h)
    scale = np.abs(f)[:, None, None]
    assert np.max(np.abs(g_eta - fd_eta) / scale) < 1e-6
    assert np.max(np.abs(g_th - fd_th) / scale) < 1e-6
    np.testing.assert_array_equal(g_eta, g_eta.transpose(0, 2, 1))
    assert np.abs(g_eta).max() > 1e-3 * np.abs(f).max()  # not trivially zero


def test_second_order_does_not_apply_to_dose_modifiers_or_linear_systems(shared_models, shared_data):
    assert not qualifies(shared_models["nmtest"].compiled)  # alag(center) = LAGT
    theo = shared_models["theo_sd_ode"]  # routed to the exact linear propagator
    assert not qualifies(theo.compiled)
    prob = KernelProblem(bind(theo, shared_data["theo_sd.csv"]), parallel=False)
    assert prob.second_order(prob.theta_full[prob.structural], np.zeros((prob.n_subjects, prob.n_eta))) is None
    # the same linear system forced onto the ODE solver: the route declines (no augmented model of
    # a linear system), the objective differences, and the fit runs
    forced = nl.Model.from_file(ROOT / "tests" / "shared" / "models" / "theo_sd_ode.nlm", solver="ode")
    prob = KernelProblem(bind(forced, shared_data["theo_sd.csv"]), parallel=False)
    assert prob._ode
    assert prob.second_order(prob.theta_full[prob.structural], np.zeros((prob.n_subjects, prob.n_eta))) is None


def test_full_second_order_model_equals_the_augmented_one(mm_problem, monkeypatch):
    """The full model (dy/dp and each d2y/dp_a dp_b once, as states, no engine directions) and the
    augmented model (dy/dp along the etas' parameters, with the engine's sensitivities along p)
    integrate the same equations on the same steps (those of the model's own states): the same
    numbers to rounding."""
    from nlme_lab.estimation import kernel_problem

    prob = mm_problem
    theta = prob.theta_full[prob.structural].copy()
    etas = np.random.default_rng(7).normal(scale=0.25, size=(prob.n_subjects, prob.n_eta))
    full = prob.second_order(theta, etas)
    assert prob._aug[(0, 2, 3, 4)].compiled.pairs  # the full model (40 states)
    monkeypatch.setattr(kernel_problem, "MAX_FULL_STATES", 0)
    old = KernelProblem(prob.bound, parallel=False)
    aug = old.second_order(theta, etas)
    assert not old._aug[(0, 2, 3, 4)].compiled.pairs  # the augmented model (10 states)
    for a, b in zip(full, aug):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13 * np.abs(b).max())


def test_first_order_model_gives_the_engines_sensitivities(mm_problem):
    """The first-order model (dy/dp for every p as states, ``KernelProblem._first_order``) gives
    the predictions of the model itself bit for bit (its own states print and step the same) and
    the engine's sensitivities along the directions to rounding; the second-order route's
    predictions are the same bits."""
    prob = mm_problem
    theta = prob.theta_full[prob.structural].copy()
    etas = np.random.default_rng(11).normal(scale=0.25, size=(prob.n_subjects, prob.n_eta))
    f0 = prob.evaluate(theta, etas, derivs=False).f
    f1, D1 = prob.evaluate_directions(theta, etas, True, True)
    assert prob._first_order() is not None
    np.testing.assert_array_equal(f1, f0)
    np.testing.assert_array_equal(prob.second_order(theta, etas)[0], f0)
    engine = KernelProblem(prob.bound, parallel=False)
    engine._fo = False  # the engine's own sensitivities along the directions
    f2, D2 = engine.evaluate_directions(theta, etas, True, True)
    np.testing.assert_array_equal(f2, f0)
    np.testing.assert_allclose(D1, D2, rtol=1e-12, atol=1e-14 * np.abs(D2).max())
