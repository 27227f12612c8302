"""Bins of the independent variable for VPCs.

* ``BinningKind.AUTO`` (the default): bins that follow the design (``auto_edges``): the
  nominal times that samples cluster around are found from the gaps in the sorted times, each
  cluster is a bin unless it holds too few observations, and every time point is in a bin;
* ``BinningKind.QUANTILE``: edges at the quantiles 0, 1/n, ..., 1 of the observed x (numpy's
  linear interpolation); repeated edges (many records at one nominal time) are merged, so
  there can be fewer than ``n_bins`` bins;
* ``BinningKind.EQUAL``: ``n_bins`` bins of equal width from the smallest to the largest x;
* ``BinningKind.EDGES``: the given increasing edges; records outside them are left out.

A record with ``edges[k] <= x < edges[k + 1]`` is in bin k; the last bin includes its right edge.
A VPC draws each bin at the median x of its observations.
"""

from __future__ import annotations

import enum

import numpy as np

from nlme_lab.errors import NlmeError

DEFAULT_N_BINS = 8  # quantile and equal-width bins
AUTO_GAP = 0.05  # a gap between sorted times wider than this on the log scale (about 5 %) starts a new cluster
AUTO_WIDE = float(np.log(2.0))  # a cluster spanning more than a factor 2 in time is sampled continuously
AUTO_MIN_OBS = 10  # fewest observations of an automatic bin (fewer for small data sets)
AUTO_MAX_BINS = 20  # most automatic bins unless n_bins says otherwise


class BinningKind(enum.Enum):
    AUTO = "auto"
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
            raise NlmeError(f"bins={bins!r}: expected 'auto', 'quantile', 'equal' or an array of edges") from None
    return BinningKind.EDGES


def bin_edges(x: np.ndarray, bins="auto", n_bins: int | None = None) -> np.ndarray:
    """Increasing bin edges for the finite values of ``x``. ``n_bins``: the number of quantile or
    equal-width bins (default ``DEFAULT_N_BINS``), the most automatic bins (default
    ``AUTO_MAX_BINS``)."""
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
    if n_bins is not None and int(n_bins) < 1:
        raise NlmeError(f"n_bins must be at least 1, got {n_bins}")
    if kind is BinningKind.AUTO:
        return auto_edges(x, max_bins=AUTO_MAX_BINS if n_bins is None else int(n_bins))
    n_bins = DEFAULT_N_BINS if n_bins is None else int(n_bins)
    if kind is BinningKind.EQUAL:
        lo, hi = float(x.min()), float(x.max())
        if hi == lo:
            return np.array([lo, lo + 1.0]) if lo == 0 else np.array([lo, lo * (1 + 1e-12) + 1e-12])
        return np.linspace(lo, hi, n_bins + 1)
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)))
    return _one_value(edges[0]) if edges.size == 1 else edges


def _one_value(v: float) -> np.ndarray:
    return np.array([v, np.nextafter(v, np.inf)])


