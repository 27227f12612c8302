"""Bins of the independent variable for VPCs.

* ``BinningKind.QUANTILE``: edges at the quantiles 0, 1/n, ..., 1 of the observed x (numpy's
  linear interpolation); repeated edges (many records at one nominal time) are merged, so
  there can be fewer than ``n_bins`` bins;
* ``BinningKind.EQUAL``: ``n_bins`` bins of equal width from the smallest to the largest x;
* ``BinningKind.EDGES``: the given increasing edges; records outside them are left out.

A record with ``edges[k] <= x < edges[k + 1]`` is in bin k; the last bin includes its right edge.
"""

from __future__ import annotations

import enum

import numpy as np

from nlme_lab.errors import NlmeError


class BinningKind(enum.Enum):
    QUANTILE = "quantile"
    EQUAL = "equal"
    EDGES = "edges"


def binning_kind(bins) -> BinningKind:
    if isinstance(bins, BinningKind):
        return bins
    if isinstance(bins, str):
        try:
            return BinningKind(bins.lower())
        except ValueError:
            raise NlmeError(f"bins={bins!r}: expected 'quantile', 'equal' or an array of edges") from None
    return BinningKind.EDGES


def bin_edges(x: np.ndarray, bins="quantile", n_bins: int = 8) -> np.ndarray:
    """Increasing bin edges for the finite values of ``x``."""
    kind = binning_kind(bins)
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if kind is BinningKind.EDGES:
        edges = np.asarray(bins, dtype=float).ravel()
        if edges.size < 2 or not np.all(np.diff(edges) > 0) or not np.all(np.isfinite(edges)):
            raise NlmeError(f"bin edges must be at least two finite increasing values, got {edges.tolist()}")
        return edges
    if x.size == 0:
        raise NlmeError("no observations to bin")
    if int(n_bins) < 1:
        raise NlmeError(f"n_bins must be at least 1, got {n_bins}")
    if kind is BinningKind.EQUAL:
        lo, hi = float(x.min()), float(x.max())
        if hi == lo:
            return np.array([lo, lo + 1.0]) if lo == 0 else np.array([lo, lo * (1 + 1e-12) + 1e-12])
        return np.linspace(lo, hi, int(n_bins) + 1)
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, int(n_bins) + 1)))
    if edges.size == 1:
        edges = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    return edges


def assign_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of every value (-1 outside the edges or not finite)."""
    x = np.asarray(x, dtype=float)
    k = np.searchsorted(edges, x, side="right") - 1
    k = np.where(x == edges[-1], edges.size - 2, k)
    k = np.where((k < 0) | (k > edges.size - 2) | ~np.isfinite(x), -1, k)
    return k.astype(np.int64)
