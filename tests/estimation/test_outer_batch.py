"""The compiled pieces of the outer gradient (``kernels.outer_batch``) and its shortcuts give
the numbers of the numpy code they replace, bit for bit."""

import numpy as np
import pytest
from tests.estimation.test_parameter_fast_paths import SPACES

from nlme_lab.estimation.objective import _BatchPlan, _theta_moves
from nlme_lab.estimation.stacked import solve_stacked
from nlme_lab.estimation.parameters import ReportedScale, Unconstrained
from nlme_lab.kernels import inner_newton, outer_batch


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("kind", [Unconstrained, ReportedScale])
def test_theta_moves_from_component_moves_are_theta_moves(space, kind):
    param, rng = kind(space), np.random.default_rng(11)
    plan = _BatchPlan.of(param)
    assert plan.derived_theta_moves
    for _ in range(20):
        v = rng.normal(size=param.n) if kind is Unconstrained else param.from_reported(space.reported_initial()) * (
            1 + 0.2 * rng.normal(size=param.n))
        h = 1e-5 * np.maximum(np.abs(v), param.step_floor)
        theta = param.values(v).theta
        moves, cm = _theta_moves(param, plan, v, h, theta)
        assert np.array_equal(moves, param.theta_moves(v, h, theta)[:, plan.th])
        assert np.array_equal(cm, param.component_moves(v, h), equal_nan=True)


def _numpy_fill(f, g, fv, f_th, g_th, fv_th, etas, g_eta, rows, moves, own_fv, h, r, B):
    F, G, E = np.repeat(f[None], B, 0), np.repeat(g[None], B, 0), np.repeat(etas[None], B, 0)
    FV = np.repeat(fv[None], B, 0) if own_fv else F
    for i, rr in enumerate(rows):
        F[rr] += moves[i] @ f_th.T
        G[rr] += np.einsum("oet,kt->koe", g_th, moves[i])
        if own_fv:
            FV[rr] += moves[i] @ fv_th.T
    inner_newton.eta_rows(F, G, E, g, g_eta, h, r)
    return F, G, FV, E


@pytest.mark.parametrize("own_fv", [False, True])
def test_fill_batch_equals_the_numpy_batch(own_fv):
    rng = np.random.default_rng(12)
    n_obs, n_e, n_t, n_sub, n = 40, 3, 4, 5, 8
    B, r = 1 + 2 * n + 2 * n_e, 1 + 2 * n
    f, fv = rng.normal(size=n_obs), rng.normal(size=n_obs)
    g, f_th, fv_th = rng.normal(size=(n_obs, n_e)), rng.normal(size=(n_obs, n_t)), rng.normal(size=(n_obs, n_t))
    g_th, g_eta = rng.normal(size=(n_obs, n_e, n_t)), rng.normal(size=(n_obs, n_e, n_e))
    etas = rng.normal(size=(n_sub, n_e))
    th = np.array([0, 2, 3])  # free components that are thetas, moving thetas 1, 0, 3
    moves = np.zeros((2, 3, n_t))
    moves[:, [0, 1, 2], [1, 0, 3]] = rng.normal(size=(2, 3)) * 1e-5
    rows_p, rows_m = 1 + 2 * th, 2 + 2 * th
    ref = _numpy_fill(f, g, fv, f_th, g_th, fv_th, etas, g_eta, (rows_p, rows_m), moves, own_fv, 1e-4, r, B)
    F, G, FV, E = np.empty((B, n_obs)), np.empty((B, n_obs, n_e)), np.empty((B, n_obs)), np.empty((B, n_sub, n_e))
    assert outer_batch.fill_batch(F, G, FV, E, f, g, fv, f_th, g_th, fv_th, etas, rows_p, rows_m, moves, own_fv)
    inner_newton.eta_rows(F, G, E, g, g_eta, 1e-4, r)
    for a, b in zip((F, G, FV if own_fv else F, E), ref):
        assert np.array_equal(a, b)
    moves[0, 1, 2] = 1e-6  # a move of two thetas at once: refused, nothing written
    F[:] = 7.0
    assert not outer_batch.fill_batch(F, G, FV, E, f, g, fv, f_th, g_th, fv_th, etas, rows_p, rows_m, moves, own_fv)
    assert np.all(F == 7.0)


def test_columns_equal_is_numpys_comparison():
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(30, 4, 5)), rng.normal(size=(30, 4, 3))
    a[:, :, [1, 4]] = b[:, :, [0, 2]]
    ca, cb = np.array([1, 4]), np.array([0, 2])
    assert outer_batch.columns_equal(a, b, ca, cb)
    a[7, 2, 4] = np.nextafter(a[7, 2, 4], 1.0)
    assert not outer_batch.columns_equal(a, b, ca, cb)
    a[7, 2, 4] = b[7, 2, 2] = np.nan  # nan is unequal to itself, as in numpy
    assert not outer_batch.columns_equal(a, b, ca, cb) and not (a[:, :, ca] == b[:, :, cb]).all()


def test_stacked_solve_is_np_linalg_solve():
    rng = np.random.default_rng(14)
    for n in (1, 2, 3, 4):
        H = rng.normal(size=(12, n, n))
        H = H @ H.transpose(0, 2, 1) + 0.1 * np.eye(n)
        G = rng.normal(size=(12, 7, n)).transpose(0, 2, 1)
        assert np.array_equal(solve_stacked(H, G), np.linalg.solve(H, G))
    H[3] = 0.0
    with pytest.raises(np.linalg.LinAlgError):
        solve_stacked(H, G)


@pytest.mark.parametrize("twins", [True, False])
def test_compiled_stencil_second_order_equals_the_stacked_route(shared_models, shared_data, twins):
    """``KernelProblem.stencil_second_order`` gives the numbers (and the layouts: einsum's
    summation order follows the strides) of ``evaluate_stencil``'s (F, D) and their differences."""
    from nlme_lab.estimation import KernelProblem
    from nlme_lab.problem import bind

    bound = bind(shared_models["theo_sd"], shared_data["theo_sd.csv"])
    rng = np.random.default_rng(15)
    theta, etas, h = np.array([0.45, 1.0, 3.45]), rng.normal(0, 0.3, (12, 3)), 1e-4
    problem = KernelProblem(bound, parallel=False)
    if not twins:
        problem._set_twins(np.full(3, -1))
    F, D = problem.evaluate_stencil(theta, etas, h)
    f, g, f_th, g_eta, g_th = problem.stencil_second_order(theta, etas, h)
    diff = (D[1::2] - D[2::2]) / (2 * h)
    ref_eta = np.ascontiguousarray(diff[:, :, :3].transpose(1, 2, 0))
    ref = (F[0], D[0, :, :3], D[0, :, 3:], 0.5 * (ref_eta + ref_eta.transpose(0, 2, 1)),
           np.ascontiguousarray(diff[:, :, 3:].transpose(1, 0, 2)))
    for a, b in zip((f, g, f_th, g_eta, g_th), ref):
        assert np.array_equal(a, b) and a.strides == b.strides
