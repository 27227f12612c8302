"""The event engine: one subject's records -> predictions (and their sensitivities).

``solve_subject`` implements NONMEM's dosing semantics as pinned down by
``tests/shared/data/nmtest.csv`` (rules 1-8 of its README; docs/ARCHITECTURE.md "Event
semantics"):

* records in file order; the interval ending at record i is advanced with ``P[i]``;
* the prediction of a record is taken after the record is processed;
* pending events (lagged arrivals, ADDL doses, infusion ends) live in a small queue of
  arithmetic *series* ``t0 + k step, k < n`` (one per dose record and kind), processed in
  time order; those due at a record's time are applied before the record;
* F scales a bolus amount and, for RATE > 0, the infusion duration; RATE = -1 / -2 take the
  modeled rate / duration (``dose_index`` rows RATE / DUR); ALAG delays arrival; ADDL doses
  use F, ALAG, rate and duration of their own record;
* SS=1 resets (state, running infusions, pending events) and loads the steady state,
  SS=2 adds it; AMT=0 with RATE>0 (or -1) and SS>0 is a constant infusion at steady state that
  does not continue after the record (README rule 6); EVID 3 resets to ``init``, EVID 4
  resets then doses; ALAG > II with SS reproduces NONMEM's backward propagation (rule 5,
  see ``steady_state.ss_load``).

Sensitivities along n_dir directions (``dP[i] = dp/d(direction)`` per record) propagate
through the intervals (exactly for linear models), doses (d amount = AMT dF), steady states
and resets; at events whose time depends on parameters (lag, modeled duration, F on an
infusion's duration) the jump condition ``S+ = S- + (f- - f+) dtau`` is applied.

Never raises: returns a ``Status`` and writes the failing record index to ``info[0]`` and a
detail code (the ODE integrator's status) to ``info[1]``.

Speed (linear models): ``solve_records`` works on a range of a population's arrays with a
reusable workspace (``workspace.make_subject_workspace``; ``population`` allocates one per chunk
of subjects), copies each record's parameters into it (no views of shared arrays, whose refcount
atomics would contend between threads), recomputes K, dK and their eigendecomposition
(``linear.lin_prepare``) only when the record's parameters differ from the previous record's,
and calls the linear propagator directly rather than through ``propagate.advance``. Its
callers first offer each subject to ``bolus_march.march`` (when ``fast_path_applies``): a linear
model's subject with constant parameters and plain bolus doses, when only predictions are
asked for, needs a few exponentials per record and none of this machinery.
"""

from __future__ import annotations

import enum

import numpy as np
from numba import njit, types

from . import cache_guard

cache_guard.check()  # before anything below loads a (possibly stale) cached kernel

from .abi import (  # noqa: E402
    DinitFn,
    DlinsysFn,
    DobsFn,
    InitFn,
    JacFn,
    LinsysFn,
    ObsFn,
    RhsFn,
    arr3,
    mat,
    vec,
)
from .bolus_march import march  # noqa: E402
from .jit import LateBound, engine_jit  # noqa: E402
from .linear import (  # noqa: E402
    LIN_ADVANCE_EXPM,
    METHOD_EXPM,
    OPT_LINEAR_METHOD,
    OPT_MODEL_INPUT,
    STAT_EIGEN_INTERVALS,
    STAT_EXPM_INTERVALS,
    bind_lin_advance_expm,
    contract_dK,
    lin_advance_eigen,
    lin_prepare,
)
from .propagate import (  # noqa: E402
    ADVANCE,
    NONFINITE_STATE,
    ODE_NOT_LOADED,
    add_input,
    bind_ode,
    eval_f,
    has_model_input,
    model_input,
)
from .steady_state import (  # noqa: E402
    KIND_BOLUS,
    KIND_INFUSION,
    SS_NO_CONVERGENCE,
    SS_CONSTANT,
    SS_LOAD,
    SS_NOT_LOADED,
    SS_SINGULAR,
    bind_steady_state,
)
from .workspace import (  # noqa: E402
    WORKSPACE_TYPE,
    clear,
    make_subject_workspace,
    march_scratch,
    queue_capacity,
    queue_head,
)

