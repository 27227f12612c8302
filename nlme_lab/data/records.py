"""From parsed columns to per-record arrays: NONMEM's null rules and derived EVID / MDV.

Null (missing) cells of the standard columns, as NONMEM reads them:

* ID and TIME must not be missing (DataError). Without a TIME column every record is at time 0.
* DV missing is NaN; it is fine on any record that is not an observation.
* AMT, RATE, II, ADDL, SS, CMT, EVID, MDV, CENS and OCC missing read as 0
  (NONMEM's null data item).
* LIMIT missing means "no other end": the censoring interval is open on that side
  (``Dataset.limit`` is NaN there, as on uncensored records).

EVID when absent (what NM-TRAN supplies): 1 on a dose record, that is ``AMT > 0``, or
``AMT = 0`` with ``SS > 0`` and ``RATE > 0`` (a steady-state constant infusion); 0 on every
other record. MDV when absent: 1 where ``EVID != 0`` or DV is missing, else 0. (A record
with EVID 0 and MDV 1 is a prediction-only record, like EVID 2.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.data.issues import fail
from nlme_lab.data.kinds import INTEGER_ROLES, ColumnRole

_INT_LIMIT = 2.0**53


@dataclass
class Records:
    """Per-record arrays while the reader checks them (internal; the public type is Dataset)."""

    rows: np.ndarray
    id: np.ndarray
    time: np.ndarray
    dv: np.ndarray
    amt: np.ndarray
    rate: np.ndarray
    ii: np.ndarray
    addl: np.ndarray
    ss: np.ndarray
    evid: np.ndarray
    mdv: np.ndarray
    cmt: np.ndarray
    cens: np.ndarray
    limit: np.ndarray  # raw LIMIT (NaN when missing or absent)
    occ_raw: np.ndarray
    present: frozenset  # ColumnRoles given in the input
    names: dict  # ColumnRole -> column name as written

    @property
    def n(self) -> int:
        return int(self.rows.size)

    def name(self, role: ColumnRole) -> str:
        return self.names.get(role, role.value)

    def where(self, mask: np.ndarray, message, role: ColumnRole | None = None) -> None:
        """Raise at the first record where ``mask`` holds; ``message(i)`` or a string."""
        hits = np.flatnonzero(mask)
        if hits.size:
            i = int(hits[0])
            text = message(i) if callable(message) else message
            fail(text, row=self.rows[i], subject=self.id[i], column=None if role is None else self.name(role),
                 count=int(hits.size))


def report_bad_cells(parsed: dict, rows: np.ndarray, ids: np.ndarray) -> None:
    """DataError at the first non-numeric cell (in row order, then column order)."""
    first = None
    for name, column in parsed.items():
        hits = np.flatnonzero(column.bad)
        if hits.size and (first is None or hits[0] < first[0]):
            first = (int(hits[0]), name, column)
    if first is None:
        return
    i, name, column = first
    total = sum(int(c.bad.sum()) for c in parsed.values())
    fail(f"{column.shown(i)} is not a number", row=rows[i], subject=ids[i], column=name, count=total)


def build(parsed: dict, roles: dict, rows: np.ndarray) -> Records:
    """Records from parsed standard columns; ``roles`` maps ColumnRole -> column name."""
    n = rows.size
    ids = parsed[roles[ColumnRole.ID]].values

    def column(role, fill=0.0):
        if role not in roles:
            return np.full(n, fill)
        values = parsed[roles[role]].values
        return np.where(parsed[roles[role]].missing, fill, values)

    for role in (ColumnRole.ID, ColumnRole.TIME):
        if role not in roles:
            continue
        p = parsed[roles[role]]
        hits = np.flatnonzero(p.missing)
        if hits.size:
            i = int(hits[0])
            fail(f"{role.value} is missing", row=rows[i], subject=ids[i], column=roles[role], count=int(hits.size))
    integers = {}
    for role in INTEGER_ROLES:
        values = column(role)
        bad = (values != np.round(values)) | (np.abs(values) >= _INT_LIMIT)
        hits = np.flatnonzero(bad)
        if hits.size:
            i = int(hits[0])
            fail(f"{role.value} must be a whole number, found {values[i]:g}", row=rows[i], subject=ids[i],
                 column=roles[role], count=int(hits.size))
        integers[role] = values.astype(np.int64)
    return Records(
        rows=rows, id=ids, time=column(ColumnRole.TIME), dv=column(ColumnRole.DV, np.nan),
        amt=column(ColumnRole.AMT), rate=column(ColumnRole.RATE), ii=column(ColumnRole.II),
        addl=integers[ColumnRole.ADDL], ss=integers[ColumnRole.SS], evid=integers[ColumnRole.EVID],
        mdv=integers[ColumnRole.MDV], cmt=integers[ColumnRole.CMT], cens=integers[ColumnRole.CENS],
        limit=column(ColumnRole.LIMIT, np.nan), occ_raw=column(ColumnRole.OCC),
        present=frozenset(roles), names=dict(roles),
    )


def is_constant_infusion(rec: Records) -> np.ndarray:
    """Steady-state constant infusion records: AMT 0, RATE > 0, SS > 0."""
    return (rec.amt == 0) & (rec.rate > 0) & (rec.ss > 0)


def derive_evid(rec: Records) -> None:
    """EVID as NM-TRAN supplies it when the column is absent (see the module docstring)."""
    if ColumnRole.EVID in rec.present:
        return
    dose = (rec.amt > 0) | is_constant_infusion(rec)
    rec.evid = dose.astype(np.int64)


def derive_mdv(rec: Records) -> None:
    """MDV when absent: 1 where EVID != 0 or DV is missing."""
    if ColumnRole.MDV in rec.present:
        return
    rec.mdv = ((rec.evid != 0) | np.isnan(rec.dv)).astype(np.int64)


def subject_blocks(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``offsets`` (n_sub + 1) of contiguous runs of equal ID, and the ID of each run."""
    n = ids.size
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.zeros(0, np.int64)
    offsets = np.r_[starts, n].astype(np.int64)
    return offsets, ids[starts]


def occasion_index(occ_raw: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """0-based occasion within subject, numbered in order of first appearance."""
    n_sub = offsets.size - 1
    subject = np.repeat(np.arange(n_sub), np.diff(offsets))
    pairs = np.rec.fromarrays([subject, occ_raw]) if occ_raw.size else np.zeros(0)
    codes = _first_appearance_codes(pairs)
    first_code = codes[offsets[:-1]] if n_sub else np.zeros(0, np.int64)
    return (codes - np.repeat(first_code, np.diff(offsets))).astype(np.int64)


def _first_appearance_codes(values) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, np.int64)
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()]
