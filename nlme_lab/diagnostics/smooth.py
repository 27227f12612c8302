"""Smoothers for the goodness-of-fit scatter plots (computed here, drawn by ``plots``).

* ``loess``: locally weighted linear regression (Cleveland 1979) with tricube weights over the
  ``span`` fraction of nearest points, evaluated on a grid; ``iterations`` robustness steps
  with bisquare weights of the residuals (0: plain local regression).
* ``moving_average``: the mean of y over a window of ``window`` points centred on each x,
  after sorting by x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Smooth:
    x: np.ndarray
    y: np.ndarray
    method: str


def loess(x, y, *, span: float = 2 / 3, iterations: int = 2, n_grid: int = 50) -> Smooth:
    """The loess curve of (x, y) on ``n_grid`` points between min(x) and max(x)."""
    x, y = _finite(x, y)
    if x.size < 3 or np.ptp(x) == 0:
        return Smooth(np.array([]), np.array([]), "loess")
    grid = np.linspace(x.min(), x.max(), int(n_grid))
    q = max(2, min(x.size, int(np.ceil(span * x.size))))
    robust = np.ones_like(y)
    for _ in range(int(iterations)):
        fitted = _local_linear(x, y, robust, x, q)
        r = y - fitted
        s = np.median(np.abs(r))
        if s == 0:
            break
        u = r / (6 * s)
        robust = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
    return Smooth(grid, _local_linear(x, y, robust, grid, q), "loess")


def _local_linear(x, y, robust, at, q):
    out = np.empty(at.size)
    for k, x0 in enumerate(at):
        d = np.abs(x - x0)
        h = np.partition(d, q - 1)[q - 1]
        h = h if h > 0 else (d[d > 0].min() if (d > 0).any() else 1.0)
        w = np.clip(1 - (d / (h * 1.000001)) ** 3, 0, None) ** 3 * robust
        sw = w.sum()
        if sw <= 0:
            out[k] = np.nan
            continue
        xm, ym = (w * x).sum() / sw, (w * y).sum() / sw
        sxx = (w * (x - xm) ** 2).sum()
        slope = (w * (x - xm) * (y - ym)).sum() / sxx if sxx > 0 else 0.0
        out[k] = ym + slope * (x0 - xm)
    return out


def moving_average(x, y, *, window: int = 15) -> Smooth:
    x, y = _finite(x, y)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    half = max(0, int(window) // 2)
    c = np.concatenate([[0.0], np.cumsum(ys)])
    idx = np.arange(xs.size)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, xs.size)
    return Smooth(xs, (c[hi] - c[lo]) / (hi - lo), "moving average")


def _finite(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]
