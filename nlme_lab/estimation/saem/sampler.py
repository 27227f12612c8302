"""The SAEM E-step: per-subject likelihood and Metropolis-Hastings kernels over all subjects.

The state is ``etas`` (n_chains, n_subjects, n_eta) with, per chain and subject, ``l`` = -2 log
p(y_i | eta_i) without the log(2 pi) constant, and the predictions ``f`` (error scale). One
kernel pass proposes a new eta for every subject of *every* chain, predicts all of them in one
engine call (``stacked.StackedPredictions``: the chains as replicated subjects) and accepts per
chain and subject in one compiled call (``compiled.mh_accept``):

* prior kernel: eta' ~ N(0, Omega) (the prior cancels from the ratio);
* random walk on all components: eta' = eta + s_all * z;
* random walk on one component k: eta'_k = eta_k + s_one[k] z.

The random-walk scales adapt towards an acceptance rate of 0.4 (s *= 1 + 0.4 (rate - 0.4)),
from the acceptance over all chains of the iteration. Each kernel is an exact
Metropolis-Hastings step for p(eta | y, parameters); chains never interact within a sweep.

Random numbers: each pass draws its normals for all (chain, subject) pairs, then its uniforms,
from the one ``Generator``: the same seed gives the same numbers, whatever the threading.

On a problem with the engine behind it (a ``KernelProblem``) and uncensored data, a whole
sweep is one compiled call (``CompiledSweep``, ``kernels.metropolis.mh_sweep``), which draws
the same numbers in the same order and gives the same results as the Python passes below
(``tests/estimation/test_saem.py`` compares them); the Python passes serve the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms
from nlme_lab.estimation.saem.stacked import StackedPredictions
from nlme_lab.kernels.metropolis import (gaussian_terms, mh_accept, mh_accept_gaussian, prior_proposals,
                                         subject_likelihoods, subject_sums)

TARGET_ACCEPTANCE = 0.4


def subject_ranges(obs_subject: np.ndarray, n_subjects: int) -> tuple[np.ndarray, np.ndarray]:
    """First observation and number of observations of every subject (observations must be
    sorted by subject, as every ``PredictionProblem`` keeps them)."""
    obs_subject = np.asarray(obs_subject, dtype=np.int64)
    if np.any(np.diff(obs_subject) < 0):
        raise ValueError("observations must be sorted by subject")
    counts = np.bincount(obs_subject, minlength=n_subjects).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return starts, counts


class SubjectLikelihood:
    """-2 log p(y_i | eta_i) per subject (no constant); predictions of many eta sets per call."""

    def __init__(self, problem, layout: ResidualLayout):
        self.problem, self.layout = problem, layout
        self.obs_subject = np.asarray(problem.obs_subject)
        self.n_subjects = problem.n_subjects
        self.starts, self.counts = subject_ranges(self.obs_subject, self.n_subjects)
        self.stacked = StackedPredictions(problem, layout)
        self.y = np.ascontiguousarray(layout.y, dtype=float)
        self.add = np.ascontiguousarray(layout.add, dtype=np.int64)
        self.prop = np.ascontiguousarray(layout.prop, dtype=np.int64)
        self.log_scale = np.ascontiguousarray(layout.log_scale, dtype=bool)
        self.censored = bool(np.any(layout.censored))

    @property
    def n_evaluations(self) -> int:
        """Engine calls so far (one call may predict many eta sets)."""
        return self.stacked.n_calls

    def predict(self, theta, etas) -> np.ndarray:
        """Predictions (error scale) at one eta set (n_sub, n_eta) -> (n_obs,)."""
        return self.stacked.predict(theta, np.asarray(etas, dtype=float)[None])[0]

    def predict_sets(self, theta, etas) -> np.ndarray:
        """Predictions at B eta sets (B, n_sub, n_eta) -> (B, n_obs), one engine call."""
        return self.stacked.predict(theta, etas)

    def per_observation(self, f: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """-2 log p(y_o | f_o) per observation (leading axes of ``f`` are batch axes)."""
        f = np.asarray(f, dtype=float)
        if self.censored:
            V, _ = self.layout.variance(sd, f)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                return observation_terms(self.layout, f, V).l
        flat = np.ascontiguousarray(f.reshape(-1, f.shape[-1]))
        out = np.empty_like(flat)
        gaussian_terms(flat, self.y, self.add, self.prop, self.log_scale, np.asarray(sd, dtype=float), out)
        return out.reshape(f.shape)

    def per_subject(self, f: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """Leading axes of ``f`` are batch axes (chains); +inf where not finite."""
        if not self.censored:  # ``per_observation`` then the sums, in one compiled pass
            f = np.asarray(f, dtype=float)
            flat = np.ascontiguousarray(f.reshape(-1, f.shape[-1]))
            out = np.empty((flat.shape[0], self.n_subjects))
            subject_likelihoods(flat, self.y, self.add, self.prop, self.log_scale, np.ascontiguousarray(sd, dtype=float),
                                self.starts, self.counts, out)
            return out.reshape(f.shape[:-1] + (self.n_subjects,))
        l = self.per_observation(f, sd)
        flat = np.ascontiguousarray(l.reshape(-1, l.shape[-1]))
        out = np.empty((flat.shape[0], self.n_subjects))
        subject_sums(flat, self.starts, self.counts, out)
        return out.reshape(l.shape[:-1] + (self.n_subjects,))


@dataclass
class ChainState:
    etas: np.ndarray  # (C, n_sub, n_eta)
    f: np.ndarray  # (C, n_obs)
    l: np.ndarray  # (C, n_sub)


class CompiledPasses:
    """Compiled kernels that predict ``copies`` copies of the population per engine call
    (``kernels.metropolis``: the SAEM sweep, importance-sampling batches) on the replicated
    ``KernelProblem``, with its thread choice (``Predictor.engine_caller``)."""

    def __init__(self, lik: SubjectLikelihood, copies: int, kernel, many_passes: bool = False):
        self.lik = lik
        self.problem = prob = lik.stacked.problem_for(copies)
        self.obs = (prob.observation_index, lik.log_scale,
                    bool(lik.log_scale.any()), lik.starts, lik.counts)
        self.eta = np.zeros((copies, lik.n_subjects, prob.n_eta))
        self.f_new = np.zeros((copies, len(lik.y)))
        self._run = prob.predictor.engine_caller(kernel, many_passes)

    def __call__(self, theta, lead: tuple, *rest):
        """``kernel(engine, *lead, records, model, buffers, obs, y, add, prop, *rest)``: the
        problem's inputs at ``theta`` between the kernel's own arguments (the order of
        ``kernels.metropolis``); returns the kernel's result."""
        records, model, buffers = self.problem.engine_inputs(theta)
        lik = self.lik
        return self._run(*lead, records, model, buffers, self.obs, lik.y, lik.add, lik.prop, *rest)

    @property
    def engine_bound(self) -> bool:
        """Whether the full event engine is bound: until then a call may stop with
        ``ENGINE_NOT_BOUND`` (``Predictor.engine_caller``)."""
        return self.problem.predictor.engine_bound

    def bind_engine(self) -> None:
        """Bind the full event engine (after a call stopped with ``ENGINE_NOT_BOUND``; the caller
        then calls again from the same state)."""
        self.problem.predictor.bind_engine()

    def count(self, n_calls: int, failed: bool, stop: int) -> None:
        """Book ``n_calls`` engine calls; raise a data error (``stop``: the kernel's last result,
        ``kernels.metropolis.DATA_ERROR``), note a numerical failure."""
        from nlme_lab.kernels.metropolis import DATA_ERROR

        prob = self.problem
        prob.n_calls += n_calls
        self.lik.stacked.n_calls += n_calls
        if failed:
            failure = prob.predictor.failure()
            if stop == DATA_ERROR:
                raise failure.error()
            if failure is not None:
                prob.last_failure = f"{failure.message} (subject {failure.subject}, time {failure.time:g})"


