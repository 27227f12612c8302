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

Workspace: the ``LinearWorkspace`` of ``make_workspace(n_state, n_dir)`` (``n_dir``: the most
columns of S any call will pass; the steady-state solver passes n_state columns), plus
``spectral.make_decomp_workspace(n_state)`` for ``lin_prepare``. Its ``stats`` count
decompositions and intervals per path (``STAT_*``), for tests and benchmarks.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import enum  # noqa: E402
import math  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, typeof, types  # noqa: E402

from .abi import arr3, f8, mat, vec  # noqa: E402
from .jit import LateBound, engine_jit  # noqa: E402

from .dense import norm1  # noqa: E402
from .expm import EXPM_WORK, expm_into  # noqa: E402
from .spectral import DECOMPOSE, EIG_OK, dd1, dd2_0, phi1  # noqa: E402

#: scratch matrices needed per workspace (expm's plus the augmented matrix and its exponential)
LIN_WORK = EXPM_WORK + 2

#: index in the engine's ``opts`` of the linear method (ode.make_opts uses slots 0-7)
OPT_LINEAR_METHOD = 8
METHOD_AUTO = 0
METHOD_EXPM = 1
#: index in the engine's ``opts`` of the model-input flag: nonzero for a linear model whose d/dt
#: has a constant input written in the model (``dy/dt = K y + b``); the engine then adds
#: b = rhs(t, 0, p) (and its directions, ``dfdp(t, 0, p) dp``) to the dose inputs
OPT_MODEL_INPUT = 9


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


def with_model_input(opts: np.ndarray, on: bool = True) -> np.ndarray:
    """A copy of the engine ``opts`` with the model-input flag (``OPT_MODEL_INPUT``) set: what a
    linear model with ``CompiledModel.has_input`` needs (without it, b is left out)."""
    out = np.zeros(max(opts.shape[0], OPT_MODEL_INPUT + 1))
    out[: opts.shape[0]] = opts
    out[OPT_MODEL_INPUT] = 1.0 if on else 0.0
    return out


class LinearWorkspace(NamedTuple):
    """Scratch of ``lin_advance`` (``make_workspace``). The eigen path keeps its matrices in one
    array of slabs (``eig``, indexed by ``A_*``): a kernel that binds fewer arrays pays fewer
    reference-count atomics where it runs with numba's reference counting."""

    expm: np.ndarray  # (LIN_WORK, n + 1, n + 1) Padé scratch
    expm2: np.ndarray  # (LIN_WORK, 2 n + 2, 2 n + 2) (or 1 x 1 without directions)
    tmp: np.ndarray  # (n,)
    piv: np.ndarray  # int64 (2 n + 2,) row pivots of the Padé solves
    eig: np.ndarray  # (A_SLOTS + 2 ndm, n, w): the eigen path's matrices, see A_*
    stats: np.ndarray  # int64 (STAT_DZERO + ndm,): STAT_* counters, then 1 where dK_d == 0


# slabs of ``LinearWorkspace.eig`` (each n x w, w = max(ndm, N_VEC))
A_K = 0  # the K of the cached decomposition
A_V = 1  # right eigenvectors (columns)
A_W = 2  # left eigenvectors (rows), W = V^-1
A_P = 3  # Phi, then Gam (and scratch)
A_M = 4  # M_ij = Phi_ij ^y_j + Gam_ij ^r_j
A_VEC = 5  # columns: C_LAM, C_A, C_E, C_G, C_YH, C_RH, C_T
A_SH = 6  # ^S (n x nd)
A_SLOTS = 7  # then ndm slabs of cached dK_d, then ndm slabs of G_d = W dK_d V
C_LAM, C_A, C_E, C_G, C_YH, C_RH, C_T = 0, 1, 2, 3, 4, 5, 6
N_VEC = 8

STAT_EIG = 0  # decompose's status for the cached K (-1: nothing cached)
STAT_ND = 1  # number of directions G is cached for (-1: none)
STAT_DECOMPOSITIONS = 2
STAT_EXPM_INTERVALS = 3
STAT_EIGEN_INTERVALS = 4
STAT_DZERO = 8  # first of the ndm zero flags


