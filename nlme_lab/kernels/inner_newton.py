"""The small per-subject linear algebra of the inner (eta-hat) Newton iteration, compiled.

``estimation.individual.SubjectEngine.solve`` moves all subjects at once; per iteration it
needs, for every subject, the Gauss-Newton decrement, whether it converged, the slope of the
step, the Armijo line search's acceptance and halving, and the BFGS update of the Hessians in
use. In numpy these are dozens of calls on (n_sub,) and (n_sub, n_eta, n_eta) arrays per
iteration, which cost more than the arithmetic at tens of subjects; here they are one call
each. (The solves stay ``np.linalg.solve``: numba's would compile LAPACK glue, ~2 s cold.)

Every number is the numpy code's to the bit: the dot products are summed in ``einsum``'s order
(``_dot``), which is known for up to ``MAX_ETA`` etas; the caller keeps the numpy code above
that. Standalone (``kernels.cache_guard.STANDALONE_MODULES``): it embeds no other
module's code, so numba's own source check keeps its cache valid.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

f1 = types.Array(types.float64, 1, "A")
f2 = types.Array(types.float64, 2, "A")
f3 = types.Array(types.float64, 3, "A")
b1 = types.Array(types.boolean, 1, "A")

DOTS_SIG = types.void(f2, f2, f1)
SECANT_SIG = types.void(f3, b1, f2, f2, types.float64)


#: the largest n_eta whose dot products ``_dot`` sums in numpy's ``einsum`` order (checked on
#: every length up to it, tests/kernels/test_inner_newton.py); above it the caller keeps numpy
MAX_ETA = 4


@njit(types.float64(f1, f1), cache=True)  # one signature: its callers pass C and A layouts (two compiles, ~0.4 CPU s each)
def _dot(a, b):
    """sum_i a[i] b[i] in the order numpy's ``einsum("ne,ne->n")`` sums up to 4 terms (SIMD
    lanes: (p0 + p2) + (p1 + p3)), so the results are the numpy code's to the bit."""
    n = a.shape[0]
    if n == 1:
        return a[0] * b[0]
    if n == 2:
        return a[0] * b[0] + a[1] * b[1]
    if n == 3:
        return (a[0] * b[0] + a[2] * b[2]) + a[1] * b[1]
    return (a[0] * b[0] + a[2] * b[2]) + (a[1] * b[1] + a[3] * b[3])


@njit(DOTS_SIG, cache=True)
def dots(a, b, out):
    """``out[s] = a[s]' b[s]`` per subject, summed as ``einsum("ne,ne->n")`` sums."""
    for s in range(a.shape[0]):
        out[s] = _dot(a[s], b[s])


@njit(SECANT_SIG, cache=True)
def secant_update(H, use, s, y, min_step):
    """BFGS update in place of ``H[k]`` where ``use[k]``, the move ``s[k]`` exceeds
    ``min_step`` and the curvature s'y is clearly positive (``individual._secant_update``)."""
    n_sub, n_e = s.shape
    Hs = np.empty(n_e)
    for k in range(n_sub):
        if not use[k]:
            continue
        sk, yk = s[k], y[k]
        big = 0.0
        for i in range(n_e):
            big = max(big, abs(sk[i]))
        sy = _dot(sk, yk)
        if not (big > min_step and sy > 1e-10 * np.sqrt(_dot(sk, sk) * _dot(yk, yk))):
            continue
        for i in range(n_e):
            Hs[i] = _dot(H[k, i], sk)
        sHs = _dot(sk, Hs)
        for i in range(n_e):
            for j in range(n_e):
                H[k, i, j] += y[k, i] * y[k, j] / sy - Hs[i] * Hs[j] / sHs


# --- the bookkeeping of ``SubjectEngine.solve`` and its Armijo line search, per subject ------
i1 = types.Array(types.int64, 1, "A")
STATUS_SIG = types.boolean(f2, f2, types.float64, b1, f1, b1, b1)
BLIND_SIG = types.void(b1, b1, i1, types.int64, b1, b1)
START_SIG = types.boolean(b1, f1, f1, f1, f1, b1)
ACCEPT_SIG = types.int64(b1, b1, f1, f1, f1, f1, f1, f2, b1)
ADVANCE_SIG = types.boolean(b1, b1, f1, b1, f1, f1, b1)


