"""``read_nonmem``: a NONMEM-format file or DataFrame to a checked, frozen ``Dataset``.

Steps, in order (nothing is reordered; only comment lines and ``filter=`` remove records):

1. arguments (``filter=``, ``covariate_fill=``, ``drop=``) are checked before any reading;
2. cells: file lines or DataFrame rows to named raw cells with row numbers (``raw.py``,
   ``files.py``); comment lines and rows by NM-TRAN's IGNORE rules (``comments.py``);
3. column roles by name, case-insensitively (``kinds.ColumnRole``); ``drop=`` removes columns
   as NM-TRAN's ``$INPUT NAME=DROP``, and a leading ``C`` comment column is dropped so too;
4. numbers (``cells.py``): ``.``/empty is missing; anything else non-numeric is an error,
   reported only for records that ``filter=`` keeps;
5. ``filter=`` (``filters.py``), like NM-TRAN's IGNORE/ACCEPT, on the numbers as read;
6. NONMEM's null rules, derived EVID / MDV (``records.py``) and the checks (``checks.py``);
7. subjects (contiguous ID blocks), occasions, covariate filling (``covariates.py``).
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from nlme_lab.data import checks, records
from nlme_lab.data.cells import parse_column, raw_value
from nlme_lab.data.covariates import fill, warn_all_missing
from nlme_lab.data.dataset import Dataset
from nlme_lab.data.comments import check_comment_column
from nlme_lab.data.filters import RecordFilter
from nlme_lab.data.issues import excerpt, fail, fail_argument, listed, short_name, show_id
from nlme_lab.data.kinds import REQUIRED, ColumnRole, CovariateFill
from nlme_lab.data.raw import RawTable, load

R = ColumnRole


def read_nonmem(data, *, filter=None, covariate_fill="nocb", drop=(), names=None) -> Dataset:
    """Read a NONMEM dataset (a CSV or whitespace-separated file, or a DataFrame).

    Parameters
    ----------
    data : path (str or os.PathLike), pandas.DataFrame or polars.DataFrame
    filter : callable, dict or str, optional
        Records to drop, as NM-TRAN's ``$DATA IGNORE=``/``ACCEPT=``: a callable ``frame ->
        boolean Series`` of rows to keep; ``{"ignore": ["ID.EQ.5", "DV.GT.100"]}`` /
        ``{"accept": [...]}``; a comment character among the ignore items (``"C"``, ``"@"``,
        ``"#"``: NM-TRAN's ``IGNORE=c``, which text lines are comments); or NM-TRAN's text
        ``"IGNORE=C IGNORE=(ID.EQ.5)"`` (see ``nlme_lab.data.filters`` and
        ``nlme_lab.data.comments``). Without a comment character, ``#`` and ``@`` lines, lines
        beginning with ``C``, and notes beginning with a letter are comments, but a line shaped
        like a record (``S01,0,5.2``, ``NA,0,5.2``) is read as one, so its ID is an error.
        A leading column named ``C`` is NM-TRAN's comment column: dropped, and its marks
        (``C``, ``@``, ``#``) make a record a comment.
    covariate_fill : "nocb" (NONMEM, default) or "locf"
        Which record's covariate value applies to the interval ending at a record (see
        ``nlme_lab.data.covariates``).
    drop : column name or names to leave out (any case), as ``$INPUT NAME=DROP``: for text
        columns such as dates or comments that are not numbers.
    names : column names by position, as NM-TRAN's ``$INPUT`` (files only): the file then has
        no header; every line is a record or a comment under the ``filter=`` comment rule (a
        header row must be a comment, e.g. under ``IGNORE=@``), and cells after the last name
        are left out. ``drop=`` then refers to these names.

    Raises ``DataError`` naming the file (for a file that cannot be read: missing, a folder,
    not a regular file, binary, too large, not a dataset) or the row, subject and column; a
    wrong argument type is a ``DataError`` that is also a ``TypeError``. Messages show at most a
    short excerpt of a cell. Warns (``DataWarning``) where NONMEM goes on. Rows are file line
    numbers (files) or 1-based positions (DataFrames).
    """
    records_filter = RecordFilter.parse(filter)
    how = CovariateFill.parse(covariate_fill)
    raw = _drop(load(data, records_filter.comments, _names(names)), _drop_names(drop))
    raw, comment_column = _without_comment_column(raw)
    roles, covariate_names = _roles(raw)
    parsed = {name: parse_column(col) for name, col in zip(raw.names, raw.columns) if name != roles.get(R.DVID)}
    raw, parsed, excluded = _filtered(raw, parsed, roles, records_filter, comment_column)
    records.report_bad_cells(parsed, raw.rows, parsed[roles[R.ID]].values)
    rec = _checked_records(parsed, roles, raw.rows)
    offsets, ids = records.subject_blocks(rec.id)
    checks.check_time(rec, offsets)
    _check_untimed(rec, raw)
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


def _filtered(raw: RawTable, parsed: dict, roles: dict, records_filter: RecordFilter, comment_column):
    """The records ``filter=`` keeps (checking their comment-column cells), and the rows it removed."""
    keep = records_filter.keep(_filter_frame(raw, parsed, roles))
    excluded = raw.rows[~keep]
    if not keep.all():
        if not keep.any():
            fail(f"filter= removed every record of {raw.source}", row=raw.header_row or None)
        raw = raw.take(keep)
        parsed = {name: p.take(keep) for name, p in parsed.items()}
        comment_column = None if comment_column is None else comment_column[keep]
    if comment_column is not None:
        check_comment_column(comment_column, raw.rows, records_filter.comments, raw.comment_column)
    return raw, parsed, excluded


def _checked_records(parsed, roles, rows) -> records.Records:
    rec = records.build(parsed, roles, rows)
    checks.check_codes(rec)
    records.derive_evid(rec)
    records.derive_mdv(rec)
    checks.check_doses(rec)
    checks.check_observations(rec)
    return rec


def _drop_names(drop) -> list[str]:
    if drop is None:
        return []
    if isinstance(drop, str):
        return [drop]
    if not isinstance(drop, (list, tuple, set, frozenset)):
        fail_argument(f"drop= takes a column name or a list of names, got {type(drop).__name__}")
    for name in drop:
        if not isinstance(name, str):
            fail_argument(f"drop= takes column names (text), got {excerpt(name)}")
    return list(drop)


def _names(names) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        fail_argument(f"names= takes a list of column names, got {excerpt(names)}")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            fail_argument(f"names= takes column names (text), got {excerpt(name)}")
    if not names:
        fail_argument("names= is empty: give the column names in file order")
    return tuple(names)


def _drop(raw: RawTable, drop: list[str]) -> RawTable:
    for name in drop:
        upper = [n.upper() for n in raw.names]
        if name.strip().upper() not in upper:
            fail(f"drop= names no column of the data (columns: {listed(raw.names)})", column=short_name(name))
        raw = raw.without(upper.index(name.strip().upper()))
    return raw


def _without_comment_column(raw: RawTable):
    """The table without its leading C comment column (unless drop= took it), and that column."""
    if raw.comment_column is None or raw.comment_column not in raw.names:
        return raw, None
    index = raw.names.index(raw.comment_column)
    return raw.without(index), raw.columns[index]


def _roles(raw: RawTable) -> tuple[dict, list[str]]:
    roles: dict = {}
    covariates = []
    for name in raw.names:
        role = R.of(name)
        if role is R.COVARIATE:
            covariates.append(name)
        else:
            roles[role] = name
    for role in (*REQUIRED, R.TIME):
        if role not in roles:
            upper = [n.upper() for n in raw.names]
            hint = difflib.get_close_matches(role.value, upper, n=1, cutoff=0.6)
            if role is R.TIME and not hint:
                continue  # data without time (see _check_untimed)
            more = f"; is {short_name(raw.names[upper.index(hint[0])])} meant to be {role.value}?" if hint else ""
            fail(f"the data have no {role.value} column (columns: {listed(raw.names)}){more}",
                 row=raw.header_row or None, column=role.value)
    return roles, covariates


def _check_untimed(rec: records.Records, raw: RawTable) -> None:
    """Data without a TIME column (every record at time 0) are for models of another variable
    (a curve of CONC, say): they hold no doses or resets, which happen at a time. A column whose
    name is close to TIME is taken for a misspelling (``_roles``), not for time-free data."""
    if R.TIME in rec.present:
        return
    timed = np.flatnonzero(np.isin(rec.evid, (1, 3, 4)))
    if timed.size:
        i = int(timed[0])
        what = "reset" if rec.evid[i] == 3 else "dose"
        fail(f"the data have no TIME column (columns: {listed(raw.names)}), but row {rec.rows[i]} "
             f"(ID {show_id(rec.id[i])}) is a {what} (EVID {rec.evid[i]}), which happens at a time; data without TIME "
             "are for models without doses, ODEs or t (a curve of a column such as CONC)",
             row=raw.header_row or None, column=R.TIME.value, count=int(timed.size))


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