@njit(cache=True)
def make_workspace(n_state, n_dir):
    """A ``LinearWorkspace`` (allocate once per subject or thread)."""
    n = n_state
    m = n + 1
    m2 = 2 * m if n_dir > 0 else 1
    ndm = max(n_dir, n, 1)
    st = np.zeros(STAT_DZERO + ndm, np.int64)
    st[STAT_EIG] = -1
    st[STAT_ND] = -1
    return LinearWorkspace(np.zeros((LIN_WORK, m, m)), np.zeros((LIN_WORK, m2, m2)), np.zeros(n),
                           np.zeros(2 * m, np.int64),
                           np.zeros((A_SLOTS + 2 * ndm, n, max(ndm, N_VEC))), st)




#: the numba type of a ``LinearWorkspace`` (for explicit signatures)
LINEAR_WORKSPACE_TYPE = typeof(make_workspace.py_func(1, 0))
LIN_ADVANCE_EXPM_SIG = types.void(mat, arr3, f8, vec, mat, vec, mat, LINEAR_WORKSPACE_TYPE)


@engine_jit()
def forget(lw):
    """Drop the cached decomposition (results never depend on it; this only frees reuse)."""
    lw.stats[STAT_EIG] = -1
    lw.stats[STAT_ND] = -1


@engine_jit()
def _direction_is_zero(dKd, drate, d):
    n = dKd.shape[1]
    for i in range(n):
        if drate[i, d] != 0.0:
            return False
        for j in range(n):
            if dKd[d, i, j] != 0.0:
                return False
    return True


@engine_jit()  # no signature: compiled (for LIN_ADVANCE_EXPM_SIG) when bound, ``bind_lin_advance_expm``
def lin_advance_expm(K, dKd, h, y, S, rate, drate, lw):
    """The Padé path: advance y (n,) and S (n, n_dir) in place by ``h`` under
    dy/dt = K y + rate.

    ``dKd`` (>= n_dir, n, n): dK along each direction; ``drate`` (n, >= n_dir); ``lw``: a
    ``LinearWorkspace``. Directions whose dK and drate are both zero cost one matrix-vector
    product.
    """
    Wm, W2, tmp, piv = lw.expm, lw.expm2, lw.tmp, lw.piv
    n = K.shape[0]
    m = n + 1
    nd = S.shape[1]
    if h == 0.0:
        return
    A = Wm[EXPM_WORK]
    E = Wm[EXPM_WORK + 1]
    # input column scale c (similarity diag(I, 1/c))
    knorm = norm1(K) * abs(h)
    rnorm = 0.0
    for i in range(n):
        rnorm += abs(rate[i])
    rnorm *= abs(h)
    if not (math.isfinite(knorm) and math.isfinite(rnorm)):
        # an overflowed rate constant (ka, or CL/V with V = 0): no solution; NaN marks the subject
        # as failed (the sensitivity scaling below would divide by zero)
        for i in range(n):
            y[i] = math.nan
            for d in range(nd):
                S[i, d] = math.nan
        return
    c = 1.0
    if rnorm > max(knorm, 1.0):
        c = rnorm / max(knorm, 1.0)
    for i in range(n):
        for j in range(n):
            A[i, j] = K[i, j] * h
        A[i, n] = rate[i] * h / c
        A[n, i] = 0.0
    A[n, n] = 0.0
    expm_into(A, E, Wm, piv)
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
                dnorm = norm1(dKd[d]) * abs(h)
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
                expm_into(M, EM, W2, piv)
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


#: ``lin_advance_expm`` late-bound (``jit.LateBound``): ``events``' and ``lin_advance``'s calls
LIN_ADVANCE_EXPM = LateBound("nlme_lab_kernels_lin_advance_expm", LIN_ADVANCE_EXPM_SIG)
_lin_advance_expm = LIN_ADVANCE_EXPM.function


def bind_lin_advance_expm() -> None:
    """Compile (or load) the Padé path and let its callers reach it: with ``events.solve_records``
    (``bind_solve_records``) and ``propagate.advance`` (``bind_advance``), the only kernels that
    call it. A simulation that ``bolus_march`` handles entirely never does (about 9 s of a cold
    start with ``expm`` and its LU solves)."""
    if not LIN_ADVANCE_EXPM.bound:
        LIN_ADVANCE_EXPM.bind(lin_advance_expm)
