"""The outer gradient's perturbed batch (``estimation.objective.Objective._perturbed_batch``),
compiled: the predictions, their eta-derivatives and the etas at the B = 1 + 2 n_free + 2 n_eta
points (the point, v +- h_k e_k, eta +- h e_m) filled in one call instead of ~20 numpy calls
on arrays of a few thousand numbers (whose Python cost more than the arithmetic).

Every number is the numpy code's to the bit. The theta rows add ``moves @ f_th.T`` and
``einsum("oet,kt->koe", g_th, moves)``: each row of ``moves`` has one nonzero entry (a free
theta moves its own reported theta only, ``Parameterization.theta_moves``), so every sum is
that one product plus exact zeros, the same in any order (a non-finite derivative still
gives nan through 0 * inf, as in the matrix product). Standalone
(``kernels.cache_guard.STANDALONE_MODULES``): it embeds no other module's code.
"""

from __future__ import annotations

from numba import njit, types

f1 = types.Array(types.float64, 1, "A")
f2 = types.Array(types.float64, 2, "A")
f3 = types.Array(types.float64, 3, "A")
i1 = types.Array(types.int64, 1, "A")

FILL_SIG = types.boolean(f2, f3, f2, f3, f1, f2, f1, f2, f3, f2, f2, f3, i1, i1, f3, types.boolean, types.float64,
                      types.int64)


@njit(FILL_SIG, cache=True)
def fill_batch(F, G, FV, E, f, g, fv, f_th, g_th, fv_th, etas, g_eta, rows_p, rows_m, moves, own_fv, h, r):
    """Rows of ``F`` (B, n_obs), ``G`` (B, n_obs, n_eta), ``E`` (B, n_sub, n_eta) and, with
    ``own_fv`` (a variance basis of its own: FOCE), ``FV`` (B, n_obs): every row the point
    (``f``, ``g``, ``etas``, ``fv``); rows ``rows_p[j]`` / ``rows_m[j]`` moved by the theta
    moves ``moves[0, j]`` / ``moves[1, j]`` (n_theta) along ``f_th`` (n_obs, n_theta), ``g_th``
    (n_obs, n_eta, n_theta), ``fv_th``; rows r + 2m / r + 1 + 2m at eta_m +- h, the predictions
    moved by +-h df/deta_m (``g``) and their eta-derivatives by +-h d2f/deta deta_m (``g_eta``
    (n_obs, n_eta, n_eta)): ``kernels.inner_newton.eta_rows``'s numbers. False, with nothing
    written, when a row of ``moves`` has more than one nonzero entry (the caller's numpy then)."""
    B, n_obs = F.shape
    n_e = g.shape[1]
    n_sub = etas.shape[0]
    n_t = f_th.shape[1]
    for i in range(2):
        for j in range(moves.shape[1]):
            nonzero = 0
            for t in range(n_t):
                if moves[i, j, t] != 0.0:
                    nonzero += 1
            if nonzero > 1:
                return False
    for b in range(B):
        for o in range(n_obs):
            F[b, o] = f[o]
            for e in range(n_e):
                G[b, o, e] = g[o, e]
        for s in range(n_sub):
            for e in range(n_e):
                E[b, s, e] = etas[s, e]
        if own_fv:
            for o in range(n_obs):
                FV[b, o] = fv[o]
    for i in range(2):
        rows = rows_p if i == 0 else rows_m
        for j in range(rows.shape[0]):
            row = rows[j]
            for o in range(n_obs):
                acc = 0.0
                for t in range(n_t):
                    acc += moves[i, j, t] * f_th[o, t]
                F[row, o] += acc
                for e in range(n_e):
                    acc = 0.0
                    for t in range(n_t):
                        acc += g_th[o, e, t] * moves[i, j, t]
                    G[row, o, e] += acc
                if own_fv:
                    acc = 0.0
                    for t in range(n_t):
                        acc += moves[i, j, t] * fv_th[o, t]
                    FV[row, o] += acc
    for m in range(n_e):
        p, q = r + 2 * m, r + 1 + 2 * m
        for s in range(n_sub):
            E[p, s, m] += h
            E[q, s, m] -= h
        for o in range(n_obs):
            d = h * g[o, m]
            F[p, o] += d
            F[q, o] -= d
            for e in range(n_e):
                d = h * g_eta[o, e, m]
                G[p, o, e] += d
                G[q, o, e] -= d
    return True


TWINS_SIG = types.boolean(f3, f3, i1, i1)


@njit(TWINS_SIG, cache=True)
def columns_equal(a, b, cols_a, cols_b):
    """Whether ``a[:, :, cols_a[k]] == b[:, :, cols_b[k]]`` everywhere, for every k (numpy's
    ``==``: nan is unequal to everything): ``KernelProblem._theta_directions``' check that each
    twinned theta's parameter direction still equals its eta's (numpy's comparison of the
    strided column views cost ~50 us per call on a stacked stencil)."""
    for k in range(cols_a.shape[0]):
        ca, cb = cols_a[k], cols_b[k]
        for r in range(a.shape[0]):
            for p in range(a.shape[1]):
                if not a[r, p, ca] == b[r, p, cb]:
                    return False
    return True