from .abi import BAD_RECORD, NONFINITE, NOT_LOADED, ODE_FAILED, OK, SINGULAR, SS_FAILED, i64m, i64v  # noqa: E402,F401

# bad-record details (info[1] when the status is BAD_RECORD)
BAD_TIME_ORDER = 1
BAD_CMT = 2
BAD_LAG = 3
BAD_II = 4
BAD_RATE = 5
BAD_DURATION = 6
BAD_AMT = 7

KIND_START = 1  # queue kinds: KIND_BOLUS (0) arrival, infusion start, infusion end
KIND_END = 2

# late-bound (``jit.LateBound``); ``advance`` and the steady-state solver only once bound
# (``propagate.bind_ode``, ``steady_state.bind_steady_state``): 0 addresses until then
_advance, _advance_address = ADVANCE.function, ADVANCE.address
_lin_advance_expm = LIN_ADVANCE_EXPM.function
_ss_load, _ss_load_address = SS_LOAD.function, SS_LOAD.address
_ss_constant, _ss_constant_address = SS_CONSTANT.function, SS_CONSTANT.address



class Status(enum.IntEnum):
    """Return value of ``solve_subject`` / per-subject status of ``solve_population``."""

    OK = OK
    ODE_FAILED = ODE_FAILED  # info[1] = the integrator's status
    BAD_RECORD = BAD_RECORD  # info[1] = a BadRecord code
    SS_FAILED = SS_FAILED  # steady state did not converge
    SINGULAR = SINGULAR  # singular steady-state system (no elimination?)
    NONFINITE = NONFINITE  # a state became inf/nan
    NOT_LOADED = NOT_LOADED  # solve_records not bound yet (``bind_solve_records``; the caller binds, solves again)


class BadRecord(enum.IntEnum):
    """Detail code of ``Status.BAD_RECORD`` (``info[1]``)."""

    TIME_ORDER = BAD_TIME_ORDER  # time decreases
    CMT = BAD_CMT  # dose compartment out of range
    LAG = BAD_LAG  # negative lag time
    II = BAD_II  # ADDL or SS without II > 0
    RATE = BAD_RATE  # RATE -1/-2 without a modeled rate/duration, or a non-positive rate
    DURATION = BAD_DURATION  # non-positive infusion duration
    AMT = BAD_AMT  # AMT 0 with RATE != 0 and SS = 0 (infinite infusion)


SOLVE_SUBJECT_SIG = types.int64(
    vec, i64v, vec, i64v, vec, vec, i64v, i64v,  # time evid amt cmt rate ii addl ss
    mat, i64m,  # P, dose_index
    RhsFn, JacFn, JacFn, InitFn, DinitFn, ObsFn, DobsFn, DobsFn, LinsysFn, DlinsysFn,
    types.boolean, arr3, mat, arr3, vec, i64v,  # linear, dP, pred, dpred, opts, info
)


# ---------------------------------------------------------------------------- event queue
#: one signature: called with the literal kinds, numba would compile it once per kind
QUEUE_TYPE = WORKSPACE_TYPE.types[WORKSPACE_TYPE.fields.index("queue")]
Q_PUSH_SIG = types.boolean(QUEUE_TYPE, types.float64, types.float64, types.int64, types.int64, types.int64,
                           types.float64, vec, vec)


@engine_jit(Q_PUSH_SIG)
def _q_push(q, t0, step, count, kind, c, a, dt, da):
    """Add the series t0 + k step (k < count) to the ``workspace.EventQueue`` q. dt/da:
    per-direction d time / d amount."""
    if count <= 0:
        return True
    for j in range(q.n.shape[0]):
        if q.k[j] >= q.n[j]:
            q.t0[j] = t0
            q.step[j] = step
            q.k[j] = 0
            q.n[j] = count
            q.kind[j] = kind
            q.cmt[j] = c
            q.amt[j] = a
            for d in range(q.dt.shape[1]):
                q.dt[j, d] = dt[d]
                q.da[j, d] = da[d]
            return True
    return False


