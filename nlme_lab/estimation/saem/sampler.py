"""The SAEM E-step: per-subject likelihood and Metropolis-Hastings kernels over all subjects.

The state is ``etas`` (n_chains, n_subjects, n_eta) with, per chain and subject, ``l`` = -2 log
p(y_i | eta_i) without the log(2 pi) constant, and the predictions ``f`` (error scale). One
kernel pass proposes a new eta for every subject of one chain, predicts all of them in one
batched ``problem.evaluate`` and accepts per subject:

* prior kernel: eta' ~ N(0, Omega) (the prior cancels from the ratio);
* random walk on all components: eta' = eta + s_all * z;
* random walk on one component k: eta'_k = eta_k + s_one[k] z.

The random-walk scales adapt towards an acceptance rate of 0.4 (s *= 1 + 0.4 (rate - 0.4)).
Each kernel is an exact Metropolis-Hastings step for p(eta | y, parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms

TARGET_ACCEPTANCE = 0.4


class SubjectLikelihood:
    """-2 log p(y_i | eta_i) per subject (no constant), from one batched evaluation."""

    def __init__(self, problem, layout: ResidualLayout):
        self.problem, self.layout = problem, layout
        self.obs_subject = np.asarray(problem.obs_subject)
        self.n_subjects = problem.n_subjects
        self.n_evaluations = 0

    def predict(self, theta, etas) -> np.ndarray:
        self.n_evaluations += 1
        f = np.asarray(self.problem.evaluate(theta, etas, derivs=False).f, dtype=float)
        return self.layout.to_log_scale(f, None)[0]

    def per_observation(self, f: np.ndarray, sd: np.ndarray) -> np.ndarray:
        V, _ = self.layout.variance(sd, f)
        if self.layout.censored.any():
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                return observation_terms(self.layout, f, V).l
        r = self.layout.y - f
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.log(V) + r * r / V

    def per_subject(self, f: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """Leading axes of ``f`` are batch axes (chains)."""
        l = self.per_observation(f, sd)
        out = np.stack([np.bincount(self.obs_subject, weights=row, minlength=self.n_subjects)
                        for row in l.reshape(-1, l.shape[-1])]).reshape(l.shape[:-1] + (self.n_subjects,))
        return np.where(np.isfinite(out), out, np.inf)


@dataclass
class ChainState:
    etas: np.ndarray  # (C, n_sub, n_eta)
    f: np.ndarray  # (C, n_obs)
    l: np.ndarray  # (C, n_sub)


class Sampler:
    """The MH kernels; ``n_kernel`` = passes per iteration of (prior, all-components, single)."""

    def __init__(self, lik: SubjectLikelihood, n_kernel: tuple[int, int, int], rng: np.random.Generator):
        self.lik, self.n_kernel, self.rng = lik, n_kernel, rng
        self.s_all = None
        self.s_one = None

    def start(self, theta, sd, omega, n_chains: int) -> ChainState:
        n_sub, n_eta = self.lik.n_subjects, omega.shape[0]
        etas = np.zeros((n_chains, n_sub, n_eta))
        f = np.stack([self.lik.predict(theta, etas[c]) for c in range(n_chains)])
        l = self.lik.per_subject(f, sd)
        sd_eta = np.sqrt(np.diag(omega))
        self.s_all = 0.5 * sd_eta.copy()
        self.s_one = 0.8 * sd_eta.copy()
        return ChainState(etas, f, l)

    def sweep(self, state: ChainState, theta, sd, omega) -> None:
        """One iteration of every kernel on every chain (in place)."""
        n_eta = omega.shape[0]
        if n_eta == 0:
            return
        chol = np.linalg.cholesky(omega)
        omega_inv = np.linalg.inv(omega)
        n_prior, n_all, n_one = self.n_kernel
        C, n_sub = state.etas.shape[:2]
        for c in range(C):
            for _ in range(n_prior):
                z = self.rng.standard_normal((n_sub, n_eta))
                self._step(state, c, z @ chol.T, theta, sd, None)
            acc = 0.0
            for _ in range(n_all):
                z = self.rng.standard_normal((n_sub, n_eta))
                acc += self._step(state, c, state.etas[c] + z * self.s_all, theta, sd, omega_inv).mean()
            if n_all:
                self.s_all *= 1 + 0.4 * (acc / n_all - TARGET_ACCEPTANCE)
            for k in range(n_eta):
                acc = 0.0
                for _ in range(n_one):
                    prop = state.etas[c].copy()
                    prop[:, k] += self.s_one[k] * self.rng.standard_normal(n_sub)
                    acc += self._step(state, c, prop, theta, sd, omega_inv).mean()
                if n_one:
                    self.s_one[k] *= 1 + 0.4 * (acc / n_one - TARGET_ACCEPTANCE)

    def _step(self, state: ChainState, c: int, prop, theta, sd, omega_inv) -> np.ndarray:
        f_new = self.lik.predict(theta, prop)
        l_new = self.lik.per_subject(f_new, sd)
        log_r = -0.5 * (l_new - state.l[c])
        if omega_inv is not None:  # random walk: the prior ratio
            cur = state.etas[c]
            log_r -= 0.5 * (np.einsum("se,ef,sf->s", prop, omega_inv, prop)
                            - np.einsum("se,ef,sf->s", cur, omega_inv, cur))
        u = self.rng.random(len(log_r))
        with np.errstate(invalid="ignore"):
            accept = np.log(u) < log_r
        accept &= np.isfinite(l_new)
        state.etas[c][accept] = prop[accept]
        state.l[c][accept] = l_new[accept]
        rows = accept[self.lik.obs_subject]
        state.f[c][rows] = f_new[rows]
        return accept