class CompiledSweep:
    """``Sampler.sweep`` as one ``mh_sweep`` call on the chains' replicated ``KernelProblem``.

    The full event engine is not bound first (compiling it is most of a cold SAEM start, and the
    fast path takes every subject of a plain bolus study): while it is not, the sweep keeps
    what it mutates (the generator's state, the chains, the random-walk scales) and, when
    ``mh_sweep`` stops on a subject the fast path declined (``ENGINE_NOT_BOUND``), puts it
    back, binds the engine and sweeps again: the same numbers as with the engine bound first
    (the passes before the stop are redone with the same draws; proposals and predictions are
    scratch that every pass overwrites)."""

    def __init__(self, lik: SubjectLikelihood, n_chains: int):
        from nlme_lab.kernels.metropolis import mh_sweep

        self.passes = CompiledPasses(lik, n_chains, mh_sweep, many_passes=True)

    def sweep(self, rng, n_kernel, state: ChainState, theta, sd, chol, omega_inv, s_all, s_one) -> None:
        from nlme_lab.kernels.metropolis import ENGINE_NOT_BOUND

        p = self.passes
        kept = None if p.engine_bound else (rng.bit_generator.state, state.etas.copy(), state.l.copy(),
                                            state.f.copy(), s_all.copy(), s_one.copy())
        while True:
            n_pass, n_failed, stop = p(
                theta, (rng, np.asarray(n_kernel, dtype=np.int64), chol, omega_inv, s_all, s_one),
                np.asarray(sd, dtype=float), state.etas, state.l, state.f, p.eta, p.f_new, TARGET_ACCEPTANCE)
            if stop != ENGINE_NOT_BOUND or kept is None:
                break
            rng.bit_generator.state = kept[0]
            for now, before in zip((state.etas, state.l, state.f, s_all, s_one), kept[1:]):
                now[...] = before
            kept = None  # once bound, no subject stops a sweep
            p.bind_engine()
        p.count(n_pass, n_failed > 0, stop)


