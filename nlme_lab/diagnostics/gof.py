"""The numbers behind the goodness-of-fit figures, from a ``ResidualTable`` (and a fit).

* ``qq_points``: sorted values against standard normal quantiles at (i - 0.5) / n (Hazen).
* ``eta_covariates``: per subject, EBEs beside the covariates of the subject's first record;
  a covariate with at most ``max_levels`` distinct values is categorical.
* ``box_stats``: per category, quartiles (numpy's linear interpolation), whiskers at the most
  extreme values within 1.5 IQR of the box, and the outliers beyond.
* ``convergence_table``: ``fit.history`` as a table (ITERATION, OFV, one column per parameter).
* ``histogram``: counts on equal-width bins (numpy's rule ``"auto"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri


@dataclass(frozen=True)
class QQ:
    theoretical: np.ndarray
    sample: np.ndarray
    ids: np.ndarray | None = None  # the subject of each sorted value
    times: np.ndarray | None = None


def qq_points(values, ids=None, times=None) -> QQ:
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    order = np.argsort(v[ok], kind="stable")
    n = int(ok.sum())
    theo = ndtri((np.arange(1, n + 1) - 0.5) / n) if n else np.array([])
    pick = lambda a: None if a is None else np.asarray(a)[ok][order]  # noqa: E731
    return QQ(theo, v[ok][order], pick(ids), pick(times))


@dataclass(frozen=True)
class Histogram:
    edges: np.ndarray
    counts: np.ndarray


def histogram(values, bins="auto") -> Histogram:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    counts, edges = np.histogram(v, bins=bins)
    return Histogram(edges, counts)


def eta_covariates(table, max_levels: int = 5) -> tuple[pd.DataFrame, dict[str, bool]]:
    """(one row per subject: ID, EBEs, covariates; covariate name -> categorical?)"""
    rec = table.records.drop_duplicates("ID", keep="first").set_index("ID")
    subjects = table.subjects.set_index("ID")
    frame = subjects[list(table.eta_names)].copy()
    kinds = {}
    for name in table.covariate_names:
        if name in rec.columns:
            frame[name] = rec[name].reindex(frame.index).to_numpy()
            kinds[name] = int(pd.Series(frame[name]).nunique()) <= max_levels
    return frame.reset_index(), kinds


@dataclass(frozen=True)
class BoxStats:
    levels: tuple
    q1: np.ndarray
    median: np.ndarray
    q3: np.ndarray
    lower: np.ndarray  # lower whisker
    upper: np.ndarray
    n: np.ndarray
    outliers: tuple[np.ndarray, ...]


def box_stats(groups, values) -> BoxStats:
    groups, values = np.asarray(groups), np.asarray(values, dtype=float)
    levels = tuple(sorted(set(groups[np.isfinite(values)].tolist())))
    cols = {k: [] for k in ("q1", "median", "q3", "lower", "upper", "n")}
    outliers = []
    for level in levels:
        v = values[(groups == level) & np.isfinite(values)]
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        iqr = q3 - q1
        inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
        for key, val in zip(cols, (q1, med, q3, inside.min(), inside.max(), v.size)):
            cols[key].append(val)
        outliers.append(v[(v < q1 - 1.5 * iqr) | (v > q3 + 1.5 * iqr)])
    return BoxStats(levels, *(np.asarray(cols[k]) for k in cols), tuple(outliers))


def convergence_table(fit) -> pd.DataFrame:
    """ITERATION, OFV and every reported parameter per history entry of ``fit``."""
    rows = [{"ITERATION": h.iteration, "OFV": h.ofv, **h.estimates} for h in fit.history]
    return pd.DataFrame(rows)