@engine_jit(inline=True)
def _q_next(q):
    """(index, time) of the earliest pending event (first pushed on ties), or (-1, inf)."""
    best = -1
    tb = np.inf
    for j in range(q.n.shape[0]):
        if q.k[j] < q.n[j]:
            te = q.t0[j] + q.k[j] * q.step[j]
            if te < tb:
                tb = te
                best = j
    return best, tb


@engine_jit()
def _apply_event(kind, c, a, dt, da, linear, rhs, K, te, y, S, p, rate_v, drate_v, f1, f2):
    """Apply a bolus arrival / infusion start / infusion end at time te (jump conditions)."""
    nd = S.shape[1]
    n = y.shape[0]
    moving = False
    for d in range(nd):
        if dt[d] != 0.0:
            moving = True
    if kind == KIND_BOLUS:
        if moving:
            eval_f(linear, rhs, K, te, y, p, rate_v, f1)
        y[c] += a
        if moving:
            eval_f(linear, rhs, K, te, y, p, rate_v, f2)
            for i in range(n):
                for d in range(nd):
                    S[i, d] += (f1[i] - f2[i]) * dt[d]
        for d in range(nd):
            S[c, d] += da[d]
    else:
        sgn = 1.0 if kind == KIND_START else -1.0
        old = rate_v[c]
        rate_v[c] += sgn * a
        if abs(rate_v[c]) <= 1e-13 * max(abs(old), abs(a)):
            rate_v[c] = 0.0
        for d in range(nd):
            S[c, d] -= sgn * a * dt[d]  # f- - f+ = -sgn a e_c
            drate_v[c, d] += sgn * da[d]


# ---------------------------------------------------------------------------- helpers
@engine_jit()
def _reset(init, dinit, p, dPr, y, S, rate_v, drate_v, q, Y0p, to_init):
    """Zero the inputs and the queue q; the state becomes init(p) (or zero)."""
    n = y.shape[0]
    nd = S.shape[1]
    for j in range(q.n.shape[0]):
        q.k[j] = 0
        q.n[j] = 0
    for i in range(n):
        rate_v[i] = 0.0
        for d in range(nd):
            drate_v[i, d] = 0.0
    if to_init:
        init(p, y)
        if nd > 0:
            dinit(p, Y0p)
            for i in range(n):
                for d in range(nd):
                    acc = 0.0
                    for k in range(p.shape[0]):
                        acc += Y0p[i, k] * dPr[k, d]
                    S[i, d] = acc
    else:
        for i in range(n):
            y[i] = 0.0
            for d in range(nd):
                S[i, d] = 0.0


@engine_jit()
def _modifier(idx, p, dPr, default, dout):
    """Value of a dose modifier p[idx] (default if idx < 0), its directions into dout."""
    for d in range(dout.shape[0]):
        dout[d] = dPr[idx, d] if idx >= 0 else 0.0
    return p[idx] if idx >= 0 else default


@engine_jit(inline=True)
def _predict(obs, dobs_dy, dobs_dp, t, y, S, p, dPr, pred_i, dpred_i, Oy, Op):
    obs(t, y, p, pred_i)
    nd = S.shape[1]
    if nd == 0:
        return
    dobs_dy(t, y, p, Oy)
    dobs_dp(t, y, p, Op)
    for e in range(pred_i.shape[0]):
        for d in range(nd):
            acc = 0.0
            for s in range(y.shape[0]):
                acc += Oy[e, s] * S[s, d]
            for k in range(p.shape[0]):
                acc += Op[e, k] * dPr[k, d]
            dpred_i[e, d] = acc


@engine_jit()
def _status_of(st, info, i):
    """Map an advance/steady-state status to a ``Status`` and record where it happened."""
    info[0] = i
    info[1] = st
    if st == SS_NO_CONVERGENCE or st == SS_NOT_LOADED:
        return SS_FAILED
    if st == SS_SINGULAR:
        return SINGULAR
    if st == NONFINITE_STATE:
        return NONFINITE
    return ODE_FAILED


