"""One interval without events: the exact linear propagator or the ODE integrator.

``advance`` is what the event engine and the steady-state solver call between events. For
linear models it uses ``linear.lin_advance`` with the current ``K = linsys(p)`` (and the
direction-contracted ``dKd``): the cached eigendecomposition, or Padé exponentials where that
is not reliable or ``opts`` asks for them; otherwise ``ode.ode_advance``.

numba's cache tracks only a function's own source file; ``cache_guard`` drops the engine's
cached kernels when any engine source (the ODE integrator's included) changed.

Both are late-bound (``jit.LateBound``, what it saves on a cold start is measured there): callers
(``steady_state``, ``events``) reach ``advance`` through ``ADVANCE`` and ``advance`` reaches the
ODE integrator through ``ODE``, so neither is compiled again into each caller, and each is
compiled only when something binds it: the integrator with the first model with ODEs in a
process (``bind_ode``), ``advance`` with it or with the first data with steady-state doses
(``steady_state.bind_steady_state``); a closed-form model's other subjects need neither
(``events.solve_records`` propagates them itself).
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

from numba import types  # noqa: E402

from .abi import JacFn, RhsFn, arr3, f8, mat, vec  # noqa: E402
from .jit import LateBound, engine_jit  # noqa: E402
from .linear import (  # noqa: E402
    LINEAR_WORKSPACE_TYPE,
    METHOD_AUTO,
    OPT_LINEAR_METHOD,
    OPT_MODEL_INPUT,
    bind_lin_advance_expm,
)
from .linear import _lin_advance as lin_advance  # noqa: E402 (``bind_advance`` binds its Padé path)
from .ode import ODE_ADVANCE_SIG  # noqa: E402

#: returned by ``advance`` when a linear propagation gives a non-finite state
NONFINITE_STATE = 2006
#: returned by ``advance`` for an ODE interval when the integrator was not bound (``bind_ode``)
ODE_NOT_LOADED = 2007

ODE = LateBound("nlme_lab_kernels_ode_advance", ODE_ADVANCE_SIG)
_ode_address, _ode = ODE.address, ODE.function

ADVANCE_SIG = types.int64(types.boolean, RhsFn, JacFn, JacFn, mat, arr3, f8, f8, vec, mat, vec, mat,
                          vec, mat, vec, LINEAR_WORKSPACE_TYPE)


def bind_advance() -> None:
    """Compile (or load from the cache) ``advance`` and let the engine call it: what the ODE
    integrator (``bind_ode``) and the steady-state solver (``steady_state.bind_steady_state``)
    need; a closed-form model's subjects without steady states never call it."""
    bind_lin_advance_expm()
    if not ADVANCE.bound:
        ADVANCE.bind(advance)


def bind_ode() -> None:
    """Compile (or load from the cache) the ODE integrator and let ``advance`` call it: before
    the engine first solves a model with ODEs in this process."""
    bind_advance()
    if not ODE.bound:
        from . import ode

        ODE.bind(ode.ode_advance)


@engine_jit()  # no signature: compiled (for ADVANCE_SIG) only when bound, ``bind_advance``
def advance(linear, rhs, jac, dfdp, K, dKd, t0, t1, y, S, p, dPr, rate, drate, opts, lw):
    """Move (y, S) from t0 to t1 (either direction) with constant inputs ``rate``.

    ``lw`` is the linear workspace of ``linear.make_workspace``; ``opts[OPT_LINEAR_METHOD]``
    (when present) selects the linear method. Returns 0 or the integrator's non-zero status.
    """
    if t1 == t0:
        return 0
    if linear:
        method = METHOD_AUTO
        if opts.shape[0] > OPT_LINEAR_METHOD:
            method = int(opts[OPT_LINEAR_METHOD])
        lin_advance(K, dKd, t1 - t0, y, S, rate, drate, lw, method)
        for i in range(y.shape[0]):
            if not (abs(y[i]) < 1e308):
                return NONFINITE_STATE
        return 0
    h = t1 - t0
    if abs(h) <= 1e-12 * max(1.0, abs(t0), abs(t1)):
        # a rounding-size interval (e.g. an infusion ending 1e-15 h after a record): one Euler
        # step for y (error O(h^2)); S changes by O(h), below rounding of the times themselves
        f = lw.tmp
        rhs(t0, y, p, f)
        for i in range(y.shape[0]):
            y[i] += h * (f[i] + rate[i])
        return 0
    if _ode_address() == 0:
        return ODE_NOT_LOADED
    return _ode()(rhs, jac, dfdp, t0, t1, y, S, p, dPr, rate, drate, opts)


#: ``advance`` late-bound, bound by ``bind_advance`` (``events.solve_records`` returns
#: ``ODE_NOT_LOADED`` for an ODE interval while it is not)
ADVANCE = LateBound("nlme_lab_kernels_advance", ADVANCE_SIG)


@engine_jit()
def eval_f(linear, rhs, K, t, y, p, rate, out):
    """out = f(t, y, p) + rate (the full right-hand side including zero-order inputs)."""
    n = y.shape[0]
    if linear:
        for i in range(n):
            acc = rate[i]
            for j in range(n):
                acc += K[i, j] * y[j]
            out[i] = acc
    else:
        rhs(t, y, p, out)
        for i in range(n):
            out[i] += rate[i]


@engine_jit(inline=True)
def has_model_input(linear, opts):
    """Whether a linear model has a constant input written in its d/dt (``dy/dt = K y + b``):
    ``opts[OPT_MODEL_INPUT]`` set (``linear.with_model_input``; the predictor sets it from
    ``CompiledModel.has_input``). ODE models keep b in ``rhs``."""
    return linear and opts.shape[0] > OPT_MODEL_INPUT and opts[OPT_MODEL_INPUT] != 0.0


@engine_jit()
def model_input(rhs, dfdp, t, p, dPr, zero, inp, dinp, Fp):
    """A linear model's own input ``b = rhs(t, 0, p)`` into ``inp`` (n,) and its directions
    ``dfdp(t, 0, p) dPr`` into ``dinp`` (n, nd); ``zero``: n zeros; ``Fp``: (n, n_p) scratch.
    (At y = 0 the right-hand side K y + b is b, and d(K y + b)/dp is db/dp.)"""
    rhs(t, zero, p, inp)
    n = inp.shape[0]
    nd = dPr.shape[1]
    if nd == 0:
        return
    dfdp(t, zero, p, Fp)
    for i in range(n):
        for d in range(nd):
            acc = 0.0
            for k in range(p.shape[0]):
                v = dPr[k, d]
                if v != 0.0:
                    acc += Fp[i, k] * v
            dinp[i, d] = acc


@engine_jit(inline=True)
def add_input(rate, drate, inp, dinp, sign):
    """rate += sign inp, drate += sign dinp (the model's input joins or leaves the dose inputs)."""
    for i in range(rate.shape[0]):
        rate[i] += sign * inp[i]
        for d in range(drate.shape[1]):
            drate[i, d] += sign * dinp[i, d]
