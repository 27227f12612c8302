"""Turning a file or a DataFrame into named columns of raw cells with row numbers.

Row numbers (``RawTable.rows``, and every message of the reader):

* for a file, the 1-based **line number in the file**, so an editor jumps straight there
  (the header is usually line 1, so the first data record is usually row 2);
* for a DataFrame, the 1-based **position** of the row (the first row is row 1), whatever
  its index.

File layout accepted:

* The header is the first line that is neither blank nor starts with ``#``.
* Separator: ``,`` if the header has a comma, else a tab if it has one, else ``;`` if it has
  one, else runs of blanks. Blanks and enclosing double quotes around a cell are ignored.
* After the header, a line is a **comment** and skipped when its first non-blank character
  is ``#`` or ``@`` or a letter (NM-TRAN's ``IGNORE=#`` and ``IGNORE=@``, always on).
  Blank lines are skipped too. Comment line numbers are kept (``Dataset.comment_lines``).
* Every data line must have as many cells as the header; a header cell with no name is
  accepted only when that column is empty on every line (trailing separators).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.data.issues import fail


@dataclass(frozen=True)
class RawTable:
    """Columns of raw cells, in input order, before any interpretation."""

    names: tuple[str, ...]
    columns: tuple  # one object ndarray of str (files) or pandas Series (frames) per name
    rows: np.ndarray  # int64, see the module docstring
    comment_lines: np.ndarray  # int64 line numbers of skipped comment/blank lines
    header_row: int  # line of the header (0 for a DataFrame)
    source: str

    @property
    def n_rows(self) -> int:
        return int(self.rows.size)

    def take(self, keep: np.ndarray) -> RawTable:
        """The rows where ``keep`` is True (same column order)."""
        columns = tuple(col[keep] for col in self.columns)
        return RawTable(self.names, columns, self.rows[keep], self.comment_lines, self.header_row, self.source)

    def without(self, index: int) -> RawTable:
        names = self.names[:index] + self.names[index + 1:]
        columns = self.columns[:index] + self.columns[index + 1:]
        return RawTable(names, columns, self.rows, self.comment_lines, self.header_row, self.source)


def load(source) -> RawTable:
    """A RawTable from a path or a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return from_frame(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as handle:
            data = handle.read()
        return from_text(_decode(data), source=str(path))
    raise TypeError(f"read_nonmem needs a file path or a pandas DataFrame, got {type(source).__name__}")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def from_frame(frame: pd.DataFrame) -> RawTable:
    names = tuple(str(c).strip() for c in frame.columns)
    _check_names(names, header_row=None)
    n = len(frame)
    columns = tuple(frame.iloc[:, j].reset_index(drop=True) for j in range(frame.shape[1]))
    rows = np.arange(1, n + 1, dtype=np.int64)
    if n == 0:
        fail("the DataFrame has no rows")
    return RawTable(names, columns, rows, np.zeros(0, np.int64), 0, "DataFrame")


def from_text(text: str, source: str = "<text>") -> RawTable:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    header_index = _header_index(lines)
    if header_index is None:
        fail(f"no header line (column names) in {source}")
    header = lines[header_index]
    split = _splitter(header)
    names = tuple(_unquote(name.strip()) for name in split(header))
    header_row = header_index + 1
    cells, rows, comments = [], [], []
    for k in range(header_index + 1, len(lines)):
        line = lines[k]
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] in "#@" or stripped[0].isalpha():
            comments.append(k + 1)
            continue
        values = split(line)
        if len(values) != len(names):
            fail(f"this line has {len(values)} cells but the header (line {header_row}) names {len(names)} columns",
                 row=k + 1)
        cells.append(values)
        rows.append(k + 1)
    if not cells:
        fail(f"no data records after the header in {source}", row=header_row)
    grid = np.empty((len(cells), len(names)), dtype=object)
    grid[:] = cells
    names, grid = _drop_unnamed_empty(names, grid, header_row)
    _check_names(names, header_row)
    columns = tuple(grid[:, j] for j in range(len(names)))
    return RawTable(names, columns, np.asarray(rows, np.int64), np.asarray(comments, np.int64), header_row, source)


def _header_index(lines) -> int | None:
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
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
            fail(f"column name {name!r} appears twice (names are case-insensitive: {seen[key]!r})",
                 row=header_row, column=name)
        seen[key] = name
