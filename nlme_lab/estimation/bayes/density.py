"""The log posterior density of a population model on an unconstrained space, with its gradient.

The sampled vector ``x = [globals, z]``:

* globals: free thetas and residual SDs on their unconstrained scales (``parameters``), and per
  free omega block ``log`` of its SDs then, for blocks of size > 1, the canonical partial
  correlations ``y`` (``r = tanh(y)``) that build the Cholesky factor of its correlation matrix;
* ``z`` (n_subjects x n_eta, row-major): the non-centred random effects, ``eta_i = L z_i`` with
  ``L L' = Omega`` (``L = diag(sd) L_corr`` per block, copied to every placement of a block).

log p(x) = log p(y | theta, eta, sd) - |z|^2 / 2 + log priors + log Jacobians (without constants).
The likelihood gradient comes from the problem's exact sensitivities (df/deta, df/dtheta) and
the chain rule; the small map globals -> (theta, sd, L, log prior + log Jacobian) is
differentiated by the complex step (exact to rounding), all directions in one batched pass.
"""

from __future__ import annotations

import threading

import numpy as np

from nlme_lab.estimation.bayes.priors import PriorSet
from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms
from nlme_lab.estimation.parameters import ParameterSpace
from nlme_lab.model.parameter_table import block_matrix

STEP = 1e-30  # complex step


def _bounded(u, lo, hi):
    """Value and log |d value / du| of the unconstrained ``u`` (complex-safe)."""
    if np.isfinite(lo) and np.isfinite(hi):
        e = 1.0 / (1.0 + np.exp(-u))
        return lo + (hi - lo) * e, np.log(hi - lo) + np.log(e) + np.log(1.0 - e)
    if np.isfinite(lo):
        return lo + np.exp(u), u
    if np.isfinite(hi):
        return hi - np.exp(u), u
    return u, 0.0 * u


def _corr_cholesky(y, n: int):
    """Cholesky factor of a correlation matrix from canonical partial correlations (batched, complex
    safe), with log |Jacobian|. ``y`` (B, n(n-1)/2) by rows of the strict lower triangle."""
    B = y.shape[0]
    L = np.zeros((B, n, n), dtype=y.dtype)
    L[:, 0, 0] = 1.0
    logj = np.zeros(B, dtype=y.dtype)
    k = 0
    for i in range(1, n):
        rest = np.ones(B, dtype=y.dtype)  # 1 - sum_{m<j} L[i, m]^2
        for j in range(i):
            r = np.tanh(y[:, k])
            k += 1
            L[:, i, j] = r * np.sqrt(rest)
            logj = logj + np.log(1.0 - r * r) + 0.5 * np.log(rest)
            rest = rest - L[:, i, j] ** 2
        L[:, i, i] = np.sqrt(rest)
    return L, logj


def _lkj_cholesky(L, eta: float):
    """log LKJ(eta) density of the correlation factor ``L`` (unnormalised)."""
    n = L.shape[-1]
    out = 0.0
    for d in range(1, n):
        out = out + (n - d - 1 + 2.0 * (eta - 1.0)) * np.log(L[:, d, d])
    return out


