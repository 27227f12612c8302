"""Fit statistics and the plain-words warnings of a fit."""

from __future__ import annotations

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.results import Termination
from nlme_lab.model.parameter_names import element_name
from nlme_lab.model.parameter_table import ParameterKind, Scale

LOG_2PI = float(np.log(2 * np.pi))
RSE_LIMIT = 50.0
CORR_LIMIT = 0.95
OMEGA_CORR_LIMIT = 0.99
HIGH_SHRINKAGE = 95.0  # SD-based eta shrinkage (%) above which the EBEs say almost nothing
VANISHING = 1e-3  # a variance or residual SD below this fraction of its initial value went to zero
FLAT = 1e-8  # smallest eigenvalue of the scaled S matrix below which a direction is not identified


def information_criteria(ofv: float, layout: ResidualLayout, n_free: int) -> tuple[float, float, float]:
    """loglik (with the constant), AIC and BIC (log of the number of observations).

    The N log(2 pi) constant counts uncensored observations: a censored one contributes a
    probability, which has no such constant.
    """
    n_obs = len(layout.y)
    n_density = int(np.sum(~layout.censored))
    m2ll = ofv + n_density * LOG_2PI
    return -0.5 * m2ll, m2ll + 2 * n_free, m2ll + n_free * np.log(max(n_obs, 1))


def failure_words(err: BaseException) -> str:
    """What an exception that ended a fit was, in words: the message of an ``NlmeError`` (it
    names the subject or row), else the kind of numerical trouble and the exception."""
    if isinstance(err, NlmeError):
        return str(err)
    if isinstance(err, ZeroDivisionError):
        what = "a division by zero"
    elif isinstance(err, (OverflowError, FloatingPointError)):
        what = "an overflow"
    elif isinstance(err, np.linalg.LinAlgError):
        what = "a singular or non-finite matrix"
    else:
        what = "an unexpected error"
    detail = str(err).strip()
    return f"{what} ({type(err).__name__}{': ' + detail if detail else ''})"


def observation_place(problem, k: int) -> str:
    """Observation ``k`` in the user's terms: its data row, ID and time for a model bound to a
    dataset, else its index and subject index."""
    bound = getattr(problem, "bound", None)
    subject = int(np.asarray(problem.obs_subject)[k])
    if bound is None or not hasattr(problem, "obs_rec"):
        return f"observation {k} (subject index {subject})"
    ds = bound.dataset
    rec = int(problem.obs_rec[k])
    return f"data row {int(ds.rows[rec])} (ID {ds.ids[subject]}, time {float(ds.time[rec]):g})"


def initial_failure(problem, layout: ResidualLayout, space, err: BaseException | None = None) -> NlmeError:
    """Why the objective is not finite at the initial estimates, located where it can be: the first
    observation whose prediction (etas 0) or likelihood term is not finite, with its DV and
    prediction, and the exception that ended the evaluation, if any. The problem's
    ``last_failure`` (an engine failure met on the way, maybe at other etas) is replaced by the
    one of this evaluation."""
    from nlme_lab.estimation.likelihood import observation_terms

    values = space.values_from_reported(space.reported_initial())
    what = "the objective is not finite at the initial estimates"
    cause = f"; {failure_words(err)}" if err is not None else ""
    if hasattr(problem, "last_failure"):
        problem.last_failure = ""
    try:
        f = np.asarray(problem.evaluate(values.theta, np.zeros((problem.n_subjects, problem.n_eta)),
                                        derivs=False).f, dtype=float)
    except (ArithmeticError, np.linalg.LinAlgError) as again:
        return NlmeError(f"{what}: the predictions cannot be computed there ({failure_words(again)})")
    fs = layout.to_log_scale(f, None)[0]
    with np.errstate(all="ignore"):
        V = layout.variance(values.sd, fs)[0]
        terms = observation_terms(layout, fs, V).l
    bad_f, bad_l = np.flatnonzero(~np.isfinite(fs)), np.flatnonzero(~np.isfinite(terms))
    if bad_f.size:
        engine = getattr(problem, "last_failure", "")
        what += f": the prediction is not finite at {observation_place(problem, bad_f[0])}" + (
            f" ({engine})" if engine else "")
    elif bad_l.size:
        k = bad_l[0]
        what += (f": the likelihood of {observation_place(problem, k)} is not finite (DV {problem.dv[k]:g}, "
                 f"prediction {f[k]:g}, residual SD {np.sqrt(V[k]):g}): check that value and its units")
    else:
        what += " (not at etas 0: in the individual eta problems; check the initial values)"
    if hasattr(problem, "last_failure"):
        problem.last_failure = ""  # told here, not again by the caller
    return NlmeError(what + cause)


