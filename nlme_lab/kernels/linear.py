"""Exact propagation of a linear system dy/dt = K y + r over a step h, with sensitivities.

Two exact paths compute the same quantities; ``lin_advance`` picks one per interval.

**Eigen path** (default, ``lin_advance_eigen``). ``K = V diag(lam) W`` from
``spectral.decompose``, computed by ``lin_prepare`` when K changes (the event engine calls it
on each record whose individual parameters differ from the previous record's) and kept in the
workspace. In the eigen coordinates ``^y = W y``,
``^r = W r``, with ``a = lam h``::

    ^y(h) = e^a * ^y + g * ^r,             g_i = h exp[a_i, 0]  (= (e^{lam_i h} - 1) / lam_i)

and for a direction d (``dK_d``, ``dr_d``; ``G_d = W dK_d V`` cached with K), by the
Daleckii-Krein formula for the derivative of exp(K h) and of the input integral::

    ^S_d(h) = e^a * ^S_d + sum_j G_d[i, j] (Phi_ij ^y_j + Gam_ij ^r_j) + g * (W dr_d)
    Phi_ij = h exp[a_i, a_j],      Gam_ij = h^2 exp[a_i, a_j, 0]

with the divided differences of exp of ``spectral`` (exact for close and equal eigenvalues).
Then ``y = V ^y``, ``S = V ^S``. Cost per interval O(n^2 (1 + n_dir)) plus n exponentials.

**Padé path** (``lin_advance_expm``, the reference twin, and the fallback whenever
``decompose`` declines: complex eigenvalues, nearly repeated eigenvalues across coupled blocks
such as ka ~ k, an ill-conditioned eigenbasis)::

    exp(h [[K, r], [0, 0]]) = [[Phi, q], [0, 1]],     y(h) = Phi y(0) + q.

Forward sensitivities along a direction d follow from the block-triangular augmented matrix::

    exp([[A, 0], [dA, A]]) = [[E, 0], [L(A, dA), E]]

where L is the Fréchet derivative of exp at A, so S_d(h) = Phi S_d(0) + L11 y(0) + L12
(Padé scaling and squaring in ``expm.py``). Two scalings keep the 1-norm (and so the number of
squarings) from being inflated by large inputs: the input column is scaled by a similarity
transform (diag(I, 1/c)), and the direction block by a scalar (L is linear in dA).

The path is chosen by ``opts[OPT_LINEAR_METHOD]`` of the engine's options (a slot after those
of ``ode.make_opts``; absent or 0 = ``LinearMethod.AUTO``, 1 = ``LinearMethod.EXPM`` forces the
Padé path everywhere). ``with_linear_method`` makes such an ``opts``.

Workspace: the tuple of ``make_workspace(n_state, n_dir)`` (``n_dir``: the most columns of S
any call will pass; the steady-state solver passes n_state columns). Its slot ``LW_STATS``
counts decompositions and intervals per path (``STAT_*``), for tests and benchmarks.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import enum  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from .expm import EXPM_WORK, expm_into, norm1  # noqa: E402
from .spectral import EIG_OK, decompose, dd1, dd2_0, make_decomp_workspace, phi1  # noqa: E402

#: scratch matrices needed per workspace (expm's plus the augmented matrix and its exponential)
LIN_WORK = EXPM_WORK + 2

#: index in the engine's ``opts`` of the linear method (ode.make_opts uses slots 0-7)
OPT_LINEAR_METHOD = 8
METHOD_AUTO = 0
METHOD_EXPM = 1


class LinearMethod(enum.IntEnum):
    """How linear (linCmt) systems are propagated (``opts[OPT_LINEAR_METHOD]``)."""

    AUTO = METHOD_AUTO  # eigendecomposition, Padé fallback where it is not reliable
    EXPM = METHOD_EXPM  # Padé matrix exponentials only (the reference)


def with_linear_method(opts: np.ndarray, method: LinearMethod | int | str) -> np.ndarray:
    """A copy of the engine ``opts`` (``ode.make_opts``) with the linear method set."""
    if isinstance(method, str):
        method = LinearMethod[method.upper()]
    method = LinearMethod(method)
    out = np.zeros(max(opts.shape[0], OPT_LINEAR_METHOD + 1))
    out[: opts.shape[0]] = opts
    out[OPT_LINEAR_METHOD] = float(int(method))
    return out


# workspace tuple slots
LW_EXPM = 0  # (LIN_WORK, n + 1, n + 1) Padé scratch
LW_EXPM2 = 1  # (LIN_WORK, 2 n + 2, 2 n + 2) (or 1 x 1 without directions)
LW_TMP = 2  # (n,)
LW_MAT = 3  # (5, n, n): cached K, V, W, Phi, M
LW_VEC = 4  # (8, n): lam, a, e^a, g, ^y, ^r, scratch x2
LW_DIR = 5  # (2, n_dir, n, n): cached dK per direction, G = W dK V
LW_SH = 6  # (n, n_dir): ^S
LW_STATS = 7  # int64 (8,): see STAT_*
LW_DZERO = 8  # int64 (n_dir,): 1 where dK_d == 0
LW_DECOMP = 9  # the scratch of spectral.decompose

STAT_EIG = 0  # decompose's status for the cached K (-1: nothing cached)
STAT_ND = 1  # number of directions G is cached for (-1: none)
STAT_DECOMPOSITIONS = 2
STAT_EXPM_INTERVALS = 3
STAT_EIGEN_INTERVALS = 4


@njit(cache=True)
def make_workspace(n_state, n_dir):
    """Scratch arrays of ``lin_advance`` (allocate once per subject or thread)."""
    n = n_state
    m = n + 1
    m2 = 2 * m if n_dir > 0 else 1
    ndm = max(n_dir, n, 1)
    st = np.zeros(8, np.int64)
    st[STAT_EIG] = -1
    st[STAT_ND] = -1
    return (np.zeros((LIN_WORK, m, m)), np.zeros((LIN_WORK, m2, m2)), np.zeros(n),
            np.zeros((5, n, n)), np.zeros((8, n)), np.zeros((2, ndm, n, n)), np.zeros((n, ndm)),
            st, np.zeros(ndm, np.int64), make_decomp_workspace(n))


@njit(cache=True)
def forget(lw):
    """Drop the cached decomposition (results never depend on it; this only frees reuse)."""
    lw[LW_STATS][STAT_EIG] = -1
    lw[LW_STATS][STAT_ND] = -1


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
def lin_advance_expm(K, dKd, h, y, S, rate, drate, Wm, W2, tmp):
    """The Padé path: advance y (n,) and S (n, n_dir) in place by ``h`` under
    dy/dt = K y + rate.

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