@engine_jit(inline=True)
def _finite(y):
    for i in range(y.shape[0]):
        if not (abs(y[i]) < 1e308):
            return False
    return True


@engine_jit()
def _bad(info, i, detail):
    info[0] = i
    info[1] = detail
    return BAD_RECORD


@engine_jit()
def _dose_quantities(kind, a_data, r_data, F, dF, iR, iD, p, dPr, damt, dR, dD):
    """(amount, R, D, detail) of a dose; derivatives into damt/dR/dD. detail 0 = fine."""
    nd = dF.shape[0]
    if kind == KIND_BOLUS:
        for d in range(nd):
            damt[d] = a_data * dF[d]
        return F * a_data, 0.0, 0.0, 0
    R = 0.0
    D = 0.0
    if r_data > 0.0:
        R = r_data
        D = F * a_data / R
        for d in range(nd):
            dR[d] = 0.0
            dD[d] = a_data * dF[d] / R
    elif r_data == -1.0:
        if iR < 0:
            return 0.0, 0.0, 0.0, BAD_RATE
        R = p[iR]
        if not R > 0.0:
            return 0.0, 0.0, 0.0, BAD_RATE
        D = F * a_data / R
        for d in range(nd):
            dR[d] = dPr[iR, d]
            dD[d] = a_data * (dF[d] / R - F * dR[d] / (R * R))
    elif r_data == -2.0:
        if iD < 0:
            return 0.0, 0.0, 0.0, BAD_RATE
        D = p[iD]
        if not D > 0.0:
            return 0.0, 0.0, 0.0, BAD_DURATION
        R = F * a_data / D
        for d in range(nd):
            dD[d] = dPr[iD, d]
            dR[d] = a_data * (dF[d] / D - F * dD[d] / (D * D))
    else:
        return 0.0, 0.0, 0.0, BAD_RATE
    if not D > 0.0:
        return 0.0, 0.0, 0.0, BAD_DURATION
    for d in range(nd):
        damt[d] = a_data * dF[d]
    return F * a_data, R, D, 0


@engine_jit(inline=True)
def _load_row(P, dP, g, p, dPr, first):
    """Copy record g's parameters into p, dPr; True if they differ from what was there."""
    changed = first
    for k in range(p.shape[0]):
        v = P[g, k]
        if v != p[k] or v != v:
            changed = True
        p[k] = v
        for d in range(dPr.shape[1]):
            v = dP[g, k, d]
            if v != dPr[k, d] or v != v:
                changed = True
            dPr[k, d] = v
    return changed


@engine_jit()
def fast_path_applies(linear, nd, opts):
    """Whether ``bolus_march.march`` may take subjects: a linear model without an input of its
    own (``OPT_MODEL_INPUT``), predictions only (no directions), and not the forced Padé method
    (``LinearMethod.EXPM``, the reference)."""
    return linear and nd == 0 and not (opts.shape[0] > OPT_LINEAR_METHOD
                                       and opts[OPT_LINEAR_METHOD] == METHOD_EXPM) and not (
        opts.shape[0] > OPT_MODEL_INPUT and opts[OPT_MODEL_INPUT] != 0.0)


SOLVE_RECORDS_SIG = types.int64(
    types.int64, types.int64, *SOLVE_SUBJECT_SIG.args, WORKSPACE_TYPE,  # a, b, ..., ws
)


