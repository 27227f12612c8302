"""Small dense linear algebra for the engine: LU factorisation and solves, 1-norm, products.

Matrices are small (a few compartments; at most ~20 x 20 for the augmented sensitivity blocks
of the Padé path), so plain loops beat BLAS/LAPACK calls here; everything works in place on
caller-provided arrays, so the engine's inner loops do not allocate.

One LU with row pivoting (``lu_factor``, ``lu_solve``; ``solve_into`` does both) serves every
solve of the engine: the Padé approximant's ``(V - U) X = V + U`` (``expm``), the steady-state
Newton steps (``steady_state``), the eigenvector continuation (``spectral``) and the
Rosenbrock stages (``ode_rodas``). Two choices are the caller's:

* ``threshold``: rows are swapped only when |diagonal| < threshold * (the largest entry of the
  column at or below it). 1 is classical partial pivoting. ``PIVOT_THRESHOLD`` (0.1) keeps
  structural zeros exact: e.g. a depot with no inflow keeps exactly zero off-diagonal entries
  in exp(K h), which matters when the state is propagated backwards over a long time (NONMEM's
  SS with ALAG > II), where fast modes would amplify rounding noise by exp(ka |h|).
* ``divide``: divide by the pivot (one rounding) or multiply by its reciprocal (two
  roundings, fewer divisions). Each caller keeps the arithmetic its results were validated
  with (switching changes results in the last bits): the eigenvector continuation and the
  Rosenbrock stages' state solve divide, the others multiply.

Zero multipliers are skipped in the elimination (the same numbers, as x - 0 y = x for finite
y), so a structurally sparse matrix costs less.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402

from .jit import engine_jit  # noqa: E402

#: ``solve_into``'s pivoting threshold (module docstring)
PIVOT_THRESHOLD = 0.1


# Zeroing by loops: ``a[:] = 0.0`` compiles numba's general slice-assignment code (broadcasting,
# strides) at each use, and a workspace's ``clear`` has forty of them (~3 s of a cold start).
@engine_jit()
def zero1(a):
    """a[:] = 0 (a 1-d array)."""
    for i in range(a.shape[0]):
        a[i] = 0


@engine_jit()
def zero2(a):
    """a[:] = 0 (a 2-d array)."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = 0


@engine_jit()
def zero3(a):
    """a[:] = 0 (a 3-d array)."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                a[i, j, k] = 0


@engine_jit()
def lu_factor(A, piv, threshold, divide):
    """A = P L U in place (L unit lower triangular below the diagonal, U on and above it);
    ``piv[k]``: the row swapped with row k at step k. False if a pivot is zero or not finite
    (A is then partly factored)."""
    n = A.shape[0]
    for k in range(n):
        p = k
        big = abs(A[k, k])
        for i in range(k + 1, n):
            if abs(A[i, k]) > big:
                big = abs(A[i, k])
                p = i
        if big == 0.0 or not np.isfinite(big):
            return False
        if abs(A[k, k]) >= threshold * big:
            p = k  # the diagonal will do: keep the structure (zeros)
        piv[k] = p
        if p != k:
            for j in range(n):
                tmp = A[k, j]
                A[k, j] = A[p, j]
                A[p, j] = tmp
        inv = 1.0 / A[k, k]
        for i in range(k + 1, n):
            f = A[i, k] / A[k, k] if divide else A[i, k] * inv
            A[i, k] = f
            if f != 0.0:
                for j in range(k + 1, n):
                    A[i, j] -= f * A[k, j]
    return True


@engine_jit()
def lu_solve(LU, piv, B, divide):
    """Solve A X = B in place of B (n, m), with ``lu_factor``'s ``LU`` and ``piv`` of A."""
    n = LU.shape[0]
    m = B.shape[1]
    for k in range(n):
        p = piv[k]
        if p != k:
            for c in range(m):
                tmp = B[k, c]
                B[k, c] = B[p, c]
                B[p, c] = tmp
    for i in range(1, n):
        for j in range(i):
            f = LU[i, j]
            if f != 0.0:
                for c in range(m):
                    B[i, c] -= f * B[j, c]
    for i in range(n - 1, -1, -1):
        inv = 1.0 / LU[i, i]
        for c in range(m):
            s = B[i, c]
            for j in range(i + 1, n):
                s -= LU[i, j] * B[j, c]
            B[i, c] = s / LU[i, i] if divide else s * inv


@engine_jit()
def solve_into(A, B, piv):
    """Solve A X = B in place: ``A`` is destroyed, ``B`` (n, m) overwritten by X; ``piv``
    int64 (>= n,) scratch. Threshold pivoting (``PIVOT_THRESHOLD``), reciprocal scaling.
    Returns False if A is singular."""
    if not lu_factor(A, piv, PIVOT_THRESHOLD, False):
        return False
    lu_solve(A, piv, B, False)
    return True


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
