"""SAEM M-steps: closed form through sufficient statistics, numerical for the rest.

* ``Statistics``: stochastic approximations ``s <- s + gamma (S(eta_k) - s)`` of
  ``s1 = mean_i phi_i`` and ``s2 = mean_i phi_i phi_i'`` (phi = eta + mu, averaged over chains),
  and of the residual statistics ``mean r^2`` (additive / lnorm SD) or ``mean (r/f)^2``
  (proportional SD) for SDs that have a closed form.
* mu-referenced thetas: ``theta = s1`` (the mean of the individual parameters);
  omega blocks: ``s2 - m s1' - s1 m' + m m'`` with m the block's mean (mu, or 0 for an eta
  without a theta), pooled over the occasion copies of a kappa block.
* residual SDs without a closed form (combined error, censored data): the minimiser of the
  current sample's -2 log-likelihood, then ``sd <- sd + gamma (argmin - sd)``.
* covariate thetas in a factor of a log-normal parameter, ``P = h(theta, COV) exp(eta)``
  (``mu.covariate_columns``, factor lines written in): with COV constant within each subject,
  ``log h_i`` is the subject's prior mean of phi = log P and the thetas are a Gauss-Newton
  weighted least-squares fit of it to the stochastic-approximated phi's
  (``covariate_mean_step``); with COV changing within subjects, a Fisher-scoring step on the
  complete-data -2LL at fixed phi (``phi_scoring_step``), damped by gamma.
* other thetas (not mu-referenced): a Fisher-scoring step on the current sample's
  -2 log-likelihood, damped by gamma (a stochastic-gradient M-step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from nlme_lab.estimation.likelihood import observation_terms
from nlme_lab.estimation.saem.moments import phi_moments, residual_moments


def block_columns(space) -> list[tuple[object, list[np.ndarray]]]:
    """(block, eta columns of each copy) in declaration order."""
    return [(b, [np.asarray(p) for p in places]) for b, places in zip(space.omega, space.placements)]


@dataclass(frozen=True)
class BlockIndex:
    """The omega blocks ready for the M-step (built once per fit; it runs every iteration):
    ``scalar``, the eta columns of the free 1 x 1 blocks without occasion copies (most
    models' diagonal omegas, updated together), and (block, ``np.ix_`` index of each copy)
    for every other block."""

    scalar: np.ndarray
    general: list


def block_index(space) -> BlockIndex:
    scalar, general = [], []
    for b, copies in block_columns(space):
        if b.size == 1 and len(copies) == 1 and not b.fixed:
            scalar.append(int(copies[0][0]))
        else:
            general.append((b, [np.ix_(p, p) for p in copies]))
    return BlockIndex(np.array(scalar, dtype=int), general)


class Statistics:
    def __init__(self, n_eta: int, n_sd: int):
        self.s1 = np.zeros(n_eta)
        self.s1_subject = None  # (n_sub, n_eta): per-subject mean of phi over chains
        self.s2 = np.zeros((n_eta, n_eta))
        self.res = np.full(n_sd, np.nan)
        self.started = False

    def update(self, phi: np.ndarray, res: np.ndarray, gamma: float) -> None:
        """``phi`` (C, n_sub, n_eta); ``res`` the current residual statistics (nan: none)."""
        self.update_from(phi, np.zeros(phi.shape[-1]), res, gamma)

    def update_from(self, etas: np.ndarray, means: np.ndarray, res: np.ndarray, gamma: float) -> np.ndarray:
        """``update`` with phi = ``etas + means`` (means (n_eta,) or (n_sub, n_eta)); returns phi."""
        n_c, n_sub, n_eta = etas.shape
        phi = np.empty_like(etas)
        m1, m2, per_subject = np.empty(n_eta), np.empty((n_eta, n_eta)), np.empty((n_sub, n_eta))
        means = np.asarray(means, dtype=float)
        phi_moments(etas, np.ascontiguousarray(means if means.ndim == 2 else means[None]), phi, m1, m2, per_subject)
        g = 1.0 if not self.started else gamma
        if self.s1_subject is None:
            self.s1_subject = per_subject.copy()
        self.s1_subject += g * (per_subject - self.s1_subject)
        self.s1 += g * (m1 - self.s1)
        self.s2 += g * (m2 - self.s2)
        self.res = np.where(np.isnan(self.res), res, self.res + g * (res - self.res))
        self.started = True
        return phi


def omega_from_statistics(stats: Statistics, space, means: np.ndarray, omega_old: np.ndarray,
                          anneal: float | None, blocks=None) -> np.ndarray:
    """The expanded omega from the statistics, ``mean_i E[(phi_i - m_i)(phi_i - m_i)']`` with
    ``means`` the prior means m_i of phi (n_eta,) or per subject (n_sub, n_eta); fixed blocks keep
    their values. ``anneal``: the diagonal may shrink at most to ``anneal`` times its old value
    (simulated annealing). ``blocks``: ``block_index(space)``, when the caller keeps it."""
    omega = omega_old.copy()
    S1 = stats.s1_subject
    n_sub = S1.shape[0]
    if np.ndim(means) == 1:
        cross, mm = np.outer(means, S1.mean(axis=0)), np.outer(means, means)
    else:
        cross, mm = means.T @ S1 / n_sub, means.T @ means / n_sub
    full = stats.s2 - cross - cross.T + mm  # every entry; each block reads its own
    blocks = block_index(space) if blocks is None else blocks
    c = blocks.scalar
    if c.size:  # the loop below for 1 x 1 blocks, all at once (the same numbers)
        old = omega_old[c, c]
        new = np.maximum(full[c, c], 1e-10 * np.maximum(1.0, old))
        omega[c, c] = new if anneal is None else np.maximum(new, anneal * old)
    for block, copies in blocks.general:
        if block.fixed:
            continue
        acc = full[copies[0]].copy()
        for ix in copies[1:]:
            acc += full[ix]
        new = 0.5 * (acc + acc.T) / len(copies)
        old = omega_old[copies[0]]
        d = np.arange(block.size)
        floor = 1e-10 * max(1.0, float(np.max(np.diag(old))))
        new[d, d] = np.maximum(new[d, d], floor)
        if anneal is not None:
            new[d, d] = np.maximum(new[d, d], anneal * old[d, d])
        for ix in copies:
            omega[ix] = new
    return omega


class ResidualStep:
    """Closed-form SD statistics where they exist, a numerical minimiser elsewhere."""

    def __init__(self, lik, space):
        self.lik, self.layout = lik, lik.layout
        sds = space.residual.sds
        self.free = np.array([not s.fixed for s in sds])
        self.lower = np.array([max(s.lower, 1e-12) for s in sds])
        self.upper = np.array([s.upper for s in sds])
        add, prop, cens = self.layout.add, self.layout.prop, self.layout.censored
        self.kind = []  # per SD: ("add", rows), ("prop", rows) or ("numeric", None)
        for k in range(len(sds)):
            as_add, as_prop = add == k, prop == k
            if as_add.any() and not (prop[as_add] >= 0).any() and not cens[as_add].any() and not as_prop.any():
                self.kind.append(("add", as_add))
            elif as_prop.any() and not (add[as_prop] >= 0).any() and not cens[as_prop].any() and not as_add.any():
                self.kind.append(("prop", as_prop))
            else:
                self.kind.append(("numeric", None))
        self.numeric = np.array([k[0] == "numeric" for k in self.kind]) & self.free
        # per observation: the closed-form additive / proportional SD it informs (-1: none)
        self._add_sd = np.full(len(add), -1, dtype=np.int64)
        self._prop_sd = np.full(len(add), -1, dtype=np.int64)
        for k, (kind, rows) in enumerate(self.kind):
            if kind != "numeric":
                (self._add_sd if kind == "add" else self._prop_sd)[rows] = k
        self._y = np.ascontiguousarray(self.layout.y, dtype=float)

    def statistics(self, f: np.ndarray) -> np.ndarray:
        """Current mean r^2 (additive, lnorm) / (r/f)^2 (proportional) per closed-form SD,
        ``f`` (C, n_obs); nan for the others."""
        out = np.full(len(self.kind), np.nan)
        residual_moments(self._y, np.ascontiguousarray(f, dtype=float), self._add_sd, self._prop_sd, out)
        return out

    def update(self, sd, stats: Statistics, f, gamma: float, anneal: float | None) -> np.ndarray:
        new = sd.copy()
        closed = self.free & ~self.numeric
        new[closed] = np.sqrt(stats.res[closed])
        if self.numeric.any():
            target = self._argmin(sd, f)
            new[self.numeric] = sd[self.numeric] + gamma * (target[self.numeric] - sd[self.numeric])
        if anneal is not None:
            new[self.free] = np.maximum(new[self.free], anneal * sd[self.free])
        return np.clip(new, self.lower, self.upper)

    def _argmin(self, sd, f):
        if not self.layout.censored.any():
            found = self._gaussian_newton(sd, f)
            if found is not None:
                return found
        return self._nelder_mead(sd, f)

    def _gaussian_newton(self, sd, f, max_iter: int = 50):
        """The argmin by Newton steps on u = log sd with exact gradient and Hessian of
        sum log V + r^2 / V (uncensored data: every term Gaussian). Nelder-Mead took ~14 ms
        per SAEM iteration for a combined error; this takes a few vectorised passes. None if
        it does not converge to a finite point (the caller falls back to Nelder-Mead)."""
        idx = np.flatnonzero(self.numeric)
        lay = self.layout
        r2 = (lay.y - f) ** 2
        x2 = np.where(lay.log_scale, 0.0, f) ** 2
        rows = [((lay.add == k).astype(float), (lay.prop == k) * x2) for k in idx]  # dV/d(s_k^2)

        def terms(u):
            s = sd.copy()
            s[idx] = np.exp(u)
            V, _ = lay.variance(s, f)
            with np.errstate(divide="ignore", invalid="ignore"):
                q = float(np.sum(np.log(V) + r2 / V)) if np.all(V > 0) else np.inf
            return q, V, s

        u = np.log(np.maximum(sd[idx], 1e-8))
        q, V, s = terms(u)
        if not np.isfinite(q):
            return None
        for _ in range(max_iter):
            dV = [2.0 * s[k] ** 2 * (ra + rp) for k, (ra, rp) in zip(idx, rows)]  # dV/du_k
            w1 = 1.0 / V - r2 / (V * V)
            w2 = -1.0 / (V * V) + 2.0 * r2 / (V * V * V)
            g = np.array([np.sum(w1 * d) for d in dV])
            H = np.array([[np.sum(w2 * a * b) for b in dV] for a in dV]) + np.diag([np.sum(w1 * 2.0 * d) for d in dV])
            try:
                evals = np.linalg.eigvalsh(H)
                step = -np.linalg.solve(H, g) if evals.min() > 1e-12 * max(1.0, evals.max()) else -g / max(1.0, np.abs(H).max())
            except np.linalg.LinAlgError:
                step = -g / max(1.0, np.abs(H).max())
            step = np.clip(step, -2.0, 2.0)
            for _ in range(30):  # backtracking: a step that lowers the objective
                q_new, V_new, s_new = terms(u + step)
                if q_new <= q:
                    break
                step = 0.5 * step
            else:
                break
            u, q, V, s = u + step, q_new, V_new, s_new
            if np.max(np.abs(step)) < 1e-9:
                break
        return s if np.isfinite(q) else None

    def _nelder_mead(self, sd, f):
        idx = np.flatnonzero(self.numeric)

        def q(u):
            s = sd.copy()
            s[idx] = np.exp(u)
            v = float(np.sum(self.lik.per_observation(f, s)))
            return v if np.isfinite(v) else 1e300

        res = minimize(q, np.log(np.maximum(sd[idx], 1e-8)), method="Nelder-Mead" if len(idx) > 1 else "Powell",
                       options={"xatol": 1e-6, "fatol": 1e-8} if len(idx) > 1 else {"xtol": 1e-6})
        out = sd.copy()
        out[idx] = np.exp(res.x)
        return out


def theta_scoring_step(problem, layout, theta, etas, sd, free_idx: np.ndarray, lower, upper) -> np.ndarray:
    """A Fisher-scoring step for the thetas ``free_idx`` on sum_c -2 log p(y | eta_c, theta)."""
    n = len(free_idx)
    grad, H = np.zeros(n), np.zeros((n, n))
    for c in range(etas.shape[0]):
        ev = problem.evaluate(theta, etas[c], derivs=False, theta_derivs=True)
        if ev.df_dtheta is None:
            raise ValueError("the problem gives no theta derivatives")
        _add_scoring_terms(layout, np.asarray(ev.f, dtype=float), np.asarray(ev.df_dtheta, dtype=float)[:, free_idx],
                           sd, grad, H)
    return _bounded_step(theta, free_idx, grad, H, lower, upper)


def _add_scoring_terms(layout, f, d, sd, grad, H) -> None:
    """Add the gradient and expected Hessian of sum_o -2 log p(y_o | f_o) in the parameters
    with derivatives ``d`` (n_obs, n) to ``grad``, ``H`` (in place)."""
    f, d = layout.to_log_scale(f, d)
    V, dV = layout.variance(sd, f)
    t = observation_terms(layout, f, V)
    ok = np.isfinite(t.l)
    w = (t.l_f + t.l_V * dV)[ok]
    grad += d[ok].T @ w
    curv = (2.0 * (t.M[:, 0, 0] + 2 * t.M[:, 0, 1] * dV + t.M[:, 1, 1] * dV * dV))[ok]
    H += (d[ok] * curv[:, None]).T @ d[ok]


def _bounded_step(theta, free_idx, grad, H, lower, upper) -> np.ndarray:
    """The Newton step -H^-1 grad on the thetas ``free_idx``, each move at most half the
    theta's size (0.05 near 0) and half-way to a bound it would cross."""
    n = len(free_idx)
    H += 1e-10 * np.eye(n) * max(1.0, float(np.max(np.abs(np.diag(H)))))
    step = -np.linalg.solve(H, grad)
    cur = theta[free_idx]
    scale = 0.5 * np.maximum(np.abs(cur), 0.1)
    step = np.clip(step, -scale, scale)
    new = cur + step
    lo, hi = lower[free_idx], upper[free_idx]
    new = np.where(new <= lo, 0.5 * (cur + lo), new)
    new = np.where(new >= hi, 0.5 * (cur + hi), new)
    return new - cur


def covariate_mean_step(theta, idx: np.ndarray, means_of, s1_subject, omega, cols, lower, upper,
                        max_steps: int = 8) -> np.ndarray:
    """The thetas ``idx`` of subject-specific prior means: weighted least squares of
    ``means_of(theta)[:, cols]`` to the stochastic-approximated individual phi's
    (``sum_i r_i' Omega_cc^-1 r_i``, the complete-data -2 log-likelihood of the etas' prior in
    these thetas), no model prediction needed.

    Gauss-Newton steps (forward-difference Jacobian of the means, ``len(idx) + 1`` evaluations
    of ``means_of`` each) with backtracking and a fraction-to-the-boundary rule keeping the
    thetas strictly inside their bounds. Where the means are linear in the thetas (``mu + b *
    log WT`` for a power effect) one step is exact; the categorical ratios ``log(1 + theta_k)``
    take a few. L-BFGS-B with numerical gradients took ~10x the evaluations (a 12-theta
    categorical model on pheno: 40 s per fit, now a few)."""
    W = np.linalg.inv(omega[np.ix_(cols, cols)])
    target = s1_subject[:, cols]
    lo, hi = lower[idx], upper[idx]

    def residual(x):
        t = theta.copy()
        t[idx] = x
        with np.errstate(all="ignore"):
            return target - means_of(t)[:, cols]

    def q(r):
        v = float(np.einsum("si,ij,sj->", r, W, r))
        return v if np.isfinite(v) else np.inf

    x = theta[idx].astype(float).copy()
    r = residual(x)
    best = q(r)
    if not np.isfinite(best):
        return x
    n = len(idx)
    for _ in range(max_steps):
        h = 1e-6 * np.maximum(np.abs(x), 1.0)
        h = np.where(x + h < hi, h, -h)  # stay inside the upper bound
        J = np.empty(r.shape + (n,))  # d r / d x
        for k in range(n):
            xk = x.copy()
            xk[k] += h[k]
            J[..., k] = (residual(xk) - r) / h[k]
        if not np.all(np.isfinite(J)):
            break
        JW = np.einsum("sik,ij->sjk", J, W)
        A = np.einsum("sjk,sjl->kl", JW, J)
        g = np.einsum("sjk,sj->k", JW, r)
        A += 1e-12 * max(1.0, float(np.max(np.abs(np.diag(A))))) * np.eye(n)
        try:
            step = -np.linalg.solve(A, g)
        except np.linalg.LinAlgError:
            break
        # fraction to the boundary: at most 99 % of the way to a bound
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step > 0, (hi - x) / step, np.where(step < 0, (lo - x) / step, np.inf))
        t_max = min(1.0, 0.99 * float(np.min(room))) if n else 1.0
        t, improved = t_max, False
        for _ in range(30):
            x_new = x + t * step
            r_new = residual(x_new)
            q_new = q(r_new)
            if q_new <= best:
                improved = True
                break
            t *= 0.5
        if not improved:
            break
        done = best - q_new <= 1e-12 * max(1.0, best) and np.max(np.abs(t * step)) <= 1e-10 * max(1.0, np.max(np.abs(x)))
        x, r, best = x_new, r_new, q_new
        if done:
            break
    return x


def phi_scoring_step(problem, layout, theta, phi, means_of, omega, cols, idx: np.ndarray, sd, lower,
                     upper) -> np.ndarray:
    """A Fisher-scoring step for the thetas ``idx`` of a factor that changes within subjects (a
    time-varying covariate in ``P = h(theta, COV(t)) exp(eta)``), on the complete-data -2LL
    with the individual parameters phi = m_i(theta) + eta held fixed (m_i: ``log h`` on the
    subject's first record, ``means_of(theta)[:, cols]``):

        sum_c [ -2 log p(y | eta_c = phi_c - m(theta), theta) + sum_i (phi_ci - m_i)' Omega^-1 (phi_ci - m_i) ]

    The data term then carries only the within-subject change of the factor, the prior term
    the between-subject part (as for a constant factor, ``covariate_mean_step``): at fixed eta
    the two would be traded against each other through the sampled etas and the damped step
    would stop short (pheno-like data: an exponent 1.9 SE from FOCEI's). Derivatives at fixed
    phi: df/dtheta - df/deta dm/dtheta (dm/dtheta by forward differences)."""
    n = len(idx)
    W = np.linalg.inv(omega[np.ix_(cols, cols)])
    m0 = means_of(theta)
    D = np.empty(m0[:, cols].shape + (n,))  # dm/dtheta (n_sub, n_cols, n)
    for k, j in enumerate(idx):
        h = 1e-6 * max(abs(theta[j]), 1.0)
        h = h if theta[j] + h < upper[j] else -h
        t = theta.copy()
        t[j] += h
        D[..., k] = (means_of(t)[:, cols] - m0[:, cols]) / h
    grad, H = np.zeros(n), np.zeros((n, n))
    subject = np.asarray(problem.obs_subject)
    for c in range(phi.shape[0]):
        etas = phi[c] - m0
        ev = problem.evaluate(theta, etas, derivs=True, theta_derivs=True)
        if ev.df_dtheta is None or ev.df_deta is None:
            raise ValueError("the problem gives no theta or eta derivatives")
        d = (np.asarray(ev.df_dtheta, dtype=float)[:, idx]
             - np.einsum("oc,ock->ok", np.asarray(ev.df_deta, dtype=float)[:, cols], D[subject]))
        _add_scoring_terms(layout, np.asarray(ev.f, dtype=float), d, sd, grad, H)
        r = phi[c][:, cols] - m0[:, cols]
        DW = np.einsum("sck,cj->sjk", D, W)
        grad += -2.0 * np.einsum("sjk,sj->k", DW, r)
        H += 2.0 * np.einsum("sjk,sjl->kl", DW, D)
    return _bounded_step(theta, idx, grad, H, lower, upper)
