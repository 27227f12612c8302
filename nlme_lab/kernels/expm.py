"""The matrix exponential of the engine (in place on caller-provided arrays, no allocation).

``expm_into`` is the scaling-and-squaring algorithm with diagonal Padé approximants of
degree 3, 5, 7, 9 or 13 chosen from the 1-norm (Higham, SIAM J. Matrix Anal. Appl. 26 (2005)
1179-1193; the thresholds ``THETA`` are from that paper). It needs no eigen-decomposition, so
repeated eigenvalues (ka == k10, ...) are no special case.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import math  # noqa: E402

import numpy as np  # noqa: E402

from .dense import matmul_into, norm1, solve_into  # noqa: E402
from numba import types  # noqa: E402

from .abi import mat  # noqa: E402
from .jit import engine_jit  # noqa: E402


def _pade_coefficients(m: int) -> np.ndarray:
    """Coefficients c_j of the [m/m] Padé numerator of exp (c_0 = 1)."""
    c = np.empty(m + 1)
    for j in range(m + 1):
        c[j] = (math.factorial(2 * m - j) * math.factorial(m)) / (
            math.factorial(2 * m) * math.factorial(j) * math.factorial(m - j)
        )
    return c


PADE3 = _pade_coefficients(3)
PADE5 = _pade_coefficients(5)
PADE7 = _pade_coefficients(7)
PADE9 = _pade_coefficients(9)
PADE13 = _pade_coefficients(13)
THETA3 = 1.495585217958292e-2
THETA5 = 2.539398330063230e-1
THETA7 = 9.504178996162932e-1
THETA9 = 2.097847961257068e0
THETA13 = 5.371920351148152e0

#: number of scratch matrices ``expm_into`` needs in its ``W`` argument
EXPM_WORK = 7


#: its one signature (``expm_into`` passes the degree as ``np.int64``: with the literal degrees 3, 5, 7,
#: 9 numba would compile it four times). Compiled with ``expm_into``, not on import: a cold start
#: whose subjects all take the eigen path needs neither
ODD_EVEN_SIG = types.void(types.Array(types.float64, 1, "C", readonly=True), mat, mat, mat, mat, mat, types.int64,
                          mat, mat, mat)


@engine_jit()
def _odd_even(c, A, A2, A4, A6, A8, deg, U, V, T):
    """U = A @ (odd part), V = even part of the degree-``deg`` Padé numerator (deg <= 9)."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            u = c[1] * (1.0 if i == j else 0.0) + c[3] * A2[i, j]
            v = c[0] * (1.0 if i == j else 0.0) + c[2] * A2[i, j]
            if deg >= 5:
                u += c[5] * A4[i, j]
                v += c[4] * A4[i, j]
            if deg >= 7:
                u += c[7] * A6[i, j]
                v += c[6] * A6[i, j]
            if deg >= 9:
                u += c[9] * A8[i, j]
                v += c[8] * A8[i, j]
            T[i, j] = u
            V[i, j] = v
    matmul_into(A, T, U)


@engine_jit()
def expm_into(A, out, W, piv):
    """out = exp(A). ``W`` is scratch of shape (>= EXPM_WORK, n, n), ``piv`` int64 (>= n,);
    A is not modified."""
    n = A.shape[0]
    nrm = norm1(A)
    A2 = W[0]
    A4 = W[1]
    A6 = W[2]
    U = W[3]
    V = W[4]
    T = W[5]
    X = W[6]
    if not np.isfinite(nrm):
        for i in range(n):
            for j in range(n):
                out[i, j] = np.nan
        return
    s = 0
    if nrm <= THETA9:
        matmul_into(A, A, A2)
        if nrm <= THETA3:
            _odd_even(PADE3, A, A2, A4, A6, X, np.int64(3), U, V, T)
        else:
            matmul_into(A2, A2, A4)
            if nrm <= THETA5:
                _odd_even(PADE5, A, A2, A4, A6, X, np.int64(5), U, V, T)
            else:
                matmul_into(A2, A4, A6)
                if nrm <= THETA7:
                    _odd_even(PADE7, A, A2, A4, A6, X, np.int64(7), U, V, T)
                else:
                    matmul_into(A4, A4, X)  # A^8
                    _odd_even(PADE9, A, A2, A4, A6, X, np.int64(9), U, V, T)
    else:
        s = max(0, int(math.ceil(math.log2(nrm / THETA13))))
        scale = 2.0 ** (-s)
        for i in range(n):
            for j in range(n):
                X[i, j] = A[i, j] * scale  # X = scaled A
        matmul_into(X, X, A2)
        matmul_into(A2, A2, A4)
        matmul_into(A2, A4, A6)
        c = PADE13
        # T = A6 (c13 A6 + c11 A4 + c9 A2) + c7 A6 + c5 A4 + c3 A2 + c1 I  (odd, then U = X T)
        for i in range(n):
            for j in range(n):
                U[i, j] = c[13] * A6[i, j] + c[11] * A4[i, j] + c[9] * A2[i, j]
        matmul_into(A6, U, T)
        for i in range(n):
            for j in range(n):
                T[i, j] += c[7] * A6[i, j] + c[5] * A4[i, j] + c[3] * A2[i, j]
            T[i, i] += c[1]
        matmul_into(X, T, U)
        # V = A6 (c12 A6 + c10 A4 + c8 A2) + c6 A6 + c4 A4 + c2 A2 + c0 I
        for i in range(n):
            for j in range(n):
                T[i, j] = c[12] * A6[i, j] + c[10] * A4[i, j] + c[8] * A2[i, j]
        matmul_into(A6, T, V)
        for i in range(n):
            for j in range(n):
                V[i, j] += c[6] * A6[i, j] + c[4] * A4[i, j] + c[2] * A2[i, j]
            V[i, i] += c[0]
    # solve (V - U) out = (V + U)
    for i in range(n):
        for j in range(n):
            T[i, j] = V[i, j] - U[i, j]
            out[i, j] = V[i, j] + U[i, j]
    if not solve_into(T, out, piv):
        for i in range(n):
            for j in range(n):
                out[i, j] = np.nan
        return
    for _ in range(s):
        matmul_into(out, out, T)
        for i in range(n):
            for j in range(n):
                out[i, j] = T[i, j]
