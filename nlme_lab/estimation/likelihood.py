"""Per-observation pieces of the -2 log-likelihood, with derivatives in (f, V), on arrays.

Every observation contributes ``l(f, V)`` (no log(2 pi) constant), with V the residual variance
(``kernels.error_model``, the one definition of V and of the Gaussian term, applied here to
arrays and inlined there into the compiled kernels):

* observed: ``l = log V + (y - f)^2 / V``;
* censored (M3, M4): ``l = -2 log P``, ``P = Phi(b) - Phi(a)``, ``a = (lo - f)/sqrt(V)``,
  ``b = (hi - f)/sqrt(V)`` with lo = -inf (below DV) or hi = +inf (above DV) for M3.

Returned: ``l``, first derivatives ``l_f``, ``l_V`` and the 2x2 curvature matrix ``M`` (half the
second derivatives) used by the FOCE-type Hessian approximation: for observed values the
expected information (``M = diag(1/V, 1/(2 V^2))``, which gives NONMEM's FOCEI term
``g g'/V + 1/2 dV dV'/V^2``); for censored values the exact second derivatives projected on the
positive semi-definite cone.

log-normal endpoints are handled before this module: y, f, the limits and df/deta are moved to
the log scale (``to_log_scale``) and V = sd^2 does not depend on f.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from nlme_lab.estimation.problem import ResidualModel

LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class ResidualLayout:
    """Per-observation residual indices (-1 = term absent) and censoring bounds."""

    add: np.ndarray
    prop: np.ndarray
    log_scale: np.ndarray  # bool
    y: np.ndarray  # on the scale of the error model (log DV for lnorm endpoints)
    lo: np.ndarray  # censoring interval (-inf / +inf for open ends); nan for observed values
    hi: np.ndarray
    censored: np.ndarray  # bool

    @classmethod
    def build(cls, residual: ResidualModel, endpoint, dv, cens, limit) -> "ResidualLayout":
        eps = residual.endpoints
        add = np.array([e.add if e.add is not None else (e.lnorm if e.lnorm is not None else -1) for e in eps])
        prop = np.array([e.prop if e.prop is not None else -1 for e in eps])
        logs = np.array([e.lnorm is not None for e in eps])
        endpoint = np.asarray(endpoint, dtype=int)
        log_scale = logs[endpoint]
        dv = np.asarray(dv, dtype=float)
        limit = np.asarray(limit, dtype=float)
        cens = np.asarray(cens, dtype=int)
        lo = np.full(dv.shape, np.nan)
        hi = np.full(dv.shape, np.nan)
        m3_below = (cens == 1) & np.isnan(limit)
        m3_above = (cens == -1) & np.isnan(limit)
        interval = (cens != 0) & ~np.isnan(limit)
        lo[m3_below], hi[m3_below] = -np.inf, dv[m3_below]
        lo[m3_above], hi[m3_above] = dv[m3_above], np.inf
        lo[interval] = np.minimum(dv, limit)[interval]
        hi[interval] = np.maximum(dv, limit)[interval]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(log_scale, np.log(dv), dv)
            # a positive quantity below the limit lies in (0, LLOQ): log 0 = -inf, not log(-inf)
            lo = np.where(log_scale, np.log(np.maximum(lo, 0.0)), lo)
            hi = np.where(log_scale, np.log(hi), hi)
        return cls(add[endpoint], prop[endpoint], log_scale, y, lo, hi, cens != 0)

    def variance(self, sd: np.ndarray, fv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """V and dV/dfv for the variance-basis prediction ``fv`` (on the error scale).

        Batched: ``sd`` (..., n_sd) and ``fv`` (..., n_obs) broadcast over leading axes."""
        from nlme_lab.kernels.error_model import residual_variance, variance_slope

        sd = np.asarray(sd, dtype=float)
        sd_ext = np.concatenate([sd, np.zeros(sd.shape[:-1] + (1,))], axis=-1)  # index -1 -> 0
        a = sd_ext[..., self.add]
        p = sd_ext[..., self.prop]
        x = np.where(self.log_scale, 0.0, fv)
        return residual_variance(a, p, x), variance_slope(p, x)

    def to_log_scale(self, f: np.ndarray, g: np.ndarray | None):
        """Predictions (and derivatives) moved to the scale of the error model."""
        if not self.log_scale.any():
            return f, g
        with np.errstate(divide="ignore", invalid="ignore"):
            fl = np.where(self.log_scale, np.log(f), f)
            if g is not None:
                g = np.where(self.log_scale[:, None], g / f[:, None], g)
        return fl, g


@dataclass(frozen=True)
class ObsTerms:
    l: np.ndarray
    l_f: np.ndarray
    l_V: np.ndarray
    M: np.ndarray  # (n_obs, 2, 2)


def observation_terms(layout: ResidualLayout, f: np.ndarray, V: np.ndarray, exact: bool = False) -> ObsTerms:
    """``l`` and its derivatives for every observation (censored or not).

    With ``exact`` the observed-value curvature is the exact second derivative (used only by
    tests); otherwise the expected information (FOCE-type). ``f`` and ``V`` may carry leading
    batch axes (observations last).
    """
    from nlme_lab.kernels.error_model import gaussian_slopes, gaussian_term

    r = layout.y - f
    M = np.zeros(f.shape + (2, 2))
    with np.errstate(divide="ignore", invalid="ignore"):  # V = 0: non-finite terms, rejected upstream
        l = gaussian_term(np.log(V), r, V)
        l_f, l_V, M[..., 0, 0], M[..., 1, 1] = gaussian_slopes(r, V)
        if exact:
            M[..., 0, 1] = M[..., 1, 0] = r / (V * V)
            M[..., 1, 1] = 0.5 * (-1.0 / (V * V) + 2.0 * r * r / V**3)
    c = layout.censored
    if c.any():
        lc, lfc, lVc, Mc = _censored_terms(layout.lo[c], layout.hi[c], f[..., c], V[..., c], exact)
        l[..., c], l_f[..., c], l_V[..., c], M[..., c, :, :] = lc, lfc, lVc, Mc
    return ObsTerms(l, l_f, l_V, M)


def _log_prob(a, b):
    """log(Phi(b) - Phi(a)) for a < b, accurate in both tails."""
    upper = a > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lb, la = log_ndtr(b), log_ndtr(a)
        low_tail = lb + np.log1p(-np.exp(la - lb))
        ua, ub = log_ndtr(-a), log_ndtr(-b)
        up_tail = ua + np.log1p(-np.exp(ub - ua))
    return np.where(upper, up_tail, low_tail)


def _censored_terms(lo, hi, f, V, exact):
    s = np.sqrt(V)
    a = (lo - f) / s
    b = (hi - f) / s
    logP = _log_prob(a, b)
    a0 = np.where(np.isfinite(a), a, 0.0)
    b0 = np.where(np.isfinite(b), b, 0.0)
    ra = np.exp(np.where(np.isfinite(a), -0.5 * a0 * a0 - LOG_SQRT_2PI - logP, -np.inf))  # phi(a) / P
    rb = np.exp(np.where(np.isfinite(b), -0.5 * b0 * b0 - LOG_SQRT_2PI - logP, -np.inf))
    Pf = -(rb - ra) / s
    PV = -(rb * b0 - ra * a0) / (2 * V)
    Pff = -(b0 * rb - a0 * ra) / V
    PfV = (rb * (1 - b0 * b0) - ra * (1 - a0 * a0)) / (2 * s * V)
    PVV = (rb * b0 * (3 - b0 * b0) - ra * a0 * (3 - a0 * a0)) / (4 * V * V)
    l = -2.0 * logP
    l_f, l_V = -2.0 * Pf, -2.0 * PV
    M = np.empty(f.shape + (2, 2))
    M[..., 0, 0] = -(Pff - Pf * Pf)
    M[..., 0, 1] = M[..., 1, 0] = -(PfV - Pf * PV)
    M[..., 1, 1] = -(PVV - PV * PV)
    return l, l_f, l_V, (M if exact else _psd(M))


def _psd(M):
    """Project symmetric 2x2 matrices on the PSD cone (clip negative eigenvalues)."""
    w, U = np.linalg.eigh(M)
    w = np.clip(w, 0.0, None)
    return np.einsum("...ij,...j,...kj->...ik", U, w, U)
