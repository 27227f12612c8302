"""Hand-written models with the kernel ABI (numba, cache=True), shared by the kernel tests.

* ``ADVAN2``: NONMEM ADVAN2 TRANS2 as used by nmtest: states (depot, central),
  p = [cl, v, ka, F1, F2, ALAG2, D2], obs = 1000 * central / v.
* ``CMT2`` / ``CMT3``: 2- and 3-compartment oral models, states (depot, central, periph[,
  periph2]), p = [cl, v, q, v2, q2, v3, ka, F1, F2, ALAG1, ALAG2, R2, D2], obs = central / v.
  (CMT2 ignores q2, v3.)

The tests in this file check the hand-written derivatives themselves against finite
differences, so the engine tests can trust them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from nlme_lab.kernels import abi

# ---------------------------------------------------------------------------------- ADVAN2
A2_NP = 7


@njit(abi.LINSYS_SIG, cache=True)
def a2_linsys(p, K):
    K[0, 0] = -p[2]
    K[0, 1] = 0.0
    K[1, 0] = p[2]
    K[1, 1] = -p[0] / p[1]


@njit(abi.DLINSYS_SIG, cache=True)
def a2_dlinsys(p, dK):
    dK[:, :, :] = 0.0
    dK[0, 0, 2] = -1.0
    dK[1, 0, 2] = 1.0
    dK[1, 1, 0] = -1.0 / p[1]
    dK[1, 1, 1] = p[0] / p[1] ** 2


@njit(abi.RHS_SIG, cache=True)
def a2_rhs(t, y, p, dy):
    dy[0] = -p[2] * y[0]
    dy[1] = p[2] * y[0] - p[0] / p[1] * y[1]


@njit(abi.JAC_SIG, cache=True)
def a2_jac(t, y, p, J):
    a2_linsys(p, J)


@njit(abi.JAC_SIG, cache=True)
def a2_dfdp(t, y, p, Fp):
    Fp[:, :] = 0.0
    Fp[0, 2] = -y[0]
    Fp[1, 2] = y[0]
    Fp[1, 0] = -y[1] / p[1]
    Fp[1, 1] = p[0] * y[1] / p[1] ** 2


@njit(abi.OBS_SIG, cache=True)
def a2_obs(t, y, p, out):
    out[0] = 1000.0 * y[1] / p[1]


@njit(abi.DOBS_SIG, cache=True)
def a2_dobs_dy(t, y, p, O):
    O[0, 0] = 0.0
    O[0, 1] = 1000.0 / p[1]


@njit(abi.DOBS_SIG, cache=True)
def a2_dobs_dp(t, y, p, O):
    O[:, :] = 0.0
    O[0, 1] = -1000.0 * y[1] / p[1] ** 2


@njit(abi.INIT_SIG, cache=True)
def zero_init(p, y0):
    y0[:] = 0.0


@njit(abi.DINIT_SIG, cache=True)
def zero_dinit(p, Y):
    Y[:, :] = 0.0


# --------------------------------------------------------------------- 2- and 3-compartment
M_NP = 13


@njit(cache=True)
def _mam_K(p, K, three):
    cl, v, q, v2, q2, v3, ka = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    K[:, :] = 0.0
    K[0, 0] = -ka
    K[1, 0] = ka
    K[1, 1] = -(cl + q) / v
    K[1, 2] = q / v2
    K[2, 1] = q / v
    K[2, 2] = -q / v2
    if three:
        K[1, 1] -= q2 / v
        K[1, 3] = q2 / v3
        K[3, 1] = q2 / v
        K[3, 3] = -q2 / v3


@njit(cache=True)
def _mam_dK(p, dK, three):
    cl, v, q, v2, q2, v3 = p[0], p[1], p[2], p[3], p[4], p[5]
    dK[:, :, :] = 0.0
    dK[0, 0, 6] = -1.0
    dK[1, 0, 6] = 1.0
    dK[1, 1, 0] = -1.0 / v
    dK[1, 1, 1] = (cl + q + (q2 if three else 0.0)) / v**2
    dK[2, 1, 1] = -q / v**2
    dK[1, 1, 2] = -1.0 / v
    dK[1, 2, 2] = 1.0 / v2
    dK[2, 1, 2] = 1.0 / v
    dK[2, 2, 2] = -1.0 / v2
    dK[1, 2, 3] = -q / v2**2
    dK[2, 2, 3] = q / v2**2
    if three:
        dK[3, 1, 1] = -q2 / v**2
        dK[1, 1, 4] = -1.0 / v
        dK[1, 3, 4] = 1.0 / v3
        dK[3, 1, 4] = 1.0 / v
        dK[3, 3, 4] = -1.0 / v3
        dK[1, 3, 5] = -q2 / v3**2
        dK[3, 3, 5] = q2 / v3**2


@njit(cache=True)
def _matvec(K, y, out):
    for i in range(K.shape[0]):
        acc = 0.0
        for j in range(K.shape[1]):
            acc += K[i, j] * y[j]
        out[i] = acc


@njit(cache=True)
def _fp(p, y, Fp, three):
    n = y.shape[0]
    dK = np.empty((n, n, p.shape[0]))
    _mam_dK(p, dK, three)
    for i in range(n):
        for k in range(p.shape[0]):
            acc = 0.0
            for j in range(n):
                acc += dK[i, j, k] * y[j]
            Fp[i, k] = acc


@njit(abi.LINSYS_SIG, cache=True)
def c2_linsys(p, K):
    _mam_K(p, K, False)


@njit(abi.DLINSYS_SIG, cache=True)
def c2_dlinsys(p, dK):
    _mam_dK(p, dK, False)


@njit(abi.RHS_SIG, cache=True)
def c2_rhs(t, y, p, dy):
    K = np.empty((3, 3))
    _mam_K(p, K, False)
    _matvec(K, y, dy)


@njit(abi.JAC_SIG, cache=True)
def c2_jac(t, y, p, J):
    _mam_K(p, J, False)


@njit(abi.JAC_SIG, cache=True)
def c2_dfdp(t, y, p, Fp):
    _fp(p, y, Fp, False)


@njit(abi.LINSYS_SIG, cache=True)
def c3_linsys(p, K):
    _mam_K(p, K, True)


@njit(abi.DLINSYS_SIG, cache=True)
def c3_dlinsys(p, dK):
    _mam_dK(p, dK, True)


@njit(abi.RHS_SIG, cache=True)
def c3_rhs(t, y, p, dy):
    K = np.empty((4, 4))
    _mam_K(p, K, True)
    _matvec(K, y, dy)


@njit(abi.JAC_SIG, cache=True)
def c3_jac(t, y, p, J):
    _mam_K(p, J, True)


@njit(abi.JAC_SIG, cache=True)
def c3_dfdp(t, y, p, Fp):
    _fp(p, y, Fp, True)


@njit(abi.OBS_SIG, cache=True)
def m_obs(t, y, p, out):
    out[0] = y[1] / p[1]


@njit(abi.DOBS_SIG, cache=True)
def m_dobs_dy(t, y, p, O):
    O[:, :] = 0.0
    O[0, 1] = 1.0 / p[1]


@njit(abi.DOBS_SIG, cache=True)
def m_dobs_dp(t, y, p, O):
    O[:, :] = 0.0
    O[0, 1] = -y[1] / p[1] ** 2


# ------------------------------------------------------------------------- model bundles
@dataclass(frozen=True)
class HandModel:
    name: str
    n_state: int
    n_p: int
    funcs: tuple  # rhs, jac, dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys
    dose_index: np.ndarray


def _dose_index(n_state, f=(), alag=(), rate=(), dur=()):
    di = -np.ones((4, n_state), dtype=np.int64)
    for row, pairs in enumerate((f, alag, rate, dur)):
        for cmt, idx in pairs:
            di[row, cmt] = idx
    return di


ADVAN2 = HandModel(
    "advan2", 2, A2_NP,
    (a2_rhs, a2_jac, a2_dfdp, zero_init, zero_dinit, a2_obs, a2_dobs_dy, a2_dobs_dp, a2_linsys,
     a2_dlinsys),
    _dose_index(2, f=((0, 3), (1, 4)), alag=((1, 5),), dur=((1, 6),)),
)
_M_DOSE = dict(f=((0, 7), (1, 8)), alag=((0, 9), (1, 10)), rate=((1, 11),), dur=((1, 12),))
CMT2 = HandModel(
    "cmt2", 3, M_NP,
    (c2_rhs, c2_jac, c2_dfdp, zero_init, zero_dinit, m_obs, m_dobs_dy, m_dobs_dp, c2_linsys,
     c2_dlinsys),
    _dose_index(3, **_M_DOSE),
)
CMT3 = HandModel(
    "cmt3", 4, M_NP,
    (c3_rhs, c3_jac, c3_dfdp, zero_init, zero_dinit, m_obs, m_dobs_dy, m_dobs_dp, c3_linsys,
     c3_dlinsys),
    _dose_index(4, **_M_DOSE),
)


def run_subject(model: HandModel, rec: dict, P: np.ndarray, *, linear: bool = True, dP=None,
                opts=None, method=None):
    """Call ``solve_subject`` on one subject's records; returns (status, info, pred, dpred).

    ``method``: a ``linear.LinearMethod`` (default: the engine's default, the eigen path).
    """
    from nlme_lab.kernels.events import solve_subject
    from nlme_lab.kernels.linear import with_linear_method
    from nlme_lab.kernels.ode import make_opts

    n = len(rec["time"])
    P = np.array(np.broadcast_to(P, (n, model.n_p)), dtype=float, order="C")  # writable
    if dP is None:
        dP = np.zeros((n, model.n_p, 0))
    dP = np.array(dP, dtype=float, order="C")
    pred = np.zeros((n, 1))
    dpred = np.zeros((n, 1, dP.shape[2]))
    info = np.zeros(2, np.int64)
    if opts is None:
        opts = make_opts(rtol=1e-10, atol=1e-12)
    if method is not None:
        opts = with_linear_method(opts, method)
    def f(x, dtype):
        return np.array(x, dtype=dtype)  # writable copies: the kernel signature rejects readonly
    st = solve_subject(
        f(rec["time"], float), f(rec["evid"], np.int64), f(rec["amt"], float),
        f(rec["cmt"], np.int64), f(rec["rate"], float), f(rec["ii"], float),
        f(rec["addl"], np.int64), f(rec["ss"], np.int64), P, model.dose_index, *model.funcs,
        linear, dP, pred, dpred, opts.copy(), info)
    return st, info, pred, dpred


def records(rows, obs_times=()):
    """Records from dose rows (time, cmt0, amt, rate, ii, addl, ss[, evid]) + observations.

    Doses come before observations at the same time (as in NONMEM files).
    """
    out = []
    for r in rows:
        t, c, a, rt, ii, addl, ss = r[:7]
        ev = r[7] if len(r) > 7 else 1
        out.append((t, 0, ev, c, a, rt, ii, addl, ss))
    for t in obs_times:
        out.append((t, 1, 0, 1, 0.0, 0.0, 0.0, 0, 0))
    out.sort(key=lambda x: (x[0], x[1]))
    cols = list(zip(*out))
    return dict(time=np.array(cols[0], float), evid=np.array(cols[2], np.int64),
                cmt=np.array(cols[3], np.int64), amt=np.array(cols[4], float),
                rate=np.array(cols[5], float), ii=np.array(cols[6], float),
                addl=np.array(cols[7], np.int64), ss=np.array(cols[8], np.int64))


def mam_params(three=True, **kw):
    p = dict(cl=3.0, v=20.0, q=2.0, v2=40.0, q2=0.5, v3=80.0, ka=1.2, F1=1.0, F2=1.0,
             ALAG1=0.0, ALAG2=0.0, R2=5.0, D2=3.0)
    p.update(kw)
    return np.array(list(p.values()), float)


# ------------------------------------------------------------------ tests of the models
def _fd_check(fn, p, shape, fd_fn):
    """Compare fn's analytic Jacobian (filled array of ``shape``) with central differences."""
    out = np.zeros(shape)
    fn(p, out)
    num = np.zeros(shape)
    for k in range(p.shape[0]):
        h = 1e-6 * max(1.0, abs(p[k]))
        pp, pm = p.copy(), p.copy()
        pp[k] += h
        pm[k] -= h
        num[..., k] = (fd_fn(pp) - fd_fn(pm)) / (2 * h)
    np.testing.assert_allclose(out, num, rtol=1e-6, atol=1e-8)


def test_hand_models_dlinsys_matches_finite_differences():
    for model in (ADVAN2, CMT2, CMT3):
        p = mam_params() if model.n_p == M_NP else np.array([1.1, 20.0, 1.5, 1, 1, 0, 2.0])
        n = model.n_state
        linsys, dlinsys = model.funcs[8], model.funcs[9]

        def K_of(pp, linsys=linsys, n=n):
            K = np.zeros((n, n))
            linsys(pp, K)
            return K

        _fd_check(dlinsys, p, (n, n, model.n_p), K_of)


def test_hand_models_rhs_jac_dfdp_agree_with_linsys():
    rng = np.random.default_rng(1)
    for model in (ADVAN2, CMT2, CMT3):
        p = mam_params() if model.n_p == M_NP else np.array([1.1, 20.0, 1.5, 1, 1, 0, 2.0])
        n = model.n_state
        rhs, jac, dfdp = model.funcs[:3]
        y = rng.uniform(0.5, 3.0, n)
        K = np.zeros((n, n))
        model.funcs[8](p, K)
        dy = np.zeros(n)
        rhs(0.0, y, p, dy)
        np.testing.assert_allclose(dy, K @ y, rtol=1e-14)
        J = np.zeros((n, n))
        jac(0.0, y, p, J)
        np.testing.assert_allclose(J, K, rtol=1e-14)

        def f_of(pp, y=y, n=n, rhs=rhs):
            out = np.zeros(n)
            rhs(0.0, y, pp, out)
            return out

        _fd_check(lambda pp, Fp: dfdp(0.0, y, pp, Fp), p, (n, model.n_p), f_of)
