"""Rodas4: the stiff half of :func:`nlme_lab.kernels.ode.ode_advance`.

Rodas4 (Hairer & Wanner, *Solving ODEs II*, section IV.7) is a 6-stage, L-stable, stiffly
accurate Rosenbrock method of order 4 with an embedded order-3 solution. In the transformed
variables ``u_i`` one step of size ``h`` from ``(t, y)`` is, with ``W = I/(gamma h) - J``::

    W u_i = f(t + c_i h, y + sum_j a_ij u_j) + sum_j (C_ij / h) u_j + d_i h f_t
    y_new = y + sum_j a_6j u_j + u_6          error estimate: u_6

It needs the exact Jacobian ``J = df/dy`` at the start of the step (the ABI's ``jac``) and
``f_t`` (here a one-sided difference quotient in ``t``; exactly 0 for autonomous models).

Sensitivities: the augmented system ``(y, S)`` with ``S' = g(t, y, S) = J(t, y) S + Fp(t, y) dP
+ drate`` is integrated by the same Rosenbrock step. Its Jacobian is block lower triangular,
``[[J, 0], [H, I (x) J]]`` with ``H = dg/dy``, so one LU of ``W`` serves every block:
``W u_S = r_S + H u_y``. ``H`` (which needs second derivatives of the model) is formed once
per step by forward differences of ``jac``/``dfdp`` in each state (``n`` extra calls); its
error (~1e-8 relative) only perturbs the Rosenbrock matrix, which keeps the method's order.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from nlme_lab.kernels.dense import lu_factor, lu_solve  # noqa: E402
from nlme_lab.kernels.ode_common import (  # noqa: E402
    ODE_NONFINITE,
    ODE_SINGULAR,
    ODE_SWITCH,
    SQRT_UROUND,
    TAKE_STEP,
    all_finite,
    all_finite2,
    err_norm,
    judge_step,
    plan_step,
    retry_control,
    sens_rhs,
    start_control,
)

from .jit import engine_jit  # noqa: E402

GAMMA = 0.25
# Stage coefficients a_ij (row i: stage i's argument), C_ij, nodes c_i, d_i (the f_t weights).
A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [1.544, 0.0, 0.0, 0.0, 0.0],
    [0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0],
    [3.314825187068521, 2.896124015972201, 0.9986419139977817, 0.0, 0.0],
    [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 0.0],
    [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0],
])
C = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [-5.6688, 0.0, 0.0, 0.0, 0.0],
    [-2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0],
    [-0.1073529058151375, -9.594562251023355, -20.47028614809616, 0.0, 0.0],
    [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160, 0.0],
    [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
     -6.058818238834054],
])
CNODE = np.array([0.0, 0.386, 0.21, 0.63, 1.0, 1.0])
D = np.array([0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0])

FAC_MAX = 6.0
ERR_EXPONENT = 0.25  # step factor SAFETY err^-1/4 (the error estimate is of order 3)
# Hand back to the explicit method after this many accepted steps with h * ||J||_inf small.
NONSTIFF_LIMIT = 2.0
NONSTIFF_STEPS = 10
MAX_SINGULAR = 8


@engine_jit()
def _sens_base(jac, dfdp, t, y, p, S, dP, J, Fp, Jw, Fw, G, H, gt, delta, ytmp, zero, stats):
    """At the step start: G = J S + Fp dP, H[k] = d G / d y_k and gt = d G / d t (differences)."""
    n = y.shape[0]
    nd = S.shape[1]
    dfdp(t, y, p, Fp)
    sens_rhs(J, Fp, S, dP, zero, G)
    ymax = 0.0
    for i in range(n):
        ymax = max(ymax, abs(y[i]))
    for k in range(n):
        for i in range(n):
            ytmp[i] = y[i]
        eps = SQRT_UROUND * max(abs(y[k]), 1e-3 * ymax, 1e-12)
        ytmp[k] = y[k] + eps
        eps = ytmp[k] - y[k]
        jac(t, ytmp, p, Jw)
        dfdp(t, ytmp, p, Fw)
        stats[2] += 1
        sens_rhs(Jw, Fw, S, dP, zero, H[k])
        for i in range(n):
            for c in range(nd):
                H[k, i, c] = (H[k, i, c] - G[i, c]) / eps
    jac(t + delta, y, p, Jw)
    dfdp(t + delta, y, p, Fw)
    stats[2] += 1
    sens_rhs(Jw, Fw, S, dP, zero, gt)
    for i in range(n):
        for c in range(nd):
            gt[i, c] = (gt[i, c] - G[i, c]) / delta


@njit(cache=True)
def rodas_run(rhs, jac, dfdp, t, t1, h, y, S, p, dP, rate, drate, rtol, atol, with_sens,
              may_switch, max_attempts, stats, n_ctl):
    """Integrate from t towards t1 with Rodas4; update y, S in place.

    Returns (status, t reached, proposed next step, last accepted step). status ODE_SWITCH
    means the problem looked non-stiff for a while and the driver should switch method.
    stats (int64): [accepted steps, rhs calls, jac calls, attempted steps].
    """
    n = y.shape[0]
    nd = S.shape[1]
    npar = p.shape[0]
    ns = n if nd > 0 else 0
    direction = 1.0 if t1 > t else -1.0
    f0 = np.empty(n)
    fs = np.empty(n)
    ft = np.empty(n)
    ytmp = np.empty(n)
    ynew = np.empty(n)
    J = np.empty((n, n))
    lu = np.empty((n, n))
    piv = np.empty(n, np.int64)
    U = np.empty((6, n))
    r = np.empty(n)
    r_col = r.reshape((n, 1))  # r as the column lu_solve takes
    Fp = np.empty((ns, npar))
    Jw = np.empty((ns, ns))
    Fw = np.empty((ns, npar))
    G = np.empty((ns, nd))
    H = np.empty((ns, ns, nd))
    gt = np.empty((ns, nd))
    US = np.empty((6, ns, nd))
    Stmp = np.empty((ns, nd))
    RS = np.empty((ns, nd))
    Snew = np.empty((ns, nd))
    zero = np.zeros((ns, nd))

    need_base = True
    n_singular = 0
    n_nonstiff = 0
    ctl = start_control(h)
    while True:
        status, h, last = plan_step(ctl, t, t1, direction, stats[3], max_attempts)
        if status != TAKE_STEP:
            return status, t, ctl.h, ctl.h_last
        delta = direction * SQRT_UROUND * max(abs(t), abs(h), 1e-8)
        if need_base:
            rhs(t, y, p, f0)
            for i in range(n):
                f0[i] += rate[i]
            jac(t, y, p, J)
            rhs(t + delta, y, p, fs)
            stats[1] += 2
            stats[2] += 1
            if not (all_finite(f0) and all_finite2(J)):
                return ODE_NONFINITE, t, h, ctl.h_last
            for i in range(n):
                ft[i] = (fs[i] + rate[i] - f0[i]) / delta
            if nd > 0:
                _sens_base(jac, dfdp, t, y, p, S, dP, J, Fp, Jw, Fw, G, H, gt, delta, ytmp, zero, stats)
            need_base = False
        stats[3] += 1
        inv = 1.0 / (GAMMA * h)
        for i in range(n):
            for j in range(n):
                lu[i, j] = -J[i, j]
            lu[i, i] += inv
        if not lu_factor(lu, piv, 1.0, False):
            n_singular += 1
            if n_singular > MAX_SINGULAR:
                return ODE_SINGULAR, t, h, ctl.h_last
            ctl = retry_control(ctl, h * 0.5)
            continue
        n_singular = 0
        for s in range(6):
            ts = t + CNODE[s] * h
            if s == 0:
                for i in range(n):
                    fs[i] = f0[i]
            else:
                for i in range(n):
                    acc = y[i]
                    for j in range(s):
                        acc += A[s, j] * U[j, i]
                    ytmp[i] = acc
                rhs(ts, ytmp, p, fs)
                stats[1] += 1
                for i in range(n):
                    fs[i] += rate[i]
            hd = h * D[s]
            for i in range(n):
                acc = fs[i] + hd * ft[i]
                for j in range(s):
                    acc += (C[s, j] / h) * U[j, i]
                r[i] = acc
            lu_solve(lu, piv, r_col, True)
            for i in range(n):
                U[s, i] = r[i]
            if nd > 0:
                if s == 0:
                    for i in range(n):
                        for c in range(nd):
                            RS[i, c] = G[i, c] + drate[i, c]
                else:
                    for i in range(n):
                        for c in range(nd):
                            acc = S[i, c]
                            for j in range(s):
                                acc += A[s, j] * US[j, i, c]
                            Stmp[i, c] = acc
                    jac(ts, ytmp, p, Jw)
                    dfdp(ts, ytmp, p, Fw)
                    stats[2] += 1
                    sens_rhs(Jw, Fw, Stmp, dP, drate, RS)
                for i in range(n):
                    for c in range(nd):
                        acc = RS[i, c] + hd * gt[i, c]
                        for j in range(s):
                            acc += (C[s, j] / h) * US[j, i, c]
                        for k in range(n):
                            acc += H[k, i, c] * r[k]
                        RS[i, c] = acc
                lu_solve(lu, piv, RS, False)
                for i in range(n):
                    for c in range(nd):
                        US[s, i, c] = RS[i, c]
        # ytmp / Stmp hold the argument of stage 6; the solution adds u_6 (= r, RS).
        for i in range(n):
            ynew[i] = ytmp[i] + r[i]
        if nd > 0:
            for i in range(n):
                for c in range(nd):
                    Snew[i, c] = Stmp[i, c] + RS[i, c]
        err = err_norm(r, y, ynew, RS, S, Snew, rtol, atol, with_sens and nd > 0, n_ctl)
        finite = np.isfinite(err) and all_finite(ynew) and all_finite2(Snew)
        accepted, ctl, fac = judge_step(ctl, h, last, err, finite, ERR_EXPONENT, FAC_MAX)
        if accepted:
            stats[0] += 1
            t = t1 if last else t + h
            for i in range(n):
                y[i] = ynew[i]
            if nd > 0:
                for i in range(n):
                    for c in range(nd):
                        S[i, c] = Snew[i, c]
            need_base = True
            if may_switch:
                jn = 0.0
                n_test = n_ctl if 0 < n_ctl < n else n  # the error-controlled states' block of J
                for i in range(n_test):
                    row = 0.0
                    for j in range(n_test):
                        row += abs(J[i, j])
                    jn = max(jn, row)
                if abs(h) * fac * jn < NONSTIFF_LIMIT:
                    n_nonstiff += 1
                else:
                    n_nonstiff = 0
            if may_switch and n_nonstiff >= NONSTIFF_STEPS and not last:
                return ODE_SWITCH, t, ctl.h, ctl.h_last