_decompose = DECOMPOSE.function


@engine_jit()
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
@engine_jit()
def lin_prepare(K, dKd, nd, lw, dw):
    """Decompose K and cache ``G_d = W dK_d V`` (d < nd) for ``lin_advance``; each is kept
    when K (dK) equals the cached one. ``dw``: ``spectral.make_decomp_workspace(n)``.

    Call whenever K or dKd changes: ``lin_advance`` never decomposes (that keeps the
    decomposition out of the code compiled into every caller of ``propagate.advance``); it
    takes the Padé path where no decomposition of its K is cached.
    """
    st = lw.stats
    LA = lw.eig
    n = K.shape[0]
    same = st[STAT_EIG] >= 0
    if same:
        for i in range(n):
            for j in range(n):
                if K[i, j] != LA[A_K, i, j]:
                    same = False
    if not same:
        for i in range(n):
            for j in range(n):
                LA[A_K, i, j] = K[i, j]
        lam = dw.lam
        st[STAT_EIG] = _decompose()(K, LA[A_V], LA[A_W], lam, dw)
        for i in range(n):
            LA[A_VEC, i, C_LAM] = lam[i]
        st[STAT_ND] = -1
        st[STAT_DECOMPOSITIONS] += 1
    if st[STAT_EIG] == EIG_OK and nd > 0 and st[STAT_ND] != nd:
        _directions_ready(dKd, nd, LA, st)
    elif st[STAT_EIG] == EIG_OK and nd > 0:
        for d in range(nd):
            for i in range(n):
                for j in range(n):
                    if dKd[d, i, j] != LA[A_SLOTS + d, i, j]:
                        _directions_ready(dKd, nd, LA, st)
                        return


@engine_jit()
def _directions_ready(dKd, nd, LA, st):
    """Cache dK_d and G_d = W dK_d V for d < nd."""
    n = dKd.shape[1]
    ndm = (LA.shape[0] - A_SLOTS) // 2
    for d in range(nd):
        zero = 1
        for i in range(n):
            for j in range(n):
                v = dKd[d, i, j]
                LA[A_SLOTS + d, i, j] = v
                if v != 0.0:
                    zero = 0
        st[STAT_DZERO + d] = zero
        if zero:
            continue
        for i in range(n):  # P = dK_d V
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += dKd[d, i, k] * LA[A_V, k, j]
                LA[A_P, i, j] = acc
        g = A_SLOTS + ndm + d
        for i in range(n):  # G_d = W P
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += LA[A_W, i, k] * LA[A_P, k, j]
                LA[g, i, j] = acc
    st[STAT_ND] = nd


