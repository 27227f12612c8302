"""``expand_addl``: the explicit dose times implied by ADDL/II, for timelines and plots.

The Dataset itself never expands ADDL (the engine does, at solve time, because lag times
and bioavailability depend on parameters). This lists nominal dose times
``TIME + k * II`` for ``k = 0..ADDL`` of every dose record (EVID 1/4), in record order.
Doses the engine would cancel (a later reset, EVID 3/4 or SS 1) are still listed: the
listing is what the records say, not what a model makes of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlme_lab.data.dataset import Dataset
from nlme_lab.data.issues import fail
from nlme_lab.data.kinds import DOSE_EVIDS

#: refuse to list more doses than this (a typo like ADDL 1e9 should not eat the memory)
MAX_DOSES = 10_000_000


def expand_addl(dataset: Dataset) -> pd.DataFrame:
    """One row per dose: ID, SUBJECT (0-based), TIME, AMT, RATE, CMT, SS, ADDL_INDEX, ROW.

    ``ADDL_INDEX`` is 0 for the dose record itself and k for its k-th additional dose;
    ``ROW`` is the row number of the parent dose record. Additional doses are not
    steady-state doses (their SS is 0), as in NONMEM.
    """
    parents = np.flatnonzero(np.isin(dataset.evid, DOSE_EVIDS))
    counts = dataset.addl[parents] + 1
    total = int(counts.sum())
    if total > MAX_DOSES:
        k = parents[np.argmax(counts)]
        fail(f"ADDL {dataset.addl[k]} would list more than {MAX_DOSES} doses", row=dataset.rows[k],
             subject=dataset.ids[dataset.subject_index[k]], column="ADDL")
    record = np.repeat(parents, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    index = np.arange(total, dtype=np.int64) - starts
    subject = dataset.subject_index[record]
    return pd.DataFrame({
        "ID": dataset.ids[subject],
        "SUBJECT": subject,
        "TIME": dataset.time[record] + index * dataset.ii[record],
        "AMT": dataset.amt[record],
        "RATE": dataset.rate[record],
        "CMT": dataset.cmt[record],
        "SS": np.where(index == 0, dataset.ss[record], 0),
        "ADDL_INDEX": index,
        "ROW": dataset.rows[record],
    })
