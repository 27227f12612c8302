"""Raw cells to numbers, as NONMEM reads them.

A cell is **missing** when it is empty or ``.`` (NONMEM's null data item), or NaN/None/NA
in a DataFrame. A cell is **bad** when it is anything else that is not a finite number:
text, ``inf``, ``nan`` written as text, dates, ... Numbers may use a Fortran ``D``
exponent (``1.5D2``). Booleans in a DataFrame count as 0/1.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.data.issues import excerpt

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?", re.ASCII)
_MISSING = object()
_BAD = object()


@dataclass(frozen=True)
class Parsed:
    """One column as numbers: ``values`` is NaN where ``missing`` or ``bad``."""

    values: np.ndarray  # float64
    missing: np.ndarray  # bool
    bad: np.ndarray  # bool
    raw: object  # the raw column, to show a bad cell

    def cell(self, i: int):
        """The raw cell ``i`` as given."""
        return self.raw.iloc[i] if isinstance(self.raw, pd.Series) else self.raw[i]

    def shown(self, i: int) -> str:
        """The raw cell ``i`` as the user wrote it, cut to a short excerpt, for messages."""
        value = self.cell(i)
        return excerpt(_text(value) if isinstance(value, str) else value)

    def take(self, keep: np.ndarray) -> Parsed:
        raw = self.raw[keep].reset_index(drop=True) if isinstance(self.raw, pd.Series) else self.raw[keep]
        return Parsed(self.values[keep], self.missing[keep], self.bad[keep], raw)


def parse_column(column) -> Parsed:
    """Numbers of a raw column (object array of str, or a pandas Series)."""
    if isinstance(column, pd.Series) and _plain_numeric(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.asarray(column.isna(), dtype=bool)
        bad = ~np.isfinite(values) & ~missing
        return Parsed(np.where(bad, np.nan, values), missing, bad, column)
    items = column.to_numpy(dtype=object) if isinstance(column, pd.Series) else column
    try:
        codes, uniques = pd.factorize(np.asarray(items, dtype=object), use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): parse one by one
        codes, uniques = np.arange(len(items)), items
    numbers = [cell_number(u) for u in uniques]
    known = np.array([v if isinstance(v, float) else np.nan for v in numbers] + [np.nan])
    missing_u = np.array([v is _MISSING for v in numbers] + [True])
    bad_u = np.array([v is _BAD for v in numbers] + [False])
    # code -1 (pandas' NA sentinel: None, NaN, NA) indexes the extra last entry: missing
    return Parsed(known[codes], missing_u[codes], bad_u[codes], column)


def _plain_numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype) \
        and not pd.api.types.is_complex_dtype(dtype)


def cell_number(item):
    """A finite float, or the _MISSING / _BAD markers."""
    if item is None or item is pd.NA or item is pd.NaT:
        return _MISSING
    if isinstance(item, str):
        text = _text(item)
        if text in ("", "."):
            return _MISSING
        if not _NUMBER.fullmatch(text):
            return _BAD
        number = float(text.replace("d", "e").replace("D", "e"))
        return number if np.isfinite(number) else _BAD
    if isinstance(item, (bool, np.bool_)):
        return float(item)
    if isinstance(item, numbers.Real):
        try:
            number = float(item)
        except (OverflowError, ValueError, TypeError):
            return _BAD
        if np.isnan(number):
            return _MISSING
        return number if np.isfinite(number) else _BAD
    return _BAD


def _text(item: str) -> str:
    """A text cell without surrounding blanks and double quotes."""
    text = item.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text


def is_missing(value) -> bool:
    return cell_number(value) is _MISSING


def is_bad(value) -> bool:
    """Neither a finite number nor missing (text, inf, ...)."""
    return cell_number(value) is _BAD


def raw_value(item):
    """A DVID-like raw cell kept as given: numbers as int/float, text stripped, missing None."""
    number = cell_number(item)
    if number is _MISSING:
        return None
    if number is _BAD:
        return _text(item) if isinstance(item, str) else item
    return int(number) if float(number).is_integer() and abs(number) < 2**53 else float(number)
