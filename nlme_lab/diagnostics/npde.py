"""Prediction discrepancies from simulations: EPRED, NPD and NPDE (Brendel et al., Pharm Res
2006; Comets et al., Comput Methods Programs Biomed 2008), pure numpy.

For a subject with observations y (n_i) and K simulated vectors Y_k of its design:

* EPRED = mean_k Y_k; V = the empirical covariance of the Y_k (K - 1 denominator).
* NPD (no decorrelation): pd_j = the fraction of simulated Y_kj below y_j; NPD = Phi^-1(pd).
* NPDE: with V = L L' (Cholesky, ``Decorrelation.CHOLESKY``, the published method) or the
  symmetric root V^1/2 (``SYMMETRIC``), y* = W (y - EPRED) and Y*_k = W (Y_k - EPRED) for
  W = L^-1 or V^-1/2; pde_j = the fraction of Y*_kj below y*_j; NPDE = Phi^-1(pde).

Ties count one half (a simulated value equal to the observed one is half below it). A fraction
of 0 or 1 is moved to 1/(2K) or 1 - 1/(2K) so that Phi^-1 stays finite (a continuity
correction; the observation lies beyond every simulation).

Censored observations (CENS != 0; M3 below / above a limit, or an interval with LIMIT) are
imputed before decorrelation, in the manner of Nguyen et al. (2012): with F the empirical
distribution of the record's simulated values and (lo, hi) the censoring interval, a pd is
drawn uniformly on (F(lo), F(hi)) (from ``rng``) and the observation is replaced by the
simulated quantile at that pd; that pd is the record's NPD. Simulated values are never censored.
A subject whose simulated covariance is singular (e.g. a sample whose simulations are all
equal) gets NaN NPDEs; its NPDs are still computed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri


class Decorrelation(enum.Enum):
    CHOLESKY = "cholesky"
    SYMMETRIC = "symmetric"


@dataclass(frozen=True)
class Discrepancies:
    epred: np.ndarray  # (n_obs,)
    pd: np.ndarray
    npd: np.ndarray
    pde: np.ndarray
    npde: np.ndarray
    imputed: np.ndarray  # the observation used (imputed for censored records)


def discrepancies(y: np.ndarray, sims: np.ndarray, subject: np.ndarray, cens: np.ndarray | None = None,
                  lo: np.ndarray | None = None, hi: np.ndarray | None = None, rng=None,
                  decorrelation: Decorrelation = Decorrelation.CHOLESKY) -> Discrepancies:
    """EPRED, pd, NPD, pde and NPDE of observations ``y`` (n_obs,) given ``sims`` (K, n_obs).

    ``subject`` groups observations (any labels); ``cens`` non-zero marks censored records,
    whose interval is (``lo``, ``hi``) (-inf/+inf for open ends).
    """
    y = np.asarray(y, dtype=float)
    sims = np.asarray(sims, dtype=float)
    K = sims.shape[0]
    epred = sims.mean(axis=0)
    cens = np.zeros(y.shape, dtype=int) if cens is None else np.asarray(cens)
    y_used, pd = y.copy(), _fraction_below(sims, y)
    if np.any(cens != 0):
        rng = np.random.default_rng(rng)
        y_used, pd = _impute(y_used, pd, sims, cens != 0, lo, hi, rng)
    pde = np.full(y.shape, np.nan)
    for s in _groups(subject):
        pde[s] = _decorrelated_fraction(y_used[s], sims[:, s], epred[s], decorrelation)
    pd, pde = _clip(pd, K), _clip(pde, K)
    return Discrepancies(epred, pd, ndtri(pd), pde, ndtri(pde), y_used)


def _fraction_below(sims: np.ndarray, y: np.ndarray) -> np.ndarray:
    below = (sims < y[None, :]).sum(axis=0)
    ties = (sims == y[None, :]).sum(axis=0)
    return (below + 0.5 * ties) / sims.shape[0]


def _clip(p: np.ndarray, K: int) -> np.ndarray:
    eps = 0.5 / K
    return np.where(np.isnan(p), np.nan, np.clip(p, eps, 1.0 - eps))


def _groups(subject: np.ndarray):
    subject = np.asarray(subject)
    order = np.argsort(subject, kind="stable")
    _, starts = np.unique(subject[order], return_index=True)
    return np.split(order, starts[1:])


def _impute(y, pd, sims, censored, lo, hi, rng):
    y, pd = y.copy(), pd.copy()
    for j in np.flatnonzero(censored):
        col = np.sort(sims[:, j])
        f_lo = np.searchsorted(col, lo[j], side="right") / col.size if np.isfinite(lo[j]) else 0.0
        f_hi = np.searchsorted(col, hi[j], side="right") / col.size if np.isfinite(hi[j]) else 1.0
        u = rng.uniform(f_lo, f_hi) if f_hi > f_lo else f_lo
        pd[j] = u
        y[j] = np.quantile(col, u)
    return y, pd


def _decorrelated_fraction(y, Y, epred, decorrelation: Decorrelation) -> np.ndarray:
    n = y.size
    if Y.shape[0] <= n:
        return np.full(n, np.nan)
    V = np.cov(Y, rowvar=False).reshape(n, n)
    W = _whitener(V, decorrelation)
    if W is None:
        return np.full(n, np.nan)
    ys = W @ (y - epred)
    Ys = (Y - epred[None, :]) @ W.T
    return _fraction_below(Ys, ys)


def _whitener(V: np.ndarray, decorrelation: Decorrelation) -> np.ndarray | None:
    try:
        if decorrelation is Decorrelation.CHOLESKY:
            L = np.linalg.cholesky(V)
            return np.linalg.solve(L, np.eye(V.shape[0]))
        w, U = np.linalg.eigh(V)
        if w.min() <= 1e-12 * max(w.max(), 1e-300):
            return None
        return (U / np.sqrt(w)) @ U.T
    except np.linalg.LinAlgError:
        return None
