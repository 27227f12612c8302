"""The outer gradient's glue, compiled: numpy calls on arrays of a few thousand numbers whose
Python cost more than their arithmetic, each replaced by one call.

* ``fill_batch``: the perturbed batch of ``estimation.objective.Objective._perturbed_batch``
  (predictions, their eta-derivatives and the etas at the B = 1 + 2 n_free + 2 n_eta points:
  the point and v +- h_k e_k; the rows at eta +- h e_m are ``inner_newton.eta_rows``'), ~15
  numpy calls.
* ``stencil_second_order``: f, its first derivatives and their central differences from the
  engine's outputs for the stacked stencil (``KernelProblem.stencil_second_order``), ~8 calls.
* ``columns_equal``: ``KernelProblem._theta_directions``' check that the twinned thetas'
  parameter directions still equal their etas' (numpy's == on strided column views: ~50 us
  per stacked stencil, ~15 us per plain evaluation).

Every number is the numpy code's to the bit (tests/estimation/test_outer_batch.py). The theta
rows of the batch add ``moves @ f_th.T`` and ``einsum("oet,kt->koe", g_th, moves)``: each row
of ``moves`` has one nonzero entry (a free theta moves its own reported theta only,
``Parameterization.theta_moves``; ``fill_batch`` checks it and refuses otherwise), so every
sum is that one product plus exact zeros, the same in any order (a non-finite derivative still
gives nan through 0 * inf, as in the matrix product). Cold compile of the three: ~1.5 s CPU
(once per machine; cache=True). Standalone (``kernels.cache_guard.STANDALONE_MODULES``): it
embeds no other module's code.
"""

from __future__ import annotations

from numba import njit, types

f1 = types.Array(types.float64, 1, "A")
f2 = types.Array(types.float64, 2, "A")
f3 = types.Array(types.float64, 3, "A")
i1 = types.Array(types.int64, 1, "A")

FILL_SIG = types.boolean(f2, f3, f2, f3, f1, f2, f1, f2, f3, f2, f2, i1, i1, f3, types.boolean)


@njit(FILL_SIG, cache=True)
def fill_batch(F, G, FV, E, f, g, fv, f_th, g_th, fv_th, etas, rows_p, rows_m, moves, own_fv):
    """Rows of ``F`` (B, n_obs), ``G`` (B, n_obs, n_eta), ``E`` (B, n_sub, n_eta) and, with
    ``own_fv`` (a variance basis of its own: FOCE), ``FV`` (B, n_obs): every row the point
    (``f``, ``g``, ``etas``, ``fv``); rows ``rows_p[j]`` / ``rows_m[j]`` moved by the theta
    moves ``moves[0, j]`` / ``moves[1, j]`` (n_theta) along ``f_th`` (n_obs, n_theta), ``g_th``
    (n_obs, n_eta, n_theta), ``fv_th``. (The eta rows are ``kernels.inner_newton.eta_rows``'s:
    here they cost ~0.5 s more of cold compile.) False, with nothing written, when a row of
    ``moves`` has more than one nonzero entry (the caller's numpy then)."""
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


# --- the stencil of the outer gradient (``KernelProblem.stencil_second_order``) ---------------------
STENCIL_SECOND_SIG = types.void(f1, f2, i1, i1, types.int64, types.float64, f1, f2, f3, f3, f3)


@njit(STENCIL_SECOND_SIG, cache=True)
def stencil_second_order(pred, dpred, idx, cols, n_e, h2, f, D0, g_eta, g_eta_raw, g_th):
    """From the stacked engine outputs (``pred`` raveled, ``dpred`` (rows, n_engine_dir), the
    observations of copy b at ``idx[b * n_obs:(b + 1) * n_obs]``, direction column ``cols[c]``
    giving column c of the (eta, theta) derivatives): f and its derivatives ``D0`` (n_obs,
    n_eta + n_theta) at copy 0, and the differences of copies 1 + 2m and 2 + 2m over ``h2`` =
    2h: d2f/deta deta_m into ``g_eta_raw`` (n_obs, n_eta, n_eta) and, symmetrized (0.5 (a +
    a')), ``g_eta``; d2f/deta_m dtheta into ``g_th`` (n_obs, n_eta, n_theta). The numbers of
    numpy's takes, column gather, (D[1::2] - D[2::2]) / (2 h) and 0.5 (g + g')."""
    n_obs = f.shape[0]
    n_dir = cols.shape[0]
    for o in range(n_obs):
        i0 = idx[o]
        f[o] = pred[i0]
        for c in range(n_dir):
            D0[o, c] = dpred[i0, cols[c]]
    for m in range(n_e):
        p, q = (1 + 2 * m) * n_obs, (2 + 2 * m) * n_obs
        for o in range(n_obs):
            ip, iq = idx[p + o], idx[q + o]
            for c in range(n_dir):
                d = (dpred[ip, cols[c]] - dpred[iq, cols[c]]) / h2
                if c < n_e:
                    g_eta_raw[o, c, m] = d
                else:
                    g_th[o, m, c - n_e] = d
    for o in range(n_obs):
        for i in range(n_e):
            for j in range(n_e):
                g_eta[o, i, j] = 0.5 * (g_eta_raw[o, i, j] + g_eta_raw[o, j, i])