def auto_edges(x: np.ndarray, *, max_bins: int = AUTO_MAX_BINS, min_obs: int | None = None) -> np.ndarray:
    """Edges of bins that follow the sampling design of ``x`` (finite values).

    Times are compared on a log scale, ``z = log(x + c)`` with ``c`` half the smallest positive
    time (so 0.5 h and 1 h are as far apart as 12 h and 24 h, and time 0 is not infinitely far
    from the next; negative x are shifted to start at 0 first):

    1. sorted distinct times closer than ``AUTO_GAP`` in z are one cluster (samples taken around
       one nominal time); a wider gap starts the next cluster. The gap is small on purpose:
       a sparse cluster cut in pieces is put together again by step 3 (its pieces are thin),
       while two nominal times are never joined unless they are thin themselves;
    2. a cluster spanning more than ``AUTO_WIDE`` in z is a stretch of continuous sampling and
       is cut into quantile pieces of at least ``2 min_obs`` observations;
    3. while some cluster has fewer than ``min_obs`` observations (default ``AUTO_MIN_OBS``, or an
       eighth of the data for small sets), the smallest joins the neighbour across the narrower gap;
    4. while there are more than ``max_bins``, the two neighbours with the narrowest gap join.

    Edges lie halfway between neighbouring clusters; the first and last edges are the smallest
    and largest time, so every time point, the last included, is in a bin. This follows the idea
    of PsN's automatic binning (bins that do not split the clusters of the design) by gaps
    rather than by its optimisation.
    """
    values, counts = np.unique(np.asarray(x, dtype=float), return_counts=True)
    if values.size == 1:
        return _one_value(float(values[0]))
    if min_obs is None:
        min_obs = min(AUTO_MIN_OBS, max(2, int(counts.sum()) // 8))
    z = _log_scale(values)
    groups = _gap_clusters(z)
    groups = [piece for g in groups for piece in _split_wide(g, z, counts, min_obs)]
    groups = _merge_small(groups, z, counts, min_obs)
    while len(groups) > max(1, int(max_bins)):
        k = int(np.argmin(_gaps(groups, z)))
        groups[k:k + 2] = [(groups[k][0], groups[k + 1][1])]
    inner = [0.5 * (values[a[1] - 1] + values[b[0]]) for a, b in zip(groups[:-1], groups[1:])]
    return np.array([values[0], *inner, values[-1]], dtype=float)


def _log_scale(values: np.ndarray) -> np.ndarray:
    """``log(x + c)`` of sorted distinct values (see ``auto_edges``)."""
    shifted = values - min(float(values[0]), 0.0)
    return np.log(shifted + 0.5 * shifted[shifted > 0][0])


def _gap_clusters(z: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [start, stop) of distinct values split where the gap exceeds AUTO_GAP."""
    cuts = np.flatnonzero(np.diff(z) > AUTO_GAP) + 1
    bounds = [0, *cuts.tolist(), z.size]
    return list(zip(bounds[:-1], bounds[1:]))


def _split_wide(group, z, counts, min_obs: int) -> list[tuple[int, int]]:
    a, b = group
    n = int(counts[a:b].sum())
    pieces = min(int(np.ceil((z[b - 1] - z[a]) / AUTO_WIDE)), n // (2 * min_obs))
    if pieces < 2:
        return [group]
    cum = np.cumsum(counts[a:b])
    cuts = np.unique(np.searchsorted(cum, n * np.arange(1, pieces) / pieces) + 1)  # between distinct values
    bounds = [a, *(a + c for c in cuts.tolist() if 0 < c < b - a), b]
    return list(zip(bounds[:-1], bounds[1:]))


def _gaps(groups, z) -> np.ndarray:
    """Gap in z between each group and the next."""
    return np.array([z[b[0]] - z[a[1] - 1] for a, b in zip(groups[:-1], groups[1:])])


def _merge_small(groups, z, counts, min_obs: int) -> list[tuple[int, int]]:
    groups = list(groups)
    while len(groups) > 1:
        sizes = [int(counts[a:b].sum()) for a, b in groups]
        k = int(np.argmin(sizes))
        if sizes[k] >= min_obs:
            break
        gaps = _gaps(groups, z)
        left = gaps[k - 1] if k > 0 else np.inf
        right = gaps[k] if k < len(groups) - 1 else np.inf
        j = k - 1 if left <= right else k  # join k with its nearer neighbour: groups j and j + 1
        groups[j:j + 2] = [(groups[j][0], groups[j + 1][1])]
    return groups


def assign_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of every value (-1 outside the edges or not finite)."""
    x = np.asarray(x, dtype=float)
    k = np.searchsorted(edges, x, side="right") - 1
    k = np.where(x == edges[-1], edges.size - 2, k)
    k = np.where((k < 0) | (k > edges.size - 2) | ~np.isfinite(x), -1, k)
    return k.astype(np.int64)
