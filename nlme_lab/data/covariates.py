"""Time-varying covariates: which value applies to the interval ending at each record.

Two steps, both within subject, never across subjects:

1. **Missing cells** (``.``, empty, NaN) are filled:
   ``nocb``: from the next non-missing record of the subject; trailing ones from the last
   non-missing. ``locf``: from the previous non-missing record; leading ones from the first
   non-missing. A covariate missing on every record of a subject stays NaN, with a
   DataWarning naming the subject and column.
2. **The value applying to record i** (the interval from record i-1 to record i):
   ``nocb`` (NONMEM): record i's own value. ``locf``: record i-1's value (the first record
   of a subject keeps its own).

So with WT = 70 at t = 0 and WT = 80 at t = 24 (and no record between), the interval
0 - 24 h uses 80 under ``nocb`` (NONMEM's rule) and 70 under ``locf``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlme_lab.data.issues import warn_each
from nlme_lab.data.kinds import CovariateFill


def fill(values: np.ndarray, offsets: np.ndarray, how: CovariateFill) -> np.ndarray:
    """(n_rec, n_cov) filled and shifted covariates; NaN only for all-missing subjects."""
    if values.shape[1] == 0 or values.shape[0] == 0:
        return values.astype(np.float64, copy=True)
    subject = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    frame = pd.DataFrame(values)
    groups = frame.groupby(subject, sort=False)
    if how is CovariateFill.NOCB:
        filled = groups.bfill()
        filled = filled.fillna(filled.groupby(subject, sort=False).ffill())
    else:
        filled = groups.ffill()
        filled = filled.fillna(filled.groupby(subject, sort=False).bfill())
    out = filled.to_numpy(dtype=np.float64)
    if how is CovariateFill.LOCF:
        shifted = np.empty_like(out)
        shifted[1:] = out[:-1]
        shifted[offsets[:-1]] = out[offsets[:-1]]
        out = shifted
    return out


def warn_all_missing(values: np.ndarray, offsets: np.ndarray, names, rows, ids) -> None:
    """A DataWarning per (subject, covariate) with no value at all."""
    if values.size == 0:
        return
    starts = offsets[:-1]
    missing = np.isnan(values).astype(np.int64)
    counts = np.add.reduceat(missing, starts, axis=0)
    sizes = np.diff(offsets)[:, None]
    for j, name in enumerate(names):
        subjects = np.flatnonzero(counts[:, j] == sizes[:, 0])
        places = [(rows[starts[k]], ids[k]) for k in subjects]
        warn_each(f"covariate {name} is missing on every record of this subject; its value is NaN",
                  places, column=name, what="subjects")
