"""Per-subject sums of the FOCE-type objective terms, batched over points (a leading axis).

``accumulate_terms`` is the reduction behind ``estimation.individual.SubjectEngine.batch_terms``
(its numpy twin there is the reference): from the per-observation pieces of the -2 log-likelihood
(``l``, ``l_f``, ``l_V``, the 2x2 curvature ``M``, computed by ``estimation.likelihood``) and the
eta-derivatives of the prediction ``g`` and of the variance ``dV = dV/dfv * gv``, for every point
b and subject s (observations ``starts[s]:starts[s] + counts[s]``):

* ``inner[b, s] = sum_o l + eta' Omega^-1 eta``
* ``grad[b, s]  = sum_o (l_f g + l_V dV) + 2 Omega^-1 eta``
* ``A[b, s]     = Omega^-1 + sum_o (M00 g g' + M01 (g dV' + dV g') + M11 dV dV')``
* ``logdet[b, s] = log det A`` (Cholesky; +inf when A is not positive definite or not finite).

Without ``has_gv`` the variance does not move with eta (``gv`` is ignored, dV = 0). Serial on
purpose: the work is a few flops per observation, less than waking a thread pool costs.

``gaussian_pieces`` computes those per-observation pieces for uncensored observations (the
definitions of ``error_model``: ``V = add^2 + prop^2 fv^2``, ``l = log V + r^2 / V`` ...,
expected-information curvature ``M = diag(1/V, 1/(2 V^2))``, which ``estimation.likelihood``
applies to arrays) in one pass, without the temporaries of the numpy version.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded (they inline error_model)

import math  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402

from .error_model import gaussian_slopes, gaussian_term, observation_variance  # noqa: E402
from .jit import LateBound  # noqa: E402

f2 = types.Array(types.float64, 2, "A")
f3 = types.Array(types.float64, 3, "A")
f4 = types.Array(types.float64, 4, "A")
i1 = types.Array(types.int64, 1, "A")

b1 = types.Array(types.boolean, 1, "A")
f1 = types.Array(types.float64, 1, "A")

ACCUMULATE_SIG = types.void(f2, f2, f2, f2, f2, f2, f2, f3, f3, types.boolean, f3, f3, i1, i1,
                            f2, f3, f4, f2)
GAUSSIAN_SIG = types.void(f2, f2, f1, i1, i1, b1, f2, f2, f2, f2, f2, f2, f2)


@njit(GAUSSIAN_SIG, cache=True, error_model="numpy")
def gaussian_pieces(f, fv, y, add, prop, log_scale, sd, l, l_f, l_V, m00, m11, dv_dfv):
    """Per-observation pieces of uncensored observations at B points: ``f``, ``fv`` (B, n_obs)
    on the error scale, ``y`` (n_obs,), SD indices ``add``, ``prop`` (-1: absent), ``sd``
    (B, n_sd); outputs (B, n_obs): ``l``, ``l_f``, ``l_V``, ``m00``, ``m11``, ``dv_dfv``."""
    n_b, n_obs = f.shape
    for b in range(n_b):
        sd_b = sd[b]
        for o in range(n_obs):
            V, dv_dfv[b, o] = observation_variance(sd_b, add[o], prop[o], log_scale[o], fv[b, o])
            r = y[o] - f[b, o]
            l[b, o] = gaussian_term(np.log(V), r, V)
            l_f[b, o], l_V[b, o], m00[b, o], m11[b, o] = gaussian_slopes(r, V)


@njit(cache=True)
def _logdet_chol(a, L):
    """log det of the symmetric matrix ``a`` by Cholesky (``L`` workspace); +inf unless
    positive definite."""
    n = a.shape[0]
    out = 0.0
    for j in range(n):
        d = a[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:  # also catches NaN
            return np.inf
        ljj = math.sqrt(d)
        L[j, j] = ljj
        out += 2.0 * math.log(ljj)
        for i in range(j + 1, n):
            x = a[i, j]
            for k in range(j):
                x -= L[i, k] * L[j, k]
            L[i, j] = x / ljj
    if not np.isfinite(out):
        return np.inf
    return out


@njit(ACCUMULATE_SIG, cache=True)
def accumulate_terms(l, l_f, l_V, m00_, m01_, m11_, dv_dfv, g, gv, has_gv, etas, omega_inv, starts,
                     counts, inner, grad, A, logdet):
    """See the module docstring. Shapes: ``l, l_f, l_V, dv_dfv`` and the curvature entries
    ``m00_, m01_, m11_`` (B, n_obs); ``g``, ``gv`` (B, n_obs, E); ``etas`` (B, n_sub, E); ``omega_inv`` (B, E, E);
    outputs ``inner``, ``logdet`` (B, n_sub), ``grad`` (B, n_sub, E), ``A`` (B, n_sub, E, E)."""
    n_b, n_sub, n_e = etas.shape
    gsum = np.empty(n_e)
    csum = np.empty((n_e, n_e))
    dV = np.empty(n_e)
    L = np.empty((n_e, n_e))
    for b in range(n_b):
        for s in range(n_sub):
            lsum = 0.0
            for i in range(n_e):
                gsum[i] = 0.0
                for j in range(n_e):
                    csum[i, j] = 0.0
            o0 = starts[s]
            for o in range(o0, o0 + counts[s]):
                lsum += l[b, o]
                lf = l_f[b, o]
                m00 = m00_[b, o]
                if has_gv:
                    lv = l_V[b, o]
                    m01 = m01_[b, o]
                    m11 = m11_[b, o]
                    for i in range(n_e):
                        dV[i] = dv_dfv[b, o] * gv[b, o, i]
                        gsum[i] += lf * g[b, o, i] + lv * dV[i]
                    for i in range(n_e):  # the upper triangle (mirrored below: the terms commute exactly)
                        gi = g[b, o, i]
                        for j in range(i, n_e):
                            gj = g[b, o, j]
                            csum[i, j] += (m00 * (gi * gj) + m01 * (gi * dV[j] + dV[i] * gj)
                                           + m11 * (dV[i] * dV[j]))
                else:
                    for i in range(n_e):
                        gsum[i] += lf * g[b, o, i]
                    for i in range(n_e):
                        gi = g[b, o, i]
                        for j in range(i, n_e):
                            csum[i, j] += m00 * (gi * g[b, o, j])
            quad = 0.0
            for j in range(n_e):
                eo = 0.0
                for i in range(n_e):
                    eo += etas[b, s, i] * omega_inv[b, i, j]
                grad[b, s, j] = gsum[j] + 2.0 * eo
                quad += eo * etas[b, s, j]
            inner[b, s] = lsum + quad
            for i in range(n_e):
                for j in range(n_e):
                    A[b, s, i, j] = omega_inv[b, i, j] + (csum[i, j] if j >= i else csum[j, i])
            logdet[b, s] = _logdet_chol(A[b, s], L)


#: ``gaussian_pieces`` and ``accumulate_terms`` for compiled callers (``inner_trial._evaluate_range``),
#: late-bound (``jit.LateBound``): called by the address of the code compiled above rather than
#: linked into the caller, where numba would optimise and machine-code them again (~1 CPU s cold)
GAUSSIAN_PIECES = LateBound("nlme_lab_subject_terms_gaussian_pieces", GAUSSIAN_SIG)
ACCUMULATE_TERMS = LateBound("nlme_lab_subject_terms_accumulate_terms", ACCUMULATE_SIG)
GAUSSIAN_PIECES.bind(gaussian_pieces)
ACCUMULATE_TERMS.bind(accumulate_terms)
