"""The Fisher information of the model linearized at the individual modes: the SEs SAEM reports
(Monolix's "linearization" method, nlmixr2 SAEM's linearized FIM), also available to the
FOCE family as ``covariance="fim"``.

Around eta-hat_i the predictions are linear in eta, so the data of subject i are Gaussian,
``y_i ~ N(m_i, V_i)`` with

    m_i = f_i - G_i eta-hat_i,    V_i = G_i Omega G_i' + diag(R_i),

``G_i = df/deta`` and the residual variances ``R_i`` held at the linearization point (which
does not move with the population parameters). The expected information of that Gaussian in
the reported parameters z (thetas, omega elements, residual SDs) is

    I_jk = sum_i  dm_j' V_i^-1 dm_k  +  1/2 tr(V_i^-1 dV_j V_i^-1 dV_k),

with ``dm = df/dtheta dtheta/dz`` and ``dV = G dOmega/dz G' + diag(dR/dsd dsd/dz)``; the
covariance of the estimates is ``I^-1``. The means carry the thetas and the variances the
omegas and SDs, so the matrix is block-diagonal.

Cost: one engine evaluation with sensitivities, where the FOCEI covariance step needs ~10 per
gradient and two gradients per parameter (each re-solving eta-hat). The derivatives of the
parameter maps (omega from its elements, variance from the SDs) are central differences, exact
for their linear and quadratic forms.

Not used (None, the caller falls back to the FOCEI covariance step) for censored observations,
whose likelihood is not Gaussian, and for problems without theta sensitivities.

Optimal design (``nlme_lab.design``) uses the same computation with two options: ``weights``
(subjects standing for a group of identical subjects count that many times) and ``full`` (the
thetas also move V: ``dV/dtheta = dG Omega G' + G Omega dG' + diag(dR)``, with ``dG`` and ``dR``
central differences of the engine's exact ``G`` and of the residual variance, which adds the
thetas' variance terms and the theta-variance cross blocks: PopED's "full" FIM).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.parameters import ParameterSpace

CHUNK_FLOATS = 4_000_000  # padded per-subject matrices are built this many floats at a time


def linearized_information(engine: SubjectEngine, space: ParameterSpace, z_hat: np.ndarray,
                           etas_hat: np.ndarray, *, weights: np.ndarray | None = None,
                           full: bool = False) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """(I, names): the information matrix in the free reported parameters, or None (see the
    module docstring). ``weights``: per-subject multiplicities (default 1); ``full``: the
    thetas' variance terms and cross blocks too."""
    layout, spec = engine.layout, engine.spec
    if layout.censored.any():
        return None
    z_hat = np.asarray(z_hat, dtype=float)
    values = space.values_from_reported(z_hat)
    at = np.zeros_like(etas_hat) if spec.linearized else etas_hat  # FO expands at eta = 0
    base = engine.evaluate_with_theta(values.theta, at)
    if base is None:
        return None
    f, G, f_th = base
    fv = f if spec.interaction else engine.base(values.theta).f
    R = layout.variance(values.sd, fv)[0]
    free = np.flatnonzero(~space.reported_fixed())
    names = tuple(space.reported_names()[k] for k in free)
    mean_idx, dm_cols, var_idx, d_omega, d_resid, d_G = [], [], [], [], [], []
    for j, k in enumerate(free):
        h = 1e-3 * max(abs(z_hat[k]), 1e-2)
        zp, zm = z_hat.copy(), z_hat.copy()
        zp[k] += h
        zm[k] -= h
        vp, vm = space.values_from_reported(zp), space.values_from_reported(zm)
        if k < len(values.theta):
            mean_idx.append(j)
            dm_cols.append(f_th @ ((vp.theta - vm.theta) / (2 * h)))
            if full:
                moved = [_variance_pieces(engine, layout, spec, v, at) for v in (vp, vm)]
                if any(m is None for m in moved):
                    return None
                var_idx.append(j)
                d_omega.append(np.zeros_like(values.omega))
                d_G.append((moved[0][0] - moved[1][0]) / (2 * h))
                d_resid.append((moved[0][1] - moved[1][1]) / (2 * h))
        else:
            var_idx.append(j)
            d_omega.append((vp.omega - vm.omega) / (2 * h))
            d_resid.append((layout.variance(vp.sd, fv)[0] - layout.variance(vm.sd, fv)[0]) / (2 * h))
            if full:
                d_G.append(np.zeros_like(G))
    dm = np.stack(dm_cols, axis=1) if dm_cols else np.zeros((len(f), 0))
    I_mean, I_var = _subject_sums(engine.index, G, R, values.omega, dm,
                                  np.array(d_omega).reshape(-1, *values.omega.shape),
                                  np.array(d_resid).reshape(-1, len(f)),
                                  np.array(d_G).reshape(-1, *G.shape) if full else None, weights)
    info = np.zeros((len(free), len(free)))
    mean_idx, var_idx = np.array(mean_idx, dtype=int), np.array(var_idx, dtype=int)
    info[np.ix_(var_idx, var_idx)] = I_var
    info[np.ix_(mean_idx, mean_idx)] += I_mean
    return info, names


