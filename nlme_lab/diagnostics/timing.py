"""Time after dose (TAD) of each record, from the dose records with ADDL expanded.

TAD of a record = its TIME minus the time of the latest dose of the same subject at or before
it (a dose at the same time as an observation precedes it). Dose times are nominal: the
record's TIME plus k * II for its ADDL additional doses (``nlme_lab.data.expand_addl``); lag
times are not added (they depend on parameters). A record before the subject's first dose
has no TAD (NaN).
"""

from __future__ import annotations

import numpy as np


def time_after_dose(data) -> np.ndarray:
    """TAD of every record of ``data`` (n_records,), NaN before a subject's first dose."""
    from nlme_lab.data import expand_addl

    doses = expand_addl(data)
    tad = np.full(data.n_records, np.nan)
    subj_of_dose = doses["SUBJECT"].to_numpy()
    dose_time = doses["TIME"].to_numpy(dtype=float)
    for s in range(data.n_subjects):
        lo, hi = int(data.offsets[s]), int(data.offsets[s + 1])
        times = np.sort(dose_time[subj_of_dose == s])
        if times.size == 0:
            continue
        t = np.asarray(data.time[lo:hi], dtype=float)
        k = np.searchsorted(times, t, side="right") - 1
        ok = k >= 0
        tad[lo:hi][ok] = t[ok] - times[k[ok]]
    return tad
