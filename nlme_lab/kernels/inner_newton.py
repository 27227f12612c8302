"""The small per-subject linear algebra of the inner (eta-hat) Newton iteration, compiled.

``estimation.individual.SubjectEngine.solve`` moves all subjects at once; per iteration it
needs, for every subject, the Gauss-Newton step (2 A)^-1 g, its decrement, the step with the
exact (chord / secant) Hessian where one is in use, and the slope g' step; after the line
search, the BFGS update of the Hessians in use. In numpy these are a dozen calls on
(n_sub, n_eta, n_eta) arrays per iteration (``np.linalg.solve`` alone ~20 us a call), which
cost more than the arithmetic at tens of subjects; here they are one call each.

Every number is the numpy code's to the bit: the solves are ``np.linalg.solve`` (LAPACK's gesv,
as numpy calls it) and the dot products are summed in ``einsum``'s order (``_dot``), which is
known for up to ``MAX_ETA`` etas; the caller keeps the numpy code above that. Standalone (``kernels.cache_guard.STANDALONE_MODULES``): it embeds no other
module's code, so numba's own source check keeps its cache valid.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

f1 = types.Array(types.float64, 1, "A")
f2 = types.Array(types.float64, 2, "A")
f3 = types.Array(types.float64, 3, "A")
b1 = types.Array(types.boolean, 1, "A")

STEPS_SIG = types.void(f2, f3, f3, b1, f2, f2, f1, f1)
SECANT_SIG = types.void(f3, b1, f2, f2, types.float64)


#: the largest n_eta whose dot products ``_dot`` sums in numpy's ``einsum`` order (checked on
#: every length up to it, tests/kernels/test_inner_newton.py); above it the caller keeps numpy
MAX_ETA = 4


@njit(cache=True)
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


@njit(STEPS_SIG, cache=True)
def newton_steps(grad, A, H, use, gn_step, step, dec, slope):
    """Per subject s: ``gn_step[s] = -(2 A[s])^-1 grad[s]``, ``dec[s] = -grad[s]' gn_step[s]``,
    ``step[s] = -H[s]^-1 grad[s]`` where ``use[s]`` (else the Gauss-Newton step) and
    ``slope[s] = grad[s]' step[s]``. ``H`` is only read where ``use``. A singular matrix
    raises ``LinAlgError`` as numpy does."""
    n_sub, n_e = grad.shape
    for s in range(n_sub):
        g = np.ascontiguousarray(grad[s])
        x = -np.linalg.solve(2.0 * A[s], g)
        gn_step[s] = x
        dec[s] = -_dot(g, x)
        if use[s]:
            x = -np.linalg.solve(np.ascontiguousarray(H[s]), g)
        step[s] = x
        slope[s] = _dot(g, x)


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
