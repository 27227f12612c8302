"""``read_nonmem``: a NONMEM-format file or DataFrame to a checked, frozen ``Dataset``.

Steps, in order (nothing is reordered; only comment lines and ``filter=`` remove records):

1. cells: file lines or DataFrame rows to named raw cells with row numbers (``raw.py``);
2. column roles by name, case-insensitively (``kinds.ColumnRole``); ``drop=`` removes columns
   as NM-TRAN's ``$INPUT NAME=DROP``;
3. numbers (``cells.py``): ``.``/empty is missing; anything else non-numeric is an error,
   reported only for records that ``filter=`` keeps;
4. ``filter=`` (``filters.py``), like NM-TRAN's IGNORE/ACCEPT, on the numbers as read;
5. NONMEM's null rules, derived EVID / MDV (``records.py``) and the checks (``checks.py``);
6. subjects (contiguous ID blocks), occasions, covariate filling (``covariates.py``).
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from nlme_lab.data import checks, records
from nlme_lab.data.cells import parse_column, raw_value
from nlme_lab.data.covariates import fill, warn_all_missing
from nlme_lab.data.dataset import Dataset
from nlme_lab.data.filters import keep_mask
from nlme_lab.data.issues import fail
from nlme_lab.data.kinds import REQUIRED, ColumnRole, CovariateFill
from nlme_lab.data.raw import RawTable, load

R = ColumnRole


def read_nonmem(data, *, filter=None, covariate_fill="nocb", drop=()) -> Dataset:
    """Read a NONMEM dataset (a CSV or whitespace-separated file, or a DataFrame).

    Parameters
    ----------
    data : path or pandas.DataFrame
    filter : callable or dict, optional
        Records to drop, as NM-TRAN's ``IGNORE``/``ACCEPT``: a callable ``frame -> boolean
        Series`` of rows to keep, or ``{"ignore": ["ID.EQ.5", "DV.GT.100"]}`` /
        ``{"accept": [...]}`` (see ``nlme_lab.data.filters``).
    covariate_fill : "nocb" (NONMEM, default) or "locf"
        Which record's covariate value applies to the interval ending at a record (see
        ``nlme_lab.data.covariates``).
    drop : column names to leave out (any case), as ``$INPUT NAME=DROP``: for text columns
        such as dates or comments that are not numbers.

    Raises ``DataError`` naming row, subject and column; warns (``DataWarning``) where
    NONMEM goes on. Rows are file line numbers (files) or 1-based positions (DataFrames).
    """
    how = CovariateFill.parse(covariate_fill)
    raw = _drop(load(data), drop)
    roles, covariate_names = _roles(raw)
    parsed = {name: parse_column(col) for name, col in zip(raw.names, raw.columns) if name != roles.get(R.DVID)}
    keep = keep_mask(_filter_frame(raw, parsed, roles), filter)
    excluded = raw.rows[~keep]
    if not keep.all():
        if not keep.any():
            fail(f"filter= removed every record of {raw.source}", row=raw.header_row or None)
        raw = raw.take(keep)
        parsed = {name: p.take(keep) for name, p in parsed.items()}
    records.report_bad_cells(parsed, raw.rows, parsed[roles[R.ID]].values)
    rec = _checked_records(parsed, roles, raw.rows)
    offsets, ids = records.subject_blocks(rec.id)
    checks.check_time(rec, offsets)
    checks.check_subjects(rec, offsets, ids)
    cov_raw = np.column_stack([parsed[c].values for c in covariate_names]) if covariate_names \
        else np.zeros((rec.n, 0))
    covariates = fill(cov_raw, offsets, how)
    warn_all_missing(covariates, offsets, covariate_names, rec.rows, ids)
    dvid = _dvid(raw, roles)
    table = _table(raw, roles, rec, parsed, dvid)
    return _freeze(Dataset(
        _table=table, ids=_id_array(ids), offsets=offsets, time=rec.time, dv=rec.dv, amt=rec.amt,
        rate=rec.rate, ii=rec.ii, limit=_limits(rec), evid=rec.evid, mdv=rec.mdv, cmt=rec.cmt,
        addl=rec.addl, ss=rec.ss, cens=rec.cens, occ=records.occasion_index(rec.occ_raw, offsets),
        dvid=dvid, covariate_names=tuple(covariate_names), covariates=covariates, rows=rec.rows,
        source=raw.source, covariate_fill=how,
        column_roles=tuple((name, _role_of(name, roles)) for name in raw.names),
        excluded_rows=excluded, comment_lines=raw.comment_lines,
    ))


def _checked_records(parsed, roles, rows) -> records.Records:
    rec = records.build(parsed, roles, rows)
    checks.check_codes(rec)
    records.derive_evid(rec)
    records.derive_mdv(rec)
    checks.check_doses(rec)
    checks.check_observations(rec)
    return rec


def _drop(raw: RawTable, drop) -> RawTable:
    if isinstance(drop, str):
        drop = [drop]
    for name in drop:
        upper = [n.upper() for n in raw.names]
        if str(name).upper() not in upper:
            fail(f"drop= names no column of the data (columns: {', '.join(raw.names)})", column=str(name))
        raw = raw.without(upper.index(str(name).upper()))
    return raw


def _roles(raw: RawTable) -> tuple[dict, list[str]]:
    roles: dict = {}
    covariates = []
    for name in raw.names:
        role = R.of(name)
        if role is R.COVARIATE:
            covariates.append(name)
        else:
            roles[role] = name
    for role in REQUIRED:
        if role not in roles:
            upper = [n.upper() for n in raw.names]
            hint = difflib.get_close_matches(role.value, upper, n=1, cutoff=0.6)
            more = f"; is {raw.names[upper.index(hint[0])]} meant to be {role.value}?" if hint else ""
            fail(f"the data have no {role.value} column (columns: {', '.join(raw.names)}){more}",
                 row=raw.header_row or None, column=role.value)
    return roles, covariates


def _role_of(name: str, roles: dict) -> ColumnRole:
    role = R.of(name)
    return role if roles.get(role) == name else R.COVARIATE


def _filter_frame(raw: RawTable, parsed: dict, roles: dict) -> pd.DataFrame:
    """What a filter sees: standard columns upper-cased, numbers as read, DVID as read."""
    columns = {}
    for name in raw.names:
        if name == roles.get(R.DVID):
            columns[R.DVID.value] = _dvid(raw, roles)
        else:
            key = R.of(name).value if _role_of(name, roles).is_standard else name
            columns[key] = parsed[name].values
    return pd.DataFrame(columns)


def _dvid(raw: RawTable, roles: dict):
    if R.DVID not in roles:
        return None
    column = raw.columns[raw.names.index(roles[R.DVID])]
    items = column.to_numpy(dtype=object) if isinstance(column, pd.Series) else column
    out = np.empty(len(items), dtype=object)
    out[:] = [raw_value(item) for item in items]
    return out


def _limits(rec: records.Records) -> np.ndarray:
    """LIMIT on censored records (NaN there = no other end, M3); NaN on uncensored records."""
    return np.where(rec.cens != 0, rec.limit, np.nan)


def _id_array(ids: np.ndarray) -> np.ndarray:
    if ids.size and np.all(ids == np.round(ids)) and np.all(np.abs(ids) < 2**53):
        return ids.astype(np.int64)
    return ids.astype(np.float64)


def _table(raw: RawTable, roles: dict, rec: records.Records, parsed: dict, dvid) -> pd.DataFrame:
    standard = {
        R.ID: _id_array(rec.id), R.TIME: rec.time, R.DV: rec.dv, R.AMT: rec.amt, R.EVID: rec.evid,
        R.MDV: rec.mdv, R.CMT: rec.cmt, R.RATE: rec.rate, R.II: rec.ii, R.ADDL: rec.addl, R.SS: rec.ss,
        R.OCC: rec.occ_raw, R.CENS: rec.cens, R.LIMIT: rec.limit, R.DVID: dvid,
    }
    columns = {}
    for name in raw.names:
        role = _role_of(name, roles)
        columns[role.value if role.is_standard else name] = standard[role] if role.is_standard else parsed[name].values
    for role in (R.EVID, R.MDV):
        columns.setdefault(role.value, standard[role])
    return pd.DataFrame({k: np.array(v, copy=True) for k, v in columns.items()})


def _readonly(array) -> None:
    if isinstance(array, np.ndarray):
        array.setflags(write=False)


def _freeze(ds: Dataset) -> Dataset:
    for name in ("ids", "offsets", "time", "dv", "amt", "rate", "ii", "limit", "evid", "mdv", "cmt",
                 "addl", "ss", "cens", "occ", "dvid", "covariates", "rows", "excluded_rows", "comment_lines"):
        _readonly(getattr(ds, name))
    return ds
