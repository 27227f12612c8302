"""Subjects as blocks of records: resampling with replacement (stratified or not), folds, and
subsets, all returned as plain DataFrames that ``read_nonmem`` reads again.

A subject is a contiguous block of records of the dataset (``Dataset.offsets``); its ID as
written is ``Dataset.subject_id``. A resampled dataset numbers its subjects 1..n in the order
drawn, so a subject drawn twice becomes two subjects; the original IDs drawn are kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.errors import DataError, NlmeError


@dataclass(frozen=True)
class SubjectBlocks:
    """A dataset's input table cut into subjects: ``frame`` (one row per record, input order),
    ``offsets`` (n_subjects + 1) and the IDs as written."""

    frame: pd.DataFrame
    offsets: np.ndarray
    ids: tuple

    @classmethod
    def of(cls, data) -> SubjectBlocks:
        frame = data.table
        if len(frame) != data.n_records:  # a filtered read: the kernels' view is the one to cut
            frame = data.to_frame()
        ids = tuple(data.subject_id(i) for i in range(data.n_subjects))
        return cls(frame.reset_index(drop=True), np.asarray(data.offsets, dtype=np.int64), ids)

    @property
    def n_subjects(self) -> int:
        return len(self.ids)

    def subset(self, subjects, renumber: bool = False) -> pd.DataFrame:
        """The records of ``subjects`` (0-based indices, repeats allowed) in that order; with
        ``renumber`` the subjects get IDs 1..len(subjects)."""
        parts = []
        for k, i in enumerate(subjects):
            part = self.frame.iloc[int(self.offsets[i]):int(self.offsets[i + 1])]
            if renumber:
                part = part.assign(ID=k + 1)
            parts.append(part)
        if not parts:
            raise NlmeError("no subjects to build a dataset from")
        return pd.concat(parts, ignore_index=True)

    def subject_values(self, column: str) -> np.ndarray:
        """One value of a subject-level ``column`` per subject, or a DataError naming the first
        subject where it changes."""
        wanted = {c.upper(): c for c in self.frame.columns}.get(str(column).upper())
        if wanted is None:
            raise DataError(f"no column {column} to stratify or split by (columns: {', '.join(self.frame.columns)})",
                            column=str(column))
        values = self.frame[wanted].to_numpy()
        out = []
        for i, sid in enumerate(self.ids):
            block = values[self.offsets[i]:self.offsets[i + 1]]
            kept = pd.unique(block[~pd.isna(block)]) if block.dtype.kind in "fc" else pd.unique(block)
            if len(kept) > 1:
                raise DataError(f"{wanted} must be constant within a subject (subject-level); it takes the values "
                                f"{', '.join(map(str, kept[:4]))}", subject=sid, column=wanted)
            if len(kept) == 0:
                raise DataError(f"{wanted} is missing on every record of this subject", subject=sid, column=wanted)
            out.append(kept[0])
        return np.asarray(out, dtype=object)


def strata_of(blocks: SubjectBlocks, stratify_by: str | None) -> np.ndarray:
    """Stratum label of each subject (all one stratum without ``stratify_by``)."""
    if stratify_by is None:
        return np.zeros(blocks.n_subjects, dtype=object)
    return blocks.subject_values(stratify_by)


def draw_subjects(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Subjects (0-based) drawn with replacement within each stratum, keeping each stratum's
    size; strata in order of first appearance, the draws of each stratum in drawing order."""
    out = []
    for label in pd.unique(strata):
        members = np.flatnonzero(strata == label)
        out.append(rng.choice(members, size=members.size, replace=True))
    return np.concatenate(out)


def assign_folds(strata: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold (0..folds-1) of each subject: subjects shuffled within each stratum and dealt to the
    folds in turn, continuing from stratum to stratum, so folds differ in size by at most one
    and each stratum is spread over them."""
    n = strata.size
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise NlmeError(f"folds must be a whole number >= 2, not {folds!r}")
    if folds > n:
        raise NlmeError(f"{folds} folds need at least {folds} subjects; the data have {n}")
    fold = np.empty(n, dtype=np.int64)
    position = 0
    for label in pd.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == label))
        fold[members] = (position + np.arange(members.size)) % folds
        position += members.size
    return fold
