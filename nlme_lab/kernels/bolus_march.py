"""The fast path of the event engine: predictions of a linear model's "simple" subject.

Most subjects of a closed-form (linCmt) study are simple: their individual parameters are the
same on every record, and their doses are plain boluses (EVID 1, RATE 0, no SS, no ADDL, no
lag). Their predictions need none of the event queue, steady states, resets or sensitivity
bookkeeping of ``events.solve_records``; between records the state only decays, and in the
eigen coordinates of ``K = V diag(lam) W`` (``spectral.decompose``) that is one exponential per
state::

    ^y = W y0;   per record: ^y *= exp(lam (t_i - t_{i-1}));  dose into c: ^y += F amt W[:, c];
    y_i = V ^y,  prediction = obs(t_i, y_i, p)

``march`` computes exactly that and returns True, or returns False, touching nothing that
matters, whenever the subject is not simple or the eigen path would not be reliable
(``decompose`` declines: nearly equal rate constants, complex eigenvalues) or a state is not
finite; ``solve_records`` then solves the subject in full, so a decline never changes a
result, only the time. It is used only for predictions (no sensitivity directions) and not
when the Padé method is forced (``LinearMethod.EXPM``, the reference).

Why: the general loop's fixed cost per subject (clearing its workspace, the queue, the
modifiers of every dose) was larger than the arithmetic of a 12-record subject; SAEM and
importance sampling solve each subject thousands of times. The two paths agree to rounding
(``tests/kernels/test_bolus_march.py`` compares them on random subjects of 1-3 compartment
models with and without a depot).
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import math  # noqa: E402

from .jit import engine_jit  # noqa: E402
from .spectral import DECOMPOSE, EIG_OK  # noqa: E402

_decompose = DECOMPOSE.function  # late-bound (``jit.LateBound``)


@engine_jit(inline=True)
def _simple(a, b, time, evid, amt, cmt, rate, addl, ss, P, dose_index, n):
    """True if the records a:b are a simple subject (module docstring); lags are checked once
    ``p`` is known (``_lag_free``)."""
    n_p = P.shape[1]
    for g in range(a, b):
        if g > a and time[g] < time[g - 1]:
            return False  # the full path reports the bad record
        for k in range(n_p):
            v = P[g, k]
            if v != P[a, k] or v != v:
                return False
        ev = evid[g]
        if ev == 3 or ev == 4 or ss[g] != 0:
            return False
        if ev == 1 and (amt[g] != 0.0 or rate[g] != 0.0):
            c = cmt[g]
            if rate[g] != 0.0 or addl[g] != 0 or c < 0 or c >= n:
                return False
    return True


@engine_jit(inline=True)
def _lag_free(a, b, evid, amt, cmt, dose_index, p):
    for g in range(a, b):
        if evid[g] == 1 and amt[g] != 0.0:
            i = dose_index[1, cmt[g]]
            if i >= 0 and p[i] != 0.0:
                return False
    return True


@engine_jit(inline=True)
def march(a, b, time, evid, amt, cmt, rate, addl, ss, P, dose_index, init, obs, linsys, pred,
          scratch):
    """Predictions ``pred[a:b]`` of a simple subject (module docstring), or False (nothing
    useful written). ``scratch``: a ``workspace.MarchScratch``."""
    K, V, W, lam = scratch.K, scratch.V, scratch.W, scratch.lam
    y, yh, p, pred_i = scratch.y, scratch.yh, scratch.p, scratch.pred_i
    n = K.shape[0]
    if not _simple(a, b, time, evid, amt, cmt, rate, addl, ss, P, dose_index, n):
        return False
    for k in range(p.shape[0]):
        p[k] = P[a, k]
    if not _lag_free(a, b, evid, amt, cmt, dose_index, p):
        return False
    linsys(p, K)
    if _decompose()(K, V, W, lam, scratch.decomp) != EIG_OK:
        return False
    init(p, y)
    if n == 2:
        return _steps_two(a, b, time, evid, amt, cmt, dose_index, obs, pred, V, W, lam, y, p, pred_i)
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += W[i, j] * y[j]
        yh[i] = acc
    tc = time[a]
    n_end = pred.shape[1]
    for g in range(a, b):
        h = time[g] - tc
        if h != 0.0:
            for i in range(n):
                yh[i] *= math.exp(lam[i] * h)
            tc = time[g]
        if evid[g] == 1 and amt[g] != 0.0:
            c = cmt[g]
            f = dose_index[0, c]
            dose = amt[g] * (p[f] if f >= 0 else 1.0)
            for i in range(n):
                yh[i] += W[i, c] * dose
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += V[i, j] * yh[j]
            if not (abs(acc) < 1e308):
                return False  # the full path reports the non-finite state
            y[i] = acc
        obs(time[g], y, p, pred_i)
        for e in range(n_end):
            pred[g, e] = pred_i[e]
    return True


@engine_jit(inline=True)
def _steps_two(a, b, time, evid, amt, cmt, dose_index, obs, pred, V, W, lam, y, p, pred_i):
    """``march``'s record loop for two states (one compartment with a depot: the commonest
    model), on scalars: the same operations in the same order as the loops over n (each sum
    starts from 0.0 as they do), so the same bits, without the loop overhead that was a third
    of such a subject's solve."""
    v00, v01, v10, v11 = V[0, 0], V[0, 1], V[1, 0], V[1, 1]
    l0, l1 = lam[0], lam[1]
    h0 = (0.0 + W[0, 0] * y[0]) + W[0, 1] * y[1]
    h1 = (0.0 + W[1, 0] * y[0]) + W[1, 1] * y[1]
    tc = time[a]
    n_end = pred.shape[1]
    for g in range(a, b):
        h = time[g] - tc
        if h != 0.0:
            h0 *= math.exp(l0 * h)
            h1 *= math.exp(l1 * h)
            tc = time[g]
        if evid[g] == 1 and amt[g] != 0.0:
            c = cmt[g]
            f = dose_index[0, c]
            dose = amt[g] * (p[f] if f >= 0 else 1.0)
            h0 += W[0, c] * dose
            h1 += W[1, c] * dose
        s0 = (0.0 + v00 * h0) + v01 * h1
        if not (abs(s0) < 1e308):
            return False  # the full path reports the non-finite state
        y[0] = s0
        s1 = (0.0 + v10 * h0) + v11 * h1
        if not (abs(s1) < 1e308):
            return False
        y[1] = s1
        obs(time[g], y, p, pred_i)
        for e in range(n_end):
            pred[g, e] = pred_i[e]
    return True
