"""Bootstrap confidence intervals from a column of replicate estimates.

* Percentile (PsN's rule): the p-quantile is the (n+1)p-th smallest of the n replicates,
  interpolated linearly between neighbours (``numpy.quantile(..., method="weibull")`` is the
  same rule). It needs (n+1) min(p, 1-p) >= 1, i.e. 39 replicates for a 95% interval: with
  fewer an interval is refused and the reason given, rather than clipped to the extremes.
* BCa (Efron 1987): z0 = Phi^-1(share of replicates below the original estimate, ties count one
  half), acceleration a = sum(d^3) / (6 (sum(d^2))^1.5) with d = mean(J) - J_i over jackknife
  (leave-one-subject-out) estimates J_i; the limits are the percentile-rule quantiles at
  Phi(z0 + (z0 + z) / (1 - a (z0 + z))) for z = Phi^-1(alpha/2), Phi^-1(1 - alpha/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    note: str = ""  # why there is no interval (empty when there is one)


def minimum_replicates(level: float) -> int:
    """The fewest replicates whose percentile-rule interval at ``level`` needs no extrapolation
    ((n+1) alpha/2 >= 1): 39 for 95%, 19 for 90%."""
    return math.ceil(2.0 / (1.0 - level) - 1.0 - 1e-9)


def rule_quantile(values: np.ndarray, p: float) -> float:
    """The (n+1)p-th smallest of ``values``, interpolated; NaN outside 1..n."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    h = (n + 1) * p
    if n == 0 or h < 1 - 1e-12 or h > n + 1e-12:
        return float("nan")
    lo = max(1, min(math.floor(h), n))
    if lo >= n:
        return float(x[n - 1])
    return float(x[lo - 1] + (h - lo) * (x[lo] - x[lo - 1]))


def percentile_interval(values, level: float = 0.95) -> Interval:
    values = _finite(values)
    need = minimum_replicates(level)
    if values.size < need:
        return Interval(math.nan, math.nan, f"{values.size} successful replicates: a {100 * level:g}% percentile "
                                            f"interval needs at least {need}")
    alpha = 1.0 - level
    return Interval(rule_quantile(values, alpha / 2), rule_quantile(values, 1 - alpha / 2))


def bca_interval(values, original: float, jackknife, level: float = 0.95) -> Interval:
    values, jack = _finite(values), _finite(jackknife)
    need = minimum_replicates(level)
    if values.size < need:
        return Interval(math.nan, math.nan, f"{values.size} successful replicates: a {100 * level:g}% BCa "
                                            f"interval needs at least {need}")
    if jack.size < 3:
        return Interval(math.nan, math.nan, f"{jack.size} jackknife estimates: BCa needs at least 3")
    below = (np.count_nonzero(values < original) + 0.5 * np.count_nonzero(values == original)) / values.size
    if below <= 0.0 or below >= 1.0:
        return Interval(math.nan, math.nan, "every replicate lies on one side of the original estimate: "
                                            "no bias correction is defined")
    z0 = float(ndtri(below))
    d = jack.mean() - jack
    denom = 6.0 * float(np.sum(d ** 2)) ** 1.5
    a = float(np.sum(d ** 3)) / denom if denom > 0 else 0.0
    alpha = 1.0 - level
    ps = []
    for z in (ndtri(alpha / 2), ndtri(1 - alpha / 2)):
        ps.append(float(ndtr(z0 + (z0 + z) / (1.0 - a * (z0 + z)))))
    low, high = rule_quantile(values, ps[0]), rule_quantile(values, ps[1])
    if not (np.isfinite(low) and np.isfinite(high)):
        return Interval(math.nan, math.nan, f"the BCa-adjusted levels {ps[0]:.4f}, {ps[1]:.4f} fall beyond the "
                                            f"{values.size} replicates: more are needed")
    return Interval(low, high)


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]
