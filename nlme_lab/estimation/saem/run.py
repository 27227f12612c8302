"""``run_saem``: the SAEM runner of the method registry (``MethodKind.SAEM``).

Iteration k: one sweep of the MH kernels (``sampler``) on every chain; then, after
``n_pure_mh`` sampling-only iterations, the stochastic approximation with step gamma_k = 1 for
the first ``n_burn`` iterations and 1 / (k - n_burn + 1) afterwards, and the M-steps
(``mstep``). During the first ``n_anneal`` iterations the variances may shrink by at most a
factor ``anneal`` per iteration (simulated annealing), which keeps the chains exploring.

After the SA phase: conditional means and SDs of the etas (averaged over the 1/k phase),
the -2LL by importance sampling (``estimation.importance``) and by linearization (the FOCEI
objective at the SAEM estimates, labelled as such), and the Fisher information of the model
linearized at the FOCEI eta-hat (``estimation.linearized_fim``, Monolix's linearization method).

An iteration that fails (an exception from the engine or the M-steps, or parameters that are
no longer finite) ends the run with ``Termination.FAILED`` at the last completed iteration
(its parameters and chains are restored), so no iteration is lost to a traceback; a failure in
the first iteration is raised.

The ``ofv`` of each ``IterationEvent`` / ``HistoryEntry`` is the complete-data -2 log p(y, eta)
averaged over the chains (a convergence trace, not a marginal -2LL; the events say so with
``objective=ObjectiveKind.COMPLETE_DATA``); ``gradient_norm`` is nan. A comparable marginal
value per iteration would cost an importance-sampling pass (hundreds of predictions per
subject) each time, more than the iteration itself, so the trace is labelled, not replaced.
"""

from __future__ import annotations

import time

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.problem import check_problem
from nlme_lab.estimation.report import failure_words
from nlme_lab.estimation.results import HistoryEntry, IterationEvent, ObjectiveKind, Termination
from nlme_lab.estimation.saem.mstep import (ResidualStep, Statistics, block_columns, block_index,
                                            covariate_mean_step, omega_from_statistics, phi_scoring_step,
                                            theta_scoring_step)
from nlme_lab.estimation.saem.moments import complete_data_sum, omega_factors
from nlme_lab.estimation.saem.sampler import Sampler, SubjectLikelihood


def mu_reference(problem, space, options) -> tuple[np.ndarray, np.ndarray]:
    """Eta column -> mu-referenced theta index (-1 none) and log-scale flag: from the options
    (additive references), else from the model."""
    if options.mu_reference is not None:
        mu = np.asarray(options.mu_reference, dtype=int)
        if mu.shape != (problem.n_eta,) or np.any(mu >= len(space.thetas)):
            raise NlmeError(f"SAEMOptions.mu_reference must give one theta index (or -1) per eta column "
                            f"({problem.n_eta}), got {options.mu_reference}")
        return mu, np.zeros(problem.n_eta, dtype=bool)
    bound = getattr(problem, "bound", None)
    if bound is None:
        return np.full(problem.n_eta, -1, dtype=int), np.zeros(problem.n_eta, dtype=bool)
    from nlme_lab.estimation.saem.mu import mu_reference_from_ir

    return mu_reference_from_ir(bound.model.ir, tuple(t.name for t in space.thetas), problem.n_eta)


def sampling_problem(problem, options):
    """The problem the sampler and M-steps evaluate: ``problem`` with the options' looser ODE
    tolerances when its model integrates ODEs (the final OFVs and covariance keep ``problem``)."""
    for name in ("ode_rtol", "ode_atol"):
        value = getattr(options, name)
        if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):  # the engine reads <= 0 as "default"
            raise NlmeError(f"SAEMOptions.{name} must be a number between 0 and 1 (exclusive), got {value!r}")
    compiled = getattr(problem, "compiled", None)
    if compiled is None or compiled.is_linear or not hasattr(problem, "with_tolerances"):
        return problem
    if (problem.rtol, problem.atol) == (options.ode_rtol, options.ode_atol):
        return problem
    return problem.with_tolerances(options.ode_rtol, options.ode_atol)


