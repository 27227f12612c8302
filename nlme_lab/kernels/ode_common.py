"""Small numba helpers shared by the ODE steppers (``ode_rodas``, ``ode_dopri``).

The step-size control (a ``StepControl``: ``plan_step`` before an attempt, ``judge_step``
after it), the weighted RMS error norm, the augmented sensitivity right-hand side and the
automatic initial step (the LU of the iteration matrices is ``dense``'s). Private to the
``ode*`` modules; the public entry point is :func:`nlme_lab.kernels.ode.ode_advance`.

These helpers (and the steppers' per-stage helpers ``ode_dopri._stage_sens``,
``ode_rodas._sens_base``) allocate nothing, so they are ``engine_jit`` (no reference counting:
called several times per stage, the atomic increments of their array arguments were 25-30% of
an ODE subject with sensitivities, measured on the Michaelis-Menten 2-cmt benchmark); only the
steppers' drivers ``dopri_run`` / ``rodas_run``, which allocate their scratch, stay ``njit``.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402

from .jit import engine_jit  # noqa: E402

# Status codes (mirrored by ``ode.OdeStatus``). Kept here so the steppers need not import ode.py.
ODE_OK = 0
ODE_MAX_STEPS = 1
ODE_STEP_UNDERFLOW = 2
ODE_NONFINITE = 3
ODE_SINGULAR = 4
# Internal: a stepper asks the driver to hand over to the other method.
ODE_SWITCH = -1

UROUND = 2.220446049250313e-16
SQRT_UROUND = 1.4901161193847656e-08

# step-size control (both methods; each has its own largest factor and error exponent)
SAFETY = 0.9
FAC_MIN = 0.2
#: a step whose result is not finite is retried at this fraction of its size
NONFINITE_CUT = 0.25
#: ``plan_step``: take the step
TAKE_STEP = -2


class StepControl(NamedTuple):
    """The step-size controller's state between attempts (``start_control``, then
    ``plan_step`` before each attempt and ``judge_step`` after it)."""

    h: float  # the (signed) step to try next
    h_last: float  # the size of the last accepted step
    after_reject: bool  # the previous attempt was rejected
    last_nonfinite: bool  # ... because its result was not finite


@engine_jit()
def start_control(h):
    """A ``StepControl`` that starts with the step h."""
    return StepControl(h, abs(h), False, False)


@engine_jit()
def plan_step(ctl, t, t1, direction, attempts, max_attempts):
    """Before an attempt from t towards t1 (``direction`` +-1): ``(TAKE_STEP, h, last)``, the
    step ``ctl.h`` cut to the rest of the interval when ``last``; or ``(status, ctl.h, False)``
    when the run ends here: ODE_OK at t1, ODE_MAX_STEPS after ``max_attempts`` attempts, or a
    step too small to move t (ODE_NONFINITE if the last attempt was not finite, else
    ODE_STEP_UNDERFLOW)."""
    h = ctl.h
    rem = t1 - t
    if rem * direction <= 0.0:
        return ODE_OK, h, False
    if attempts >= max_attempts:
        return ODE_MAX_STEPS, h, False
    if abs(h) < 16.0 * UROUND * max(abs(t), abs(t1) * 1e-3, 1e-300):
        return (ODE_NONFINITE if ctl.last_nonfinite else ODE_STEP_UNDERFLOW), h, False
    if abs(h) >= abs(rem) * (1.0 - 1e-12):
        return TAKE_STEP, rem, True
    return TAKE_STEP, h, False


@engine_jit()
def judge_step(ctl, h, last, err, finite, expo, fac_max):
    """After an attempt of the step h (``plan_step``'s) with the error norm ``err``:
    ``(accepted, next StepControl, factor)``.

    Not ``finite`` (the error or the solution): rejected, next h * NONFINITE_CUT. ``err > 1``:
    rejected, h * max(FAC_MIN, SAFETY err^-expo). Else accepted with the factor
    SAFETY err^-expo within [FAC_MIN, fac_max], at most 1 right after a rejection; a ``last``
    step, cut short to land on t1, hands the planned ``ctl.h`` on when that is larger.
    """
    if not finite:
        return False, StepControl(h * NONFINITE_CUT, ctl.h_last, True, True), 0.0
    if err > 1.0:
        return False, StepControl(h * max(FAC_MIN, SAFETY * err ** -expo), ctl.h_last, True,
                                  False), 0.0
    fac = SAFETY * max(err, 1e-10) ** -expo
    fac = min(fac_max, max(FAC_MIN, fac))
    if ctl.after_reject:
        fac = min(fac, 1.0)
    h_new = h * fac
    if last and abs(ctl.h) > abs(h_new):
        h_new = ctl.h
    return True, StepControl(h_new, abs(h), False, False), fac


@engine_jit()
def retry_control(ctl, h):
    """The controller after an attempt abandoned before its error was known (a singular
    iteration matrix): the next try is h, the rest unchanged."""
    return StepControl(h, ctl.h_last, ctl.after_reject, ctl.last_nonfinite)


@engine_jit()
def sens_rhs(J, Fp, S, dP, drate, out):
    """``out = J @ S + Fp @ dP + drate`` (the forward sensitivity right-hand side)."""
    n = S.shape[0]
    nd = S.shape[1]
    npar = dP.shape[0]
    for i in range(n):
        for c in range(nd):
            out[i, c] = drate[i, c]
        for k in range(n):
            jik = J[i, k]
            if jik != 0.0:
                for c in range(nd):
                    out[i, c] += jik * S[k, c]
        for k in range(npar):
            fik = Fp[i, k]
            if fik != 0.0:
                for c in range(nd):
                    out[i, c] += fik * dP[k, c]


@engine_jit()
def err_norm(e, y0, y1, es, s0, s1, rtol, atol, with_sens, n_ctl):
    """Weighted RMS norm of the error estimate ``e`` (states) and ``es`` (sensitivities) of the
    first ``n_ctl`` states (the integrator's ``opts[OPT_CONTROLLED_STATES]``; the others ride
    on the steps these choose)."""
    n = n_ctl if 0 < n_ctl < e.shape[0] else e.shape[0]
    acc = 0.0
    for i in range(n):
        sc = atol + rtol * max(abs(y0[i]), abs(y1[i]))
        v = e[i] / sc
        acc += v * v
    count = n
    if with_sens:
        nd = es.shape[1]
        for i in range(n):
            for c in range(nd):
                sc = atol + rtol * max(abs(s0[i, c]), abs(s1[i, c]))
                v = es[i, c] / sc
                acc += v * v
        count += n * nd
    if count == 0:
        return 0.0
    return np.sqrt(acc / count)


@engine_jit()
def all_finite(x):
    """True if every entry of the vector ``x`` is finite."""
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return False
    return True


@engine_jit()
def all_finite2(x):
    """True if every entry of the matrix ``x`` is finite."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if not np.isfinite(x[i, j]):
                return False
    return True


@engine_jit()
def initial_step(rhs, t, t1, y, p, rate, f0, order, rtol, atol, ytmp, f1, n_ctl):
    """Hairer-Wanner starting step (one explicit Euler probe). Returns (signed h, rhs calls).
    The norms are over the first ``n_ctl`` states (0: all), those the error control sees."""
    n_all = y.shape[0]
    n = n_ctl if 0 < n_ctl < n_all else n_all
    span = abs(t1 - t)
    direction = 1.0 if t1 > t else -1.0
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (f0[i] / sc) ** 2
    if n > 0:
        d0 = np.sqrt(d0 / n)
        d1 = np.sqrt(d1 / n)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6 * max(span, 1e-300)
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, span)
    for i in range(n_all):
        ytmp[i] = y[i] + direction * h0 * f0[i]
    rhs(t + direction * h0, ytmp, p, f1)
    d2 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d2 += ((f1[i] + rate[i] - f0[i]) / sc) ** 2
    if n > 0:
        d2 = np.sqrt(d2 / n) / h0
    dmax = max(d1, d2)
    if not np.isfinite(dmax):
        return direction * h0 * 1e-3, 1
    if dmax <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / dmax) ** (1.0 / (order + 1.0))
    h = min(100.0 * h0, h1, span)
    return direction * h, 1
