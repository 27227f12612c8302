"""``NonmemSpec``: what a control stream says beside the model (its data, method, covariance).

``spec.read()`` reads ``$DATA`` as NM-TRAN would (``$INPUT`` names by position, IGNORE/ACCEPT)
through ``nlme_lab.data.read_nonmem``, then refuses data on which the translated model would
predict something else than NONMEM: an observation record whose CMT names a compartment other
than the one ``F`` reads, a dose record without CMT when NONMEM's default dose compartment is
not the first, a negative CMT, an occasion value the control stream has no ETA for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlme_lab.nonmem.iov import Occasions
from nlme_lab.nonmem.issues import Note


@dataclass(frozen=True)
class NonmemSpec:
    """The data and run settings of an imported control stream (``nl.from_nonmem(...).spec``).

    ``nl.fit(model, spec)`` reads the data and, when no method is given, uses ``method``.
    ``covariance`` (``$COVARIANCE``: "sandwich", "r", "s", or None when absent) and
    ``importance_samples`` (``METHOD=IMP`` after the method: draws per subject for the
    importance-sampling OFV) are for the caller to pass on.
    """

    data: Path
    names: tuple[str, ...]  # $INPUT, by position
    drop: tuple[str, ...]
    filter: str  # NM-TRAN's IGNORE/ACCEPT options, as read_nonmem's filter= text
    method: str | None
    covariance: str | None
    importance_samples: int | None
    problem: str = ""
    notes: tuple[Note, ...] = ()
    observed_cmt: int | None = None  # the compartment NONMEM's F reads (None when F is not used)
    observed_default: bool = True  # observed_cmt is NONMEM's default observation compartment
    dose_cmt: int = 1  # NONMEM's default dose compartment
    occasions: Occasions | None = None

    def read(self):
        """The ``Dataset`` of ``$DATA``, checked against what the model predicts."""
        from nlme_lab.data import read_nonmem

        data = read_nonmem(self.data, names=list(self.names), drop=list(self.drop), filter=self.filter)
        self._check_compartments(data)
        self._check_occasions(data)
        return data

    def _check_compartments(self, data) -> None:
        from nlme_lab.data import EventType
        from nlme_lab.errors import DataError

        cmt, evid = np.asarray(data.cmt), np.asarray(data.evid)
        dose = np.isin(evid, (int(EventType.DOSE), int(EventType.RESET_DOSE)))
        observation = data.observed
        checks = [(cmt < 0, "a negative CMT (turning a compartment off) is not supported")]
        if self.dose_cmt != 1:
            checks.append((dose & (cmt == 0), f"a dose without CMT goes to NONMEM's default dose compartment "
                                              f"{self.dose_cmt}, here to compartment 1: give CMT"))
        if self.observed_cmt is not None:
            wrong = observation & (cmt != 0) & (cmt != self.observed_cmt)
            checks.append((wrong, f"an observation in another compartment than {self.observed_cmt}: NONMEM's F "
                                  "would be that compartment's amount, the translated model's is compartment "
                                  f"{self.observed_cmt}'s"))
            if not self.observed_default:
                checks.append((observation & (cmt == 0), f"an observation without CMT: say which compartment "
                                                         f"(F reads {self.observed_cmt}), or mark it DEFOBS"))
        for bad, message in checks:
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(message, row=int(data.rows[i]), subject=data.ids[data.subject_index[i]], column="CMT")

    def _check_occasions(self, data) -> None:
        from nlme_lab.errors import DataError

        if self.occasions is None:
            return
        column = self.occasions.column
        values = np.asarray(data.table[column] if column in data.table else data.table[column.upper()], float)
        bad = ~np.isin(values, np.asarray(self.occasions.values, float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            known = ", ".join(f"{v:g}" for v in self.occasions.values)
            raise DataError(f"{column} = {values[i]:g} has no between-occasion ETA in the control stream "
                            f"(IF ({column}.EQ.k) for k = {known})", row=int(data.rows[i]),
                            subject=data.ids[data.subject_index[i]], column=column)

    def to_dict(self) -> dict:
        """The spec as JSON-ready values (the CLI's ``import-nonmem --json``)."""
        return {"problem": self.problem, "data": str(self.data), "input": list(self.names), "drop": list(self.drop),
                "filter": self.filter, "method": self.method, "covariance": self.covariance,
                "importance_samples": self.importance_samples, "notes": [str(n) for n in self.notes]}

    def __repr__(self) -> str:
        extra = f", importance_samples={self.importance_samples}" if self.importance_samples else ""
        return (f"NonmemSpec(data={str(self.data)!r}, method={self.method!r}, covariance={self.covariance!r}"
                f"{extra}, notes={len(self.notes)})")