# ---------------------------------------------------------------------------- eigen path
@njit(cache=True)
def lin_prepare(K, dKd, nd, lw):
    """Decompose K and cache ``G_d = W dK_d V`` (d < nd) for ``lin_advance``; each is kept
    when K (dK) equals the cached one. Call whenever K or dKd changes: ``lin_advance`` never
    decomposes (that keeps the decomposition out of the code compiled into every caller of
    ``propagate.advance``); it takes the Padé path where no decomposition of its K is cached."""
    st = lw[LW_STATS]
    Kc = lw[LW_MAT][0]
    n = K.shape[0]
    same = st[STAT_EIG] >= 0
    if same:
        for i in range(n):
            for j in range(n):
                if K[i, j] != Kc[i, j]:
                    same = False
    if not same:
        for i in range(n):
            for j in range(n):
                Kc[i, j] = K[i, j]
        F, Fv, I, R = lw[LW_DECOMP]
        st[STAT_EIG] = decompose(Kc, lw[LW_MAT][1], lw[LW_MAT][2], lw[LW_VEC][0], F, Fv, I, R)
        st[STAT_ND] = -1
        st[STAT_DECOMPOSITIONS] += 1
    if st[STAT_EIG] == EIG_OK and nd > 0:
        _directions_ready(dKd, nd, lw)


@njit(cache=True)
def _usable(K, dKd, nd, lw):
    """How the cached decomposition serves (K, dKd): 0 not at all (no decomposition of this
    K, or other directions), 1 with the cached G, 2 with all directions zero."""
    st = lw[LW_STATS]
    if st[STAT_EIG] != EIG_OK:
        return 0
    Kc = lw[LW_MAT][0]
    n = K.shape[0]
    for i in range(n):
        for j in range(n):
            if K[i, j] != Kc[i, j]:
                return 0
    if nd == 0:
        return 1
    dKc = lw[LW_DIR][0]
    if st[STAT_ND] == nd:
        same = True
        for d in range(nd):
            for i in range(n):
                for j in range(n):
                    if dKd[d, i, j] != dKc[d, i, j]:
                        same = False
        if same:
            return 1
    for d in range(nd):
        for i in range(n):
            for j in range(n):
                if dKd[d, i, j] != 0.0:
                    return 0
    return 2


