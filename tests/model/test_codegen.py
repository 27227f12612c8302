"""compile_model: every generated function against a slow sympy twin or finite differences.

Models are hand-built IRs (test_codegen_models.py) mirroring ../shared/models/*.nlm.
compile_model keeps an in-process cache, so each model compiles once per session.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from numba import types

import test_codegen_models as M
from nlme_lab.kernels import abi
from nlme_lab.model.codegen import compile_model

MODELS = {
    "theo_sd": M.theo_sd, "theo_sd_ode": M.theo_sd_ode, "pheno": M.pheno, "wang2007": M.wang2007,
    "warfarin_pkpd": M.warfarin_pkpd, "nmtest": M.nmtest,
}
ABI = {
    "pk": abi.PK_SIG, "dpk": abi.DPK_SIG, "rhs": abi.RHS_SIG, "jac": abi.JAC_SIG, "dfdp": abi.JAC_SIG,
    "init": abi.INIT_SIG, "dinit": abi.DINIT_SIG, "obs": abi.OBS_SIG, "dobs_dy": abi.DOBS_SIG,
    "dobs_dp": abi.DOBS_SIG, "linsys": abi.LINSYS_SIG, "dlinsys": abi.DLINSYS_SIG,
}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    return compile_model(MODELS[request.param]())


def fd_jacobian(f, x, h=1e-6):
    """Central differences of the vector function f at x: J[i, k] = d f_i / d x_k."""
    x = np.asarray(x, dtype=float)
    J = np.zeros((np.asarray(f(x)).size, x.size))
    for k in range(x.size):
        step = h * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += step
        xm[k] -= step
        J[:, k] = (np.asarray(f(xp)) - np.asarray(f(xm))).ravel() / (2 * step)
    return J


def inputs(model, seed):
    rng = np.random.default_rng(seed)
    theta, eta, cov = M.random_inputs(model, rng)
    if "APGR" in model.covariate_names:
        cov[model.covariate_names.index("APGR")] = rng.choice([3.0, 8.0])
    p = np.zeros(model.n_p)
    model.pk(0.0, theta, eta, cov, p)
    y = rng.uniform(0.5, 20.0, model.n_state)
    t = float(rng.uniform(0.1, 10.0))
    return theta, eta, cov, p, y, t


# ------------------------------------------------------------------------------ the ABI
def test_every_function_has_the_abi_signature(model):
    for name, sig in ABI.items():
        assert getattr(model, name).nopython_signatures == [sig], name


def test_functions_pass_as_first_class_functions_of_the_abi_types():
    m = compile_model(M.warfarin_pkpd())

    @numba.njit(types.float64(abi.PkFn, abi.RhsFn, types.float64, abi.vec, abi.vec, abi.vec, abi.vec, abi.vec))
    def first_rate(pk, rhs, t, theta, eta, cov, y, dydt):
        p = np.zeros(9)
        pk(t, theta, eta, cov, p)
        rhs(t, y, p, dydt)
        return dydt[0]

    theta, eta, cov, p, y, t = inputs(m, 1)
    dydt = np.zeros(m.n_state)
    got = first_rate(m.pk, m.rhs, t, theta, eta, cov, y, dydt)
    assert got == pytest.approx(-p[m.p_index("ktr")] * y[0], rel=1e-14)


# ------------------------------------------------------------------------------ values vs the twin
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pk_matches_the_sympy_twin(model, seed):
    theta, eta, cov, p, y, t = inputs(model, seed)
    env = M.Twin(model.ir).env(theta, eta, cov, t)
    got = model.evaluate_pk(theta, eta, cov, t)
    for name, kind in zip(model.p_names, model.p_kinds):
        if kind == "variable":
            assert got[name] == pytest.approx(env[name], rel=1e-13), name
    np.testing.assert_array_equal(list(got.values()), p)  # no p entry of these models uses t


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rhs_obs_init_match_the_sympy_twin(model, seed):
    theta, eta, cov, p, y, t = inputs(model, seed)
    twin = M.Twin(model.ir)
    out = np.zeros(model.n_endpoint)
    model.obs(t, y, p, out)
    np.testing.assert_allclose(out, twin.obs(theta, eta, cov, t, y), rtol=1e-13)
    y0 = np.full(model.n_state, np.nan)
    model.init(p, y0)
    np.testing.assert_allclose(y0, twin.init(theta, eta, cov), rtol=1e-13)
    if model.ir.odes:
        dydt = np.zeros(model.n_state)
        model.rhs(t, y, p, dydt)
        np.testing.assert_allclose(dydt, twin.rhs(theta, eta, cov, t, y), rtol=1e-12, atol=1e-14)


def test_dpk_fills_p_exactly_as_pk_does(model):
    theta, eta, cov, p, y, t = inputs(model, 4)
    p2 = np.full(model.n_p, np.nan)
    model.dpk(0.0, theta, eta, cov, p2, np.zeros((model.n_p, model.n_re)), np.zeros((model.n_p, model.n_theta)))
    assert np.array_equal(p, p2)


# ------------------------------------------------------------------------------ derivatives vs FD
@pytest.mark.parametrize("seed", [1, 2])
def test_dpk_matches_finite_differences(model, seed):
    theta, eta, cov, p, y, t = inputs(model, seed)

    def p_of(th, et):
        out = np.zeros(model.n_p)
        model.pk(t, th, et, cov, out)
        return out

    dp_deta = np.full((model.n_p, model.n_re), np.nan)
    dp_dtheta = np.full((model.n_p, model.n_theta), np.nan)
    model.dpk(t, theta, eta, cov, np.zeros(model.n_p), dp_deta, dp_dtheta)
    np.testing.assert_allclose(dp_deta, fd_jacobian(lambda e: p_of(theta, e), eta).reshape(dp_deta.shape), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dp_dtheta, fd_jacobian(lambda th: p_of(th, eta), theta), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("seed", [1, 2])
def test_state_functions_derivatives_match_finite_differences(model, seed):
    theta, eta, cov, p, y, t = inputs(model, seed)
    n_s, n_p, n_e = model.n_state, model.n_p, model.n_endpoint

    def call(fn, n_out, yy, pp):
        out = np.zeros(n_out)
        fn(t, yy, pp, out)
        return out

    checks = [
        (model.jac, (n_s, n_s), lambda yy: call(model.rhs, n_s, yy, p), y),
        (model.dfdp, (n_s, n_p), lambda pp: call(model.rhs, n_s, y, pp), p),
        (model.dobs_dy, (n_e, n_s), lambda yy: call(model.obs, n_e, yy, p), y),
        (model.dobs_dp, (n_e, n_p), lambda pp: call(model.obs, n_e, y, pp), p),
    ]
    for fn, shape, f, x in checks:
        got = np.full(shape, np.nan)
        fn(t, y, p, got)
        np.testing.assert_allclose(got, fd_jacobian(f, x).reshape(shape), rtol=1e-6, atol=1e-8, err_msg=fn.__name__)


def test_dinit_and_dlinsys_match_finite_differences(model):
    theta, eta, cov, p, y, t = inputs(model, 5)
    n_s, n_p = model.n_state, model.n_p

    def y0_of(pp):
        out = np.zeros(n_s)
        model.init(pp, out)
        return out

    def k_of(pp):
        out = np.zeros((n_s, n_s))
        model.linsys(pp, out)
        return out.ravel()

    Y0p = np.full((n_s, n_p), np.nan)
    model.dinit(p, Y0p)
    np.testing.assert_allclose(Y0p, fd_jacobian(y0_of, p).reshape(n_s, n_p), rtol=1e-6, atol=1e-8)
    dK = np.full((n_s, n_s, n_p), np.nan)
    model.dlinsys(p, dK)
    np.testing.assert_allclose(dK, fd_jacobian(k_of, p).reshape(n_s, n_s, n_p), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------ linCmt
def hand_K(n_cmt, depot, cl, v, q=0.0, v2=1.0, q2=0.0, v3=1.0, ka=0.0):
    k10, k12, k21, k13, k31 = cl / v, q / v, q / v2, q2 / v, q2 / v3
    if n_cmt == 1:
        core = np.array([[-k10]])
    elif n_cmt == 2:
        core = np.array([[-k10 - k12, k21],
                         [k12, -k21]])
    else:
        core = np.array([[-k10 - k12 - k13, k21, k31],
                         [k12, -k21, 0.0],
                         [k13, 0.0, -k31]])
    if not depot:
        return core
    K = np.zeros((n_cmt + 1, n_cmt + 1))
    K[0, 0] = -ka
    K[1, 0] = ka
    K[1:, 1:] = core
    return K


@pytest.mark.parametrize("depot", [False, True])
@pytest.mark.parametrize("n_cmt", [1, 2, 3])
def test_lincmt_K_matches_the_hand_written_matrix(n_cmt, depot):
    m = compile_model(M.lincmt_model(n_cmt, depot))
    theta, eta, cov, p, y, t = inputs(m, 7)
    named = m.evaluate_pk(theta, eta, cov)
    K = np.full((m.n_state, m.n_state), np.nan)
    m.linsys(p, K)
    np.testing.assert_allclose(K, hand_K(n_cmt, depot, **named), rtol=1e-14, atol=1e-300)
    assert m.is_linear and m.lincmt.n_cmt == n_cmt and m.lincmt.has_depot == depot
    assert m.state_names == ("depot", "central", "periph1", "periph2")[(0 if depot else 1): (0 if depot else 1) + m.n_state]
    assert m.lincmt.central == (1 if depot else 0)
    assert {k: p[i] for k, i in m.lincmt.param_index.items()} == named
    dydt, J = np.zeros(m.n_state), np.zeros((m.n_state, m.n_state))
    m.rhs(t, y, p, dydt)
    m.jac(t, y, p, J)
    np.testing.assert_allclose(dydt, K @ y, rtol=1e-13)
    np.testing.assert_allclose(J, K, rtol=1e-14)
    out = np.zeros(1)
    m.obs(t, y, p, out)
    assert out[0] == pytest.approx(y[m.lincmt.central] / named["v"], rel=1e-15)


def test_lincmt_and_ode_theophylline_agree():
    lin, ode = compile_model(M.theo_sd()), compile_model(M.theo_sd_ode())
    theta, eta, cov, p, y, t = inputs(lin, 8)
    assert lin.p_names == ode.p_names == ("ka", "cl", "v")
    a, b = np.zeros(2), np.zeros(2)
    lin.rhs(t, y, p, a)
    ode.rhs(t, y, p, b)
    np.testing.assert_allclose(a, b, rtol=1e-14)
    # the d/dt system is linear in the states: routed to the linear propagator with linCmt's K
    assert ode.is_linear and ode.lincmt is None
    K, K_lin = np.full((2, 2), np.nan), np.zeros((2, 2))
    ode.linsys(p, K)
    lin.linsys(p, K_lin)
    np.testing.assert_allclose(K, K_lin, rtol=1e-14)
    forced = compile_model(M.theo_sd_ode(), route_linear=False)
    assert not forced.is_linear and forced.path.startswith("stiff ODE solver")
    K = np.full((2, 2), np.nan)
    forced.linsys(p, K)
    assert not K.any()


# ------------------------------------------------------------------------------ particular models
def test_wang2007_prediction_is_a_function_of_t():
    m = compile_model(M.wang2007())
    assert m.n_state == 0 and m.p_names == ("ke",)
    eta = np.array([0.2])
    p = np.zeros(1)
    m.pk(0.0, np.array([0.5, 0.3]), eta, np.zeros(0), p)
    y, out = np.zeros(0), np.zeros(1)
    for t in (0.0, 1.0, 2.5):
        m.obs(t, y, p, out)
        assert out[0] == pytest.approx(10 * math.exp(-0.5 * math.exp(0.2) * t), rel=1e-15)
    Op = np.zeros((1, 1))
    m.dobs_dp(2.5, y, p, Op)
    assert Op[0, 0] == pytest.approx(-2.5 * 10 * math.exp(-p[0] * 2.5), rel=1e-14)
    for name in ("rhs", "jac", "dfdp", "init", "dinit", "dobs_dy", "linsys", "dlinsys"):
        assert getattr(m, name).nopython_signatures  # compiled, trivial bodies


def test_pheno_low_apgar_raises_v_and_the_boundary_is_strict():
    m = compile_model(M.pheno())
    theta = np.array([0.005, 1.0, 0.25, 0.1])
    v = {apgr: m.evaluate_pk(theta, [0.0, 0.0], [2.0, apgr])["v"] for apgr in (1.0, 4.0, 4.999, 5.0, 9.0)}
    assert v[1.0] == v[4.0] == v[4.999] == pytest.approx(1.0 * 2.0 * 1.25, rel=1e-15)
    assert v[5.0] == v[9.0] == pytest.approx(2.0, rel=1e-15)
    dp_deta, dp_dtheta = np.zeros((2, 2)), np.zeros((2, 4))
    for apgr, factor in ((3.0, 1.0), (7.0, 0.0)):
        m.dpk(0.0, theta, np.zeros(2), np.array([2.0, apgr]), np.zeros(2), dp_deta, dp_dtheta)
        assert dp_dtheta[1, 2] == pytest.approx(factor * 1.0 * 2.0, rel=1e-15)  # d v / d apgr_v


def test_nmtest_dose_modifiers_come_from_covariates():
    m = compile_model(M.nmtest())
    assert m.n_re == 0
    assert m.p_names == ("cl", "v", "ka", "f(center)", "alag(center)", "dur(center)")
    assert m.dose_index.dtype == np.int64
    np.testing.assert_array_equal(m.dose_index, [[-1, 3], [-1, 4], [-1, -1], [-1, 5]])
    got = m.evaluate_pk([1.1, 20, 1.5, 1], [], [0.8, 2.0, 3.5])
    assert got == {"cl": 1.1, "v": 20.0, "ka": 1.5, "f(center)": 0.8, "alag(center)": 2.0, "dur(center)": 3.5}
    out = np.zeros(1)
    m.obs(0.0, np.array([0.0, 40.0]), np.array(list(got.values())), out)
    assert out[0] == pytest.approx(1000 * 40 / 20, rel=1e-15)


def test_warfarin_tables():
    m = compile_model(M.warfarin_pkpd())
    assert m.state_names == ("depot", "gut", "center", "effect")
    assert m.endpoint_names == ("cp", "effect") and m.has_initial and not m.is_linear
    names = m.theta_names
    np.testing.assert_array_equal(m.error_index, [[names.index("pkadd_sd"), names.index("prop_sd"), -1],
                                                  [names.index("pdadd_sd"), -1, -1]])
    assert "dcp" not in m.p_names and "pd" not in m.p_names and "kin" in m.p_names
    theta, eta, cov, p, y, t = inputs(m, 9)
    y0 = np.zeros(4)
    m.init(p, y0)
    assert y0.tolist() == [0.0, 0.0, 0.0, p[m.p_index("e0")]]
