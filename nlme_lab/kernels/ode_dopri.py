"""Dormand-Prince 5(4): the non-stiff half of :func:`nlme_lab.kernels.ode.ode_advance`.

The classical 7-stage explicit Runge-Kutta pair (FSAL, order 5 solution, order 4 embedded
error estimate; Hairer, Norsett & Wanner, *Solving ODEs I*, section II.5). Sensitivities
``S' = J S + Fp dP + drate`` are integrated with the same stages (``jac``/``dfdp`` at each
stage). Stiffness is detected as in Hairer's DOPRI5: ``h * |lambda|`` estimated from the last
two stages (both at ``t + h``) exceeding 3.25 on 15 accepted steps makes the driver switch to
Rodas4.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from nlme_lab.kernels.ode_common import (  # noqa: E402
    ODE_NONFINITE,
    ODE_SWITCH,
    TAKE_STEP,
    all_finite,
    err_norm,
    judge_step,
    plan_step,
    start_control,
)

from .jit import engine_jit  # noqa: E402

A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
])
CNODE = np.array([0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0])
# Difference between the 5th-order weights (row 6 of A, 0 for stage 7) and the 4th-order ones.
E = np.array([71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0,
              22.0 / 525.0, -1.0 / 40.0])

FAC_MAX = 10.0
ERR_EXPONENT = 0.2  # step factor SAFETY err^-1/5 (the error estimate is of order 4)
STIFF_LIMIT = 3.25
STIFF_STEPS = 15


@engine_jit()
def _stage_sens(jac, dfdp, s, h, ts, ys, p, S, KS, Stmp, dP, drate, Jw, Fw, stats):
    """Stage s of the sensitivities, in one call: ``Stmp = S + h sum_j A[s, j] KS[j]`` (stage 0:
    S itself), then ``KS[s] = J(ts, ys) Stmp + Fp(ts, ys) dP + drate``.

    One helper for the whole stage (it was three calls: the argument loop in ``dopri_run``, a
    helper and ``sens_rhs``): numba passes each array argument as a dozen scalars, and on the
    MM 2-cmt benchmark the calls cost more than the arithmetic of 2 states x 4-9 directions."""
    n = S.shape[0]
    nd = S.shape[1]
    npar = dP.shape[0]
    if s == 0:
        for i in range(n):
            for c in range(nd):
                Stmp[i, c] = S[i, c]
    else:
        for i in range(n):
            for c in range(nd):
                acc = 0.0
                for j in range(s):
                    acc += A[s, j] * KS[j, i, c]
                Stmp[i, c] = S[i, c] + h * acc
    jac(ts, ys, p, Jw)
    dfdp(ts, ys, p, Fw)
    stats[2] += 1
    for i in range(n):
        for c in range(nd):
            KS[s, i, c] = drate[i, c]
        for k in range(n):
            jik = Jw[i, k]
            if jik != 0.0:
                for c in range(nd):
                    KS[s, i, c] += jik * Stmp[k, c]
        for k in range(npar):
            fik = Fw[i, k]
            if fik != 0.0:
                for c in range(nd):
                    KS[s, i, c] += fik * dP[k, c]


@njit(cache=True)
def dopri_run(rhs, jac, dfdp, t, t1, h, y, S, p, dP, rate, drate, rtol, atol, with_sens,
              may_switch, max_attempts, stats, n_ctl):
    """Integrate from t towards t1 with DOPRI5; update y, S in place.

    Same contract as ``ode_rodas.rodas_run``; ODE_SWITCH means stiffness was detected.
    """
    n = y.shape[0]
    nd = S.shape[1]
    npar = p.shape[0]
    ns = n if nd > 0 else 0
    n_test = n_ctl if 0 < n_ctl < n else n  # the stiffness test's states
    direction = 1.0 if t1 > t else -1.0
    K = np.empty((7, n))
    fs = np.empty(n)
    ytmp = np.empty(n)
    ynew = np.empty(n)
    yerr = np.empty(n)
    KS = np.empty((7, ns, nd))
    Stmp = np.empty((ns, nd))
    Snew = np.empty((ns, nd))
    Serr = np.empty((ns, nd))
    Jw = np.empty((ns, ns))
    Fw = np.empty((ns, npar))

    rhs(t, y, p, fs)
    stats[1] += 1
    for i in range(n):
        K[0, i] = fs[i] + rate[i]
    if not all_finite(fs):
        return ODE_NONFINITE, t, h, abs(h)
    if nd > 0:
        _stage_sens(jac, dfdp, 0, h, t, y, p, S, KS, Stmp, dP, drate, Jw, Fw, stats)
    n_stiff, n_nonstiff = 0, 0  # the stiffness test's counts of accepted steps
    ctl = start_control(h)
    while True:
        status, h, last = plan_step(ctl, t, t1, direction, stats[3], max_attempts)
        if status != TAKE_STEP:
            return status, t, ctl.h, ctl.h_last
        stats[3] += 1
        for s in range(1, 7):
            for i in range(n):
                acc = 0.0
                for j in range(s):
                    acc += A[s, j] * K[j, i]
                ytmp[i] = y[i] + h * acc
            ts = t + CNODE[s] * h
            rhs(ts, ytmp, p, fs)
            stats[1] += 1
            for i in range(n):
                K[s, i] = fs[i] + rate[i]
            if nd > 0:
                _stage_sens(jac, dfdp, s, h, ts, ytmp, p, S, KS, Stmp, dP, drate, Jw, Fw, stats)
            if s == 5:
                # Stage 6's argument is kept for the stiffness test; stage 7's is y_new.
                for i in range(n):
                    yerr[i] = ytmp[i]
        # The argument of stage 7 (row 6 of A) is the 5th-order solution.
        for i in range(n):
            ynew[i] = ytmp[i]
        for i in range(n):
            acc = 0.0
            for j in range(7):
                acc += E[j] * K[j, i]
            ytmp[i] = yerr[i]  # stage-6 argument, for the stiffness test
            yerr[i] = h * acc
        if nd > 0:
            for i in range(n):
                for c in range(nd):
                    Snew[i, c] = Stmp[i, c]
            if with_sens:  # (the sensitivities' error estimate only where it is controlled)
                for i in range(n):
                    for c in range(nd):
                        acc = 0.0
                        for j in range(7):
                            acc += E[j] * KS[j, i, c]
                        Serr[i, c] = h * acc
        err = err_norm(yerr, y, ynew, Serr, S, Snew, rtol, atol, with_sens and nd > 0, n_ctl)
        finite = np.isfinite(err) and all_finite(ynew) and all_finite(fs)
        accepted, ctl, _ = judge_step(ctl, h, last, err, finite, ERR_EXPONENT, FAC_MAX)
        if accepted:
            stats[0] += 1
            if may_switch:
                num = 0.0
                den = 0.0
                for i in range(n_test):  # (the error-controlled states)
                    num += (K[6, i] - K[5, i]) ** 2
                    den += (ynew[i] - ytmp[i]) ** 2
                if den > 0.0 and abs(h) * np.sqrt(num / den) > STIFF_LIMIT:
                    n_nonstiff = 0
                    n_stiff += 1
                else:
                    n_nonstiff += 1
                    if n_nonstiff >= 6:
                        n_stiff = 0
            t = t1 if last else t + h
            for i in range(n):
                y[i] = ynew[i]
                K[0, i] = K[6, i]
            if nd > 0:
                for i in range(n):
                    for c in range(nd):
                        S[i, c] = Snew[i, c]
                        KS[0, i, c] = KS[6, i, c]
            if may_switch and n_stiff >= STIFF_STEPS and not last:
                return ODE_SWITCH, t, ctl.h, ctl.h_last
