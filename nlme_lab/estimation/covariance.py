"""The covariance step on the reported scale (thetas, omega elements, residual SDs).

* R: the Hessian of the OFV, central differences of the gradient (``Objective.gradient``),
  symmetrized. At each point v0 +- h e_k the gradient is taken at eta-hat predicted to first
  order from the estimates (``Objective.anchor``: eta-hat + d eta-hat/dv h), not at a re-solved
  eta-hat: the prediction's error (eta-hat'' h^2 / 2 + O(h^3)) is the same at +h and -h to
  leading order, so it cancels in the central difference and leaves R with an O(h^2) error,
  the order of the difference itself (and no inner-solve tolerance noise). This saves the inner
  solves (two or more engine evaluations per point, 2 n of them).
* the gradient at the estimates is taken at the eta-hat the fit ended with (no re-solve).
* S: sum over subjects of the outer products of the per-subject OFV gradients.
* covariance (OFV = -2 log L units): ``r,s`` R^-1 S R^-1 (NONMEM default), ``r`` 2 R^-1,
  ``s`` 4 S^-1.
* ``fim``: the inverse of the expected information of the model linearized at eta-hat
  (``estimation.linearized_fim``; one engine evaluation, SAEM's default); where it does not
  apply (censored data, no theta sensitivities) the ``r,s`` step is taken, and the result's
  ``kind`` says so.

A failure (R not positive definite, a singular matrix) keeps the estimates and says in words
which parameters the offending direction involves.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nlme_lab.estimation.individual import SubjectEngine
from nlme_lab.estimation.linearized_fim import linearized_information
from nlme_lab.estimation.methods import CovarianceKind, MethodOptions
from nlme_lab.estimation.objective import Objective
from nlme_lab.estimation.parameters import ParameterSpace, ReportedScale
from nlme_lab.estimation.results import CovarianceResult

Z95 = 1.959963984540054
SINGULAR = 1e-5


def covariance_step(engine: SubjectEngine, space: ParameterSpace, z_hat: np.ndarray, etas_hat: np.ndarray,
                    options: MethodOptions) -> CovarianceResult:
    kind = options.covariance
    if kind is CovarianceKind.FIM:
        fim = _fim(engine, space, z_hat, etas_hat)
        if fim is not None:
            return fim
        kind = CovarianceKind.SANDWICH
        options = replace(options, covariance=kind)
    param = ReportedScale(space).with_base(z_hat)
    names = tuple(n for n, free in zip(space.reported_names(), param.free) if free)
    obj = Objective(engine, param, etas_hat, options.inner, options.outer.param_step, options.outer.eta_step)
    w0 = param.from_reported(z_hat)
    g0 = obj.gradient(w0, np.nan)  # eta-hat of the estimates is given: no inner solve
    if not np.all(np.isfinite(g0.per_subject)):
        return CovarianceResult(kind, names, None, None, None, "the gradient is not finite at the estimates")
    S = g0.per_subject.T @ g0.per_subject
    R = _r_matrix(obj, w0, etas_hat, options.covariance_step)
    if R is None:
        return CovarianceResult(kind, names, None, None, S, "the objective could not be evaluated near the estimates")
    cov, message = _combine(kind, R, S, names)
    return CovarianceResult(kind, names, cov, R, S, message)


def _fim(engine, space, z_hat, etas_hat) -> CovarianceResult | None:
    out = linearized_information(engine, space, z_hat, etas_hat)
    if out is None:
        return None
    info, names = out
    if not np.all(np.isfinite(info)):
        return CovarianceResult(CovarianceKind.FIM, names, None, None, None,
                                "the linearized Fisher information is not finite at the estimates")
    cov, message = _inverse(info, names, "Fisher information")
    return CovarianceResult(CovarianceKind.FIM, names, cov, 2.0 * info, None, message)


def _r_matrix(obj: Objective, w0, etas_hat, rel_step, resolve: bool = False) -> np.ndarray | None:
    """Central differences of the gradient, each at the eta-hat predicted to first order from
    the estimates (``Objective.anchor``; module docstring); without an anchor (a gradient that
    could not solve for d eta-hat/dv), or with ``resolve`` (the tests' reference), each point
    re-solves eta-hat, warm-started from the anchor."""
    n = len(w0)
    R = np.empty((n, n))
    anchor = obj.anchor
    for k in range(n):
        h = rel_step * max(abs(w0[k]), 1e-4)
        grads = []
        for sign in (1.0, -1.0):
            obj.etas, obj.anchor = etas_hat.copy(), anchor
            w = w0.copy()
            w[k] += sign * h
            if anchor is not None and not resolve:
                obj.etas = anchor.predict(w)
                g = obj.gradient(w, np.nan).gradient
            else:
                g = obj.value_and_gradient(w).gradient
            if not np.all(np.isfinite(g)):
                return None
            grads.append(g)
        R[:, k] = (grads[0] - grads[1]) / (2 * h)
    obj.etas, obj.anchor = etas_hat.copy(), anchor
    return 0.5 * (R + R.T)


def _combine(kind: CovarianceKind, R, S, names) -> tuple[np.ndarray | None, str]:
    if kind is CovarianceKind.S:
        inv, msg = _inverse(S, names, "S")
        return (None if inv is None else 4.0 * inv), msg
    inv, msg = _inverse(R, names, "R")
    if inv is None:
        return None, msg
    if kind is CovarianceKind.R:
        return 2.0 * inv, ""
    return inv @ S @ inv, ""


def _inverse(M, names, label) -> tuple[np.ndarray | None, str]:
    """Inverse of R or S, judged on the unit-free scaled matrix D^-1/2 M D^-1/2 (D = diag M).

    Differences leave relative noise of ~1e-7 in R, so a scaled eigenvalue below
    ``SINGULAR`` means the direction is not determined by the data.
    """
    d = np.diag(M)
    if np.any(d <= 0):
        bad = ", ".join(n for n, x in zip(names, d) if x <= 0)
        return None, (f"the {label} matrix is not positive definite: the objective does not curve upward "
                      f"in {bad} (the fit may not be at a minimum, or {bad} does not affect the data). "
                      "Estimates are kept, without SEs.")
    scale = 1.0 / np.sqrt(d)
    w, U = np.linalg.eigh(M * np.outer(scale, scale))
    if w[0] <= SINGULAR:
        v = U[:, 0]
        order = np.argsort(-np.abs(v))
        involved = ", ".join(f"{names[i]} ({v[i]:+.2f})" for i in order[:4] if abs(v[i]) > 0.1)
        what = "not positive definite" if w[0] < 0 else "singular"
        return None, (f"the {label} matrix is {what} (smallest eigenvalue of the scaled matrix {w[0]:.3g}): "
                      f"the objective is {'curved downward' if w[0] < 0 else 'flat'} along a direction made "
                      f"mostly of {involved}; these parameters are not identifiable from the data as the "
                      f"model stands (or the fit has not reached a minimum). Estimates are kept, without SEs.")
    return (U / w) @ U.T * np.outer(scale, scale), ""


def summarize(cov: CovarianceResult, estimates: dict[str, float]):
    """SE, RSE%, 95% CI, correlation matrix and condition number (of the correlation matrix)."""
    if not cov.ok:
        return {}, {}, {}, None, None
    se_vec = np.sqrt(np.clip(np.diag(cov.covariance), 0, None))
    se = {n: float(s) for n, s in zip(cov.names, se_vec)}
    rse = {n: float(100 * s / abs(estimates[n])) if estimates[n] != 0 else float("inf") for n, s in se.items()}
    ci = {n: (estimates[n] - Z95 * s, estimates[n] + Z95 * s) for n, s in se.items()}
    d = np.where(se_vec > 0, se_vec, np.nan)
    corr = cov.covariance / np.outer(d, d)
    w = np.linalg.eigvalsh(np.nan_to_num(corr))
    cond = float(w[-1] / w[0]) if w[0] > 0 else float("inf")
    return se, rse, ci, corr, cond