@njit(STATUS_SIG, cache=True)
def newton_status(grad, gn_step, tol, stuck, dec, converged, active):
    """The Gauss-Newton decrement ``dec = -grad' gn_step``; ``converged = max |gn_step| < tol
    or dec < 1e-24``, ``active = not converged and not stuck``; returns whether any subject
    is active."""
    n_sub, n_e = gn_step.shape
    out = False
    for s in range(n_sub):
        dec[s] = -_dot(grad[s], gn_step[s])
        big = np.abs(gn_step[s, 0])
        for i in range(1, n_e):
            x = np.abs(gn_step[s, i])
            if x > big or np.isnan(x):  # (np.max propagates NaN)
                big = x
        c = (big < tol) or (dec[s] < 1e-24)
        converged[s] = c
        a = not c and not stuck[s]
        active[s] = a
        out = out or a
    return out


@njit(BLIND_SIG, cache=True)
def count_blind(stalled, failed, blind, blind_steps, stuck, rounded):
    """After a line search: ``blind`` counts consecutive stalled steps; a subject at
    ``blind_steps`` is done (``rounded``); failed or done subjects are ``stuck``."""
    for s in range(len(stalled)):
        blind[s] = blind[s] + 1 if stalled[s] else 0
        done = blind[s] >= blind_steps
        stuck[s] = stuck[s] or failed[s] or done
        rounded[s] = rounded[s] or done


@njit(START_SIG, cache=True)
def armijo_start(active, slope, inner, t, noise, stalled):
    """The line search's start: t = 1 on the active subjects (0 elsewhere), the resolution
    ``noise`` = 1e-13 (1 + |L_i|), ``stalled`` where the decrease to verify is below it.
    Returns whether any subject is active."""
    out = False
    for s in range(len(active)):
        t[s] = 1.0 if active[s] else 0.0
        noise[s] = 1e-13 * (1.0 + np.abs(inner[s]))
        stalled[s] = active[s] and (-slope[s] < noise[s])
        out = out or active[s]
    return out


@njit(ACCEPT_SIG, cache=True)
def armijo_accept(todo, stalled, t, slope, noise, inner, inner_t, grad_t, ok):
    """``ok``: subjects still to do whose trial is finite and decreases L_i by the Armijo
    fraction (or is ``stalled``); returns how many."""
    n = 0
    for s in range(len(todo)):
        good = todo[s] and np.isfinite(inner_t[s])
        if good:
            for i in range(grad_t.shape[1]):
                good = good and np.isfinite(grad_t[s, i])
        if good:
            good = (inner_t[s] <= inner[s] + 1e-4 * t[s] * slope[s] + noise[s]) or stalled[s]
        ok[s] = good
        n += good
    return n


@njit(ADVANCE_SIG, cache=True)
def armijo_advance(todo, ok, t, damped, slope, noise, stalled):
    """After a trial: the subjects not accepted halve t (0 elsewhere) and count as
    ``damped``; those whose decrease to verify falls below ``noise`` are ``stalled`` and
    stop. Returns whether any subject is left to do."""
    out = False
    for s in range(len(todo)):
        td = todo[s] and not ok[s]
        t[s] = 0.5 * t[s] if td else 0.0
        damped[s] = damped[s] or td
        if td and -t[s] * slope[s] < noise[s]:
            stalled[s] = True
            td = False
        todo[s] = td
        out = out or td
    return out


# --- the outer gradient's perturbed batch ---------------------------------------------------
ETA_ROWS_SIG = types.void(f2, f3, f3, f2, f3, types.float64, types.int64)


@njit(ETA_ROWS_SIG, cache=True)
def eta_rows(F, G, E, g, g_eta, h, r):
    """``Objective._perturbed_batch``'s eta moves, in place: rows r + 2m (eta_m + h) and
    r + 1 + 2m (eta_m - h) of the etas ``E`` (B, n_sub, n_eta), the predictions ``F`` (B, n_obs)
    moved by +-h df/deta_m (``g`` (n_obs, n_eta)) and their eta-derivatives ``G`` (B, n_obs,
    n_eta) by +-h d2f/deta deta_m (``g_eta`` (n_obs, n_eta, n_eta)); the numpy expressions'
    numbers (x - h d is x + (-h) d)."""
    n_obs, n_e = g.shape
    for m in range(n_e):
        p, q = r + 2 * m, r + 1 + 2 * m
        for s in range(E.shape[1]):
            E[p, s, m] += h
            E[q, s, m] -= h
        for o in range(n_obs):
            d = h * g[o, m]
            F[p, o] += d
            F[q, o] -= d
            for e in range(n_e):
                d = h * g_eta[o, e, m]
                G[p, o, e] += d
                G[q, o, e] -= d