@engine_jit()  # no signature: compiled (for SOLVE_RECORDS_SIG) only when bound, ``bind_solve_records``
def solve_records(a, b, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs, jac,
                  dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, pred,
                  dpred, opts, info, ws):
    """``solve_subject`` on the records a:b of the (population's) arrays, with the workspace
    ``ws`` of ``workspace.make_subject_workspace`` (cleared here; its queue needs
    ``queue_capacity(evid, a, b)`` slots). ``info[0]`` is relative to a."""
    n_rec = b - a
    n = dose_index.shape[1]
    nd = dP.shape[2]
    n_end = pred.shape[1]
    info[0] = -1
    info[1] = 0
    if n_rec <= 0:
        return OK
    clear(ws)
    q = queue_head(ws.queue, queue_capacity(evid, a, b))
    y, rate_v, S, drate_v = ws.y, ws.rate_v, ws.S, ws.drate_v
    yc, rate_c, Sc, drate_c = ws.yc, ws.rate_c, ws.Sc, ws.drate_c
    f1, f2, K, dKd, p, dPr = ws.f1, ws.f2, ws.K, ws.dKd, ws.p, ws.dPr
    dF, dL, damt, dR, dD, dLD = ws.dF, ws.dL, ws.damt, ws.dR, ws.dD, ws.dLD
    lw = ws.linear
    expm_only = opts.shape[0] > OPT_LINEAR_METHOD and opts[OPT_LINEAR_METHOD] == METHOD_EXPM
    # a linear model's own input b (d/dt = K y + b) rides in rate_v/drate_v like a running
    # infusion that never ends: replaced when p changes, put back after each reset
    own_input = has_model_input(linear, opts)

    tc = time[a]
    _load_row(P, dP, a, p, dPr, True)
    _reset(init, dinit, p, dPr, y, S, rate_v, drate_v, q, ws.Y0p, True)
    for i in range(n_rec):
        g = a + i
        ti = time[g]
        changed = _load_row(P, dP, g, p, dPr, i == 0)
        if ti < tc:
            return _bad(info, i, BAD_TIME_ORDER)
        if linear and changed:
            linsys(p, K)
            if nd > 0:
                dlinsys(p, ws.dK_raw)
                contract_dK(ws.dK_raw, dPr, dKd)
            if not expm_only:
                lin_prepare(K, dKd, nd, lw, ws.decomp)
            if own_input:
                add_input(rate_v, drate_v, ws.inp, ws.dinp, -1.0)
                model_input(rhs, dfdp, ti, p, dPr, ws.zero, ws.inp, ws.dinp, ws.Fp)
                add_input(rate_v, drate_v, ws.inp, ws.dinp, 1.0)
        # ---- pending events due up to (and at) this record's time, then the record's own time
        # (j = -1): one advance below for both, so that its inlined code is compiled once
        t_snap = 1e-12 * max(1.0, abs(ti))
        while True:
            j, te = _q_next(q)
            if j < 0 or te > ti + t_snap:
                j = -1
                te = ti
            else:
                te = min(max(te, tc), ti)
            if te == tc:
                st = 0
            elif linear:  # propagate.advance's linear branch, without the call
                if expm_only or not lin_advance_eigen(K, dKd, te - tc, y, S, rate_v, drate_v,
                                                      lw.eig, lw.stats):
                    lw.stats[STAT_EXPM_INTERVALS] += 1
                    _lin_advance_expm()(K, dKd, te - tc, y, S, rate_v, drate_v, lw)
                else:
                    lw.stats[STAT_EIGEN_INTERVALS] += 1
                st = 0 if _finite(y) else NONFINITE_STATE
            elif _advance_address() == 0:
                st = ODE_NOT_LOADED
            else:
                st = _advance()(linear, rhs, jac, dfdp, K, dKd, tc, te, y, S, p, dPr, rate_v,
                             drate_v, opts, lw)
            if st != 0:
                return _status_of(st, info, i)
            tc = te
            if j < 0:
                break
            _apply_event(q.kind[j], q.cmt[j], q.amt[j], q.dt[j], q.da[j], linear, rhs, K, te, y, S,
                         p, rate_v, drate_v, f1, f2)
            q.k[j] += 1
        ev = evid[g]
        if ev == 3 or ev == 4:
            _reset(init, dinit, p, dPr, y, S, rate_v, drate_v, q, ws.Y0p, True)
            if own_input:
                add_input(rate_v, drate_v, ws.inp, ws.dinp, 1.0)
        if (ev == 1 or ev == 4) and (amt[g] != 0.0 or rate[g] != 0.0):
            c = cmt[g]
            if c < 0 or c >= n:
                return _bad(info, i, BAD_CMT)
            II = ii[g]
            nadd = addl[g]
            ssi = ss[g]
            if (nadd > 0 or (ssi > 0 and amt[g] != 0.0)) and not II > 0.0:
                return _bad(info, i, BAD_II)
            F = _modifier(dose_index[0, c], p, dPr, 1.0, dF)
            L = _modifier(dose_index[1, c], p, dPr, 0.0, dL)
            if L < 0.0:
                return _bad(info, i, BAD_LAG)
            if amt[g] == 0.0:
                # constant infusion at steady state (README rule 6): not continued afterwards
                if ssi == 0:
                    return _bad(info, i, BAD_AMT)
                R = rate[g]
                for d in range(nd):
                    dR[d] = 0.0
                if rate[g] == -1.0:
                    R = _modifier(dose_index[2, c], p, dPr, -1.0, dR)
                if not R > 0.0:
                    return _bad(info, i, BAD_RATE)
                if ssi == 1:
                    _reset(init, dinit, p, dPr, y, S, rate_v, drate_v, q, ws.Y0p, False)
                    if own_input:
                        add_input(rate_v, drate_v, ws.inp, ws.dinp, 1.0)
                for k in range(n):
                    yc[k] = 0.0
                if _ss_constant_address() == 0:
                    return _status_of(SS_NOT_LOADED, info, i)
                st = _ss_constant()(linear, rhs, jac, dfdp, K, dKd, p, dPr, ti, c, R, dR, yc, Sc,
                                 ws.Jm, ws.bcol, ws.steady.piv, ws.Fp, f1, opts)
                if st != 0:
                    return _status_of(st, info, i)
                for k in range(n):
                    y[k] += yc[k]
                    for d in range(nd):
                        S[k, d] += Sc[k, d]
            else:
                kind = KIND_BOLUS if rate[g] == 0.0 else KIND_INFUSION
                am, R, D, bad = _dose_quantities(kind, amt[g], rate[g], F, dF, dose_index[2, c],
                                                 dose_index[3, c], p, dPr, damt, dR, dD)
                if bad != 0:
                    return _bad(info, i, bad)
                for d in range(nd):
                    dLD[d] = dL[d] + dD[d]
                if ssi > 0:
                    if ssi == 1:
                        _reset(init, dinit, p, dPr, y, S, rate_v, drate_v, q, ws.Y0p, False)
                        if own_input:
                            add_input(rate_v, drate_v, ws.inp, ws.dinp, 1.0)
                    if _ss_load_address() == 0:
                        return _status_of(SS_NOT_LOADED, info, i)
                    st, first_end, n_end_hist = _ss_load()(
                        linear, rhs, jac, dfdp, K, dKd, p, dPr, ti, kind, c, am, damt, R, dR, D,
                        dD, L, dL, II, yc, Sc, rate_c, drate_c, opts, lw, ws.steady, f1)
                    if st != 0:
                        return _status_of(st, info, i)
                    for k in range(n):
                        y[k] += yc[k]
                        rate_v[k] += rate_c[k]
                        for d in range(nd):
                            S[k, d] += Sc[k, d]
                            drate_v[k, d] += drate_c[k, d]
                    _q_push(q, first_end, II, n_end_hist, KIND_END, c, R, dLD, dR)
                # the record's own dose (at ti + L) and its ADDL doses
                first = 0
                if L == 0.0:
                    first = 1
                    _apply_event(kind if kind == KIND_BOLUS else KIND_START, c,
                                 am if kind == KIND_BOLUS else R, dL,
                                 damt if kind == KIND_BOLUS else dR, linear, rhs, K, ti, y, S,
                                 p, rate_v, drate_v, f1, f2)
                if kind == KIND_BOLUS:
                    _q_push(q, ti + L + first * II, II, nadd + 1 - first, KIND_BOLUS, c, am, dL,
                            damt)
                else:
                    _q_push(q, ti + L + first * II, II, nadd + 1 - first, KIND_START, c, R, dL,
                            dR)
                    _q_push(q, ti + L + D, II, nadd + 1, KIND_END, c, R, dLD, dR)
        _predict(obs, dobs_dy, dobs_dp, ti, y, S, p, dPr, ws.pred_i, ws.dpred_i, ws.Oy, ws.Op)
        for e in range(n_end):
            pred[g, e] = ws.pred_i[e]
            for d in range(nd):
                dpred[g, e, d] = ws.dpred_i[e, d]
    return OK


