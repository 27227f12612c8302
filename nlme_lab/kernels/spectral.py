"""Eigendecomposition of small compartment matrices K, and divided differences of exp.

``decompose(K, ...)`` writes ``K = V diag(lam) W`` with ``W = V^-1`` (up to rounding) for the
matrices of linear compartment models, or returns a non-zero ``EigStatus`` when it cannot do
so reliably (the caller then uses the Padé path of ``linear.lin_advance_expm``):

1. The states are ordered by the flows between them (edge j -> i when ``K[i, j] != 0``): the
   strongly connected components (SCCs) of that graph, sources first, so K is block lower
   triangular. A depot is a 1 x 1 block before the central block; structural zeros of K stay
   exact zeros of V and W (a depot that receives nothing keeps exactly zero amounts, which
   matters when states are propagated backwards over long times, where rounding noise would be
   amplified by exp(ka |h|)).
2. Each SCC block must be diagonally similar to a symmetric matrix (true for mammillary and
   catenary systems: a tree of exchanges with ``K_ij K_ji > 0``): ``D^-1 K_bb D = A``
   symmetric, with real eigenvalues, diagonalised by cyclic Jacobi rotations (``A = Q M Q^T``,
   Q orthogonal). Block eigenvectors: right ``D Q``, left ``Q^T D^-1``. Otherwise (complex
   eigenvalues possible): ``NOT_SYMMETRIZABLE``.
3. Eigenvectors of K: a right eigenvector of an eigenvalue mu of block b is zero on the blocks
   before b and is continued into later blocks c by solving ``(K_cc - mu I) v_c = -sum K_ce v_e``;
   left eigenvectors likewise backwards. Exactly repeated eigenvalues across coupled blocks
   (ka == k: a Jordan block) make that solve singular: ``DEFECTIVE``; nearly repeated ones make
   V ill-conditioned: ``ILL_CONDITIONED`` when the eigenvalue condition number
   ``|v| |w| / |w . v|`` of any eigenvalue exceeds ``KAPPA_MAX``. The rounding error of
   ``V f(Lambda) W`` is about ``KAPPA_MAX`` times machine epsilon.

Repeated eigenvalues *within* a symmetric block (two identical peripheral compartments) are
fine: Jacobi gives an orthogonal eigenbasis.

Divided differences of exp (``dd1``, ``dd2_0``) are evaluated without cancellation for any
spacing of the points, including equal points (then they are derivatives): ``exp[a, b]`` as
``e^max(a,b) expm1(d) / d``; ``exp[a, b, 0]`` by the recurrence when the points are spread by
at least 1, else by its Taylor series in the shifted points.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import enum  # noqa: E402
import math  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, typeof, types  # noqa: E402

from .dense import lu_factor, lu_solve  # noqa: E402
from .abi import mat, vec  # noqa: E402
from .jit import LateBound, engine_jit  # noqa: E402

EIG_OK = 0
EIG_NONFINITE = 1
EIG_NOT_SYMMETRIZABLE = 2
EIG_NO_CONVERGENCE = 3
EIG_DEFECTIVE = 4
EIG_ILL_CONDITIONED = 5

#: largest eigenvalue condition number accepted (the eigen path's error is ~KAPPA_MAX * eps)
KAPPA_MAX = 1e3
#: relative mismatch tolerated between K_ij d_j / d_i and the symmetric entry on cycles
SYM_TOL = 1e-12
JACOBI_MAX_SWEEPS = 40

class EigStatus(enum.IntEnum):
    """Why ``decompose`` declined (0 = fine)."""

    OK = EIG_OK
    NONFINITE = EIG_NONFINITE
    NOT_SYMMETRIZABLE = EIG_NOT_SYMMETRIZABLE
    NO_CONVERGENCE = EIG_NO_CONVERGENCE
    DEFECTIVE = EIG_DEFECTIVE
    ILL_CONDITIONED = EIG_ILL_CONDITIONED


class DecompWorkspace(NamedTuple):
    """Scratch of ``decompose`` for n states (``make_decomp_workspace``)."""

    sym: np.ndarray  # (n, n) a block made symmetric, diagonalised by Jacobi in place
    rot: np.ndarray  # (n, n) its accumulated rotations Q
    shifted: np.ndarray  # (n, n) K_bb - mu I of the eigenvector continuation
    scale: np.ndarray  # (n,) the block's diagonal similarity d
    rhs: np.ndarray  # (n,) right-hand side / solution of the continuation
    lam: np.ndarray  # (n,) free for the caller's eigenvalues (``decompose`` does not touch it)
    order: np.ndarray  # int64 (n,) states ordered by block, sources first
    comp: np.ndarray  # int64 (n,) block (strongly connected component) of each state
    anc: np.ndarray  # int64 (n,) ancestors of each state
    bstart: np.ndarray  # int64 (n + 1,) where each block starts in ``order``
    reach: np.ndarray  # int64 (n, n) reach[a, b] = 1 if a flows into b (transitively)
    piv: np.ndarray  # int64 (n,) row pivots of the continuation's solves


@njit(cache=True)
def make_decomp_workspace(n):
    """A ``DecompWorkspace`` for n states."""
    return DecompWorkspace(np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n)), np.zeros(n),
                           np.zeros(n), np.zeros(n), np.zeros(n, np.int64), np.zeros(n, np.int64),
                           np.zeros(n, np.int64), np.zeros(n + 1, np.int64),
                           np.zeros((n, n), np.int64), np.zeros(n, np.int64))


# ------------------------------------------------------------------ divided differences
@engine_jit()
def phi1(u):
    """exp[0, u] = (e^u - 1) / u (1 at u = 0)."""
    if u == 0.0:
        return 1.0
    return math.expm1(u) / u


@engine_jit()
def dd1(a, b, ea, eb):
    """exp[a, b] = (e^a - e^b) / (a - b), e^a at a == b; ``ea``, ``eb`` are e^a, e^b."""
    if a == b:
        return ea
    if a > b:
        d = b - a
        return ea * (math.expm1(d) / d)
    d = a - b
    return eb * (math.expm1(d) / d)


@engine_jit()
def dd2_0(a, b):
    """exp[a, b, 0], the second divided difference of exp at a, b and 0 (any spacing)."""
    p0, p1, p2 = a, b, 0.0
    if p1 > p0:
        p0, p1 = p1, p0
    if p2 > p1:
        p1, p2 = p2, p1
        if p1 > p0:
            p0, p1 = p1, p0
    u = p1 - p0  # 0 >= u >= v
    v = p2 - p0
    if v <= -1.0:
        f = (phi1(u) - math.exp(u) * phi1(v - u)) / (-v)
    else:
        # sum_k h_k(u, v) / (k + 2)!, h_k the complete homogeneous polynomial; |u|, |v| < 1
        h = 1.0
        pu = 1.0
        fact = 2.0
        f = 0.5
        for k in range(1, 21):
            pu *= u
            h = v * h + pu
            fact *= k + 2
            f += h / fact
    return math.exp(p0) * f


# ------------------------------------------------------------------ structure of K
@engine_jit()
def _block_order(K, dw):
    """Order the states by SCC, sources first, into ``dw.order``; ``dw.bstart[:nb + 1]`` the
    block starts in that order (``dw.comp``, ``dw.anc``: each state's SCC and ancestor count);
    returns nb."""
    n = K.shape[0]
    order, comp, anc, bstart, R = dw.order, dw.comp, dw.anc, dw.bstart, dw.reach
    for a in range(n):
        for b in range(n):
            R[a, b] = 1 if (a != b and K[b, a] != 0.0) else 0  # a flows into b
    for k in range(n):
        for a in range(n):
            if R[a, k]:
                for b in range(n):
                    if R[k, b]:
                        R[a, b] = 1
    for i in range(n):
        comp[i] = i
        for j in range(i):
            if R[i, j] and R[j, i]:
                comp[i] = j
                break
        cnt = 1
        for j in range(n):
            if j != i and R[j, i]:
                cnt += 1
        anc[i] = cnt
        order[i] = i
    for i in range(1, n):  # insertion sort by (ancestors, component, index)
        s = order[i]
        j = i - 1
        while j >= 0:
            o = order[j]
            if anc[o] > anc[s] or (anc[o] == anc[s] and comp[o] > comp[s]):
                order[j + 1] = o
                j -= 1
            else:
                break
        order[j + 1] = s
    nb = 0
    for p in range(n):
        if p == 0 or comp[order[p]] != comp[order[p - 1]]:
            bstart[nb] = p
            nb += 1
    bstart[nb] = n
    return nb


@engine_jit()
def _symmetrize(K, order, p0, s, A, d):
    """A (s x s, top-left) = D^-1 K_bb D symmetric for the block order[p0:p0+s]; scaling d."""
    for p in range(s):
        i = order[p0 + p]
        A[p, p] = K[i, i]
        d[p] = 0.0
        for q in range(p + 1, s):
            j = order[p0 + q]
            kij = K[i, j]
            kji = K[j, i]
            if kij == 0.0 and kji == 0.0:
                A[p, q] = 0.0
            elif (kij > 0.0 and kji > 0.0) or (kij < 0.0 and kji < 0.0):
                v = math.sqrt(abs(kij)) * math.sqrt(abs(kji))
                A[p, q] = v if kij > 0.0 else -v
            else:
                return EIG_NOT_SYMMETRIZABLE
            A[q, p] = A[p, q]
    # d by a breadth-first walk over the block's exchanges (d_j / d_i = sqrt(K_ji / K_ij))
    d[0] = 1.0
    done = 1
    while done < s:
        grown = False
        for p in range(s):
            if d[p] == 0.0:
                continue
            for q in range(s):
                if d[q] == 0.0 and A[p, q] != 0.0:
                    i = order[p0 + p]
                    j = order[p0 + q]
                    d[q] = d[p] * math.sqrt(K[j, i] / K[i, j])
                    done += 1
                    grown = True
        if not grown:
            return EIG_NOT_SYMMETRIZABLE  # not connected: cannot happen for an SCC
    for p in range(s):
        i = order[p0 + p]
        for q in range(s):
            if q != p and A[p, q] != 0.0:
                j = order[p0 + q]
                if abs(K[i, j] * d[q] / d[p] - A[p, q]) > SYM_TOL * abs(A[p, q]):
                    return EIG_NOT_SYMMETRIZABLE  # a cycle of exchanges that is not reversible
    return EIG_OK


@engine_jit()
def _jacobi(A, Q, s):
    """Cyclic Jacobi on the symmetric top-left s x s of A: A -> diag, Q orthogonal."""
    for p in range(s):
        for q in range(s):
            Q[p, q] = 1.0 if p == q else 0.0
    for _ in range(JACOBI_MAX_SWEEPS):
        off = False
        for p in range(s - 1):
            for q in range(p + 1, s):
                apq = A[p, q]
                if apq == 0.0:
                    continue
                if abs(apq) <= 1e-18 * (abs(A[p, p]) + abs(A[q, q])):
                    A[p, q] = 0.0
                    A[q, p] = 0.0
                    continue
                off = True
                tau = (A[q, q] - A[p, p]) / (2.0 * apq)
                t = 1.0 / (abs(tau) + math.hypot(1.0, tau))
                if tau < 0.0:
                    t = -t
                c = 1.0 / math.hypot(1.0, t)
                sn = t * c
                for k in range(s):  # A <- A J (columns p, q)
                    akp = A[k, p]
                    akq = A[k, q]
                    A[k, p] = c * akp - sn * akq
                    A[k, q] = sn * akp + c * akq
                for k in range(s):  # A <- J^T A (rows p, q)
                    apk = A[p, k]
                    aqk = A[q, k]
                    A[p, k] = c * apk - sn * aqk
                    A[q, k] = sn * apk + c * aqk
                A[p, q] = 0.0
                A[q, p] = 0.0
                for k in range(s):
                    qkp = Q[k, p]
                    qkq = Q[k, q]
                    Q[k, p] = c * qkp - sn * qkq
                    Q[k, q] = sn * qkp + c * qkq
        if not off:
            return True
    return False


#: the numba type of a ``DecompWorkspace`` and the signature of ``decompose``
DECOMP_WORKSPACE_TYPE = typeof(make_decomp_workspace.py_func(1))
DECOMPOSE_SIG = types.int64(mat, mat, mat, vec, DECOMP_WORKSPACE_TYPE)
#: one signature: its two calls pass ``transpose`` as the literals False and True, each of which
#: would compile it again (~1 CPU s each on a cold start)
SOLVE_SHIFTED_SIG = types.boolean(mat, types.int64[::1], types.int64, types.int64, types.float64, vec,
                                  DECOMP_WORKSPACE_TYPE, types.boolean)


@engine_jit(SOLVE_SHIFTED_SIG)
def _solve_shifted(K, order, p0, s, mu, rhs, dw, transpose):
    """Solve (K_bb - mu I) z = rhs (or its transpose) for the block order[p0:p0+s] in place
    of rhs[:s] (LU with partial pivoting, dividing by the pivots). False if singular."""
    M = dw.shifted.reshape(dw.shifted.size)[: s * s].reshape((s, s))  # contiguous s x s scratch
    for p in range(s):
        for q in range(s):
            kv = K[order[p0 + q], order[p0 + p]] if transpose else K[order[p0 + p],
                                                                    order[p0 + q]]
            M[p, q] = kv - mu if p == q else kv
    if not lu_factor(M, dw.piv, 1.0, True):
        return False
    lu_solve(M, dw.piv, rhs[:s].reshape((s, 1)), True)
    return True


@engine_jit()
def _extend(K, order, bstart, nb, b, k, mu, V, W, dw):
    """Continue the block eigenpair (V[:, k] on block b, W[k] on block b) to all of K."""
    z = dw.rhs
    for c in range(b + 1, nb):  # right vector into later blocks
        c0, c1 = bstart[c], bstart[c + 1]
        nz = False
        for q in range(c1 - c0):
            acc = 0.0
            i = order[c0 + q]
            for pe in range(bstart[b], c0):
                e = order[pe]
                acc -= K[i, e] * V[e, k]
            z[q] = acc
            if acc != 0.0:
                nz = True
        if nz:
            if not _solve_shifted(K, order, c0, c1 - c0, mu, z, dw, False):
                return EIG_DEFECTIVE
            for q in range(c1 - c0):
                V[order[c0 + q], k] = z[q]
    for e in range(b - 1, -1, -1):  # left vector into earlier blocks
        e0, e1 = bstart[e], bstart[e + 1]
        nz = False
        for q in range(e1 - e0):
            acc = 0.0
            j = order[e0 + q]
            for pc in range(e1, bstart[b + 1]):
                c = order[pc]
                acc -= W[k, c] * K[c, j]
            z[q] = acc
            if acc != 0.0:
                nz = True
        if nz:
            if not _solve_shifted(K, order, e0, e1 - e0, mu, z, dw, True):
                return EIG_DEFECTIVE
            for q in range(e1 - e0):
                W[k, order[e0 + q]] = z[q]
    return EIG_OK


@engine_jit()
def decompose(K, V, W, lam, dw):
    """K = V diag(lam) W with W V = I (module docstring); returns an ``EigStatus`` code.

    ``dw``: a ``make_decomp_workspace(n)``.
    """
    n = K.shape[0]
    for i in range(n):
        for j in range(n):
            if not (abs(K[i, j]) < 1e300):
                return EIG_NONFINITE
            V[i, j] = 0.0
            W[i, j] = 0.0
    if n == 2 and K[0, 1] == 0.0:
        return _lower_two(K, V, W, lam)
    A, Q = dw.sym, dw.rot
    d = dw.scale
    nb = _block_order(K, dw)
    order, bstart = dw.order, dw.bstart
    for b in range(nb):
        p0 = bstart[b]
        s = bstart[b + 1] - p0
        if s == 1:
            i = order[p0]
            lam[i] = K[i, i]
            V[i, i] = 1.0
            W[i, i] = 1.0
            continue
        st = _symmetrize(K, order, p0, s, A, d)
        if st != EIG_OK:
            return st
        if not _jacobi(A, Q, s):
            return EIG_NO_CONVERGENCE
        for kk in range(s):  # block eigenpair kk goes to column / row order[p0 + kk]
            col = order[p0 + kk]
            lam[col] = A[kk, kk]
            for p in range(s):
                i = order[p0 + p]
                V[i, col] = d[p] * Q[p, kk]
                W[col, i] = Q[p, kk] / d[p]
    return _finish(K, V, W, lam, nb, dw)


@engine_jit()
def _lower_two(K, V, W, lam):
    """``decompose`` of a 2 x 2 K with K[0, 1] == 0 (a depot or first compartment feeding the
    second: every one-compartment model with first-order absorption), V and W zeroed. The
    general path's steps (two 1 x 1 blocks, each eigenvector continued into the other block by
    ``_extend``), written out: the same operations in the same order, so the same bits, at a
    fraction of the cost (SAEM and importance sampling decompose once per subject and draw)."""
    a, c, d = K[0, 0], K[1, 0], K[1, 1]
    lam[0], lam[1] = a, d
    V[0, 0], V[1, 1], W[0, 0], W[1, 1] = 1.0, 1.0, 1.0, 1.0
    if c != 0.0:
        if d - a == 0.0 or a - d == 0.0:
            return EIG_DEFECTIVE
        V[1, 0] = (0.0 - c * 1.0) / (d - a)
        W[1, 0] = (0.0 - 1.0 * c) / (a - d)
    return _conditioned(V, W)


@engine_jit()
def _finish(K, V, W, lam, nb, dw):
    """Extend the block eigenpairs to K and check their condition numbers."""
    order, bstart = dw.order, dw.bstart
    for b in range(nb):
        for pk in range(bstart[b], bstart[b + 1]):
            k = order[pk]
            st = _extend(K, order, bstart, nb, b, k, lam[k], V, W, dw)
            if st != EIG_OK:
                return st
    return _conditioned(V, W)


@engine_jit()
def _conditioned(V, W):
    """EIG_OK when every eigenvalue's condition number |v| |w| / |w . v| is within KAPPA_MAX."""
    n = V.shape[0]
    for k in range(n):
        nv = 0.0
        nw = 0.0
        dot = 0.0
        for i in range(n):
            nv += V[i, k] * V[i, k]
            nw += W[k, i] * W[k, i]
            dot += W[k, i] * V[i, k]
        if not (math.sqrt(nv * nw) <= KAPPA_MAX * abs(dot)):
            return EIG_ILL_CONDITIONED
    return EIG_OK


#: ``decompose`` late-bound (``jit.LateBound``): ``linear.lin_prepare`` and ``bolus_march`` call
#: it through ``DECOMPOSE.function``, so it is compiled once rather than into each engine layer
DECOMPOSE = LateBound("nlme_lab_kernels_decompose", DECOMPOSE_SIG)
DECOMPOSE.bind(decompose)  # compiles (or loads) it for DECOMPOSE_SIG
