"""Steady states: periodic (SS=1/2 with II > 0) and constant infusion (AMT 0, RATE > 0).

Periodic steady state. Phase coordinates: phase 0 is a dose arrival, ``y0+`` the state just
after it (bolus added, or the new infusion started). The one-cycle map G takes ``y0+`` to the
state just after the next arrival (phase II). Infusions of duration D overlap: with
``m = floor(D / II)`` and ``r = D - m II``, ``n0 = m + (r > 0)`` infusions run at phase 0+ and
one of them ends at phase r (at phase II when r == 0). The steady state is the fixed point
``y0+ = G(y0+)``:

* Newton on G(y) - y with dG/dy from the variational equations (the cycle run with S0 = I
  and no parameter directions). For linear models G is affine, so one step from y = 0 solves
  (I - Phi) y = c exactly (Phi = exp(K II) to rounding).
* ODE models iterate Newton to the integrator tolerance and fall back to the fixed-point
  iteration y <- G(y) if Newton fails.
* Sensitivities: run the cycle once more from the fixed point with S0 = 0 and the parameter
  directions (event-time derivatives included: the infusion end at phase r moves with dD),
  giving g; then dy0+ = (I - dG/dy)^{-1} g.

``ss_load`` then places that periodic trajectory on the time axis of the SS record at time t
(NONMEM's rule, README rule 5): the last arrival is at ``a0 = t + ALAG - II`` and the state at
t is y0+ propagated from a0 to t, forwards (ALAG <= II, passing the history infusions' ends)
or backwards (ALAG > II, with the inputs running at phase 0+ kept on). The history infusions
running at t keep running after it: they end at ``a0 + D - k II``.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, typeof, types  # noqa: E402

from .abi import JacFn, RhsFn, arr3, f8, mat, vec  # noqa: E402
from .jit import LateBound, engine_jit  # noqa: E402

from .dense import solve_into, zero1, zero2  # noqa: E402
from .linear import LINEAR_WORKSPACE_TYPE  # noqa: E402
from .propagate import ADVANCE, bind_advance, eval_f, has_model_input, model_input  # noqa: E402

_advance = ADVANCE.function  # late-bound (propagate's docstring)

KIND_BOLUS = 0
KIND_INFUSION = 1

SS_OK = 0
SS_SINGULAR = 1004
SS_NO_CONVERGENCE = 1003
#: returned by ``events.solve_records`` for a steady-state dose while the solver is not bound
#: (``bind_steady_state``)
SS_NOT_LOADED = 1005

NEWTON_MAX_IT = 50
FIXED_POINT_MAX_IT = 2000
#: ``accumulating_state``: a column of I - dG/dy this small is zero
ACCUMULATING_TOL = 1e-12


class SteadyStateWorkspace(NamedTuple):
    """Scratch of ``ss_load`` for n states, n_p parameters and nd directions
    (``make_steady_workspace``)."""

    ycyc: np.ndarray  # (n,) the state along a cycle
    Sid: np.ndarray  # (n, n) its variational matrix (the cycle run from S = I)
    Jm: np.ndarray  # (n, n) Newton matrix I - dG/dy
    b: np.ndarray  # (n, 1) Newton step
    piv: np.ndarray  # int64 (n,) row pivots of the solves
    rate: np.ndarray  # (n,) inputs running in the cycle
    drate: np.ndarray  # (n, nd) their directions
    drate0: np.ndarray  # (n, n) zero inputs' directions of the state-only cycle
    dKd0: np.ndarray  # (n, n, n) always zero: dK of the state-only directions
    dP0: np.ndarray  # (n_p, n) always zero: dp of the state-only directions
    inp: np.ndarray  # (n,) a linear model's own input b (``propagate.model_input``), or zeros
    dinp: np.ndarray  # (n, nd) its directions
    zero: np.ndarray  # (n,) always zero
    Fp: np.ndarray  # (n, n_p) scratch of model_input


@njit(cache=True)
def make_steady_workspace(n, n_p, nd):
    """A ``SteadyStateWorkspace``."""
    return SteadyStateWorkspace(np.zeros(n), np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, 1)),
                                np.zeros(n, np.int64), np.zeros(n), np.zeros((n, nd)),
                                np.zeros((n, n)),
                                np.zeros((n, n, n)), np.zeros((n_p, n)), np.zeros(n), np.zeros((n, nd)),
                                np.zeros(n), np.zeros((n, n_p)))


@engine_jit()
def clear_steady_workspace(ss_w):
    """Zero what the solver writes (``dKd0`` and ``dP0`` stay zero)."""
    zero1(ss_w.ycyc)
    zero2(ss_w.Sid)
    zero2(ss_w.Jm)
    zero2(ss_w.b)
    zero1(ss_w.piv)
    zero1(ss_w.rate)
    zero2(ss_w.drate)
    zero2(ss_w.drate0)
    zero1(ss_w.inp)
    zero2(ss_w.dinp)


@engine_jit()
def infusion_phases(D, II):
    """(m, r, n0) for an infusion of duration D repeated every II."""
    m = int(np.floor(D / II))
    r = D - m * II
    if r < 0.0:
        m -= 1
        r += II
    elif r >= II:
        m += 1
        r -= II
    n0 = m + 1 if r > 0.0 else m
    return m, r, n0


@engine_jit()
def ss_cycle(linear, rhs, jac, dfdp, K, dKd, p, dPr, t_base, y, S, pdirs, kind, cmt, amt,
             damt, R, dR, dD, II, n0, r, rate, drate, inp, dinp, opts, lw):
    """One dosing cycle in place: (y, S) at phase 0+ -> phase II+ (after the next arrival).

    With ``pdirs`` False the columns of S are pure state directions (no dose derivatives);
    ``dKd``/``dPr``/``drate`` must then be zero arrays with S's number of columns.
    ``inp``/``dinp``: a linear model's own input and its directions (zeros otherwise), running
    throughout the cycle (``dinp`` used with ``pdirs`` only).
    """
    n = y.shape[0]
    nd = S.shape[1]
    for i in range(n):
        rate[i] = inp[i]
        for d in range(nd):
            drate[i, d] = dinp[i, d] if pdirs else 0.0
    if kind == KIND_INFUSION:
        rate[cmt] += n0 * R
        if pdirs:
            for d in range(nd):
                drate[cmt, d] += n0 * dR[d]
    if kind == KIND_INFUSION and r > 0.0:
        st = _advance()(linear, rhs, jac, dfdp, K, dKd, t_base, t_base + r, y, S, p, dPr,
                     rate, drate, opts, lw)
        if st != 0:
            return st
        if pdirs:
            for d in range(nd):
                S[cmt, d] += R * dD[d]  # one infusion ends at phase r (moves with D)
                drate[cmt, d] -= dR[d]
        rate[cmt] -= R
        st = _advance()(linear, rhs, jac, dfdp, K, dKd, t_base + r, t_base + II, y, S, p, dPr,
                     rate, drate, opts, lw)
    else:
        st = _advance()(linear, rhs, jac, dfdp, K, dKd, t_base, t_base + II, y, S, p, dPr,
                     rate, drate, opts, lw)
        if kind == KIND_INFUSION and pdirs:
            for d in range(nd):
                S[cmt, d] += R * dD[d]  # D a multiple of II: the end coincides with phase II
    if st != 0:
        return st
    if kind == KIND_BOLUS:
        y[cmt] += amt
        if pdirs:
            for d in range(nd):
                S[cmt, d] += damt[d]
    return 0


@engine_jit()
def accumulating_state(Jm):
    """The first state k whose column of ``Jm = I - dG/dy`` (G the one-cycle map) vanishes, or -1.

    Such a state has no elimination and nothing depends on it (an AUC or cumulative-effect
    compartment): one dosing cycle adds to it whatever it holds, so it has no steady state
    (it grows by the same amount every cycle) and ``I - dG/dy`` is singular. Its column is
    exactly 0 on the ODE path (d/dt of no state depends on it, so its variational column
    stays e_k) and 0 to rounding on the linear one; ``ACCUMULATING_TOL`` separates it from
    a slow but real elimination (1 - exp(-k II) > 1e-10 for k II > 1e-10)."""
    n = Jm.shape[0]
    for k in range(n):
        big = 0.0
        for i in range(n):
            big = max(big, abs(Jm[i, k]))
        if big <= ACCUMULATING_TOL:
            return k
    return -1


@engine_jit()
def _converged(dy, y, opts):
    rtol = opts[0] if opts[0] > 0.0 else 1e-6
    atol = opts[1] if opts[1] > 0.0 else 1e-9
    for i in range(y.shape[0]):
        if abs(dy[i]) > 0.01 * (atol + rtol * abs(y[i])):
            return False
    return True


@engine_jit()
def ss_periodic(linear, rhs, jac, dfdp, K, dKd, p, dPr, t_base, kind, cmt, amt, damt, R, dR,
                dD, II, n0, r, y, S, opts, lw, ss_w):
    """Fixed point y0+ of the cycle map into ``y`` (start value in ``y``) and dy0+ into S.
    ``ss_w``: a ``SteadyStateWorkspace``."""
    ycyc, Sid, Jm, b, piv = ss_w.ycyc, ss_w.Sid, ss_w.Jm, ss_w.b, ss_w.piv
    rate, drate, drate0, dKd0, dP0 = ss_w.rate, ss_w.drate, ss_w.drate0, ss_w.dKd0, ss_w.dP0
    n = y.shape[0]
    nd = S.shape[1]
    done = False
    for it in range(NEWTON_MAX_IT):
        for i in range(n):
            ycyc[i] = y[i]
            for j in range(n):
                Sid[i, j] = 1.0 if i == j else 0.0
        st = ss_cycle(linear, rhs, jac, dfdp, K, dKd0, p, dP0, t_base, ycyc, Sid, False, kind,
                      cmt, amt, damt, R, dR, dD, II, n0, r, rate, drate0, ss_w.inp, ss_w.dinp, opts, lw)
        if st != 0:
            return st
        for i in range(n):
            b[i, 0] = ycyc[i] - y[i]
            for j in range(n):
                Jm[i, j] = (1.0 if i == j else 0.0) - Sid[i, j]
        if it == 0 and accumulating_state(Jm) >= 0:
            return SS_SINGULAR
        if not solve_into(Jm, b, piv):
            if linear:
                return SS_SINGULAR
            break
        for i in range(n):
            y[i] += b[i, 0]
        if linear or _converged(b[:, 0], y, opts):
            done = True
            break
    if not done:
        for i in range(n):
            y[i] = 0.0
        for it in range(FIXED_POINT_MAX_IT):
            for i in range(n):
                ycyc[i] = y[i]
                for j in range(n):
                    Sid[i, j] = 1.0 if i == j else 0.0
            st = ss_cycle(linear, rhs, jac, dfdp, K, dKd0, p, dP0, t_base, ycyc, Sid, False,
                          kind, cmt, amt, damt, R, dR, dD, II, n0, r, rate, drate0, ss_w.inp, ss_w.dinp,
                          opts, lw)
            if st != 0:
                return st
            for i in range(n):
                b[i, 0] = ycyc[i] - y[i]
                y[i] = ycyc[i]
            if _converged(b[:, 0], y, opts):
                done = True
                break
        if not done:
            return SS_NO_CONVERGENCE
    if nd > 0:
        for i in range(n):
            ycyc[i] = y[i]
            for d in range(nd):
                S[i, d] = 0.0
        st = ss_cycle(linear, rhs, jac, dfdp, K, dKd, p, dPr, t_base, ycyc, S, True, kind, cmt,
                      amt, damt, R, dR, dD, II, n0, r, rate, drate, ss_w.inp, ss_w.dinp, opts, lw)
        if st != 0:
            return st
        for i in range(n):
            for j in range(n):
                Jm[i, j] = (1.0 if i == j else 0.0) - Sid[i, j]
        if not solve_into(Jm, S, piv):
            return SS_SINGULAR
    return SS_OK


@engine_jit()
def ss_load(linear, rhs, jac, dfdp, K, dKd, p, dPr, t, kind, cmt, amt, damt, R, dR, D, dD, L,
            dL, II, y, S, rate_c, drate_c, opts, lw, ss_w, ftmp):
    """The SS component at the record time t into (y, S, rate_c, drate_c).

    Returns (status, first_end, n_end): the history infusions still running after t end at
    first_end + k II, k = 0 .. n_end - 1 (each removes rate R; their times move with dL + dD).
    """
    n = y.shape[0]
    nd = S.shape[1]
    m, r, n0 = 0, 0.0, 0
    if kind == KIND_INFUSION:
        m, r, n0 = infusion_phases(D, II)
    a0 = t + L - II
    if has_model_input(linear, opts):
        model_input(rhs, dfdp, t, p, dPr, ss_w.zero, ss_w.inp, ss_w.dinp, ss_w.Fp)
    for i in range(n):
        y[i] = 0.0
    st = ss_periodic(linear, rhs, jac, dfdp, K, dKd, p, dPr, a0, kind, cmt, amt, damt, R, dR,
                     dD, II, n0, r, y, S, opts, lw, ss_w)
    if st != 0:
        return st, 0.0, 0
    for i in range(n):
        rate_c[i] = 0.0
        for d in range(nd):
            drate_c[i, d] = 0.0
    if kind == KIND_INFUSION:
        rate_c[cmt] = n0 * R
        for d in range(nd):
            drate_c[cmt, d] = n0 * dR[d]
    # what runs between a0 and t: the history infusions rate_c and the model's own input
    rate_s, drate_s = ss_w.rate, ss_w.drate
    _running(rate_c, drate_c, ss_w.inp, ss_w.dinp, rate_s, drate_s)
    # the arrival time a0 moves with dL: S(a0+) = dy0+ - f(a0+) dL
    if nd > 0:
        eval_f(linear, rhs, K, a0, y, p, rate_s, ftmp)
        for i in range(n):
            for d in range(nd):
                S[i, d] -= ftmp[i] * dL[d]
    k = n0 - 1
    if a0 <= t:
        t_cur = a0
        while k >= 0:
            te = a0 + D - k * II
            if te > t:
                break
            st = _advance()(linear, rhs, jac, dfdp, K, dKd, t_cur, te, y, S, p, dPr, rate_s,
                         drate_s, opts, lw)
            if st != 0:
                return st, 0.0, 0
            t_cur = te
            rate_c[cmt] -= R
            for d in range(nd):
                S[cmt, d] += R * (dL[d] + dD[d])
                drate_c[cmt, d] -= dR[d]
            _running(rate_c, drate_c, ss_w.inp, ss_w.dinp, rate_s, drate_s)
            k -= 1
        st = _advance()(linear, rhs, jac, dfdp, K, dKd, t_cur, t, y, S, p, dPr, rate_s, drate_s,
                     opts, lw)
    else:
        st = _advance()(linear, rhs, jac, dfdp, K, dKd, a0, t, y, S, p, dPr, rate_s, drate_s,
                     opts, lw)
    if st != 0:
        return st, 0.0, 0
    if k < 0:
        return SS_OK, 0.0, 0
    return SS_OK, a0 + D - k * II, k + 1


@engine_jit(inline=True)
def _running(rate_c, drate_c, inp, dinp, out, dout):
    """out = rate_c + inp, dout = drate_c + dinp (exactly rate_c where the model has no input)."""
    for i in range(out.shape[0]):
        out[i] = rate_c[i] + inp[i]
        for d in range(dout.shape[1]):
            dout[i, d] = drate_c[i, d] + dinp[i, d]


@engine_jit()
def ss_constant(linear, rhs, jac, dfdp, K, dKd, p, dPr, t, cmt, R, dR, y, S, Jm, b, piv, Fp,
                ftmp, opts):
    """Steady state of a constant infusion R into ``cmt``: f(y) + R e_cmt = 0, into (y, S).

    ``y`` holds the Newton start. Sensitivities: J dy = -(Fp dP + dR e_cmt).
    """
    n = y.shape[0]
    nd = S.shape[1]
    n_p = p.shape[0]
    own = has_model_input(linear, opts)
    if linear:
        # K y + b + R e_cmt = 0, b the model's own input (rhs at y = 0) where it has one
        if own:
            for i in range(n):
                y[i] = 0.0
            rhs(t, y, p, ftmp)
        for i in range(n):
            b[i, 0] = -ftmp[i] if own else 0.0
            for j in range(n):
                Jm[i, j] = K[i, j]
        b[cmt, 0] -= R
        if not solve_into(Jm, b, piv):
            return SS_SINGULAR
        for i in range(n):
            y[i] = b[i, 0]
    else:
        done = False
        for it in range(NEWTON_MAX_IT):
            rhs(t, y, p, ftmp)
            ftmp[cmt] += R
            jac(t, y, p, Jm)
            for i in range(n):
                b[i, 0] = ftmp[i]
            if not solve_into(Jm, b, piv):
                return SS_SINGULAR
            for i in range(n):
                y[i] -= b[i, 0]
            if _converged(b[:, 0], y, opts):
                done = True
                break
        if not done:
            return SS_NO_CONVERGENCE
    if nd == 0:
        return SS_OK
    # right-hand side -(Fp dP + dR e) into S, then solve with J (for a linear model with an
    # input of its own, Fp = dK/dp y + db/dp is the ODE form)
    if linear and not own:
        for d in range(nd):
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += dKd[d, i, j] * y[j]
                S[i, d] = -acc
        for i in range(n):
            for j in range(n):
                Jm[i, j] = K[i, j]
    else:
        dfdp(t, y, p, Fp)
        for i in range(n):
            for d in range(nd):
                acc = 0.0
                for k in range(n_p):
                    acc += Fp[i, k] * dPr[k, d]
                S[i, d] = -acc
        if linear:
            for i in range(n):
                for j in range(n):
                    Jm[i, j] = K[i, j]
        else:
            jac(t, y, p, Jm)
    for d in range(nd):
        S[cmt, d] -= dR[d]
    if not solve_into(Jm, S, piv):
        return SS_SINGULAR
    return SS_OK


# ``ss_load`` and ``ss_constant`` late-bound (``jit.LateBound``): ``events.solve_records`` calls them
# through ``SS_LOAD`` / ``SS_CONSTANT``, so the steady-state code is compiled once, on its own, and
# only once data with steady-state doses needs it (``bind_steady_state``)
STEADY_WORKSPACE_TYPE = typeof(make_steady_workspace.py_func(1, 1, 1))
_MODEL = (types.boolean, RhsFn, JacFn, JacFn, mat, arr3, vec, mat)  # linear, rhs, jac, dfdp, K, dKd, p, dPr
SS_LOAD_SIG = types.Tuple((types.int64, f8, types.int64))(
    *_MODEL, f8, types.int64, types.int64, f8, vec, f8, vec, f8, vec, f8, vec, f8, vec, mat, vec, mat, vec,
    LINEAR_WORKSPACE_TYPE, STEADY_WORKSPACE_TYPE, vec)
SS_CONSTANT_SIG = types.int64(*_MODEL, f8, types.int64, f8, vec, vec, mat, mat, mat, types.int64[::1], mat, vec,
                              vec)
SS_LOAD = LateBound("nlme_lab_kernels_ss_load", SS_LOAD_SIG)
SS_CONSTANT = LateBound("nlme_lab_kernels_ss_constant", SS_CONSTANT_SIG)


def bind_steady_state() -> None:
    """Compile (or load from the cache) the steady-state solver (and ``propagate.advance``, which
    it steps with) and let the engine call it: before the engine first solves data with SS
    records in this process (``Predictor``; a cold start without them skips ~10 s)."""
    bind_advance()
    if not SS_LOAD.bound:
        SS_LOAD.bind(ss_load)
    if not SS_CONSTANT.bound:
        SS_CONSTANT.bind(ss_constant)


def needs_steady_state(ss) -> bool:
    """Whether records with this SS column need the steady-state solver (``bind_steady_state``)."""
    return bool(np.any(np.asarray(ss) > 0))