@engine_jit(inline=True)
def lin_advance_eigen(K, dKd, h, y, S, rate, drate, LA, st):
    """The eigen path (module docstring) with the slabs ``LA`` and counters ``st`` of the
    workspace. False, with y and S untouched, if ``lin_prepare`` left no reliable
    decomposition of this K (or cached other directions): then use ``lin_advance_expm``.

    Written without array views: each array a kernel binds costs refcount atomics, which
    dominated this step before (~0.3 us of ~0.05 us of arithmetic).
    """
    n = y.shape[0]
    nd = S.shape[1]
    if st[STAT_EIG] != EIG_OK:
        return False
    for i in range(n):
        for j in range(n):
            if K[i, j] != LA[A_K, i, j]:
                return False
    # mode 1: the cached G; mode 2: all directions zero (the steady-state solver's state-only
    # directions); else the Padé path
    mode = 1
    if nd > 0:
        if st[STAT_ND] != nd:
            mode = 0
        else:
            for d in range(nd):
                for i in range(n):
                    for j in range(n):
                        if dKd[d, i, j] != LA[A_SLOTS + d, i, j]:
                            mode = 0
        if mode == 0:
            mode = 2
            for d in range(nd):
                for i in range(n):
                    for j in range(n):
                        if dKd[d, i, j] != 0.0:
                            return False
    ndm = (LA.shape[0] - A_SLOTS) // 2
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
        a = LA[A_VEC, i, C_LAM] * h
        LA[A_VEC, i, C_A] = a
        LA[A_VEC, i, C_E] = math.exp(a)
        acc = 0.0
        for j in range(n):
            acc += LA[A_W, i, j] * y[j]
        LA[A_VEC, i, C_YH] = acc
        acc = 0.0
        if inp:
            for j in range(n):
                acc += LA[A_W, i, j] * rate[j]
        LA[A_VEC, i, C_RH] = acc
        LA[A_VEC, i, C_G] = h * phi1(a) if (inp or dinp) else 0.0
    if nd > 0:
        for i in range(n):  # M_ij = Phi_ij ^y_j (+ Gam_ij ^r_j)
            LA[A_P, i, i] = h * LA[A_VEC, i, C_E]
            for j in range(i + 1, n):
                v = h * dd1(LA[A_VEC, i, C_A], LA[A_VEC, j, C_A], LA[A_VEC, i, C_E],
                            LA[A_VEC, j, C_E])
                LA[A_P, i, j] = v
                LA[A_P, j, i] = v
        for i in range(n):
            for j in range(n):
                LA[A_M, i, j] = LA[A_P, i, j] * LA[A_VEC, j, C_YH]
        if inp:
            for i in range(n):
                for j in range(i, n):
                    v = h * h * dd2_0(LA[A_VEC, i, C_A], LA[A_VEC, j, C_A])
                    LA[A_P, i, j] = v
                    LA[A_P, j, i] = v
            for i in range(n):
                for j in range(n):
                    LA[A_M, i, j] += LA[A_P, i, j] * LA[A_VEC, j, C_RH]
        for d in range(nd):
            use_g = mode == 1 and st[STAT_DZERO + d] == 0
            g = A_SLOTS + ndm + d
            nzr = False
            if dinp:
                for j in range(n):
                    if drate[j, d] != 0.0:
                        nzr = True
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += LA[A_W, i, j] * S[j, d]
                acc *= LA[A_VEC, i, C_E]
                if use_g:
                    for j in range(n):
                        acc += LA[g, i, j] * LA[A_M, i, j]
                if nzr:
                    acc2 = 0.0
                    for j in range(n):
                        acc2 += LA[A_W, i, j] * drate[j, d]
                    acc += LA[A_VEC, i, C_G] * acc2
                LA[A_SH, i, d] = acc
        for i in range(n):
            for d in range(nd):
                acc = 0.0
                for j in range(n):
                    acc += LA[A_V, i, j] * LA[A_SH, j, d]
                S[i, d] = acc
    for i in range(n):
        LA[A_VEC, i, C_T] = (LA[A_VEC, i, C_E] * LA[A_VEC, i, C_YH]
                             + LA[A_VEC, i, C_G] * LA[A_VEC, i, C_RH])
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += LA[A_V, i, j] * LA[A_VEC, j, C_T]
        y[i] = acc
    return True


@engine_jit()
def _lin_advance(K, dKd, h, y, S, rate, drate, lw, method):
    """Advance y (n,) and S (n, n_dir) in place by ``h`` under dy/dt = K y + rate.

    ``dKd`` (>= n_dir, n, n): dK along each direction; ``drate`` (n, >= n_dir) the input's
    derivatives; ``lw``: ``make_workspace``, prepared by ``lin_prepare`` for this K and dKd
    (or with dKd = 0) for the eigen path; ``method``: a ``LinearMethod`` code.
    """
    if h == 0.0:
        return
    st = lw.stats
    if method != METHOD_EXPM and lin_advance_eigen(K, dKd, h, y, S, rate, drate, lw.eig, st):
        st[STAT_EIGEN_INTERVALS] += 1
        return
    st[STAT_EXPM_INTERVALS] += 1
    _lin_advance_expm()(K, dKd, h, y, S, rate, drate, lw)


def __getattr__(name):
    """``lin_advance`` (for callers outside the engine, as the tests): the kernel, with the Padé
    path it falls back on bound first (``bind_lin_advance_expm``); ``propagate`` imports
    ``_lin_advance`` and binds the Padé path itself."""
    if name == "lin_advance":
        bind_lin_advance_expm()
        return _lin_advance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
