"""``Dataset.summary()``: counts and ranges, computed from the arrays (no statistics elsewhere)."""

from __future__ import annotations

import numpy as np

from nlme_lab.data.dataset import CovariateSummary, Dataset, DatasetSummary
from nlme_lab.data.kinds import DOSE_EVIDS, EventType


def summarize(ds: Dataset) -> DatasetSummary:
    observed = ds.observed
    starts = ds.offsets[:-1]
    per_subject = np.add.reduceat(observed.astype(np.int64), starts) if ds.n_records else np.zeros(1, np.int64)
    events = tuple((e, int(np.count_nonzero(ds.evid == e))) for e in EventType)
    dose = np.isin(ds.evid, DOSE_EVIDS)
    return DatasetSummary(
        source=ds.source, n_subjects=ds.n_subjects, n_records=ds.n_records,
        n_observations=ds.n_observations, event_counts=events,
        observations_per_subject=(int(per_subject.min()), float(np.median(per_subject)), int(per_subject.max())),
        time_range=(float(ds.time.min()), float(ds.time.max())),
        dose_compartments=tuple(sorted(int(c) for c in np.unique(ds.cmt[dose]))),
        observation_compartments=tuple(sorted(int(c) for c in np.unique(ds.cmt[observed]))),
        n_censored=int(np.count_nonzero(observed & (ds.cens != 0))),
        n_missing_observations=int(np.count_nonzero((ds.evid == 0) & (ds.mdv == 1))),
        covariates=tuple(_covariate(ds, k) for k in range(len(ds.covariate_names))),
        covariate_fill=ds.covariate_fill, n_excluded_rows=int(ds.excluded_rows.size),
        n_comment_lines=int(ds.comment_lines.size),
    )


def _covariate(ds: Dataset, k: int) -> CovariateSummary:
    name = ds.covariate_names[k]
    values = ds.covariates[:, k]
    finite = values[np.isfinite(values)]
    raw = ds._table[name].to_numpy(dtype=float, na_value=np.nan)
    changes = np.zeros(values.size, bool)
    changes[1:] = np.isfinite(values[1:]) & np.isfinite(values[:-1]) & (values[1:] != values[:-1])
    changes[ds.offsets[:-1]] = False
    return CovariateSummary(
        name=name,
        minimum=float(finite.min()) if finite.size else float("nan"),
        maximum=float(finite.max()) if finite.size else float("nan"),
        n_missing=int(np.count_nonzero(np.isnan(raw))),
        time_varying=bool(changes.any()),
    )
