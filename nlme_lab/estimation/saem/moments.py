"""The per-iteration sums of the SAEM M-step, compiled (numba, cached on disk).

Each SAEM iteration reduces the chains to a few small statistics (``mstep.Statistics``): the
mean and second moment of phi = eta + mu over chains and subjects, each subject's chain mean,
the mean squared residual of every closed-form SD, and for the convergence trace the
chains' eta' Omega^-1 eta. In NumPy that was ~20 calls on arrays of a few hundred numbers
(~0.15 ms per iteration of theo_sd, a quarter of the iteration); here it is one pass each.
The numbers are those of the NumPy formulas up to the order of summation
(``tests/estimation/test_saem.py`` compares them). ``omega_factors`` calls LAPACK from Python
(the calls numba's linalg makes). No C wrappers (``no_cfunc_wrapper``):
nothing calls these by address, and each costs compile time on a cold start.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, no_cfunc_wrapper=True)
def phi_moments(etas, means, phi, m1, m2, subject_mean):
    """``phi = etas + means`` (means (n_sub, n_eta), or (1, n_eta) for every subject) and its
    moments: ``m1`` mean over (chain, subject), ``m2`` mean of phi phi', ``subject_mean``
    (n_sub, n_eta) the mean over chains."""
    n_c, n_sub, n_eta = etas.shape
    for i in range(n_eta):  # loops, not m1[:] = 0.0: a slice assignment compiles numba's indexer
        m1[i] = 0.0
        for j in range(n_eta):
            m2[i, j] = 0.0
    for s in range(n_sub):
        for i in range(n_eta):
            subject_mean[s, i] = 0.0
    per_subject = means.shape[0] > 1
    for c in range(n_c):
        for s in range(n_sub):
            ms = s if per_subject else 0
            for i in range(n_eta):
                phi[c, s, i] = etas[c, s, i] + means[ms, i]
            for i in range(n_eta):
                x = phi[c, s, i]
                m1[i] += x
                subject_mean[s, i] += x
                for j in range(n_eta):
                    m2[i, j] += x * phi[c, s, j]
    n = n_c * n_sub
    for i in range(n_eta):
        m1[i] /= n
        for j in range(n_eta):
            m2[i, j] /= n
    for s in range(n_sub):
        for i in range(n_eta):
            subject_mean[s, i] /= n_c


@njit(cache=True, no_cfunc_wrapper=True)
def residual_moments(y, f, add_sd, prop_sd, out):
    """``out[k]``: mean over chains and observations of r^2 (observations with ``add_sd[o] ==
    k``) or of (r / f)^2 (``prop_sd[o] == k``), r = y - f (f (C, n_obs)); -1: not counted.
    SDs with no observation are left alone."""
    n_c, n_obs = f.shape
    n_sd = out.shape[0]
    acc = np.zeros(n_sd)
    cnt = np.zeros(n_sd)
    for c in range(n_c):
        for o in range(n_obs):
            r = y[o] - f[c, o]
            k = add_sd[o]
            if k >= 0:
                acc[k] += r * r
                cnt[k] += 1.0
            k = prop_sd[o]
            if k >= 0:
                q = r / f[c, o]
                acc[k] += q * q
                cnt[k] += 1.0
    for k in range(n_sd):
        if cnt[k] > 0.0:
            out[k] = acc[k] / cnt[k]


@njit(cache=True, no_cfunc_wrapper=True)
def complete_data_sum(etas, omega_inv, l):
    """Mean over chains of sum over subjects of ``l + eta' Omega^-1 eta``."""
    n_c, n_sub, n_eta = etas.shape
    total = 0.0
    for c in range(n_c):
        for s in range(n_sub):
            q = 0.0
            for i in range(n_eta):
                row = 0.0
                for j in range(n_eta):
                    row += omega_inv[i, j] * etas[c, s, j]
                q += etas[c, s, i] * row
            total += l[c, s] + q
    return total / n_c


def omega_factors(omega):
    """(Cholesky factor, inverse, log-determinant) of a small positive-definite omega (C order).
    Raises ``np.linalg.LinAlgError`` if not positive definite, as ``np.linalg.cholesky``.

    The LAPACK calls numba's ``np.linalg.cholesky`` and ``inv`` make, on the same inputs, from
    the same library (scipy's, which numba's linalg binds): the same bits as the compiled
    version this replaces, whose linalg support cost ~2.3 CPU s of a cold SAEM start for three
    3 x 3 factorisations per iteration (a few microseconds more per call here). potrf ('U' on the
    transpose's Fortran view, as numba passes a C array) gives the lower factor; getrf and getri
    (with the queried work size, as numba's) the inverse; the log-determinant is summed in the
    same order with the same ``log``."""
    from scipy.linalg import lapack

    omega = np.ascontiguousarray(omega, dtype=np.float64)
    n = omega.shape[0]
    if not np.all(np.isfinite(omega)):
        raise np.linalg.LinAlgError("Array must not contain infs or NaNs.")
    upper, info = lapack.dpotrf(omega.T, lower=0, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError("Matrix is not positive definite.")
    lu, piv, info = lapack.dgetrf(omega)
    if info == 0:
        lwork, _ = lapack.dgetri_lwork(n)
        inv, info = lapack.dgetri(lu, piv, lwork=max(1, int(lwork)))
    if info != 0:
        raise np.linalg.LinAlgError("Matrix is singular to machine precision.")
    chol = np.ascontiguousarray(upper.T)
    logdet = 0.0
    for i in range(n):
        logdet += 2.0 * math.log(chol[i, i])
    return chol, np.ascontiguousarray(inv), logdet