class Posterior:
    """``logp(x)`` and its gradient; ``reported(x)`` the draw on the reported scale."""

    def __init__(self, problem, space: ParameterSpace, priors: PriorSet):
        self.problem, self.space, self.priors = problem, space, priors
        self.layout = ResidualLayout.build(space.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
        self.n_sub, self.n_eta = problem.n_subjects, problem.n_eta
        self.theta_free = np.array([not t.fixed for t in space.thetas], dtype=bool)
        self.sd_free = np.array([not s.fixed for s in space.residual.sds], dtype=bool)
        self.blocks = list(zip(space.omega, space.placements))
        n_om = sum(b.size + b.size * (b.size - 1) // 2 for b in space.omega if not b.fixed)
        self.n_globals = int(self.theta_free.sum() + n_om + self.sd_free.sum())
        self.n_dim = self.n_globals + self.n_sub * self.n_eta
        self.n_evaluations = 0
        self.n_failures = 0  # evaluations the engine could not solve (log density -inf there)
        self._obs_has = self.layout.add >= 0, self.layout.prop >= 0
        self._lock = threading.Lock()  # see _evaluate

    # --- globals ---------------------------------------------------------------------------
    def initial(self) -> np.ndarray:
        """The ``[ini]`` values on the sampled scale (z = 0)."""
        out = []
        for t in (t for t in self.space.thetas if not t.fixed):
            out.append(_to_u(t.init, t.lower, t.upper))
        for b in (b for b in self.space.omega if not b.fixed):
            m = block_matrix(b.values, b.size)
            sd = np.sqrt(np.diag(m))
            out += list(np.log(sd))
            out += list(_cpc_from_corr(m / np.outer(sd, sd)))
        for s in (s for s in self.space.residual.sds if not s.fixed):
            out.append(_to_u(s.init, s.lower, s.upper))
        return np.concatenate([np.array(out, dtype=float), np.zeros(self.n_sub * self.n_eta)])

    def transform(self, X, with_tri: bool = True):
        """Batched globals (B, n_globals) -> theta (B, n_theta), sd (B, n_sd), L (B, n_eta, n_eta),
        log prior + log Jacobian (B,), block lower triangles (list of (B, m))."""
        B, dt = X.shape[0], X.dtype
        pr, k = self.priors, 0
        theta = np.tile(np.array([t.init for t in self.space.thetas], dtype=dt), (B, 1))
        lp = np.zeros(B, dtype=dt)
        for j, t in enumerate(self.space.thetas):
            if t.fixed:
                continue
            u = X[:, k]
            k += 1
            theta[:, j] = _bounded(u, t.lower, t.upper)[0]
            lp = lp - 0.5 * ((u - pr.theta_mu[j]) / pr.theta_sd[j]) ** 2
        L = np.zeros((B, self.n_eta, self.n_eta), dtype=dt)
        tri = []
        for bi, (b, places) in enumerate(self.blocks):
            if b.fixed:
                Lb = np.tile(np.linalg.cholesky(block_matrix(b.values, b.size)).astype(dt), (B, 1, 1))
            else:
                logs = X[:, k:k + b.size]
                k += b.size
                s = np.exp(logs)
                scale = np.array(pr.omega_scale[bi])
                lp = lp + np.sum(-0.5 * (s / scale) ** 2 + logs, axis=1)
                n_c = b.size * (b.size - 1) // 2
                Lc, logj = _corr_cholesky(X[:, k:k + n_c], b.size)
                k += n_c
                lp = lp + logj + (_lkj_cholesky(Lc, pr.lkj[bi]) if b.size > 1 else 0.0)
                Lb = s[:, :, None] * Lc
            for p in places:
                idx = np.asarray(p)
                L[:, idx[:, None], idx[None, :]] = Lb
            if not with_tri:
                continue
            rows, cols = np.tril_indices(b.size)
            tri.append(np.einsum("bik,bjk->bij", Lb, Lb)[:, rows, cols])
        sd = np.tile(np.array([s.init for s in self.space.residual.sds], dtype=dt), (B, 1))
        for j, s in enumerate(self.space.residual.sds):
            if s.fixed:
                continue
            val, logj = _bounded(X[:, k], s.lower, s.upper)
            k += 1
            sd[:, j] = val
            lp = lp - 0.5 * (val / pr.sd_scale[j]) ** 2 + logj
        return theta, sd, L, lp, tri

    def _globals_with_jacobian(self, g):
        n = len(g)
        if n == 0:
            theta, sd, L, lp, _ = self.transform(g[None, :])
            return theta[0], sd[0], L[0], float(lp[0]), None, None, None, np.zeros(0)
        X = g[None, :] + 1j * STEP * np.eye(n)
        theta, sd, L, lp, _ = self.transform(X, with_tri=False)
        return (theta[0].real, sd[0].real, L[0].real, float(lp[0].real), theta.imag / STEP,
                sd.imag / STEP, np.moveaxis(L.imag, 0, -1) / STEP, lp.imag / STEP)

    # --- density ---------------------------------------------------------------------------
    def logp(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """log density (no constants) and its gradient at ``x``; -inf (zero gradient) where the
        predictions are not finite."""
        x = np.array(x, dtype=float)
        g, z = x[:self.n_globals], x[self.n_globals:].reshape(self.n_sub, self.n_eta)
        theta, sd, L, lp, J_th, J_sd, J_L, dlp = self._globals_with_jacobian(g)
        ll, d_th, d_sd, G = self._loglik(theta, sd, z @ L.T)
        total = ll + lp - 0.5 * float(np.sum(z * z))
        if not np.isfinite(total):
            return -np.inf, np.zeros_like(x)
        grad_z = G @ L - z
        grad_g = dlp.copy()
        if J_th is not None:
            grad_g += J_th @ d_th + J_sd @ d_sd + np.einsum("abk,ab->k", J_L, G.T @ z)
        return float(total), np.concatenate([grad_g, grad_z.ravel()])

    def _evaluate(self, theta, eta):
        """The problem's predictions and sensitivities, or None where the engine cannot solve.

        nutpie calls ``logp`` from one thread per chain, and a ``KernelProblem`` keeps its work
        buffers between calls, so the calls are serialised by a lock. The lock costs nothing
        measurable: the engine's kernels hold the GIL, so two threads could not run them at
        once anyway (``benchmarks/bench_nuts.py`` measures both).

        Non-finite predictions (the engine's failed subjects, e.g. an overflowed rate constant)
        give -inf downstream. A data error (``SolverError`` of a bad record) is not caught: no
        parameter value fixes it.
        """
        with self._lock:
            self.n_evaluations += 1
            ev = self.problem.evaluate(theta, eta, derivs=True, theta_derivs=True)
            return (np.array(ev.f, dtype=float), np.array(ev.df_deta, dtype=float),
                    np.array(ev.df_dtheta, dtype=float))

    def _loglik(self, theta, sd, eta):
        """log p(y | theta, eta, sd) and its derivatives in theta, sd and eta (per subject)."""
        lay = self.layout
        with np.errstate(all="ignore"):
            f0, d_eta, d_theta = self._evaluate(theta, eta)
            f, g_eta = lay.to_log_scale(f0, d_eta)
            g_th = lay.to_log_scale(f0, d_theta)[1]
            V, dV_df = lay.variance(sd, f)
            t = observation_terms(lay, f, V)
        ll = -0.5 * float(np.sum(t.l))
        if not np.isfinite(ll):
            with self._lock:
                self.n_failures += 1
            return -np.inf, None, None, None
        w = -0.5 * (t.l_f + t.l_V * dV_df)  # d ll / d f
        wV = -0.5 * t.l_V  # d ll / d V
        has_add, has_prop = self._obs_has
        fv = np.where(lay.log_scale, 0.0, f)
        d_sd = np.zeros(len(sd))
        d_sd += np.bincount(lay.add[has_add], weights=(wV * 2.0 * sd[lay.add])[has_add], minlength=len(sd))
        d_sd += np.bincount(lay.prop[has_prop], weights=(wV * 2.0 * sd[lay.prop] * fv * fv)[has_prop],
                            minlength=len(sd))
        subj = self.problem.obs_subject
        G = np.stack([np.bincount(subj, weights=w * g_eta[:, m], minlength=self.n_sub)
                      for m in range(self.n_eta)], axis=1)
        return ll, w @ g_th, d_sd, G

    # --- draws -------------------------------------------------------------------------------
    def reported(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The reported parameter vector (``space.reported_names()``) and the etas at ``x``."""
        rep, eta, _, _ = self.draw(x)
        return rep, eta

    def draw(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """``reported(x)``; the prior part of ``logp(x)`` (log priors, log Jacobians and
        ``-|z|^2 / 2``), so that ``logp(x) - draw(x)[2]`` is the log-likelihood with no
        evaluation; and ``log p(eta | Omega)`` without constants, ``-(|z|^2 + n_sub log|Omega|) / 2``
        (``eta' Omega^-1 eta = |z|^2`` since ``eta = L z``)."""
        x = np.asarray(x, dtype=float)
        theta, sd, L, lp, tri = self.transform(x[None, :self.n_globals])
        z = x[self.n_globals:].reshape(self.n_sub, self.n_eta)
        rep = np.concatenate([theta[0]] + [t[0] for t in tri] + [sd[0]])
        zz = float(np.sum(z * z))
        log_det = 2.0 * float(np.sum(np.log(np.diag(L[0]))))
        return rep, z @ L[0].T, float(lp[0]) - 0.5 * zz, -0.5 * (zz + self.n_sub * log_det)


def _to_u(z, lo, hi):
    from nlme_lab.estimation.bayes.priors import to_unconstrained

    return to_unconstrained(float(z), float(lo), float(hi))


def _cpc_from_corr(R: np.ndarray) -> np.ndarray:
    """Inverse of ``_corr_cholesky``: canonical partial correlations (atanh) of ``R``."""
    n = R.shape[0]
    L = np.linalg.cholesky(R)
    out = []
    for i in range(1, n):
        rest = 1.0
        for j in range(i):
            r = L[i, j] / np.sqrt(rest)
            out.append(np.arctanh(r))
            rest -= L[i, j] ** 2
    return np.array(out)
