"""Exact propagation of a linear system dy/dt = K y + r over a step h, with sensitivities.

Over a step of length ``h`` (negative allowed: backward in time) with constant zero-order
inputs ``r``::

    exp(h [[K, r], [0, 0]]) = [[Phi, q], [0, 1]],     y(h) = Phi y(0) + q.

Forward sensitivities along a direction d (dK_d = sum_k dK/dp_k dp_k/dd, dr_d) follow from the
block-triangular augmented matrix::

    exp([[A, 0], [dA, A]]) = [[E, 0], [L(A, dA), E]]

where L is the Fréchet derivative of exp at A, so S_d(h) = Phi S_d(0) + L11 y(0) + L12.
Both are exact up to rounding (Padé scaling and squaring in ``expm.py``).

Two scalings keep the 1-norm (and so the number of squarings) from being inflated by large
inputs: the input column is scaled by a similarity transform (diag(I, 1/c)), and the direction
block by a scalar (L is linear in dA).

Workspace: ``Wm`` of shape (EXPM_WORK + 2, n + 1, n + 1), ``W2`` of shape
(EXPM_WORK + 2, 2 n + 2, 2 n + 2), ``tmp`` of shape (n,).
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from .expm import EXPM_WORK, expm_into, norm1  # noqa: E402

#: scratch matrices needed per workspace (expm's plus the augmented matrix and its exponential)
LIN_WORK = EXPM_WORK + 2


def make_workspace(n_state: int):
    """Scratch arrays for ``lin_advance`` (allocate once per subject or thread)."""
    m = n_state + 1
    return (
        np.zeros((LIN_WORK, m, m)),
        np.zeros((LIN_WORK, 2 * m, 2 * m)),
        np.zeros(n_state),
    )


@njit(cache=True)
def _direction_is_zero(dKd, drate, d):
    n = dKd.shape[1]
    for i in range(n):
        if drate[i, d] != 0.0:
            return False
        for j in range(n):
            if dKd[d, i, j] != 0.0:
                return False
    return True


@njit(cache=True)
def lin_advance(K, dKd, h, y, S, rate, drate, Wm, W2, tmp):
    """Advance y (n,) and S (n, n_dir) in place by ``h`` under dy/dt = K y + rate.

    ``dKd`` (>= n_dir, n, n): dK along each direction; ``drate`` (n, >= n_dir).
    Directions whose dK and drate are both zero cost one matrix-vector product.
    """
    n = K.shape[0]
    m = n + 1
    nd = S.shape[1]
    if h == 0.0:
        return
    A = Wm[EXPM_WORK]
    E = Wm[EXPM_WORK + 1]
    # input column scale c (similarity diag(I, 1/c))
    knorm = 0.0
    for j in range(n):
        s = 0.0
        for i in range(n):
            s += abs(K[i, j])
        if s > knorm:
            knorm = s
    knorm *= abs(h)
    rnorm = 0.0
    for i in range(n):
        rnorm += abs(rate[i])
    rnorm *= abs(h)
    c = 1.0
    if rnorm > max(knorm, 1.0):
        c = rnorm / max(knorm, 1.0)
    for i in range(n):
        for j in range(n):
            A[i, j] = K[i, j] * h
        A[i, n] = rate[i] * h / c
        A[n, i] = 0.0
    A[n, n] = 0.0
    expm_into(A, E, Wm)
    # sensitivities first (they need the old y)
    if nd > 0:
        M = W2[EXPM_WORK]
        EM = W2[EXPM_WORK + 1]
        anorm = norm1(A)
        for d in range(nd):
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += E[i, j] * S[j, d]
                tmp[i] = acc
            if not _direction_is_zero(dKd, drate, d):
                # dA (same column similarity), then scalar scaling g
                dnorm = 0.0
                for j in range(n):
                    s = 0.0
                    for i in range(n):
                        s += abs(dKd[d, i, j])
                    if s > dnorm:
                        dnorm = s
                dnorm *= abs(h)
                s = 0.0
                for i in range(n):
                    s += abs(drate[i, d])
                s *= abs(h) / c
                if s > dnorm:
                    dnorm = s
                g = 1.0
                if anorm > 0.0 and dnorm > 0.0:
                    g = dnorm / anorm
                for i in range(2 * m):
                    for j in range(2 * m):
                        M[i, j] = 0.0
                for i in range(m):
                    for j in range(m):
                        M[i, j] = A[i, j]
                        M[m + i, m + j] = A[i, j]
                for i in range(n):
                    for j in range(n):
                        M[m + i, j] = dKd[d, i, j] * h / g
                    M[m + i, n] = drate[i, d] * h / (c * g)
                expm_into(M, EM, W2)
                for i in range(n):
                    acc = 0.0
                    for j in range(n):
                        acc += EM[m + i, j] * y[j]
                    acc += EM[m + i, n] * c
                    tmp[i] += acc * g
            for i in range(n):
                S[i, d] = tmp[i]
    for i in range(n):
        acc = E[i, n] * c
        for j in range(n):
            acc += E[i, j] * y[j]
        tmp[i] = acc
    for i in range(n):
        y[i] = tmp[i]


@njit(cache=True)
def contract_dK(dK, dPr, dKd):
    """dKd[d] = sum_k dK[:, :, k] * dPr[k, d] for each direction d."""
    n = dK.shape[0]
    n_p = dK.shape[2]
    nd = dPr.shape[1]
    for d in range(nd):
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n_p):
                    v = dPr[k, d]
                    if v != 0.0:
                        acc += dK[i, j, k] * v
                dKd[d, i, j] = acc
