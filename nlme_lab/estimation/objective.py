"""The population objective as a function of a free parameter vector, and its gradient.

``Objective.value(v)`` solves the individual problems (warm-started from the last eta-hat) and
sums OFV_i. ``Objective.gradient(v)`` returns the total derivative without re-solving the inner
problems (per subject, so the covariance step's S matrix comes for free):

    dOFV_i/dp = dQ_i/dp |_(eta fixed at eta-hat)  +  dQ_i/deta . d eta-hat_i/dp
    d eta-hat_i/dp = -H_i^-1  d(grad_eta L_i)/dp          (implicit function theorem)

where Q_i = L_i + log det Omega + log det A_i, L_i the inner objective and H_i its exact
Hessian in eta. The pieces, all per subject and at fixed eta:

* theta: dL_i/dtheta by the chain rule, sum_j dl/df df_j/dtheta (+ the variance-basis term),
  with df/dtheta from central differences of the predictions (smooth; differencing L itself
  would pick up its large curvature); d log det A_i/dtheta and d(grad_eta L_i)/dtheta by
  central differences. Two kernel evaluations per theta.
* omega and residual SDs: central differences of Q_i and grad_eta L_i on cached predictions
  (no kernel call).
* eta: dQ_i/deta = grad_eta L_i (exact, from the kernels' df/deta; ~0 at eta-hat) plus central
  differences of log det A_i; H_i from differences of the exact gradient. All subjects are
  perturbed at once: two kernel evaluations per eta.

Cost per gradient: 2 (n_eta + n_free_theta) kernel evaluations (times 2 n_eta + 1 for Laplace,
whose A is itself a difference of exact gradients), against 2 n_free x (inner iterations) for
brute-force differences of the whole objective, and with no inner-tolerance noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.estimation.individual import SubjectEngine, SubjectTerms, omega_inverse
from nlme_lab.estimation.methods import InnerOptions
from nlme_lab.estimation.parameters import Parameterization


@dataclass(frozen=True)
class GradientResult:
    ofv: float
    gradient: np.ndarray  # (n_free,)
    per_subject: np.ndarray  # (n_sub, n_free)


class Objective:
    def __init__(self, engine: SubjectEngine, param: Parameterization, etas0: np.ndarray,
                 inner: InnerOptions, param_step: float = 1e-5, eta_step: float = 1e-4):
        self.engine = engine
        self.param = param
        self.etas = np.array(etas0, dtype=float)
        self.inner = inner
        self.param_step = param_step
        self.eta_step = eta_step
        self.last_terms: SubjectTerms | None = None
        self.last_v: np.ndarray | None = None
        self.not_converged = 0
        self.n_value = 0

    def value(self, v: np.ndarray) -> float:
        self.n_value += 1
        values = self.param.values(v)
        _, logdet = omega_inverse(values.omega)
        if not np.isfinite(logdet):
            return np.inf
        etas, _, T, nc = self.engine.solve(values, self.etas, self.inner)
        ofv = float(np.sum(T.ofv))
        if np.isfinite(ofv):
            self.etas = etas
            self.last_terms, self.last_v, self.not_converged = T, np.array(v, dtype=float), nc
        return ofv

    def value_and_gradient(self, v: np.ndarray) -> GradientResult:
        ofv = self.value(v)
        if not np.isfinite(ofv):
            return GradientResult(ofv, np.full(len(v), np.nan), np.full((self.engine.problem.n_subjects, len(v)), np.nan))
        return self.gradient(v, ofv)

    def steps(self, v: np.ndarray) -> np.ndarray:
        return self.param_step * np.maximum(np.abs(v), self.param.step_floor)

    def gradient(self, v: np.ndarray, ofv: float) -> GradientResult:
        """Gradient at ``v`` with eta held at the eta-hat of the last ``value(v)``."""
        eng, etas = self.engine, self.etas
        values = self.param.values(v)
        around = eng.spec.exact_hessian
        p0 = eng.predictions(values.theta, etas, around=around)
        T0 = eng.terms(p0, values, etas)
        n_sub, n_eta, n = etas.shape[0], etas.shape[1], len(v)
        dQ = np.empty((n_sub, n))
        dG = np.empty((n_sub, n, n_eta))
        h = self.steps(v)
        for k in range(n):
            vp, vm = v.copy(), v.copy()
            vp[k] += h[k]
            vm[k] -= h[k]
            valp, valm = self.param.values(vp), self.param.values(vm)
            if self.param.affects_theta[k]:
                pp = eng.predictions(valp.theta, etas, around=around)
                pm = eng.predictions(valm.theta, etas, around=around)
                Tp, Tm = eng.terms(pp, valp, etas), eng.terms(pm, valm, etas)
                dL = eng.index.sum(T0.l_f * (pp.f - pm.f) + T0.l_fv * (pp.fv - pm.fv)) / (2 * h[k])
                dQ[:, k] = dL + (Tp.logdet_A - Tm.logdet_A) / (2 * h[k])
            else:
                Tp, Tm = eng.terms(p0, valp, etas), eng.terms(p0, valm, etas)
                dQ[:, k] = (Tp.ofv - Tm.ofv) / (2 * h[k])
            dG[:, k, :] = (Tp.grad - Tm.grad) / (2 * h[k])
        dlogdet_eta, H = self._eta_derivatives(values, etas, around)
        deta = -np.linalg.solve(H, dG.transpose(0, 2, 1))  # (n_sub, n_eta, n)
        per_subject = dQ + np.einsum("ne,nek->nk", T0.grad + dlogdet_eta, deta)
        return GradientResult(ofv, per_subject.sum(axis=0), per_subject)

    def _eta_derivatives(self, values, etas, around):
        """d log det A_i / d eta (differences) and the Hessian of L_i (differences of its exact gradient)."""
        eng = self.engine
        n_sub, n_eta = etas.shape
        he = self.eta_step
        dlogdet = np.empty((n_sub, n_eta))
        H = np.empty((n_sub, n_eta, n_eta))
        for m in range(n_eta):
            out = []
            for sign in (1.0, -1.0):
                e = etas.copy()
                e[:, m] += sign * he
                out.append(eng.terms(eng.predictions(values.theta, e, around=around), values, e))
            dlogdet[:, m] = (out[0].logdet_A - out[1].logdet_A) / (2 * he)
            H[:, :, m] = (out[0].grad - out[1].grad) / (2 * he)
        return dlogdet, 0.5 * (H + H.transpose(0, 2, 1))
