"""ode_advance: states vs scipy's solve_ivp, sensitivities vs analytic / finite differences,
backward integration, status codes, method switching and warm start."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from nlme_lab.kernels.ode import OdeMethod, OdeStatus, make_opts, ode_advance

try:
    from . import test_ode_models as models
except ImportError:  # tests/kernels is not a package: pytest put its folder on sys.path
    import test_ode_models as models

ALL_METHODS = [OdeMethod.AUTO, OdeMethod.AUTO_STIFF_FIRST, OdeMethod.RODAS4, OdeMethod.DOPRI5]
STIFF_OK = [OdeMethod.AUTO, OdeMethod.AUTO_STIFF_FIRST, OdeMethod.RODAS4]


def solve(model, times, *, method=OdeMethod.AUTO, rtol=1e-8, atol=None, y0=None, p=None,
          S0=None, dP=None, rate=None, drate=None, sens_err=True, t0=0.0):
    """Integrate interval by interval (as the event engine does); returns (Y, S_list, opts)."""
    p = model.p if p is None else p
    y = np.array(model.y0 if y0 is None else y0, dtype=float)
    n = y.size
    S = np.zeros((n, 0)) if S0 is None else np.array(S0, dtype=float)
    nd = S.shape[1]
    dP = np.zeros((p.size, nd)) if dP is None else np.ascontiguousarray(dP, dtype=float)
    rate = np.zeros(n) if rate is None else np.asarray(rate, dtype=float)
    drate = np.zeros((n, nd)) if drate is None else np.ascontiguousarray(drate, dtype=float)
    opts = make_opts(rtol, model.atol if atol is None else atol, method=method,
                     sens_error_control=sens_err)
    out_y, out_s = [], []
    t = t0
    for t1 in times:
        status = ode_advance(model.rhs, model.jac, model.dfdp, t, float(t1), y, S, p, dP, rate,
                             drate, opts)
        assert status == OdeStatus.OK, (model.name, t1, status)
        out_y.append(y.copy())
        out_s.append(S.copy())
        t = float(t1)
    return np.array(out_y), out_s, opts


def reference(model, times, p=None, y0=None, rate=None, method="Radau"):
    """solve_ivp (Radau by default) at rtol 1e-12, atol 1e-14 with the model's exact Jacobian."""
    p = model.p if p is None else p
    y0 = model.y0 if y0 is None else y0
    n = y0.size
    rate = np.zeros(n) if rate is None else rate

    def f(t, y):
        out = np.empty(n)
        model.rhs(t, np.ascontiguousarray(y), p, out)
        return out + rate

    def jac(t, y):
        out = np.empty((n, n))
        model.jac(t, np.ascontiguousarray(y), p, out)
        return out

    kw = {"jac": jac} if method in ("Radau", "BDF", "LSODA") else {}
    sol = solve_ivp(f, (0.0, times[-1]), y0, method=method, t_eval=times, rtol=1e-12,
                    atol=1e-14, **kw)
    assert sol.success
    return sol.y.T


@functools.cache
def reference_at_model_times(name):
    """The (slow) reference of a test model, computed once per session: Radau for the stiff
    models, the explicit order-8 DOP853 (an independent method family) for the others."""
    model = next(m for m in models.ALL_MODELS if m.name == name)
    stiff = model in (models.ROBERTSON, models.TMDD)
    return reference(model, model.times, method="Radau" if stiff else "DOP853")


def rel_err(a, ref):
    """Per-component relative error, floored at 1e-3 of the component's largest magnitude."""
    floor = 1e-3 * np.max(np.abs(ref), axis=0, keepdims=True)
    floor = np.where(floor > 0, floor, 1.0)
    return np.abs(a - ref) / np.maximum(np.abs(ref), floor)


