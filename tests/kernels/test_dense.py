"""The engine's one LU (kernels/dense.py): against numpy, against a plain-Python twin of the
same operations (to the bit), threshold pivoting, singular matrices."""

from __future__ import annotations

import numpy as np
import pytest

from nlme_lab.kernels.dense import PIVOT_THRESHOLD, lu_factor, lu_solve, matmul_into, norm1, solve_into


def _twin(A, B, threshold, divide):
    """Gaussian elimination with the right-hand sides carried along, in plain Python floats:
    the same operations in the same order as ``lu_factor`` + ``lu_solve``."""
    A = [list(map(float, r)) for r in A]
    B = [list(map(float, r)) for r in B]
    n, m = len(A), len(B[0])
    for k in range(n):
        p, big = k, abs(A[k][k])
        for i in range(k + 1, n):
            if abs(A[i][k]) > big:
                p, big = i, abs(A[i][k])
        if big == 0.0 or not np.isfinite(big):
            return None
        if abs(A[k][k]) >= threshold * big:
            p = k
        A[k], A[p] = A[p], A[k]
        B[k], B[p] = B[p], B[k]
        inv = 1.0 / A[k][k]
        for i in range(k + 1, n):
            f = A[i][k] / A[k][k] if divide else A[i][k] * inv
            if f != 0.0:
                for j in range(k + 1, n):
                    A[i][j] -= f * A[k][j]
                for c in range(m):
                    B[i][c] -= f * B[k][c]
    for i in range(n - 1, -1, -1):
        inv = 1.0 / A[i][i]
        for c in range(m):
            s = B[i][c]
            for j in range(i + 1, n):
                s -= A[i][j] * B[j][c]
            B[i][c] = s / A[i][i] if divide else s * inv
    return np.array(B)


def _solve(A, B, threshold, divide):
    lu, X, piv = A.copy(), B.copy(), np.zeros(A.shape[0], np.int64)
    if not lu_factor(lu, piv, threshold, divide):
        return None
    lu_solve(lu, piv, X, divide)
    return X


@pytest.mark.parametrize("threshold", [1.0, PIVOT_THRESHOLD])
@pytest.mark.parametrize("divide", [False, True])
def test_lu_solves_like_numpy_and_like_its_plain_twin_to_the_bit(threshold, divide):
    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 5, 8):
        for _ in range(20):
            A = rng.normal(size=(n, n)) * rng.choice([1e-3, 1.0, 50.0])
            A[rng.random((n, n)) < 0.3] = 0.0  # structural zeros (skipped multipliers)
            A += np.diag(rng.uniform(0.5, 2.0, n)) * np.abs(A).max(initial=1.0)
            B = rng.normal(size=(n, 3))
            X = _solve(A, B, threshold, divide)
            np.testing.assert_allclose(A @ X, B, rtol=0, atol=1e-10 * np.abs(B).max())
            np.testing.assert_allclose(X, np.linalg.solve(A, B), rtol=1e-9, atol=1e-12)
            np.testing.assert_array_equal(X, _twin(A, B, threshold, divide))


def test_threshold_pivoting_keeps_the_diagonal_and_exact_zeros():
    """A depot feeding a compartment: partial pivoting swaps rows (|3.7| > |1|), threshold
    pivoting keeps them, and the solution's structural zero stays exactly zero."""
    A = np.array([[1.0, 0.0, 0.0], [3.7, 1.3, 0.0], [0.0, 2.9, 0.7]])
    lu, piv = A.copy(), np.zeros(3, np.int64)
    assert lu_factor(lu, piv, PIVOT_THRESHOLD, False)
    assert list(piv) == [0, 1, 2]
    lu, piv = A.copy(), np.zeros(3, np.int64)
    assert lu_factor(lu, piv, 1.0, False)
    assert list(piv) == [1, 2, 2]
    X = np.eye(3)
    assert solve_into(A.copy(), X, np.zeros(3, np.int64))
    assert X[0, 1] == 0.0 and X[0, 2] == 0.0 and X[1, 2] == 0.0
    np.testing.assert_allclose(X, np.linalg.inv(A), rtol=1e-14, atol=1e-15)  # LAPACK: 1e-17, not 0


@pytest.mark.parametrize("bad", [0.0, np.nan, np.inf])
def test_a_zero_or_non_finite_pivot_is_reported(bad):
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]])  # rank 2
    if bad != 0.0:
        A[0, 0] = bad
    assert not solve_into(A.copy(), np.ones((3, 1)), np.zeros(3, np.int64))


def test_norm1_and_matmul():
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    A[1, 2] = 0.0
    C = np.empty((4, 5))
    matmul_into(A, B, C)
    np.testing.assert_allclose(C, A @ B, rtol=1e-14, atol=1e-15)
    assert norm1(A) == np.abs(A).sum(axis=0).max()