def collect_warnings(space, estimates, rse, cov, corr, shrink, obj, termination) -> list[str]:
    out = []
    if termination not in (Termination.CONVERGED, Termination.EVALUATED):
        out.append(f"the fit did not converge: {termination.value}")
    if cov is not None and not cov.ok:
        out.append(f"covariance step failed: {cov.message}")
    for name, r in rse.items():
        if r > RSE_LIMIT:
            out.append(f"{name} is poorly estimated: RSE {r:.0f}% (> {RSE_LIMIT:.0f}%)")
    if corr is not None:
        names = cov.names
        for i in range(len(names)):
            for j in range(i):
                if abs(corr[i, j]) > CORR_LIMIT:
                    out.append(f"{names[j]} and {names[i]} are strongly correlated (r = {corr[i, j]:+.3f}): "
                               "the data hardly separate them")
    out += _unmoved_warnings(space, estimates, termination)
    out += _censoring_warnings(obj)
    out += _boundary_warnings(space, estimates, shrink)
    out += _omega_correlation_warnings(space, estimates)
    if obj.not_converged:
        out.append(f"the individual (eta) problem did not converge for {obj.not_converged} subject(s)")
    if obj.last_terms is not None and obj.last_terms.n_hessian_fallback:
        out.append(f"the eta-Hessian was not positive definite for {obj.last_terms.n_hessian_fallback} "
                   "subject(s); the FOCEI curvature was used for them")
    return out


def _unmoved_warnings(space, estimates, termination) -> list[str]:
    """A fit that ended where it started: the objective hardly depends on the parameters there
    (predictions far from every observation, a covariate on the wrong scale)."""
    free = ~space.reported_fixed()
    if not free.any() or termination in (Termination.STOPPED, Termination.EVALUATED):
        return []
    init = space.reported_initial()[free]
    z = np.array([estimates[n] for n, f in zip(space.reported_names(), free) if f])
    if not np.all(np.abs(z - init) <= 1e-8 * np.maximum(np.abs(init), 1e-8)):
        return []
    return ["no parameter moved from its initial value: the objective hardly changes with the parameters there "
            "(are the predictions far from every observation? check the units of the data and the scale of "
            "the covariates)"]


def _censoring_warnings(obj) -> list[str]:
    layout = getattr(getattr(obj, "engine", None), "layout", None)
    if layout is None or not len(layout.censored) or not np.all(layout.censored):
        return []
    return ["every observation is censored (CENS != 0): the data say only that the predictions lie beyond the "
            "limits, and the M3 likelihood is largest (OFV near 0) wherever they lie far beyond them, so the data "
            "do not determine the estimates"]


