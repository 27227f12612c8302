"""Turning a file or a DataFrame into named columns of raw cells with row numbers.

Row numbers (``RawTable.rows``, and every message of the reader):

* for a file, the 1-based **line number in the file**, so an editor jumps straight there
  (the header is usually line 1, so the first data record is usually row 2);
* for a DataFrame, the 1-based **position** of the row (the first row is row 1), whatever
  its index.

Input accepted: a path (``str`` or ``os.PathLike``; read by ``files.py``: regular files only,
NUL bytes refused), a pandas DataFrame, or a polars DataFrame (converted column by column; polars
is never imported here). Anything else is a ``DataArgumentError`` naming its type.

File layout accepted:

* The header is the first line that is neither blank nor starts with ``#`` (nor, under the
  default and ``IGNORE=@`` rules, a NONMEM table file's ``TABLE NO.`` banner). It must name at
  least one of ID, TIME and DV, else the file is refused as not a dataset without echoing it.
* Separator: ``,`` if the header has a comma, else a tab if it has one, else ``;`` if it has
  one, else runs of blanks. Blanks and enclosing double quotes around a cell are ignored.
* After the header, **comment** lines are skipped by NM-TRAN's IGNORE rules (``comments.py``);
  blank lines are skipped too. Comment line numbers are kept (``Dataset.comment_lines``).
* Every data line must have as many cells as the header; a header cell with no name is
  accepted only when that column is empty on every line (trailing separators).
* Limits: a line of at most ``MAX_LINE_CHARS`` characters, a column name of at most
  ``MAX_NAME_CHARS``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.data import files
from nlme_lab.data.comments import IgnoreRule, is_comment_column
from nlme_lab.data.issues import fail, fail_argument, short_name

#: the longest line read (a dataset with 1000 columns of 20 characters has 20,000)
MAX_LINE_CHARS = 1_000_000
#: the longest column name (NONMEM's labels have at most 20 characters)
MAX_NAME_CHARS = 100
_REQUIRED = ("ID", "TIME", "DV")
_HINTS = {
    "list": "; for a list of records use pandas.DataFrame(records)",
    "dict": "; for columns use pandas.DataFrame(columns)",
    "ndarray": "; use pandas.DataFrame(array, columns=[...]) to name the columns",
    "Series": "; a Series is one column: pass the DataFrame",
    "LazyFrame": "; call .collect() on the polars LazyFrame first",
}


@dataclass(frozen=True)
class RawTable:
    """Columns of raw cells, in input order, before any interpretation."""

    names: tuple[str, ...]
    columns: tuple  # one object ndarray of str (files) or pandas Series (frames) per name
    rows: np.ndarray  # int64, see the module docstring
    comment_lines: np.ndarray  # int64 line numbers of skipped comment/blank lines
    header_row: int  # line of the header (0 for a DataFrame)
    source: str
    comment_column: str | None = None  # name of a leading C column (NM-TRAN's comment column)

    @property
    def n_rows(self) -> int:
        return int(self.rows.size)

    def take(self, keep: np.ndarray) -> RawTable:
        """The rows where ``keep`` is True (same column order)."""
        columns = tuple(col[keep] for col in self.columns)
        return RawTable(self.names, columns, self.rows[keep], self.comment_lines, self.header_row, self.source,
                        self.comment_column)

    def without(self, index: int) -> RawTable:
        names = self.names[:index] + self.names[index + 1:]
        columns = self.columns[:index] + self.columns[index + 1:]
        return RawTable(names, columns, self.rows, self.comment_lines, self.header_row, self.source,
                        self.comment_column)


def load(source, rule: IgnoreRule = IgnoreRule()) -> RawTable:
    """A RawTable from a path, a pandas DataFrame or a polars DataFrame."""
    if isinstance(source, pd.DataFrame):
        return from_frame(source, rule)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        path = path if isinstance(path, str) else os.fsdecode(path)
        return from_text(files.read_text(path), source=path, rule=rule)
    kind = type(source)
    if kind.__module__.split(".")[0] == "polars" and kind.__name__ == "DataFrame":
        return from_frame(_from_polars(source), rule, source="polars DataFrame")
    fail_argument(f"read_nonmem takes a file path or a pandas DataFrame (or a polars DataFrame), "
                  f"got {kind.__name__}{_HINTS.get(kind.__name__, '')}")


def _from_polars(frame) -> pd.DataFrame:
    """A pandas DataFrame with the same columns (nulls as None/NaN); needs no pyarrow."""
    return pd.DataFrame({name: frame.get_column(name).to_numpy() for name in frame.columns})


def from_frame(frame: pd.DataFrame, rule: IgnoreRule = IgnoreRule(), source: str = "DataFrame") -> RawTable:
    names = tuple(str(c).strip() for c in frame.columns)
    _check_header(names, None, source)
    _check_names(names, header_row=None)
    n = len(frame)
    if n == 0:
        fail(f"the {source} has no rows")
    columns = tuple(frame.iloc[:, j].reset_index(drop=True) for j in range(frame.shape[1]))
    rows = np.arange(1, n + 1, dtype=np.int64)
    comment_column = names[0] if is_comment_column(names) else None
    comments = np.zeros(0, np.int64)
    if comment_column is not None:
        marks = np.fromiter((rule.marks(cell) for cell in columns[0]), dtype=bool, count=n)
        if marks.all():
            fail(f"every row of the {source} is a comment (its comment column {comment_column} marks it)")
        if marks.any():
            comments, rows = rows[marks], rows[~marks]
            columns = tuple(col[~marks].reset_index(drop=True) for col in columns)
    return RawTable(names, columns, rows, comments, 0, source, comment_column)


def from_text(text: str, source: str = "<text>", rule: IgnoreRule = IgnoreRule()) -> RawTable:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    _check_line_lengths(lines, source)
    header_index = _header_index(lines, rule)
    if header_index is None:
        fail(f"no header line (column names) in {source}")
    header = lines[header_index]
    split = _splitter(header)
    names = tuple(_unquote(name.strip()) for name in split(header))
    header_row = header_index + 1
    _check_header(names, header_row, source)
    comment_column = names[0] if is_comment_column(names) else None
    is_comment = rule.line_test(split, len(names), comment_column is not None)
    plain = rule.record_starts  # a line beginning so is a record under the rule (the fast path)
    cells, rows, comments = [], [], []
    for k in range(header_index + 1, len(lines)):
        line = lines[k]
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] not in plain and is_comment(line, stripped):
            comments.append(k + 1)
            continue
        try:
            values = split(line)
        except csv.Error as error:
            fail(f"cannot split this line into cells: {error}", row=k + 1)
        if len(values) != len(names):
            fail(f"this line has {len(values)} cells but the header (line {header_row}) names {len(names)} "
                 f"columns{_not_a_comment(stripped, rule)}", row=k + 1)
        cells.append(values)
        rows.append(k + 1)
    if not cells:
        fail(f"no data records after the header in {source}", row=header_row)
    grid = np.empty((len(cells), len(names)), dtype=object)
    grid[:] = cells
    names, grid = _drop_unnamed_empty(names, grid, header_row)
    _check_names(names, header_row)
    columns = tuple(grid[:, j] for j in range(len(names)))
    return RawTable(names, columns, np.asarray(rows, np.int64), np.asarray(comments, np.int64), header_row, source,
                    comment_column)


def _check_line_lengths(lines, source: str) -> None:
    if max(map(len, lines), default=0) > MAX_LINE_CHARS:
        k = next(k for k, line in enumerate(lines) if len(line) > MAX_LINE_CHARS)
        fail(f"line {k + 1} of {source} is {len(lines[k]):,} characters long, more than the "
             f"{MAX_LINE_CHARS:,} a dataset line may have: is this a NONMEM dataset?", row=k + 1)


def _check_header(names, header_row, source: str) -> None:
    """Refuse, without echoing it, a first line that names none of ID, TIME and DV, or absurd names."""
    if header_row is not None and not any(name.upper() in _REQUIRED for name in names):
        fail(f"{source} is not read as a NONMEM dataset: its first line that is not a comment "
             f"(line {header_row}) should name the columns, but names none of ID, TIME and DV",
             row=header_row)
    for j, name in enumerate(names):
        if len(name) > MAX_NAME_CHARS:
            where = f"line {header_row}" if header_row else "the column names"
            fail(f"the name of column {j + 1} is {len(name):,} characters long (at most {MAX_NAME_CHARS}): "
                 f"is {where} a header of column names?", row=header_row)


def _not_a_comment(stripped: str, rule: IgnoreRule) -> str:
    """Why a line that looks like a note was read as a record."""
    first = stripped.lstrip('"')[:1]
    if rule.character not in (None, "@") and (first == "@" or first.isalpha()):
        return (f"; with {rule.label} only lines whose first character is {rule.character!r} are comments "
                "(IGNORE=@ also skips lines that begin with a letter or @)")
    return ""


def _header_index(lines, rule: IgnoreRule) -> int | None:
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not rule.is_banner(stripped):
            return k
    return None


def _splitter(header: str):
    for sep in (",", "\t", ";"):
        if sep in header:
            return lambda line, sep=sep: _split_sep(line, sep)
    return str.split


def _split_sep(line: str, sep: str) -> list[str]:
    """Cells of a line; blanks and quotes around a cell are removed later, once per value."""
    if '"' in line:
        return next(csv.reader([line], delimiter=sep), [])
    return line.split(sep)


def _unquote(cell: str) -> str:
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        return cell[1:-1].strip()
    return cell


def _drop_unnamed_empty(names, grid, header_row):
    if all(names):
        return names, grid
    keep = []
    for j, name in enumerate(names):
        if name:
            keep.append(j)
            continue
        filled = [i for i in range(grid.shape[0]) if str(grid[i, j]).strip()]
        if filled:
            fail(f"column {j + 1} has no name in the header (line {header_row}) but holds data",
                 row=header_row)
    return tuple(names[j] for j in keep), grid[:, keep]


def _check_names(names, header_row) -> None:
    seen: dict[str, str] = {}
    for j, name in enumerate(names):
        if not name:
            fail(f"column {j + 1} has no name", row=header_row)
        key = name.upper()
        if key in seen:
            fail(f"column name {short_name(name)!r} appears twice (names are case-insensitive: "
                 f"{short_name(seen[key])!r})", row=header_row, column=name)
        seen[key] = name
