"""Fit statistics and the plain-words warnings of a fit."""

from __future__ import annotations

import numpy as np

from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.results import Termination
from nlme_lab.model.parameter_names import element_name
from nlme_lab.model.parameter_table import Scale

LOG_2PI = float(np.log(2 * np.pi))
RSE_LIMIT = 50.0
CORR_LIMIT = 0.95
OMEGA_CORR_LIMIT = 0.99
ZERO_SHRINKAGE = 95.0  # SD-based eta shrinkage (%) above which an omega counts as vanishing


def information_criteria(ofv: float, layout: ResidualLayout, n_free: int) -> tuple[float, float, float]:
    """loglik (with the constant), AIC and BIC (log of the number of observations).

    The N log(2 pi) constant counts uncensored observations: a censored one contributes a
    probability, which has no such constant.
    """
    n_obs = len(layout.y)
    n_density = int(np.sum(~layout.censored))
    m2ll = ofv + n_density * LOG_2PI
    return -0.5 * m2ll, m2ll + 2 * n_free, m2ll + n_free * np.log(max(n_obs, 1))


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
    out += _boundary_warnings(space, estimates, shrink)
    out += _omega_correlation_warnings(space, estimates)
    if obj.not_converged:
        out.append(f"the individual (eta) problem did not converge for {obj.not_converged} subject(s)")
    if obj.last_terms is not None and obj.last_terms.n_hessian_fallback:
        out.append(f"the eta-Hessian was not positive definite for {obj.last_terms.n_hessian_fallback} "
                   "subject(s); the FOCEI curvature was used for them")
    return out


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
            if z < 1e-3 * init[k] or sh > ZERO_SHRINKAGE:
                out.append(f"the variance of {name} went to zero ({z:.3g}, from {init[k]:.3g}; eta shrinkage "
                           f"{sh:.0f}%): the data do not support this random effect")
            continue
        for bound, side in ((lo[k], "lower"), (hi[k], "upper")):
            if np.isfinite(bound) and abs(z - bound) <= 1e-4 * max(1.0, abs(bound), abs(z)):
                out.append(f"{name} = {z:.6g} is at its {side} bound {bound:g}")
    return out


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
