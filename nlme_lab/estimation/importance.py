"""The marginal -2 log-likelihood by importance sampling, for any fitted model.

Per subject, ``L_i = integral p(y_i | eta) N(eta; 0, Omega) d eta`` is estimated with ``n``
draws from a multivariate t proposal (``df`` degrees of freedom) centred on the mode eta-hat_i
with the FOCEI conditional covariance ``A_i^-1`` (``A_i`` = half the curvature of
``-2 log p(y_i, eta)`` at the mode, see ``estimation.methods``):

    L_i ~= mean_s p(y_i | eta_s) N(eta_s; 0, Omega) / q_i(eta_s),   OFV = -2 sum_i log L_i

without the N log(2 pi) constant of the observations (NONMEM's convention). The Monte-Carlo
standard error is the delta-method one, ``2 sqrt(sum_i Var(w_i) / (n mean(w_i)^2))``.

Draws are predicted in batches of ``B = BATCH_SUBJECTS // n_subjects`` population copies per
engine call (``saem.stacked``: the draws as replicated subjects), so a small study pays the
call overhead ``n / B`` times, not ``n`` times. Each batch draws its normals, then its
chi-square scales, from one ``Generator``: the same seed gives the same value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.evaluation import Evaluator, prepare
from nlme_lab.estimation.methods import MethodKind

#: subjects (population copies x subjects) predicted per engine call
BATCH_SUBJECTS = 4096


@dataclass(frozen=True)
class ImportanceResult:
    ofv: float  # -2 log-likelihood without the N log(2 pi) constant
    se: float  # Monte-Carlo standard error of ofv
    n_samples: int  # draws per subject
    per_subject: np.ndarray  # -2 log L_i
    df: float  # degrees of freedom of the t proposal (inf: normal)


@dataclass(frozen=True)
class Proposal:
    """Where the draws of each subject come from: the mode and the conditional covariance."""

    center: np.ndarray  # (n_sub, n_eta) FOCEI eta-hat
    covariance: np.ndarray  # (n_sub, n_eta, n_eta) inverse FOCEI curvature there (symmetrised)


def _evaluator(problem, space) -> Evaluator:
    return problem if isinstance(problem, Evaluator) else Evaluator(problem, space)


def proposal(problem, space, values, etas0) -> Proposal:
    """The mode eta-hat per subject and the FOCEI conditional covariance there (``problem``: a
    ``PredictionProblem`` with its ``space``, or an ``Evaluator``)."""
    modes = _evaluator(problem, space).modes(values, MethodKind.FOCEI, etas0)
    cov = modes.objectives.covariance
    if not np.all(np.isfinite(cov)):
        raise np.linalg.LinAlgError("the FOCEI curvature of a subject is singular or not finite at its mode")
    return Proposal(modes.etas, 0.5 * (cov + np.swapaxes(cov, -1, -2)))


def importance_sampling(problem, space, values, center, cov, n: int = 2000, seed=None,
                        df: float = 5.0) -> ImportanceResult:
    """Importance-sampling -2LL of ``problem`` (or an ``Evaluator``) at ``values``
    (``ModelValues``); ``center`` (n_sub, n_eta) and ``cov`` (n_sub, n_eta, n_eta) define the
    proposal."""
    if n < 2:
        raise NlmeError(f"importance sampling needs at least 2 samples per subject, got {n}")
    ev = _evaluator(problem, space)
    lik = ev.likelihood
    rng = np.random.Generator(np.random.PCG64(seed))
    n_sub, d = center.shape
    L = np.linalg.cholesky(cov)
    omega_inv = np.linalg.inv(values.omega)
    _, logdet_omega = np.linalg.slogdet(2 * np.pi * values.omega)
    _, logdet_cov = np.linalg.slogdet(cov)
    B = int(min(n, max(1, BATCH_SUBJECTS // max(n_sub, 1))))
    w = np.empty((n, n_sub))
    compiled = None
    if lik.stacked.replicable and not lik.censored:  # one compiled call per batch, engine included
        from nlme_lab.estimation.saem.sampler import CompiledPasses
        from nlme_lab.kernels.metropolis import ENGINE_NOT_BOUND, importance_weights

        compiled = CompiledPasses(lik, B, importance_weights)
        const = -0.5 * logdet_omega - _log_t(np.zeros(n_sub), d, df, logdet_cov)  # w's terms free of eta
        L, center = np.ascontiguousarray(L), np.ascontiguousarray(center, dtype=float)
        omega_inv, sd = np.ascontiguousarray(omega_inv), np.asarray(values.sd, dtype=float)
    for s0 in range(0, n, B):
        m = min(B, n - s0)
        z = rng.standard_normal((m, n_sub, d))
        scale = np.sqrt(df / rng.chisquare(df, (m, n_sub))) if np.isfinite(df) else np.ones((m, n_sub))
        if compiled is not None:
            args = (values.theta, (z, scale, center, L, omega_inv, const, float(df)), sd, compiled.eta,
                    compiled.f_new, w[s0:s0 + m])
            n_failed, stop = compiled(*args)
            if stop == ENGINE_NOT_BOUND and not compiled.engine_bound:  # a draw the fast path declined:
                compiled.bind_engine()  # the full engine now; the batch again (it writes only its outputs)
                n_failed, stop = compiled(*args)
            compiled.count(1, n_failed > 0, stop)
            continue
        eta = np.zeros((B, n_sub, d))  # a short last batch is padded (one replicated problem)
        eta[:m] = center + np.einsum("sij,bsj->bsi", L, z) * scale[..., None]
        l = ev.conditional_m2ll(values, eta)[:m]
        e = eta[:m]
        log_p = -0.5 * l - 0.5 * np.einsum("bse,ef,bsf->bs", e, omega_inv, e) - 0.5 * logdet_omega
        w[s0:s0 + m] = log_p - _log_t(np.sum(z * z, axis=2) * scale**2, d, df, logdet_cov)
    log_L = logsumexp(w, axis=0) - np.log(n)
    e = np.exp(w - np.max(w, axis=0))
    rel_var = np.var(e, axis=0, ddof=1) / (n * np.mean(e, axis=0) ** 2)
    return ImportanceResult(float(-2 * np.sum(log_L)), float(2 * np.sqrt(np.sum(rel_var))), n, -2 * log_L, df)


def _log_t(delta, d, df, logdet_cov):
    """log density of the multivariate t (normal for df = inf) at Mahalanobis distance delta."""
    if not np.isfinite(df):
        return -0.5 * delta - 0.5 * d * np.log(2 * np.pi) - 0.5 * logdet_cov
    return (gammaln(0.5 * (df + d)) - gammaln(0.5 * df) - 0.5 * d * np.log(df * np.pi) - 0.5 * logdet_cov
            - 0.5 * (df + d) * np.log1p(delta / df))


def fit_importance_sampling(fit, n: int = 2000, seed=None, df: float = 5.0) -> ImportanceResult:
    """``FitResult.importance_sampling_ofv``: rebuild the fit's problem and sample around its etas."""
    if fit.model is None or fit.data is None:
        raise NlmeError("this FitResult carries no model and data (fit it with nlme_lab.fit); "
                        "use estimation.importance.importance_sampling on the problem instead")
    ev = prepare(fit.model, fit.data)
    values = ev.values(fit.estimates)
    prop = proposal(ev, ev.space, values, fit.etas)
    return importance_sampling(ev, ev.space, values, prop.center, prop.covariance, n=n, seed=seed, df=df)
