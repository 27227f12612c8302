"""Adaptive stiff/non-stiff ODE integrator with forward sensitivities (numba, compiled once).

Entry point (explicit signature from :mod:`nlme_lab.kernels.abi`, ``cache=True``)::

    status = ode_advance(rhs, jac, dfdp, t0, t1, y, S, p, dP, rate, drate, opts)

solves ``y' = f(t, y, p) + rate`` from ``t0`` to ``t1`` in place, together with the forward
sensitivities ``S' = J S + Fp @ dP + drate`` (``J = df/dy = jac``, ``Fp = df/dp = dfdp``;
``dP`` (n_p x n_dir) and ``drate`` (n_state x n_dir) constant over the call). ``S`` may have
0 columns: then only the states are integrated and no ``jac``/``dfdp`` sensitivity work is
done. ``t1 < t0`` integrates backwards; ``t1 == t0`` is a no-op. It never raises.

``opts`` (float64, length >= 8)

====  ===========================================================================  =========
idx   meaning                                                                       in / out
====  ===========================================================================  =========
0     rtol (<= 0: 1e-6)                                                             in
1     atol (<= 0: 1e-9); error weights are ``atol + rtol * |x|`` per component      in
2     initial step size magnitude (0: automatic); out: the step size to start the   in / out
      next call with (warm start)
3     maximum number of attempted steps (<= 0: 100000)                              in
4     accepted steps                                                                 out
5     rhs evaluations                                                                out
6     jac evaluations (each ``jac`` call; ``dfdp`` is called alongside it)           out
7     method flags (an integer stored as float). Bits 0-1: 0 auto starting with     in / out
      DOPRI5, 1 auto starting with Rodas4, 2 Rodas4 only, 3 DOPRI5 only. In the
      auto modes the call writes back 0 or 1: the method it ended with, so passing
      the same ``opts`` to the next interval also warm-starts the method.
      Bit 2 (value 4): leave the sensitivities out of the error control (states
      only); by default states and sensitivities are both controlled.
====  ===========================================================================  =========

``opts[OPT_CONTROLLED_STATES]`` (index 10, optional; ``with_controlled_states``): only the first
that many states are error-controlled, the rest ride on their steps (0 or absent: all); the
starting step and the stiffness tests (DOPRI5's, and Rodas4's way back) look at those states only,
so a model augmented with its sensitivities as states takes the model's own steps.

Methods (see ``ode_rodas`` and ``ode_dopri``): Rodas4, a 6-stage L-stable stiffly accurate
Rosenbrock method of order 4(3) using the exact Jacobian, for stiff problems; Dormand-Prince
5(4) for non-stiff ones. In the auto modes the integrator starts with the method given by
bit 0, switches to Rodas4 when DOPRI5's stiffness test (h |lambda| > 3.25 on 15 steps) fires and
back to DOPRI5 when ``h ||J||_inf < 2`` on 10 consecutive Rodas4 steps. Sensitivities are
integrated as part of the augmented system by the same steps (error-controlled unless bit 2).

Accuracy (tests/kernels/test_ode.py, rtol 1e-8): states agree with solve_ivp (Radau / DOP853 at
rtol 1e-12) to <= 2e-8 relative on 1-cmt oral, 2-cmt, Michaelis-Menten, Robertson and TMDD;
sensitivities agree with analytic ones (1-cmt) and central differences to 1e-5 relative.
Speed: see benchmarks/bench_ode.py. Calling from Python costs ~0.1-0.2 ms per call for
converting the dispatchers to first-class functions; call it from numba in hot loops.

Cache note: ``ode_advance`` embeds code from ``ode_common``, ``ode_rodas`` and ``ode_dopri``;
numba's cache checks only this file, so ``cache_guard`` (which lists these modules with the
rest of the engine) drops the cached kernels when any of them changed.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import enum  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402

from nlme_lab.kernels.abi import JacFn, RhsFn, f8, mat, vec  # noqa: E402
from nlme_lab.kernels.ode_common import (  # noqa: E402
    ODE_MAX_STEPS,
    ODE_NONFINITE,
    ODE_OK,
    ODE_SINGULAR,
    ODE_STEP_UNDERFLOW,
    ODE_SWITCH,
    all_finite,
    all_finite2,
    initial_step,
)
from nlme_lab.kernels.ode_dopri import dopri_run  # noqa: E402
from nlme_lab.kernels.ode_rodas import rodas_run  # noqa: E402

ODE_BAD_INPUT = 5

__all__ = [
    "ODE_ADVANCE_SIG",
    "ODE_BAD_INPUT",
    "ODE_MAX_STEPS",
    "ODE_NONFINITE",
    "ODE_OK",
    "ODE_SINGULAR",
    "ODE_STEP_UNDERFLOW",
    "OdeMethod",
    "OdeStatus",
    "make_opts",
    "ode_advance",  # noqa: F822 (module __getattr__: compiled on first use)
]


class OdeStatus(enum.IntEnum):
    """Return codes of :func:`ode_advance`."""

    OK = ODE_OK
    MAX_STEPS = ODE_MAX_STEPS
    STEP_UNDERFLOW = ODE_STEP_UNDERFLOW
    NONFINITE = ODE_NONFINITE
    SINGULAR = ODE_SINGULAR
    BAD_INPUT = ODE_BAD_INPUT


class OdeMethod(enum.IntEnum):
    """Bits 0-1 of ``opts[7]``."""

    AUTO = 0
    AUTO_STIFF_FIRST = 1
    RODAS4 = 2
    DOPRI5 = 3


SENS_ERR_OFF = 4  # bit 2 of opts[7]
OPTS_LEN = 8
#: optional slot (after the linear engine's 8 and 9): the number of leading states whose error
#: is controlled (0 or absent: all); the others (and all sensitivities of those) ride on the steps
#: these choose, as sensitivities do with bit 2 of opts[7]. The second-order augmented models
#: (``model.codegen.second_order``) keep their dy/dp states out of the control this way.
OPT_CONTROLLED_STATES = 10
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
DEFAULT_MAX_STEPS = 100000

ODE_ADVANCE_SIG = types.int64(RhsFn, JacFn, JacFn, f8, f8, vec, mat, vec, mat, vec, mat, vec)


def make_opts(rtol=1e-8, atol=1e-10, h0=0.0, max_steps=DEFAULT_MAX_STEPS,
              method=OdeMethod.AUTO, sens_error_control=True):
    """A fresh ``opts`` array for :func:`ode_advance` (Python-side convenience)."""
    opts = np.zeros(OPTS_LEN)
    opts[0] = rtol
    opts[1] = atol
    opts[2] = h0
    opts[3] = max_steps
    opts[7] = int(OdeMethod(method)) + (0 if sens_error_control else SENS_ERR_OFF)
    return opts


@njit(cache=True)
def _shapes_ok(y, S, p, dP, rate, drate, opts):
    n = y.shape[0]
    nd = S.shape[1]
    if opts.shape[0] < OPTS_LEN or rate.shape[0] != n or S.shape[0] != n:
        return False
    if nd > 0 and (dP.shape[0] != p.shape[0] or dP.shape[1] != nd
                   or drate.shape[0] != n or drate.shape[1] != nd):
        return False
    return True


def _ode_advance(rhs, jac, dfdp, t0, t1, y, S, p, dP, rate, drate, opts):
    """Advance y (and S) from t0 to t1 in place; returns an ``OdeStatus`` code (never raises)."""
    for k in range(4, 7):
        if opts.shape[0] > k:
            opts[k] = 0.0
    if not _shapes_ok(y, S, p, dP, rate, drate, opts):
        return ODE_BAD_INPUT
    if t1 == t0:
        return ODE_OK
    if not (np.isfinite(t0) and np.isfinite(t1)):
        return ODE_BAD_INPUT
    n = y.shape[0]
    rtol = opts[0] if opts[0] > 0.0 else DEFAULT_RTOL
    atol = opts[1] if opts[1] > 0.0 else DEFAULT_ATOL
    max_attempts = int(opts[3]) if opts[3] >= 1.0 else DEFAULT_MAX_STEPS
    flags = int(opts[7]) if np.isfinite(opts[7]) and opts[7] >= 0.0 else 0
    mode = flags & 3
    with_sens = (flags & SENS_ERR_OFF) == 0
    may_switch = mode <= 1
    stiff = mode == 1 or mode == 2
    direction = 1.0 if t1 > t0 else -1.0
    n_ctl = 0
    if opts.shape[0] > OPT_CONTROLLED_STATES and opts[OPT_CONTROLLED_STATES] >= 1.0:
        n_ctl = int(opts[OPT_CONTROLLED_STATES])
    stats = np.zeros(4, np.int64)
    if not (all_finite(y) and all_finite2(S)):
        return ODE_NONFINITE
    if n == 0:
        return ODE_OK

    h = abs(opts[2]) if np.isfinite(opts[2]) else 0.0
    if h > 0.0:
        h = direction * min(h, abs(t1 - t0))
    else:
        f0 = np.empty(n)
        ytmp = np.empty(n)
        f1 = np.empty(n)
        rhs(t0, y, p, f0)
        for i in range(n):
            f0[i] += rate[i]
        stats[1] += 1
        if not all_finite(f0):
            opts[5] = stats[1]
            return ODE_NONFINITE
        h, calls = initial_step(rhs, t0, t1, y, p, rate, f0, 4.0 if stiff else 5.0,
                                rtol, atol, ytmp, f1, n_ctl)
        stats[1] += calls

    t = t0
    status = ODE_OK
    h_last = abs(h)
    while True:
        if stiff:
            status, t, h, h_last = rodas_run(rhs, jac, dfdp, t, t1, h, y, S, p, dP, rate, drate,
                                             rtol, atol, with_sens, may_switch, max_attempts,
                                             stats, n_ctl)
        else:
            status, t, h, h_last = dopri_run(rhs, jac, dfdp, t, t1, h, y, S, p, dP, rate, drate,
                                             rtol, atol, with_sens, may_switch, max_attempts,
                                             stats, n_ctl)
        if status != ODE_SWITCH:
            break
        stiff = not stiff

    opts[2] = abs(h) if status == ODE_OK else h_last
    opts[4] = stats[0]
    opts[5] = stats[1]
    opts[6] = stats[2]
    if may_switch:
        opts[7] = (flags & ~3) | (1 if stiff else 0)
    return status


def with_controlled_states(opts, n: int):
    """A copy of ``opts`` whose error control covers only the first ``n`` states."""
    out = np.zeros(max(opts.shape[0], OPT_CONTROLLED_STATES + 1))
    out[:opts.shape[0]] = opts
    out[OPT_CONTROLLED_STATES] = float(n)
    return out


_compiled: dict = {}


def __getattr__(name):
    """``ode_advance`` compiles (signature ``ODE_ADVANCE_SIG``) on first use only: a closed-form
    model's engine never calls it (``propagate.bind_ode``)."""
    if name == "ode_advance":
        if name not in _compiled:
            _compiled[name] = njit(ODE_ADVANCE_SIG, cache=True)(_ode_advance)
        return _compiled[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
