"""The frozen ``Dataset``: flat per-record arrays in file order plus subject offsets.

Layout (what kernels see; see docs/ARCHITECTURE.md "Dataset layout"): records of subject
``i`` are ``offsets[i]:offsets[i + 1]`` of every per-record array. Subjects are contiguous
blocks of equal ID in input order; an ID that comes back after other subjects starts a new
subject (as in NONMEM), so ``ids`` can repeat (the reader warns).

``rows`` holds the row number of each record for messages: the 1-based line number in the
file, or the 1-based position in a DataFrame.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlme_lab.data.issues import show_id
from nlme_lab.errors import DataError
from nlme_lab.data.kinds import DOSE_EVIDS, ColumnRole, CovariateFill, EventType


@dataclass(frozen=True)
class CovariateSummary:
    name: str
    minimum: float
    maximum: float
    n_missing: int  # missing cells in the input (before filling)
    time_varying: bool  # changes within at least one subject (after filling)


@dataclass(frozen=True)
class DatasetSummary:
    """Counts and ranges of a Dataset (``Dataset.summary()``)."""

    source: str
    n_subjects: int
    n_records: int
    n_observations: int
    event_counts: tuple[tuple[EventType, int], ...]
    observations_per_subject: tuple[int, float, int]  # min, median, max
    time_range: tuple[float, float]
    dose_compartments: tuple[int, ...]
    observation_compartments: tuple[int, ...]
    n_censored: int
    n_missing_observations: int  # EVID 0 records with MDV 1
    covariates: tuple[CovariateSummary, ...]
    covariate_fill: CovariateFill
    n_excluded_rows: int  # removed by filter=
    n_comment_lines: int

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return {
            "source": self.source, "n_subjects": self.n_subjects, "n_records": self.n_records,
            "n_observations": self.n_observations,
            "event_counts": {e.name: n for e, n in self.event_counts},
            "observations_per_subject": list(self.observations_per_subject),
            "time_range": list(self.time_range), "dose_compartments": list(self.dose_compartments),
            "observation_compartments": list(self.observation_compartments),
            "n_censored": self.n_censored, "n_missing_observations": self.n_missing_observations,
            "covariates": [{k: (None if isinstance(v, float) and v != v else v) for k, v in vars(c).items()}
                           for c in self.covariates],
            "covariate_fill": self.covariate_fill.value, "n_excluded_rows": self.n_excluded_rows,
            "n_comment_lines": self.n_comment_lines,
        }

    def _repr_html_(self) -> str:
        lo, med, hi = self.observations_per_subject
        events = ", ".join(f"{e.name.lower()} {n}" for e, n in self.event_counts if n)
        lines = [
            ("source", self.source),
            ("subjects", f"{self.n_subjects}"),
            ("records", f"{self.n_records} ({events})"),
            ("observations", f"{self.n_observations} (per subject {lo}-{hi}, median {med:g})"),
            ("time", f"{self.time_range[0]:g} to {self.time_range[1]:g}"),
            ("dose CMT", ", ".join(map(str, self.dose_compartments)) or "none"),
        ]
        if self.n_censored:
            lines.append(("censored", str(self.n_censored)))
        if self.n_excluded_rows or self.n_comment_lines:
            lines.append(("skipped", f"{self.n_excluded_rows} rows by filter, {self.n_comment_lines} comment lines"))
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>"
                       f"{html.escape(v)}</td></tr>" for k, v in lines)
        covs = "".join(
            f"<tr><td style='text-align:left'>{html.escape(c.name)}</td><td>{c.minimum:.4g}</td>"
            f"<td>{c.maximum:.4g}</td><td>{c.n_missing}</td><td>{'yes' if c.time_varying else ''}</td></tr>"
            for c in self.covariates
        )
        table = (f"<table><tr><th>covariate</th><th>min</th><th>max</th><th>missing</th>"
                 f"<th>time-varying</th></tr>{covs}</table>") if covs else ""
        return f"<div><b>NONMEM dataset</b><table>{body}</table>{table}</div>"


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A checked NONMEM dataset. Build it with ``read_nonmem``; every array is read-only."""

    _table: pd.DataFrame = field(repr=False)
    ids: np.ndarray  # subject ID of each subject block, in order of appearance
    offsets: np.ndarray  # int64 (n_subjects + 1)
    time: np.ndarray  # 0 on every record when the input has no TIME column (``has_time``)
    dv: np.ndarray  # NaN where missing
    amt: np.ndarray
    rate: np.ndarray  # > 0 rate, 0 bolus, -1 modeled rate, -2 modeled duration
    ii: np.ndarray
    limit: np.ndarray  # other end of a censored interval; NaN if none (M3) or not censored
    evid: np.ndarray
    mdv: np.ndarray
    cmt: np.ndarray  # 0 when there is no CMT column
    addl: np.ndarray
    ss: np.ndarray
    cens: np.ndarray
    occ: np.ndarray  # 0-based occasion within subject (0 without an OCC column)
    dvid: np.ndarray | None  # raw DVID values (object), None without a DVID column
    covariate_names: tuple[str, ...]
    covariates: np.ndarray  # (n_records, n_covariates), the value for the interval ending at the record
    rows: np.ndarray  # 1-based file line (files) or position (DataFrames) of each record
    source: str
    covariate_fill: CovariateFill = CovariateFill.NOCB
    column_roles: tuple[tuple[str, ColumnRole], ...] = ()  # every input column, as written
    excluded_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # removed by filter=
    comment_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    # --- sizes -------------------------------------------------------------------------
    @property
    def n_subjects(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_records(self) -> int:
        return int(self.time.size)

    @property
    def has_time(self) -> bool:
        """Whether the input had a TIME column. Without one every record is at time 0 (``time``
        is 0), the data hold no doses, and only models without ``t``, ODEs or doses bind to them."""
        return any(role is ColumnRole.TIME for _, role in self.column_roles)

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of observation records (EVID 0 and MDV 0)."""
        return (self.evid == 0) & (self.mdv == 0)

    @property
    def n_observations(self) -> int:
        return int(np.count_nonzero(self.observed))

    @property
    def observations_per_subject(self) -> np.ndarray:
        """Number of observation records of each subject (int64, read-only)."""
        counts = np.add.reduceat(self.observed.astype(np.int64), self.offsets[:-1]) if self.n_records \
            else np.zeros(self.n_subjects, np.int64)
        counts.setflags(write=False)
        return counts

    @property
    def subject_index(self) -> np.ndarray:
        """0-based subject of each record."""
        return np.repeat(np.arange(self.n_subjects), np.diff(self.offsets))

    def subject_slice(self, i: int) -> slice:
        """The records of subject ``i`` (0-based, negative counts from the end)."""
        n = self.n_subjects
        if not -n <= i < n:
            raise IndexError(f"subject index {i} out of range for {n} subjects")
        i %= n
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    # --- columns -----------------------------------------------------------------------
    @property
    def table(self) -> pd.DataFrame:
        """The normalized input table (a copy): one row per record, input order.

        Standard columns upper-cased with NONMEM's null rules applied (EVID and MDV derived
        when absent), covariates as read (NaN where missing, not filled), DVID as read.
        """
        return self._table.copy()

    def has_column(self, name: str) -> bool:
        """Whether ``name`` (any case) is a covariate column."""
        return str(name).upper() in {c.upper() for c in self.covariate_names}

    def column(self, name: str) -> int:
        """Index of covariate ``name`` (any case) in ``covariate_names`` / ``covariates``."""
        wanted = str(name).upper()
        for k, c in enumerate(self.covariate_names):
            if c.upper() == wanted:
                return k
        if ColumnRole.of(wanted).is_standard:
            raise KeyError(f"{name} is a standard NONMEM column, not a covariate "
                           f"(use Dataset.{wanted.lower()} or Dataset.table)")
        upper = {c.upper(): c for c in self.covariate_names}
        hint = difflib.get_close_matches(wanted, list(upper), n=1, cutoff=0.5)
        more = f"; did you mean {upper[hint[0]]}?" if hint else ""
        listed = ", ".join(self.covariate_names) or "none"
        raise KeyError(f"no covariate column {name} (covariates: {listed}){more}")

    def dose_compartments(self) -> set[int]:
        """CMT values of the dose records (EVID 1/4); 0 means "no CMT column" (the default)."""
        return {int(c) for c in np.unique(self.cmt[np.isin(self.evid, DOSE_EVIDS)])}

    def to_frame(self) -> pd.DataFrame:
        """What the kernels see, as a DataFrame: standard arrays and filled covariates."""
        n_per = np.diff(self.offsets)
        data = {"ID": np.repeat(self.ids, n_per), "TIME": self.time, "DV": self.dv, "MDV": self.mdv,
                "EVID": self.evid, "AMT": self.amt, "RATE": self.rate, "II": self.ii, "ADDL": self.addl,
                "SS": self.ss, "CMT": self.cmt, "CENS": self.cens, "LIMIT": self.limit, "OCC": self.occ}
        if self.dvid is not None:
            data["DVID"] = self.dvid
        for k, name in enumerate(self.covariate_names):
            data[name] = self.covariates[:, k]
        return pd.DataFrame({k: np.array(v, copy=True) for k, v in data.items()})

    # --- summaries ---------------------------------------------------------------------
    def summary(self) -> DatasetSummary:
        from nlme_lab.data.summary import summarize

        return summarize(self)

    def __repr__(self) -> str:
        covs = ", ".join(self.covariate_names) or "none"
        return (f"Dataset({self.source!r}: {self.n_subjects} subjects, {self.n_records} records, "
                f"{self.n_observations} observations; covariates: {covs})")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def subject_id(self, i: int):
        """The ID of subject ``i`` as written (``3`` rather than ``3.0``)."""
        return show_id(self.ids[i])


def require_observations(data: Dataset, task: str = "fit") -> Dataset:
    """``data`` if it has an observation record (EVID 0, MDV 0), else a DataError naming the file.

    The reader accepts such data (they can be simulated from); an estimation entry calls this
    first, since an objective over no observation is 0 whatever the parameters.
    """
    if data.n_observations > 0:
        return data
    counts = ", ".join(f"{e.name.lower()} {int(np.count_nonzero(data.evid == e))}" for e in EventType
                       if np.any(data.evid == e))
    raise DataError(
        f"{data.source}: the data have no observation records (EVID 0 with MDV 0) among their "
        f"{data.n_records} records ({counts}; {int(np.count_nonzero(data.mdv == 1))} with MDV 1), "
        f"so there is nothing to {task}", column="MDV")
