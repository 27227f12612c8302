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
"""

from __future__ import annotations

import numpy as np

from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.parameters import ParameterSpace

CHUNK_FLOATS = 4_000_000  # padded per-subject matrices are built this many floats at a time


def linearized_information(engine: SubjectEngine, space: ParameterSpace, z_hat: np.ndarray,
                           etas_hat: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """(I, names): the information matrix in the free reported parameters, or None (see the
    module docstring)."""
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
    mean_idx, dm_cols, var_idx, d_omega, d_resid = [], [], [], [], []
    for j, k in enumerate(free):
        h = 1e-3 * max(abs(z_hat[k]), 1e-2)
        zp, zm = z_hat.copy(), z_hat.copy()
        zp[k] += h
        zm[k] -= h
        vp, vm = space.values_from_reported(zp), space.values_from_reported(zm)
        if k < len(values.theta):
            mean_idx.append(j)
            dm_cols.append(f_th @ ((vp.theta - vm.theta) / (2 * h)))
        else:
            var_idx.append(j)
            d_omega.append((vp.omega - vm.omega) / (2 * h))
            d_resid.append((layout.variance(vp.sd, fv)[0] - layout.variance(vm.sd, fv)[0]) / (2 * h))
    dm = np.stack(dm_cols, axis=1) if dm_cols else np.zeros((len(f), 0))
    I_mean, I_var = _subject_sums(engine.index, G, R, values.omega, dm,
                                  np.array(d_omega).reshape(-1, *values.omega.shape),
                                  np.array(d_resid).reshape(-1, len(f)))
    info = np.zeros((len(free), len(free)))
    mean_idx, var_idx = np.array(mean_idx, dtype=int), np.array(var_idx, dtype=int)
    info[np.ix_(mean_idx, mean_idx)] = I_mean
    info[np.ix_(var_idx, var_idx)] = I_var
    return info, names


def _subject_sums(index, G, R, omega, dm, d_omega, d_resid):
    """sum_i dm' V^-1 dm and 1/2 sum_i tr(V^-1 dV_j V^-1 dV_k), subjects padded to a common
    number of observations per chunk (padding: V = 1, dm = dV = 0, which adds nothing)."""
    n_mean, n_var = dm.shape[1], len(d_omega)
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
        if n_mean:
            dmp = np.where(inside[..., None], dm[rows], 0.0)
            I_mean += np.einsum("cnj,cnm,cmk->jk", dmp, Vinv, dmp)
        if n_var:
            W = np.empty((n_var,) + V.shape)
            for k in range(n_var):
                dV = np.einsum("cne,ef,cmf->cnm", Gp, d_omega[k], Gp)
                dV[:, pos, pos] += np.where(inside, d_resid[k][rows], 0.0)
                W[k] = Vinv @ dV
            I_var += 0.5 * np.einsum("jcnm,kcmn->jk", W, W)
    return I_mean, I_var



def _fitting(n_obs: int, n_var: int) -> int:
    """Subjects of ``n_obs`` observations whose padded matrices fit in ``CHUNK_FLOATS``."""
    return max(1, CHUNK_FLOATS // (n_obs * n_obs * (n_var + 3)))