def fd_sens(model, times, h_rel=1e-4, method=OdeMethod.RODAS4, **kw):
    """Central finite differences of the states w.r.t. p, solver at rtol 1e-12."""
    cols = []
    for j in range(model.p.size):
        h = h_rel * abs(model.p[j])
        pp, pm = model.p.copy(), model.p.copy()
        pp[j] += h
        pm[j] -= h
        yp = solve(model, times, p=pp, rtol=1e-12, atol=model.atol * 1e-2, method=method, **kw)[0]
        ym = solve(model, times, p=pm, rtol=1e-12, atol=model.atol * 1e-2, method=method, **kw)[0]
        cols.append((yp - ym) / (2 * h))
    return np.stack(cols, axis=-1)  # (n_times, n_state, n_p)


# ------------------------------------------------------------------------------------------
# Test models are right (their jac / dfdp match differences of rhs), so failures below are
# the integrator's.
@pytest.mark.parametrize("model", models.ALL_MODELS, ids=lambda m: m.name)
def test_test_models_have_exact_derivatives(model):
    rng = np.random.default_rng(1)
    n, npar = model.y0.size, model.p.size
    y = np.abs(model.y0) + rng.uniform(0.5, 2.0, n)
    t = 0.37
    J = np.empty((n, n))
    Fp = np.empty((n, npar))
    model.jac(t, y, model.p, J)
    model.dfdp(t, y, model.p, Fp)
    f = lambda yy, pp: (lambda o: (model.rhs(t, yy, pp, o), o)[1])(np.empty(n))  # noqa: E731
    # difference quotients lose ~eps * |f| / step to rounding (Robertson's f is ~1e8)
    noise = 1e-14 * np.abs(f(y, model.p)).max()
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1e-4 * max(abs(y[k]), 1.0)
        np.testing.assert_allclose((f(y + e, model.p) - f(y - e, model.p)) / (2 * e[k]),
                                   J[:, k], rtol=1e-6, atol=1e-7 * np.abs(J).max() + noise / e[k])
    for k in range(npar):
        e = np.zeros(npar)
        e[k] = 1e-4 * abs(model.p[k])
        np.testing.assert_allclose((f(y, model.p + e) - f(y, model.p - e)) / (2 * e[k]),
                                   Fp[:, k], rtol=1e-6, atol=1e-7 * np.abs(Fp).max() + noise / e[k])


# ------------------------------------------------------------------------------------------
# States vs solve_ivp
@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
@pytest.mark.parametrize("model", [models.ORAL1, models.TWO_CMT, models.MM, models.FORCED],
                         ids=lambda m: m.name)
def test_nonstiff_models_match_solve_ivp(model, method):
    ours = solve(model, model.times, method=method)[0]
    ref = reference_at_model_times(model.name)
    assert rel_err(ours, ref).max() < 1e-6


@pytest.mark.parametrize("method", STIFF_OK, ids=lambda m: m.name)
@pytest.mark.parametrize("model", [models.ROBERTSON, models.TMDD], ids=lambda m: m.name)
def test_stiff_models_match_solve_ivp(model, method):
    ours, _, opts = solve(model, model.times, method=method)
    ref = reference_at_model_times(model.name)
    assert rel_err(ours, ref).max() < 1e-6
    if method != OdeMethod.RODAS4:
        assert opts[7] == 1  # auto mode ended in the stiff method


def test_values_with_infusion_match_closed_form():
    model = models.ORAL1
    ka, cl, v = model.p
    k = cl / v
    r = 7.5
    times = np.array([0.5, 2.0, 10.0])
    ours = solve(model, times, y0=np.zeros(2), rate=np.array([0.0, r]))[0]
    np.testing.assert_allclose(ours[:, 1], r / k * (1 - np.exp(-k * times)), rtol=1e-7)
    assert np.all(ours[:, 0] == 0.0)


def test_stiff_solver_is_efficient_on_tmdd():
    """Rodas4 needs few steps where an explicit method is limited by stability."""
    _, _, rodas = solve(models.TMDD, models.TMDD.times, method=OdeMethod.RODAS4)
    _, _, auto = solve(models.TMDD, models.TMDD.times, method=OdeMethod.AUTO)
    assert rodas[4] < 600
    assert auto[4] < 2000