#: ``solve_records`` for the population drivers, late-bound (``jit.LateBound``): compiled once here
#: rather than again into each driver, and only once something needs it (``bind_solve_records``)
SOLVE_RECORDS = LateBound("nlme_lab_kernels_solve_records", SOLVE_RECORDS_SIG)


def bind_solve_records() -> None:
    """Compile (or load from the cache) ``solve_records`` and let the population drivers call it.

    The costliest kernel of a cold start (about half of the engine's compile time), and one that
    a closed-form model's simulation often never runs: ``bolus_march.march`` takes every subject
    with constant parameters and plain bolus doses when only predictions are asked for. So it is
    bound on first need: a driver that meets a subject the march declines while it is unbound
    marks that subject ``NOT_LOADED`` (``population._solve_range_at``), and the caller binds it and
    solves again (``problem.predict.Predictor.solve``); callers that cannot solve again (the SAEM
    sampler, the tests' ``solve_population``) bind it first."""
    bind_lin_advance_expm()  # its fallback for intervals the eigen path declines
    if not SOLVE_RECORDS.bound:
        SOLVE_RECORDS.bind(solve_records)


def _solve_subject_py(time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs, jac, dfdp,
                      init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, pred,
                      dpred, opts, info):
    """Predictions ``pred`` (n_rec, n_endpoint) and ``dpred`` (n_rec, n_endpoint, n_dir).

    Inputs are one subject's records in file order; ``cmt`` is the 0-based dose compartment;
    ``P`` (n_rec, n_p) the individual parameters of each record and ``dP`` (n_rec, n_p, n_dir)
    their derivatives along the directions (n_dir may be 0). ``dose_index`` (4, n_state): rows
    F, ALAG, RATE, DUR, entry = index into p or -1. ``linear``: use the exact propagator with
    K = linsys(p). ``opts``: the ODE integrator's options (``ode.make_opts``; rtol/atol also set
    the steady-state Newton tolerance), optionally extended by the linear method
    (``linear.with_linear_method``). Returns a ``Status`` code; ``info[0]`` = failing record.
    """
    n_rec = time.shape[0]
    ws = make_subject_workspace(dose_index.shape[1], P.shape[1], dP.shape[2], pred.shape[1],
                                queue_capacity(evid, 0, n_rec))
    if fast_path_applies(linear, dP.shape[2], opts):
        if march(0, n_rec, time, evid, amt, cmt, rate, addl, ss, P, dose_index, init, obs, linsys,
                 pred, march_scratch(ws)):
            info[0] = -1
            info[1] = 0
            return OK
    return solve_records(0, n_rec, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs,
                         jac, dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear,
                         dP, pred, dpred, opts, info, ws)


_solve_subject = None


def __getattr__(name):
    """``solve_subject`` compiles on first use only (signature ``SOLVE_SUBJECT_SIG``): the
    population drivers call ``solve_records`` directly, and every compiled entry point costs a
    full optimisation of the engine's code on a cold start."""
    global _solve_subject
    if name == "solve_subject":
        if _solve_subject is None:
            bind_ode()  # the tests call it with ODE models and steady states too
            bind_solve_records()
            bind_steady_state()
            _solve_subject = njit(SOLVE_SUBJECT_SIG, cache=True)(_solve_subject_py)
            _solve_subject.__doc__ = _solve_subject_py.__doc__
        return _solve_subject
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