class SAEMState:
    """Parameters, chains and statistics of a running SAEM."""

    def __init__(self, problem, space, options, rng):
        self.problem, self.space, self.opts = problem, space, options
        values = space.values_from_reported(space.reported_initial())
        self.theta, self.omega, self.sd = values.theta.copy(), values.omega.copy(), values.sd.copy()
        self.layout = ResidualLayout.build(space.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
        self.sampling = sampling_problem(problem, options)
        self.lik = SubjectLikelihood(self.sampling, self.layout)
        self.mu, self.mu_log = mu_reference(problem, space, options)
        self._mu_cols = np.flatnonzero(self.mu >= 0)
        self._mu_log_cols = np.flatnonzero((self.mu >= 0) & self.mu_log)
        fixed_theta = np.array([t.fixed for t in space.thetas], dtype=bool)
        self.mu_free = np.array([m >= 0 and not fixed_theta[m] for m in self.mu])
        mu_thetas = set(int(m) for m in self.mu if m >= 0)
        self.other = np.array([k for k in range(len(space.thetas)) if k not in mu_thetas and not fixed_theta[k]],
                              dtype=int)
        self.lower = np.array([t.lower for t in space.thetas])
        self.upper = np.array([t.upper for t in space.thetas])
        self._covariate_setup(problem, options, fixed_theta)
        self.residual = ResidualStep(self.lik, space)
        self.blocks = block_index(space)
        # omega entries of reported(): each block's lower triangle on its first copy's columns
        tril = [(p[0][i], p[0][j]) for b, p in block_columns(space) for i, j in [np.tril_indices(b.size)]]
        self._reported_omega = tuple(np.concatenate(x).astype(int) for x in zip(*tril)) if tril else None
        self.stats = Statistics(problem.n_eta, len(self.sd))
        n_chains = options.n_chains or max(1, int(np.ceil(50 / max(problem.n_subjects, 1))))
        self.sampler = Sampler(self.lik, tuple(options.n_kernel), rng)
        self.chains = self.sampler.start(self.theta, self.sd, self.omega, n_chains)
        self._factors_of, self._factors, self._means = None, None, None
        closed = self.mu_free.copy()
        closed[self.cov_cols] = False
        cols = np.flatnonzero(closed)  # closed-form thetas: eta columns, log-scale among them, thetas
        self._closed = cols, np.flatnonzero(self.mu_log[cols]), self.mu[cols]
        self.phi_sum = np.zeros(self.chains.etas.shape[1:])
        self.phi_sq = np.zeros_like(self.phi_sum)
        self.n_avg = 0

    def _covariate_setup(self, problem, options, fixed_theta) -> None:
        """Columns with subject-specific prior means ``log P_i(theta, eta = 0)`` (``mu.covariate_columns``)."""
        self.cov_cols, self.cov_thetas = np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        self.tv_cols, self.tv_thetas = np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        bound = getattr(problem, "bound", None)
        if bound is None or options.mu_reference is not None or not self.other.size:
            return
        from nlme_lab.estimation.saem.mu import covariate_columns

        found = covariate_columns(bound.model.ir, tuple(t.name for t in self.space.thetas), self.mu)
        found = {c: (n, tuple(k for k in ks if k in self.other)) for c, (n, ks) in found.items()}
        found = {c: v for c, v in found.items() if v[1]}
        if not found:
            return
        p_names = problem.compiled.p_names
        varying = {c for c, v in found.items() if not self._constant_within_subjects(problem, p_names.index(v[0]), v[1])}
        self.cov_cols = np.array(sorted(found), dtype=int)  # every column with subject-specific means
        self.cov_p = np.array([p_names.index(found[c][0]) for c in self.cov_cols])

        def thetas_of(cols):
            ks = {k for c in cols for k in found[c][1]} | {int(self.mu[c]) for c in cols if self.mu_free[c]}
            return np.array(sorted(ks), dtype=int)

        self.tv_cols = np.array(sorted(varying), dtype=int)  # the factor changes within subjects
        self.const_cols = np.array(sorted(set(found) - varying), dtype=int)
        self.cov_thetas, self.tv_thetas = thetas_of(self.const_cols), thetas_of(self.tv_cols)
        self.other = np.array([k for k in self.other if k not in self.cov_thetas and k not in self.tv_thetas],
                              dtype=int)
        self.first_record = np.asarray(bound.dataset.offsets[:-1])

    def _constant_within_subjects(self, problem, p: int, thetas) -> bool:
        """Whether parameter ``p`` at eta = 0 is the same on every record of each subject, at the
        initial thetas and with ``thetas`` moved inside their bounds (a time-varying covariate in
        ``h`` makes its prior mean change within a subject: those thetas keep the scoring step)."""
        offsets = np.asarray(problem.bound.dataset.offsets)
        subject = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        zeros = np.zeros((problem.n_subjects, problem.n_eta))
        moved = self.theta.copy()
        for k in thetas:
            step = 0.1 * max(abs(moved[k]), 1.0)
            up = moved[k] + step
            moved[k] = up if up < self.upper[k] else 0.5 * (moved[k] + max(self.lower[k], moved[k] - step))
        for theta in (self.theta, moved):
            P = np.asarray(problem.individual_parameters(theta, zeros))[:, p]
            first = P[offsets[:-1]][subject]
            if not np.allclose(P, first, rtol=1e-12, atol=0.0, equal_nan=True):
                return False
        return True

    def mu_vector(self, theta=None) -> np.ndarray:
        """The mu-referenced thetas per eta column (log-scale ones as their log; 0: none)."""
        theta = self.theta if theta is None else theta
        out = np.zeros(len(self.mu))
        out[self._mu_cols] = theta[self.mu[self._mu_cols]]
        if self._mu_log_cols.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                out[self._mu_log_cols] = np.log(out[self._mu_log_cols])
        return out

    def means(self, theta=None) -> np.ndarray:
        """Prior means of phi: (n_eta,), or (n_sub, n_eta) with covariate columns."""
        theta = self.theta if theta is None else theta
        mu = self.mu_vector(theta)
        if not self.cov_cols.size:
            return mu
        M = np.repeat(mu[None], self.problem.n_subjects, axis=0)
        P = self.problem.individual_parameters(theta, np.zeros((self.problem.n_subjects, self.problem.n_eta)))
        with np.errstate(divide="ignore", invalid="ignore"):
            M[:, self.cov_cols] = np.log(P[self.first_record][:, self.cov_p])
        return M

    def omega_factors(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Cholesky factor, inverse and log-determinant of the current omega (computed once per
        omega: the sweep and the convergence trace both need them)."""
        if self._factors_of is not self.omega:
            self._factors = omega_factors(np.ascontiguousarray(self.omega, dtype=float))
            self._factors_of = self.omega
        return self._factors

    def current_means(self) -> np.ndarray:
        """``means()`` at the current thetas: kept from the last M-step when the means are the
        mu-referenced thetas alone (no covariate columns; the scoring step moves other thetas)."""
        if self.cov_cols.size or self._means is None:
            return self.means()
        return self._means

    def iterate(self, k: int) -> None:
        o = self.opts
        chol, inv, _ = self.omega_factors()
        self.sampler.sweep(self.chains, self.theta, self.sd, self.omega, factors=(chol, inv))
        if k < o.n_pure_mh:
            return
        j = k - o.n_pure_mh
        gamma = 1.0 if j < o.n_burn else 1.0 / (j - o.n_burn + 2)
        anneal = o.anneal if j < o.n_anneal else None
        self._m_step(gamma, anneal)
        if j >= o.n_burn:
            phi = self.chains.etas + self.current_means()
            self.phi_sum += phi.sum(axis=0)
            self.phi_sq += (phi * phi).sum(axis=0)
            self.n_avg += phi.shape[0]

    def _m_step(self, gamma: float, anneal) -> None:
        ch = self.chains
        phi = self.stats.update_from(ch.etas, self.current_means(), self.residual.statistics(ch.f), gamma)
        cols, log_cols, targets = self._closed
        new = self.stats.s1[cols]
        new[log_cols] = np.exp(new[log_cols])
        self.theta[targets] = np.minimum(np.maximum(new, self.lower[targets]), self.upper[targets])
        if self.cov_thetas.size:
            self.theta[self.cov_thetas] = covariate_mean_step(
                self.theta, self.cov_thetas, self.means, self.stats.s1_subject, self.omega, self.const_cols,
                self.lower, self.upper)
        if self.tv_thetas.size:
            self.theta[self.tv_thetas] += gamma * phi_scoring_step(
                self.sampling, self.layout, self.theta, phi, self.means, self.omega, self.tv_cols, self.tv_thetas,
                self.sd, self.lower, self.upper)
        mu_new = self._means = self.means()
        ch.etas[:] = phi - mu_new  # phi kept: the likelihood of every chain is unchanged
        self.omega = omega_from_statistics(self.stats, self.space, mu_new, self.omega, anneal, self.blocks)
        if self.other.size:
            step = theta_scoring_step(self.sampling, self.layout, self.theta, ch.etas, self.sd, self.other,
                                      self.lower, self.upper)
            self.theta[self.other] += gamma * step
        if self.other.size or self.tv_thetas.size:  # at fixed phi, a time-varying factor moves f too
            ch.f[:] = self.lik.predict_sets(self.theta, ch.etas)
        self.sd = self.residual.update(self.sd, self.stats, ch.f, gamma, anneal)
        ch.l[:] = self.lik.per_subject(ch.f, self.sd)

    def snapshot(self) -> tuple:
        """Copies of what ``finish`` reads (parameters, chains, the 1/k averages), to go back to
        the last completed iteration when one fails (``restore``)."""
        ch = self.chains
        return (self.theta.copy(), self.omega.copy(), self.sd.copy(), ch.etas.copy(), ch.f.copy(), ch.l.copy(),
                self.phi_sum.copy(), self.phi_sq.copy(), self.n_avg, self._means)

    def restore(self, snapshot: tuple) -> None:
        ch = self.chains
        self.theta, self.omega, self.sd, etas, f, l, self.phi_sum, self.phi_sq, self.n_avg, self._means = snapshot
        ch.etas[:], ch.f[:], ch.l[:] = etas, f, l

    def reported(self) -> np.ndarray:
        """Thetas, each block's lower triangle (its first copy), SDs: ``space.reported_names()``."""
        om = self.omega[self._reported_omega] if self._reported_omega is not None else np.zeros(0)
        return np.concatenate([self.theta, om, self.sd]).astype(float)

    def complete_ofv(self) -> float:
        """Mean over chains of -2 log p(y, eta) (no constant): the convergence trace's value."""
        _, inv, logdet = self.omega_factors()
        return complete_data_sum(self.chains.etas, inv, self.chains.l) + self.problem.n_subjects * logdet

    def conditional(self) -> tuple[np.ndarray, np.ndarray]:
        """Conditional means and SDs of the etas (the 1/k phase; the last sample if none)."""
        if self.n_avg == 0:
            return self.chains.etas.mean(axis=0), np.zeros_like(self.chains.etas[0])
        mean = self.phi_sum / self.n_avg
        var = np.maximum(self.phi_sq / self.n_avg - mean * mean, 0.0)
        return mean - self.means(), np.sqrt(var)


def options_for_iterations(options, n_iterations: int):
    """Options whose complete run is a run of ``options`` stopped after ``n_iterations``: the
    step-size and annealing schedule depend only on the iteration number, ``n_pure_mh``,
    ``n_burn`` and ``n_anneal``, so shortening the later phases reproduces a stopped run (same
    seed, same numbers; only the termination differs). A stopped run skips importance sampling
    (its OFV is the linearized one), so ``is_samples`` is 0; the caller also drops the
    covariance step, which a stopped run skips too. Used to export a stopped fit."""
    from dataclasses import replace

    k = int(n_iterations)
    if k < 0 or k > options.n_pure_mh + options.n_burn + options.n_em:
        raise NlmeError(f"a run of {options.n_pure_mh + options.n_burn + options.n_em} SAEM iterations "
                        f"cannot have stopped after {k}")
    pure = min(k, options.n_pure_mh)
    burn = min(k - pure, options.n_burn)
    return replace(options, n_pure_mh=pure, n_burn=burn, n_em=k - pure - burn, is_samples=0)


def _iterate(state: SAEMState, k: int) -> float:
    """Iteration ``k``; its convergence-trace value. Parameters that are no longer finite are a
    failure (``NlmeError``), not a result."""
    state.iterate(k)
    reported = state.reported()
    if not np.all(np.isfinite(reported)):
        bad = [n for n, v in zip(state.space.reported_names(), reported) if not np.isfinite(v)]
        raise NlmeError(f"the M-step gave non-finite values of {', '.join(bad)}")
    return state.complete_ofv()


def run_saem(problem, space, spec, options, *, callback=None, stop=None, seed=None):
    """The registry's runner for SAEM (``seed``: the random stream; the same seed gives the same
    numbers)."""
    t0 = time.perf_counter()
    check_problem(problem, space.residual)
    if problem.n_eta != space.n_eta or problem.n_eta == 0:
        raise NlmeError(f"SAEM needs random effects: the problem has {problem.n_eta} etas, "
                        f"the parameters declare {space.n_eta}")
    if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise NlmeError(f"seed must be a non-negative integer or None, got {seed!r}")
    rng = np.random.Generator(np.random.PCG64(seed))
    state = SAEMState(problem, space, options, rng)
    bad = np.flatnonzero(~np.isfinite(state.chains.l[0]))
    if bad.size:
        raise NlmeError(f"the objective is not finite at the initial estimates for subject index {bad[0]} "
                        f"({bad.size} subject(s)); check initial values and data")
    names = space.reported_names()
    history, n_iter = [], options.n_pure_mh + options.n_burn + options.n_em
    termination, message, k = Termination.CONVERGED, "", 0
    try:
        for k in range(n_iter):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            before = state.snapshot()
            try:
                ofv = _iterate(state, k)
            except Exception as err:  # back to the last completed iteration (module docstring)
                state.restore(before)
                if not history:
                    raise
                termination, message = Termination.FAILED, (
                    f"SAEM could not go on after iteration {k}: {failure_words(err)}; the estimates are those of "
                    f"iteration {k}")
                break
            est = dict(zip(names, map(float, state.reported())))
            history.append(HistoryEntry(k + 1, ofv, est))
            if callback is not None:
                callback(IterationEvent(k + 1, ofv, est, float("nan"), state.lik.n_evaluations,
                                        time.perf_counter() - t0, spec.kind, ObjectiveKind.COMPLETE_DATA))
        else:
            message = (f"SAEM completed {n_iter} iterations ({options.n_burn} burn-in with step 1, "
                       f"{options.n_em} with step 1/k), {state.chains.etas.shape[0]} chain(s)")
    except KeyboardInterrupt:
        termination, message = Termination.STOPPED, f"stopped by the user after {k} SAEM iterations"
    from nlme_lab.estimation.saem.finish import finish

    return finish(state, spec, options, termination, message, tuple(history), seed, t0)