class Sampler:
    """The MH kernels; ``n_kernel`` = passes per iteration of (prior, all-components, single)."""

    def __init__(self, lik: SubjectLikelihood, n_kernel: tuple[int, int, int], rng: np.random.Generator):
        self.lik, self.n_kernel, self.rng = lik, n_kernel, rng
        self.s_all = None
        self.s_one = None

    def start(self, theta, sd, omega, n_chains: int) -> ChainState:
        n_sub, n_eta = self.lik.n_subjects, omega.shape[0]
        etas = np.zeros((n_chains, n_sub, n_eta))
        f = self.lik.predict_sets(theta, etas)
        l = self.lik.per_subject(f, sd)
        sd_eta = np.sqrt(np.diag(omega))
        self.s_all = 0.5 * sd_eta.copy()
        self.s_one = 0.8 * sd_eta.copy()
        self.compiled = None
        if self.lik.stacked.replicable and not self.lik.censored:
            self.compiled = CompiledSweep(self.lik, n_chains)
        return ChainState(etas, np.ascontiguousarray(f), np.ascontiguousarray(l))

    def sweep(self, state: ChainState, theta, sd, omega, factors=None) -> None:
        """One iteration of every kernel on every chain (in place); ``factors``: omega's
        (Cholesky factor, inverse) when the caller has them."""
        n_eta = omega.shape[0]
        if n_eta == 0:
            return
        if factors is None:
            factors = np.linalg.cholesky(omega), np.linalg.inv(omega)
        chol, omega_inv = (np.ascontiguousarray(a) for a in factors)
        if self.compiled is not None:
            self.compiled.sweep(self.rng, self.n_kernel, state, theta, sd, chol, omega_inv, self.s_all, self.s_one)
            return
        n_prior, n_all, n_one = self.n_kernel
        shape = state.etas.shape
        for _ in range(n_prior):
            prop = np.empty(shape)
            prior_proposals(self.rng.standard_normal(shape), chol, prop)
            self._step(state, prop, theta, sd, omega_inv, False)
        if n_all:
            acc = sum(self._step(state, state.etas + self.rng.standard_normal(shape) * self.s_all,
                                 theta, sd, omega_inv, True) for _ in range(n_all))
            self.s_all *= 1 + 0.4 * (acc / n_all - TARGET_ACCEPTANCE)
        for k in range(n_eta if n_one else 0):
            acc = 0.0
            for _ in range(n_one):
                prop = state.etas.copy()
                prop[..., k] += self.s_one[k] * self.rng.standard_normal(shape[:2])
                acc += self._step(state, prop, theta, sd, omega_inv, True)
            self.s_one[k] *= 1 + 0.4 * (acc / n_one - TARGET_ACCEPTANCE)

    def _step(self, state: ChainState, prop, theta, sd, omega_inv, prior_ratio: bool) -> float:
        """One pass: predict every proposal, accept per (chain, subject); the acceptance rate."""
        lik = self.lik
        prop = np.ascontiguousarray(prop)
        f_new = np.ascontiguousarray(lik.predict_sets(theta, prop))
        with np.errstate(divide="ignore"):
            log_u = np.log(self.rng.random(state.l.shape))
        if lik.censored:
            lobs = np.ascontiguousarray(lik.per_observation(f_new, sd))
            n_acc = mh_accept(lobs, lik.starts, lik.counts, prop, f_new, log_u, omega_inv, prior_ratio,
                              state.etas, state.l, state.f)
        else:
            n_acc = mh_accept_gaussian(f_new, lik.y, lik.add, lik.prop, lik.log_scale, np.asarray(sd, dtype=float),
                                       lik.starts, lik.counts, prop, log_u, omega_inv, prior_ratio,
                                       state.etas, state.l, state.f)
        return n_acc / state.l.size
