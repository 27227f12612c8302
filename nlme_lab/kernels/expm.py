"""Small dense linear algebra for the engine: matrix exponential, solves, products.

Everything works in place on caller-provided arrays so the event engine's inner loops do not
allocate. Matrices are small (a few compartments, at most ~20 x 20 for the augmented
sensitivity blocks), so plain loops beat BLAS/LAPACK calls here.

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

#: a row swap happens only if |diagonal| < PIVOT_THRESHOLD * (largest entry in the column)
PIVOT_THRESHOLD = 0.1

#: number of scratch matrices ``expm_into`` needs in its ``W`` argument
EXPM_WORK = 7


@engine_jit()
def norm1(A):
    """Maximum absolute column sum."""
    n, m = A.shape
    best = 0.0
    for j in range(m):
        s = 0.0
        for i in range(n):
            s += abs(A[i, j])
        if s > best:
            best = s
    return best


@engine_jit()
def matmul_into(A, B, C):
    """C = A @ B (C must not alias A or B)."""
    n, k = A.shape
    m = B.shape[1]
    for i in range(n):
        for j in range(m):
            C[i, j] = 0.0
        for q in range(k):
            a = A[i, q]
            if a != 0.0:
                for j in range(m):
                    C[i, j] += a * B[q, j]


@engine_jit()
def solve_into(A, B):
    """Solve A X = B in place by Gaussian elimination with threshold partial pivoting.

    Rows are swapped only when the diagonal is below ``PIVOT_THRESHOLD`` times the column's
    largest entry. Not swapping keeps structural zeros exact: e.g. a depot with no inflow
    keeps exactly zero off-diagonal entries in exp(K h), which matters when the state is
    propagated backwards over a long time (NONMEM's SS with ALAG > II), where fast modes
    would amplify rounding noise by exp(ka |h|).

    ``A`` is destroyed, ``B`` (n, m) is overwritten by X. Returns False if A is singular.
    """
    n = A.shape[0]
    m = B.shape[1]
    for k in range(n):
        piv = k
        big = abs(A[k, k])
        for i in range(k + 1, n):
            if abs(A[i, k]) > big:
                big = abs(A[i, k])
                piv = i
        if big == 0.0 or not np.isfinite(big):
            return False
        if abs(A[k, k]) >= PIVOT_THRESHOLD * big:
            piv = k  # threshold pivoting: keep the structure (zeros) when the diagonal will do
        if piv != k:
            for j in range(n):
                tmp = A[k, j]
                A[k, j] = A[piv, j]
                A[piv, j] = tmp
            for j in range(m):
                tmp = B[k, j]
                B[k, j] = B[piv, j]
                B[piv, j] = tmp
        inv = 1.0 / A[k, k]
        for i in range(k + 1, n):
            f = A[i, k] * inv
            if f != 0.0:
                A[i, k] = 0.0
                for j in range(k + 1, n):
                    A[i, j] -= f * A[k, j]
                for j in range(m):
                    B[i, j] -= f * B[k, j]
    for k in range(n - 1, -1, -1):
        inv = 1.0 / A[k, k]
        for j in range(m):
            s = B[k, j]
            for q in range(k + 1, n):
                s -= A[k, q] * B[q, j]
            B[k, j] = s * inv
    return True


@engine_jit()
def solve_vec_into(A, b):
    """Solve A x = b in place (b overwritten, A destroyed). Returns False if singular."""
    return solve_into(A, b.reshape((b.shape[0], 1)))


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
def expm_into(A, out, W):
    """out = exp(A). ``W`` is scratch of shape (>= EXPM_WORK, n, n); A is not modified."""
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
            _odd_even(PADE3, A, A2, A4, A6, X, 3, U, V, T)
        else:
            matmul_into(A2, A2, A4)
            if nrm <= THETA5:
                _odd_even(PADE5, A, A2, A4, A6, X, 5, U, V, T)
            else:
                matmul_into(A2, A4, A6)
                if nrm <= THETA7:
                    _odd_even(PADE7, A, A2, A4, A6, X, 7, U, V, T)
                else:
                    matmul_into(A4, A4, X)  # A^8
                    _odd_even(PADE9, A, A2, A4, A6, X, 9, U, V, T)
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
    if not solve_into(T, out):
        for i in range(n):
            for j in range(n):
                out[i, j] = np.nan
        return
    for _ in range(s):
        matmul_into(out, out, T)
        for i in range(n):
            for j in range(n):
                out[i, j] = T[i, j]