def _variance_pieces(engine, layout, spec, values, at):
    """(G, R) at other thetas: the pieces of V that move with them (``full``)."""
    out = engine.evaluate_with_theta(values.theta, at)
    if out is None:
        return None
    f, G, _ = out
    fv = f if spec.interaction else engine.base(values.theta).f
    return G, layout.variance(values.sd, fv)[0]


def _subject_sums(index, G, R, omega, dm, d_omega, d_resid, d_G=None, weights=None):
    """sum_i w_i dm' V^-1 dm and 1/2 sum_i w_i tr(V^-1 dV_j V^-1 dV_k), subjects padded to a
    common number of observations per chunk (padding: V = 1, dm = dV = 0, which adds nothing);
    ``d_G`` (optional): per-parameter derivatives of G, adding dG Omega G' + G Omega dG' to dV."""
    n_mean, n_var = dm.shape[1], len(d_omega)
    weights = np.ones(index.n) if weights is None else np.asarray(weights, dtype=float)
    I_mean, I_var = np.zeros((n_mean, n_mean)), np.zeros((n_var, n_var))
    subjects = np.flatnonzero(index.counts > 0)
    subjects = subjects[np.argsort(index.counts[subjects], kind="stable")]  # similar sizes pad little
    s0 = 0
    while s0 < len(subjects):
        chunk = subjects[s0:s0 + _fitting(int(index.counts[subjects[s0]]), n_var)]
        chunk = chunk[:_fitting(int(index.counts[chunk[-1]]), n_var)]  # sorted: the last is the largest
        n = int(index.counts[chunk[-1]])
        s0 += len(chunk)
        pos = np.arange(n)
        inside = pos[None, :] < index.counts[chunk][:, None]
        rows = np.where(inside, index.starts[chunk][:, None] + pos[None, :], 0)
        Gp = np.where(inside[..., None], G[rows], 0.0)
        V = np.einsum("cne,ef,cmf->cnm", Gp, omega, Gp)
        V[:, pos, pos] += np.where(inside, R[rows], 1.0)
        Vinv = np.linalg.inv(V)
        w = weights[chunk]
        if n_mean:
            dmp = np.where(inside[..., None], dm[rows], 0.0)
            I_mean += np.einsum("c,cnj,cnm,cmk->jk", w, dmp, Vinv, dmp)
        if n_var:
            W = np.empty((n_var,) + V.shape)
            for k in range(n_var):
                dV = np.einsum("cne,ef,cmf->cnm", Gp, d_omega[k], Gp)
                if d_G is not None:
                    dGp = np.where(inside[..., None], d_G[k][rows], 0.0)
                    half = np.einsum("cne,ef,cmf->cnm", dGp, omega, Gp)
                    dV += half + half.transpose(0, 2, 1)
                dV[:, pos, pos] += np.where(inside, d_resid[k][rows], 0.0)
                W[k] = Vinv @ dV
            I_var += 0.5 * np.einsum("c,jcnm,kcmn->jk", w, W, W)
    return I_mean, I_var



def _fitting(n_obs: int, n_var: int) -> int:
    """Subjects of ``n_obs`` observations whose padded matrices fit in ``CHUNK_FLOATS``."""
    return max(1, CHUNK_FLOATS // (n_obs * n_obs * (n_var + 3)))