@njit(cache=True)
def _directions_ready(dKd, nd, lw):
    """G_d = W dK_d V for d < nd, unless cached for the same dK (and the current K)."""
    st = lw[LW_STATS]
    dKc = lw[LW_DIR][0]
    G = lw[LW_DIR][1]
    dz = lw[LW_DZERO]
    n = dKd.shape[1]
    if st[STAT_ND] == nd:
        same = True
        for d in range(nd):
            for i in range(n):
                for j in range(n):
                    if dKd[d, i, j] != dKc[d, i, j]:
                        same = False
        if same:
            return
    V = lw[LW_MAT][1]
    W = lw[LW_MAT][2]
    T = lw[LW_MAT][3]
    for d in range(nd):
        zero = 1
        for i in range(n):
            for j in range(n):
                v = dKd[d, i, j]
                dKc[d, i, j] = v
                if v != 0.0:
                    zero = 0
        dz[d] = zero
        if zero:
            continue
        for i in range(n):  # T = dK_d V
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += dKd[d, i, k] * V[k, j]
                T[i, j] = acc
        for i in range(n):  # G_d = W T
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += W[i, k] * T[k, j]
                G[d, i, j] = acc
    st[STAT_ND] = nd


@njit(cache=True)
def lin_advance_eigen(K, dKd, h, y, S, rate, drate, lw):
    """The eigen path (module docstring). False, with y and S untouched, if ``lin_prepare``
    left no reliable eigendecomposition of this K (then use ``lin_advance_expm``)."""
    n = y.shape[0]
    nd = S.shape[1]
    mode = _usable(K, dKd, nd, lw)
    if mode == 0:
        return False
    V = lw[LW_MAT][1]
    W = lw[LW_MAT][2]
    P = lw[LW_MAT][3]  # Phi, then Gam
    M = lw[LW_MAT][4]
    ev = lw[LW_VEC]
    lam, a, e, g, yh, rh, tv = ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], ev[6]
    Sh = lw[LW_SH]
    inp = False
    for i in range(n):
        if rate[i] != 0.0:
            inp = True
    dinp = False
    for i in range(n):
        for d in range(nd):
            if drate[i, d] != 0.0:
                dinp = True
    for i in range(n):
        a[i] = lam[i] * h
        e[i] = math.exp(a[i])
        acc = 0.0
        for j in range(n):
            acc += W[i, j] * y[j]
        yh[i] = acc
        acc = 0.0
        if inp:
            for j in range(n):
                acc += W[i, j] * rate[j]
        rh[i] = acc
        g[i] = h * phi1(a[i]) if (inp or dinp) else 0.0
    if nd > 0:
        G = lw[LW_DIR][1]
        dz = lw[LW_DZERO]
        for i in range(n):  # M_ij = Phi_ij ^y_j (+ Gam_ij ^r_j)
            P[i, i] = h * e[i]
            for j in range(i + 1, n):
                P[i, j] = h * dd1(a[i], a[j], e[i], e[j])
                P[j, i] = P[i, j]
        for i in range(n):
            for j in range(n):
                M[i, j] = P[i, j] * yh[j]
        if inp:
            for i in range(n):
                for j in range(i, n):
                    P[i, j] = h * h * dd2_0(a[i], a[j])
                    P[j, i] = P[i, j]
            for i in range(n):
                for j in range(n):
                    M[i, j] += P[i, j] * rh[j]
        for d in range(nd):
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += W[i, j] * S[j, d]
                acc *= e[i]
                if mode == 1 and dz[d] == 0:
                    for j in range(n):
                        acc += G[d, i, j] * M[i, j]
                Sh[i, d] = acc
            if dinp:
                nz = False
                for j in range(n):
                    if drate[j, d] != 0.0:
                        nz = True
                if nz:
                    for i in range(n):
                        acc = 0.0
                        for j in range(n):
                            acc += W[i, j] * drate[j, d]
                        Sh[i, d] += g[i] * acc
        for i in range(n):
            for d in range(nd):
                acc = 0.0
                for j in range(n):
                    acc += V[i, j] * Sh[j, d]
                S[i, d] = acc
    for i in range(n):
        tv[i] = e[i] * yh[i] + g[i] * rh[i]
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += V[i, j] * tv[j]
        y[i] = acc
    return True


@njit(cache=True)
def lin_advance(K, dKd, h, y, S, rate, drate, lw, method):
    """Advance y (n,) and S (n, n_dir) in place by ``h`` under dy/dt = K y + rate.

    ``dKd`` (>= n_dir, n, n): dK along each direction; ``drate`` (n, >= n_dir) the input's
    derivatives; ``lw``: ``make_workspace``, prepared by ``lin_prepare`` for this K and dKd
    (or with dKd = 0) for the eigen path; ``method``: a ``LinearMethod`` code.
    """
    if h == 0.0:
        return
    st = lw[LW_STATS]
    if method != METHOD_EXPM and lin_advance_eigen(K, dKd, h, y, S, rate, drate, lw):
        st[STAT_EIGEN_INTERVALS] += 1
        return
    st[STAT_EXPM_INTERVALS] += 1
    lin_advance_expm(K, dKd, h, y, S, rate, drate, lw[LW_EXPM], lw[LW_EXPM2], lw[LW_TMP])