def flat_directions(per_subject, names) -> list[str]:
    """Parameters the data cannot tell apart, from the per-subject OFV gradients at the estimates
    (``per_subject`` (n_subjects, n_free), the free parameters ``names``), for a fit without a
    covariance step (which says the same from R): S = sum_i g_i g_i' is singular along a
    direction that no subject's likelihood changes in, e.g. two thetas that enter the model only
    as a sum or a product. Judged on the scaled S (unit diagonal), as the covariance step is."""
    G = None if per_subject is None else np.asarray(per_subject, dtype=float)
    if G is None or G.ndim != 2 or G.shape[1] < 2 or G.shape[0] < G.shape[1] or not np.all(np.isfinite(G)):
        return []
    d = np.einsum("ij,ij->j", G, G)
    if np.any(d <= 0):
        return [f"{n} does not change the objective of any subject: it is not identifiable from the data"
                for n, x in zip(names, d) if x <= 0]
    scaled = G / np.sqrt(d)
    w, U = np.linalg.eigh(scaled.T @ scaled)
    if w[0] > FLAT:
        return []
    v = U[:, 0]
    involved = ", ".join(f"{names[i]} ({v[i]:+.2f})" for i in np.argsort(-np.abs(v))[:4] if abs(v[i]) > 0.1)
    return [f"the data cannot tell apart {involved}: no subject's likelihood changes along this combination "
            f"(smallest eigenvalue of the scaled gradient cross-product {w[0]:.2g}), so these parameters are not "
            "identifiable as the model stands (they enter only as a sum or a product, or play interchangeable "
            "roles, as two rate constants of a chain that started equal)"]


def _boundary_warnings(space, estimates, shrink) -> list[str]:
    out = []
    lo, hi = space.reported_bounds()
    fixed = space.reported_fixed()
    init = space.reported_initial()
    for k, entry in enumerate(space.table.entries):
        if fixed[k]:
            continue
        name = entry.name
        z = estimates[name]
        if entry.scale is Scale.VARIANCE:
            sh = shrink.eta_sd.get(name, np.nan) if shrink is not None else np.nan
            if z < VANISHING * init[k]:
                out.append(f"the variance of {name} went to zero ({z:.3g}, from {init[k]:.3g}): the data do not "
                           "support this random effect")
            elif sh > HIGH_SHRINKAGE:
                out.append(f"the eta shrinkage of {name} is {sh:.0f}% (variance {z:.3g}): its individual estimates "
                           "stay near 0, so they say little about the subjects (plots of them mislead)")
            continue
        if entry.kind is ParameterKind.RESIDUAL and 0 <= z < VANISHING * init[k]:
            out.append(_vanishing_sd(space, estimates, name, z, init[k]))
            continue
        for bound, side in ((lo[k], "lower"), (hi[k], "upper")):
            if np.isfinite(bound) and abs(z - bound) <= 1e-4 * max(1.0, abs(bound), abs(z)):
                out.append(f"{name} = {z:.6g} is at its {side} bound {bound:g}")
    return out


def _vanishing_sd(space, estimates, name: str, z: float, init: float) -> str:
    """A residual SD at (nearly) zero: one term of a combined error model that is not needed, or,
    when every residual term of its endpoint vanished, predictions through every observation."""
    sds = space.residual.sd_names
    k = sds.index(name)
    partners = {sds[j] for ep in space.residual.endpoints for j in (ep.add, ep.prop, ep.lnorm)
                if j is not None and k in (ep.add, ep.prop, ep.lnorm) and j != k}
    start = f"the residual SD {name} went to zero ({z:.3g}, from {init:.3g})"
    if any(estimates[p] >= VANISHING * space.residual.sds[sds.index(p)].init for p in partners):
        return f"{start}: this term of the error model is not needed (the other term carries the residual error)"
    return (f"{start}: the predictions pass through the observations, which happens with too few observations "
            "per subject or parameter; the likelihood has no maximum there and the estimates mean little")


def _omega_correlation_warnings(space, estimates) -> list[str]:
    """An estimated omega block whose correlation reaches +-1 is (near) singular."""
    out = []
    for block in space.omega:
        if block.fixed or block.size < 2:
            continue
        for i in range(block.size):
            for j in range(i):
                a, b = block.names[j], block.names[i]
                cov = estimates[element_name(b, a)]
                denom = np.sqrt(max(estimates[a] * estimates[b], 0.0))
                r = cov / denom if denom > 0 else np.nan
                if not abs(r) < OMEGA_CORR_LIMIT:
                    out.append(f"the correlation of {a} and {b} reached {r:+.4f}: the omega block is (nearly) "
                               "singular; the two random effects move as one (consider one shared eta)")
    return out
