"""The fast path of the event engine with sensitivity directions: ``bolus_march.march`` for a
linear model's "simple" subject, with the derivatives of its predictions along ``dP``.

A simple subject (``bolus_march``: the same individual parameters on every record, plain
boluses only), here also with the same directions ``dP`` on every record and no lag time on
a dosed compartment (a lag of 0 still has a derivative). With ``K = V diag(lam) W`` fixed for
the subject, the state and its sensitivities along direction d, ``S_d = dy/dd``, solve
``y' = K y`` and ``S_d' = K S_d + dK_d y`` (``dK_d = sum_k dK/dp_k dP[k, d]``). Each step
between records is ``linear.lin_advance_eigen``'s (with ``G_d = W dK_d V``, ``^y = W y``)::

    ^S_d,i = e^(lam_i h) (W S_d)_i + sum_j G_d,ij Phi_ij ^y_j,    S_d = V ^S_d,   y = V (e^(lam h) ^y)
    Phi_ii = h e^(lam_i h),  Phi_ij = h (e^(lam_i h) - e^(lam_j h)) / (lam_i h - lam_j h)

operation for operation, a bolus is ``events._apply_event``'s (``y_c += F amt``,
``S_c,d += amt dF_d``) and the prediction ``events._predict``'s, so the numbers are those of
the full path bit for bit (``tests/kernels/test_bolus_march_sens.py``): what changes is the
full path's per-subject bookkeeping, left out.

Like ``march``, ``march_sens`` returns False (nothing that matters written) whenever the
subject is not simple, the decomposition is declined or a state is not finite: the full path
(``events.solve_records``) then solves the subject.

Why: with directions a simple subject left the fast path for ``solve_records``, whose fixed
cost per subject (clearing the workspace, the event queue, the dose modifiers' bookkeeping)
made a call with 3 directions ~5x one without on theo_sd, and ~4x on pheno (many doses): the
FOCE family calls the engine with directions ~270 times per fit.

``opts[OPT_FULL_PATH]`` nonzero turns this path off (the tests' reference).
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import math  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, typeof, types  # noqa: E402

from .abi import DinitFn, DlinsysFn, DobsFn, InitFn, LinsysFn, ObsFn, arr3, mat, vec  # noqa: E402
from .bolus_march import _simple  # noqa: E402
from .jit import COMPILED_CALLERS_ONLY, LateBound, engine_jit  # noqa: E402
from .linear import METHOD_EXPM, OPT_LINEAR_METHOD, OPT_MODEL_INPUT, contract_dK  # noqa: E402
from .spectral import DECOMPOSE, EIG_OK, dd1, make_decomp_workspace  # noqa: E402

_decompose = DECOMPOSE.function  # late-bound (``jit.LateBound``)

#: index in the engine's ``opts``: nonzero turns the sensitivity fast path off (tests' reference)
OPT_FULL_PATH = 10


def with_full_path(opts: np.ndarray, on: bool = True) -> np.ndarray:
    """A copy of the engine ``opts`` with ``OPT_FULL_PATH`` set (every subject with directions
    through ``events.solve_records``)."""
    out = np.zeros(max(opts.shape[0], OPT_FULL_PATH + 1))
    out[: opts.shape[0]] = opts
    out[OPT_FULL_PATH] = 1.0 if on else 0.0
    return out


class SensScratch(NamedTuple):
    """The arrays ``march_sens`` works in (``sens_scratch``): n states, n_p parameters, nd
    directions, n_end endpoints."""

    K: np.ndarray  # (n, n)
    V: np.ndarray  # (n, n)
    W: np.ndarray  # (n, n)
    lam: np.ndarray  # (n,)
    y: np.ndarray  # (n,)
    yh: np.ndarray  # (n,)
    a: np.ndarray  # (n,) lam h
    e: np.ndarray  # (n,) exp(lam h)
    p: np.ndarray  # (n_p,)
    S: np.ndarray  # (n, nd)
    Sh: np.ndarray  # (n, nd)
    dK_raw: np.ndarray  # (n, n, n_p)
    G: np.ndarray  # (nd, n, n): dK_d, then W dK_d V
    tmp: np.ndarray  # (n, n)
    Phi: np.ndarray  # (n, n)
    Y0p: np.ndarray  # (n, n_p)
    t: np.ndarray  # (n,)
    dzero: np.ndarray  # int64 (nd,): 1 where dK_d == 0
    Oy: np.ndarray  # (n_end, n)
    Op: np.ndarray  # (n_end, n_p)
    pred_i: np.ndarray  # (n_end,)
    decomp: object  # spectral.DecompWorkspace


@njit(cache=True, **COMPILED_CALLERS_ONLY)
def make_sens_scratch(n, n_p, nd, n_end):
    """A ``SensScratch`` of its own (n states, n_p parameters, nd directions, n_end endpoints),
    allocated once per chunk of subjects by ``population._solve_range_at``: not taken from a
    ``workspace.SubjectWorkspace``, so a fit whose subjects all take this path compiles neither
    the full workspace nor the event engine (``population.bind_engine``). ``march_sens``
    writes every entry it reads before reading it, so fresh zeros and a reused workspace give
    the same numbers. The eigenvalues go in the decomposition workspace's free ``lam``, as in
    ``workspace.make_march_scratch``."""
    dw = make_decomp_workspace(n)
    return SensScratch(np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n)), dw.lam, np.zeros(n),
                       np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n_p), np.zeros((n, nd)),
                       np.zeros((n, nd)), np.zeros((n, n, n_p)), np.zeros((nd, n, n)), np.zeros((n, n)),
                       np.zeros((n, n)), np.zeros((n, n_p)), np.zeros(n), np.zeros(nd, np.int64),
                       np.zeros((n_end, n)), np.zeros((n_end, n_p)), np.zeros(n_end),
                       dw)


def _scratch_type():
    """The numba type of a ``SensScratch`` (from a Python-built one: no compile)."""
    a1, a2, a3 = np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1, 1))
    return typeof(SensScratch(a2, a2, a2, a1, a1, a1, a1, a1, a1, a2, a2, a3, a3, a2, a2, a2, a1,
                              np.zeros(1, np.int64), a2, a2, a1, make_decomp_workspace.py_func(1)))


SENS_SCRATCH_TYPE = _scratch_type()


@engine_jit()
def sens_path_applies(linear, nd, opts):
    """Whether ``march_sens`` may take subjects: a linear model without an input of its own,
    with directions, not the forced Padé method and not ``OPT_FULL_PATH``."""
    n_opt = opts.shape[0]
    return linear and nd > 0 and not (n_opt > OPT_LINEAR_METHOD and opts[OPT_LINEAR_METHOD] == METHOD_EXPM) \
        and not (n_opt > OPT_MODEL_INPUT and opts[OPT_MODEL_INPUT] != 0.0) \
        and not (n_opt > OPT_FULL_PATH and opts[OPT_FULL_PATH] != 0.0)


@engine_jit(inline=True)
def _eligible(a, b, evid, amt, cmt, dP, dose_index):
    """The directions are the same on every record and no dosed compartment has a lag."""
    n_p, nd = dP.shape[1], dP.shape[2]
    for g in range(a + 1, b):
        for k in range(n_p):
            for d in range(nd):
                v = dP[g, k, d]
                if v != dP[a, k, d] or v != v:
                    return False
    for g in range(a, b):
        if evid[g] == 1 and amt[g] != 0.0 and dose_index[1, cmt[g]] >= 0:
            return False
    return True


@engine_jit(wrappers=False)  # late-bound: ``MARCH_SENS_SUBJECT``
def march_sens(a, b, time, evid, amt, cmt, rate, addl, ss, P, dP, dose_index, init, dinit, obs,
               dobs_dy, dobs_dp, linsys, dlinsys, pred, dpred, sc):
    """Predictions ``pred[a:b]`` and directions ``dpred[a:b]`` of a simple subject (module
    docstring), or False (nothing useful written). ``sc``: a ``SensScratch``.

    Each step is ``linear.lin_advance_eigen``'s without inputs, operation for operation (the
    state kept in the original coordinates, projected on W and back on V at every step), the
    dose is ``events._apply_event``'s bolus and the prediction ``events._predict``: the
    numbers of the full path, bit for bit, without its per-subject bookkeeping."""
    K, V, W, lam = sc.K, sc.V, sc.W, sc.lam
    y, yh, av, ev, p, tv = sc.y, sc.yh, sc.a, sc.e, sc.p, sc.t
    S, Sh, G, tmp, Phi = sc.S, sc.Sh, sc.G, sc.tmp, sc.Phi
    Oy, Op, pred_i, Y0p, dK_raw, dzero = sc.Oy, sc.Op, sc.pred_i, sc.Y0p, sc.dK_raw, sc.dzero
    n = K.shape[0]
    n_p = P.shape[1]
    nd = dP.shape[2]
    n_end = pred.shape[1]
    if not _simple(a, b, time, evid, amt, cmt, rate, addl, ss, P, dose_index, n):
        return False
    if not _eligible(a, b, evid, amt, cmt, dP, dose_index):
        return False
    for k in range(n_p):
        p[k] = P[a, k]
    for i in range(n):  # (what the full path's cleared workspace holds)
        for j in range(n):
            K[i, j] = 0.0
            for k in range(n_p):
                dK_raw[i, j, k] = 0.0
        for k in range(n_p):
            Y0p[i, k] = 0.0
    for e in range(n_end):
        for i in range(n):
            Oy[e, i] = 0.0
        for k in range(n_p):
            Op[e, k] = 0.0
    linsys(p, K)
    if _decompose()(K, V, W, lam, sc.decomp) != EIG_OK:
        return False
    dPr = dP[a]
    dlinsys(p, dK_raw)
    contract_dK(dK_raw, dPr, G)
    for d in range(nd):  # G_d = W dK_d V (linear._directions_ready; in place: tmp = dK_d V first)
        zero = 1
        for i in range(n):
            for j in range(n):
                if G[d, i, j] != 0.0:
                    zero = 0
        dzero[d] = zero
        if zero:
            continue
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += G[d, i, k] * V[k, j]
                tmp[i, j] = acc
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += W[i, k] * tmp[k, j]
                G[d, i, j] = acc
    init(p, y)
    dinit(p, Y0p)
    for i in range(n):
        for d in range(nd):
            acc = 0.0
            for k in range(n_p):
                acc += Y0p[i, k] * dPr[k, d]
            S[i, d] = acc
    tc = time[a]
    for g in range(a, b):
        h = time[g] - tc
        if h != 0.0:
            for i in range(n):
                x = lam[i] * h
                av[i] = x
                ev[i] = math.exp(x)
                acc = 0.0
                for j in range(n):
                    acc += W[i, j] * y[j]
                yh[i] = acc
            for i in range(n):  # M_ij = Phi_ij ^y_j
                Phi[i, i] = (h * ev[i]) * yh[i]
                for j in range(i + 1, n):
                    v = h * dd1(av[i], av[j], ev[i], ev[j])
                    Phi[i, j] = v * yh[j]
                    Phi[j, i] = v * yh[i]
            for d in range(nd):
                use_g = dzero[d] == 0
                for i in range(n):
                    acc = 0.0
                    for j in range(n):
                        acc += W[i, j] * S[j, d]
                    acc *= ev[i]
                    if use_g:
                        for j in range(n):
                            acc += G[d, i, j] * Phi[i, j]
                    Sh[i, d] = acc
            for i in range(n):
                for d in range(nd):
                    acc = 0.0
                    for j in range(n):
                        acc += V[i, j] * Sh[j, d]
                    S[i, d] = acc
            for i in range(n):
                tv[i] = ev[i] * yh[i] + 0.0 * 0.0  # (+ the input term, zero here)
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += V[i, j] * tv[j]
                if not (abs(acc) < 1e308):
                    return False  # the full path reports the non-finite state
                y[i] = acc
            tc = time[g]
        if evid[g] == 1 and amt[g] != 0.0:
            c = cmt[g]
            f = dose_index[0, c]
            F = p[f] if f >= 0 else 1.0
            y[c] += F * amt[g]
            for d in range(nd):
                S[c, d] += amt[g] * (dPr[f, d] if f >= 0 else 0.0)
        ti = time[g]
        obs(ti, y, p, pred_i)
        dobs_dy(ti, y, p, Oy)
        dobs_dp(ti, y, p, Op)
        for e in range(n_end):
            pred[g, e] = pred_i[e]
            for d in range(nd):
                acc = 0.0
                for s in range(n):
                    acc += Oy[e, s] * S[s, d]
                for k in range(n_p):
                    acc += Op[e, k] * dPr[k, d]
                dpred[g, e, d] = acc
    return True


_i64v, _i64m = types.int64[::1], types.int64[:, ::1]
#: ``march_sens``, late-bound (``jit.LateBound``; bound by ``bind_march_sens``):
#: compiled once, on its own, rather than inlined into ``population._march_sens_at`` (numba's
#: inliner deep-copies the callee's IR block by block, ~3 CPU s for this one) or linked into it
#: (its code optimised and machine-coded again there, ~1 CPU s)
MARCH_SENS_SUBJECT = LateBound("nlme_lab_kernels_march_sens", types.boolean(
    types.int64, types.int64, vec, _i64v, vec, _i64v, vec, _i64v, _i64v, mat, arr3, _i64m,
    InitFn, DinitFn, ObsFn, DobsFn, DobsFn, LinsysFn, DlinsysFn, mat, arr3, SENS_SCRATCH_TYPE))


def bind_march_sens() -> None:
    """Compile (or load) ``march_sens`` and fill ``MARCH_SENS_SUBJECT``: with the rest of the
    sensitivity path (``population.bind_sensitivity_path``), or on its own where a second process
    compiles that rest (``problem.background_compile``: nothing here links the engine)."""
    if not MARCH_SENS_SUBJECT.bound:
        MARCH_SENS_SUBJECT.bind(march_sens)