# ------------------------------------------------------------------------------------------
# Sensitivities
def oral1_analytic(p, t, dose):
    ka, cl, v = p
    k = cl / v
    ea, ek = np.exp(-ka * t), np.exp(-k * t)
    depot = dose * ea
    cen = dose * ka / (ka - k) * (ek - ea)
    d_depot = np.array([-dose * t * ea, 0.0, 0.0])
    dc_dka = -dose * k / (ka - k) ** 2 * (ek - ea) + dose * ka / (ka - k) * t * ea
    dc_dk = dose * ka / (ka - k) ** 2 * (ek - ea) - dose * ka / (ka - k) * t * ek
    d_cen = np.array([dc_dka, dc_dk / v, -dc_dk * cl / v**2])
    return np.array([depot, cen]), np.array([d_depot, d_cen])


@pytest.mark.parametrize("sens_err", [True, False])
@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
def test_oral1_sensitivities_match_analytic(method, sens_err):
    model = models.ORAL1
    npar = model.p.size
    ys, Ss, _ = solve(model, model.times, method=method, S0=np.zeros((2, npar)), dP=np.eye(npar),
                      sens_err=sens_err)
    for t, y, S in zip(model.times, ys, Ss):
        y_ex, S_ex = oral1_analytic(model.p, t, model.y0[0])
        np.testing.assert_allclose(y, y_ex, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(S, S_ex, rtol=1e-5, atol=1e-6 * np.abs(S_ex).max())


def test_sensitivity_to_infusion_rate_via_drate():
    model = models.ORAL1
    ka, cl, v = model.p
    k = cl / v
    r = 7.5
    times = np.array([0.5, 2.0, 10.0])
    # directions: d/dR (enters only through drate) and d/dcl (through dP)
    dP = np.zeros((3, 2))
    dP[1, 1] = 1.0
    drate = np.zeros((2, 2))
    drate[1, 0] = 1.0
    _, Ss, _ = solve(model, times, y0=np.zeros(2), rate=np.array([0.0, r]), S0=np.zeros((2, 2)),
                     dP=dP, drate=drate)
    for t, S in zip(times, Ss):
        ek = np.exp(-k * t)
        dA_dk = -r / k**2 * (1 - ek) + r / k * t * ek
        np.testing.assert_allclose(S[1], [(1 - ek) / k, dA_dk / v], rtol=1e-6)
        assert np.all(S[0] == 0.0)


@pytest.mark.parametrize("method", [OdeMethod.AUTO, OdeMethod.RODAS4], ids=lambda m: m.name)
@pytest.mark.parametrize("model", models.ALL_MODELS, ids=lambda m: m.name)
def test_sensitivities_match_central_differences(model, method):
    if model is models.ROBERTSON:
        times = model.times[:4]
    else:
        times = model.times
    npar = model.p.size
    n = model.y0.size
    ys, Ss, _ = solve(model, times, method=method, rtol=1e-10, S0=np.zeros((n, npar)),
                      dP=np.eye(npar))
    fd = fd_sens(model, times)
    # Compare elasticities p_j / max_t|y_i| * dy_i/dp_j: 1e-5 relative, with a floor of 1e-3 of
    # the entry's largest magnitude over time and 1e-3 absolute (FD noise is ~1e-8 there).
    scale = np.abs(model.p)[None, None, :] / np.abs(ys).max(axis=0)[None, :, None]
    ours, fd = np.array(Ss) * scale, fd * scale
    floor = np.maximum(1e-3 * np.abs(fd).max(axis=0, keepdims=True), 1e-3)
    err = np.abs(ours - fd) / np.maximum(np.abs(fd), floor)
    assert err.max() < 1e-5, err.max()


def test_sensitivity_directions_combine_parameters():
    """dP mixes parameters: S = (dy/dp) @ dP."""
    model = models.TWO_CMT
    npar = model.p.size
    times = np.array([1.0, 6.0])
    _, full, _ = solve(model, times, S0=np.zeros((3, npar)), dP=np.eye(npar), rtol=1e-10)
    dP = np.random.default_rng(0).normal(size=(npar, 2))
    _, mixed, _ = solve(model, times, S0=np.zeros((3, 2)), dP=dP, rtol=1e-10)
    for a, b in zip(full, mixed):
        np.testing.assert_allclose(b, a @ dP, rtol=1e-7, atol=1e-9 * np.abs(a).max())


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
def test_monodromy_matrix_of_linear_model_is_matrix_exponential(method):
    model = models.TWO_CMT
    ka, cl, v, q, v2 = model.p
    K = np.array([[-ka, 0, 0], [ka, -(cl + q) / v, q / v2], [0, q / v, -q / v2]])
    T = 12.0
    _, Ss, _ = solve(model, [T], method=method, S0=np.eye(3), dP=np.zeros((5, 3)))
    np.testing.assert_allclose(Ss[0], expm(K * T), rtol=1e-6, atol=1e-12)


def test_monodromy_of_nonlinear_model_matches_differences():
    model = models.MM
    T = 6.0
    _, Ss, _ = solve(model, [T], S0=np.eye(2), dP=np.zeros((4, 2)), rtol=1e-10)
    fd = np.empty((2, 2))
    for k in range(2):
        e = np.zeros(2)
        e[k] = 1e-4 * max(model.y0[k], 1.0)
        yp = solve(model, [T], y0=model.y0 + e, rtol=1e-12, atol=1e-12)[0][0]
        ym = solve(model, [T], y0=model.y0 - e, rtol=1e-12, atol=1e-12)[0][0]
        fd[:, k] = (yp - ym) / (2 * e[k])
    np.testing.assert_allclose(Ss[0], fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
def test_states_unchanged_by_uncontrolled_sensitivities(method):
    """With sensitivities out of the error control, the step sequence and y are identical."""
    model = models.MM
    y_only, _, o1 = solve(model, model.times, method=method)
    y_sens, _, o2 = solve(model, model.times, method=method, S0=np.zeros((2, 4)),
                          dP=np.eye(4), sens_err=False)
    np.testing.assert_array_equal(y_only, y_sens)
    assert o1[4] == o2[4]


# ------------------------------------------------------------------------------------------
# Backward integration
@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
def test_backward_integration_returns_to_initial_state(method):
    model = models.ORAL1
    T = 3.0
    y_T, S_T = oral1_analytic(model.p, T, model.y0[0])
    y = y_T.copy()
    S = S_T.copy()
    opts = make_opts(1e-10, 1e-12, method=method)
    status = ode_advance(model.rhs, model.jac, model.dfdp, T, 0.0, y, S, model.p, np.eye(3),
                         np.zeros(2), np.zeros((2, 3)), opts)
    assert status == OdeStatus.OK
    np.testing.assert_allclose(y, model.y0, rtol=1e-8, atol=1e-9 * model.y0.max())
    np.testing.assert_allclose(S, 0.0, atol=1e-6 * np.abs(S_T).max())


def test_forward_then_backward_round_trip_nonlinear():
    model = models.MM
    ys, _, _ = solve(model, [2.0], rtol=1e-11)
    back, _, _ = solve(model, [0.0], y0=ys[0], t0=2.0, rtol=1e-11)
    np.testing.assert_allclose(back[0], model.y0, rtol=1e-7, atol=1e-9 * model.y0.max())


def test_equal_times_is_a_no_op():
    model = models.ORAL1
    y = model.y0.copy()
    S = np.ones((2, 3))
    opts = make_opts()
    status = ode_advance(model.rhs, model.jac, model.dfdp, 2.0, 2.0, y, S, model.p, np.eye(3),
                         np.zeros(2), np.zeros((2, 3)), opts)
    assert status == OdeStatus.OK
    assert np.all(y == model.y0) and np.all(S == 1.0)
    assert opts[4] == 0 and opts[5] == 0


# ------------------------------------------------------------------------------------------
# Failures return quickly with the right status
def _run(rhs, jac, dfdp, y0, t1, method, max_steps=100000, p=np.zeros(0)):
    y = np.array(y0, dtype=float)
    n = y.size
    opts = make_opts(1e-8, 1e-10, method=method, max_steps=max_steps)
    status = ode_advance(rhs, jac, dfdp, 0.0, t1, y, np.zeros((n, 0)), p, np.zeros((p.size, 0)),
                         np.zeros(n), np.zeros((n, 0)), opts)
    return status, y, opts


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
def test_blow_up_reports_step_size_underflow(method):
    status, _, opts = _run(models.blowup_rhs, models.blowup_jac, models.no_params, [1.0], 2.0,
                           method)
    assert status == OdeStatus.STEP_UNDERFLOW
    assert opts[4] < 5000


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.name)
def test_nan_rhs_reports_nonfinite_at_once(method):
    status, _, opts = _run(models.nan_rhs, models.blowup_jac, models.no_params, [1.0], 1.0,
                           method)
    assert status == OdeStatus.NONFINITE
    assert opts[5] <= 2 and opts[4] == 0


def test_max_steps_reported():
    model = models.TMDD
    y = model.y0.copy()
    opts = make_opts(1e-8, 1e-12, max_steps=20, method=OdeMethod.DOPRI5)
    status = ode_advance(model.rhs, model.jac, model.dfdp, 0.0, 100.0, y, np.zeros((3, 0)),
                         model.p, np.zeros((6, 0)), np.zeros(3), np.zeros((3, 0)), opts)
    assert status == OdeStatus.MAX_STEPS
    assert opts[4] <= 20


def test_unfactorable_iteration_matrix_reports_singular():
    status, _, _ = _run(models.decay2_rhs, models.huge_jac, models.no_params, [1.0, 1.0], 2.0,
                        OdeMethod.RODAS4)
    assert status == OdeStatus.SINGULAR


def test_mismatched_shapes_report_bad_input():
    model = models.ORAL1
    opts = make_opts()
    status = ode_advance(model.rhs, model.jac, model.dfdp, 0.0, 1.0, model.y0.copy(),
                         np.zeros((2, 2)), model.p, np.zeros((2, 2)), np.zeros(2),
                         np.zeros((2, 2)), opts)
    assert status == OdeStatus.BAD_INPUT


# ------------------------------------------------------------------------------------------
# Method selection, warm start, compile-once
def test_auto_mode_stays_explicit_on_nonstiff_model():
    _, _, opts = solve(models.ORAL1, models.ORAL1.times, method=OdeMethod.AUTO)
    assert opts[7] == 0
    assert opts[6] == 0  # no Jacobian needed


def test_warm_start_step_is_returned_and_reused():
    model = models.TWO_CMT
    y = model.y0.copy()
    args = (np.zeros((3, 0)), model.p, np.zeros((5, 0)), np.zeros(3), np.zeros((3, 0)))
    cold = make_opts(1e-8, 1e-10)
    ode_advance(model.rhs, model.jac, model.dfdp, 0.0, 1.0, y, *args, cold)
    assert cold[2] > 0.0
    y_cold, y_warm = y.copy(), y.copy()
    cold2 = make_opts(1e-8, 1e-10)
    ode_advance(model.rhs, model.jac, model.dfdp, 1.0, 2.0, y_cold, *args, cold2)
    ode_advance(model.rhs, model.jac, model.dfdp, 1.0, 2.0, y_warm, *args, cold)
    assert cold[5] < cold2[5]
    np.testing.assert_allclose(y_warm, y_cold, rtol=1e-7)


def test_engine_compiled_once_for_all_models():
    for model in models.ALL_MODELS:
        solve(model, model.times[:1])
    assert len(ode_advance.signatures) == 1
