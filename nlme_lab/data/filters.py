"""``filter=``: dropping records as NM-TRAN's ``$DATA IGNORE=(...)`` / ``ACCEPT=(...)`` do.

Accepted forms:

* a callable ``f(frame) -> boolean Series/array`` of the records to **keep**. ``frame`` has
  one row per input record (after comment lines), standard columns upper-cased and numeric
  (missing cells NaN, bad cells NaN), covariates under their own names, DVID as read;
* ``{"ignore": [conditions]}``: drop a record when **any** condition holds;
* ``{"accept": [conditions]}``: keep a record only when **any** condition holds.

A condition is ``COLUMN op NUMBER`` with ``op`` one of NM-TRAN's ``.EQ. .NE. .GT. .GE. .LT.
.LE.`` (``.EQN.``/``.NEN.`` too) or ``== = != /= > >= < <=``; e.g. ``"ID.EQ.5"``,
``"DV.GT.100"``, ``"ID==5"``. Column names are case-insensitive. Comparisons are numeric
(NM-TRAN's ``.EQ.`` compares text; for numbers as written in data files this is the same
except for spellings like ``5`` vs ``5.0``). A missing cell satisfies no condition.
The text is parsed here, never evaluated as Python.
"""

from __future__ import annotations

import difflib
import enum
import operator
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.data.issues import fail


class Comparison(enum.Enum):
    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    @property
    def function(self):
        return _FUNCTIONS[self]


_FUNCTIONS = {
    Comparison.EQ: operator.eq, Comparison.NE: operator.ne, Comparison.GT: operator.gt,
    Comparison.GE: operator.ge, Comparison.LT: operator.lt, Comparison.LE: operator.le,
}
_OPERATORS = {
    "EQ": Comparison.EQ, "EQN": Comparison.EQ, "NE": Comparison.NE, "NEN": Comparison.NE,
    "GT": Comparison.GT, "GE": Comparison.GE, "LT": Comparison.LT, "LE": Comparison.LE,
    "==": Comparison.EQ, "=": Comparison.EQ, "!=": Comparison.NE, "/=": Comparison.NE,
    ">": Comparison.GT, ">=": Comparison.GE, "<": Comparison.LT, "<=": Comparison.LE,
}
_CONDITION = re.compile(
    r"\s*(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\.(?P<word>EQN|NEN|EQ|NE|GT|GE|LT|LE)\.|(?P<symbol>==|!=|/=|>=|<=|=|>|<))\s*"
    r"(?P<value>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?)\s*",
    re.IGNORECASE | re.ASCII,
)


class FilterMode(enum.Enum):
    IGNORE = "ignore"
    ACCEPT = "accept"


@dataclass(frozen=True)
class Condition:
    """One parsed ``COLUMN op NUMBER`` condition."""

    column: str
    comparison: Comparison
    value: float
    text: str

    @classmethod
    def parse(cls, text: str) -> Condition:
        if not isinstance(text, str):
            raise TypeError(f"a filter condition must be text like 'ID.EQ.5', got {text!r}")
        match = _CONDITION.fullmatch(text)
        if match is None:
            fail(f"cannot read filter condition {text!r}: expected COLUMN.OP.NUMBER such as "
                 f"'ID.EQ.5' or 'DV>100' (OP one of EQ NE GT GE LT LE, or == != > >= < <=)")
        op = (match["word"] or match["symbol"]).upper()
        value = float(match["value"].replace("d", "e").replace("D", "e"))
        return cls(match["column"], _OPERATORS[op], value, text.strip())

    def holds(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            result = self.comparison.function(values, self.value)
        return np.asarray(result, dtype=bool) & ~np.isnan(values)


def keep_mask(frame: pd.DataFrame, spec) -> np.ndarray:
    """Boolean array of the rows of ``frame`` that ``spec`` keeps (all when spec is None)."""
    n = len(frame)
    if spec is None:
        return np.ones(n, bool)
    if callable(spec):
        return _callable_mask(frame, spec)
    if isinstance(spec, dict):
        mode, conditions = _parse_spec(spec)
        hits = np.zeros(n, bool)
        for condition in conditions:
            hits |= condition.holds(_column(frame, condition))
        return ~hits if mode is FilterMode.IGNORE else hits
    raise TypeError(
        "filter must be a callable (DataFrame -> boolean Series of rows to keep) or a dict "
        f"{{'ignore': [...]}} / {{'accept': [...]}}, got {type(spec).__name__}"
    )


def _parse_spec(spec: dict) -> tuple[FilterMode, list[Condition]]:
    modes = {}
    for key, value in spec.items():
        try:
            modes[FilterMode(str(key).strip().lower())] = value
        except ValueError:
            raise ValueError(f"filter dict keys are 'ignore' or 'accept', got {key!r}") from None
    if len(modes) != 1:
        raise ValueError("filter takes 'ignore' or 'accept', not both (as NM-TRAN's $DATA)")
    (mode, items), = modes.items()
    if isinstance(items, str):
        items = [part for part in items.split(",") if part.strip()]
    return mode, [Condition.parse(item) for item in items]


def _column(frame: pd.DataFrame, condition: Condition) -> np.ndarray:
    names = {str(c).upper(): c for c in frame.columns}
    name = names.get(condition.column.upper())
    if name is None:
        hint = difflib.get_close_matches(condition.column.upper(), list(names), n=1, cutoff=0.6)
        more = f"; did you mean {names[hint[0]]}?" if hint else ""
        fail(f"filter condition {condition.text!r} names no column of the data{more}", column=condition.column)
    values = frame[name]
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _callable_mask(frame: pd.DataFrame, function) -> np.ndarray:
    result = function(frame.copy())
    if isinstance(result, (pd.Series, pd.Index)):
        if result.isna().any():
            raise TypeError("the filter callable returned missing values; return True/False for every row")
        result = result.to_numpy()
    result = np.asarray(result)
    if result.shape != (len(frame),):
        raise TypeError(f"the filter callable must return one True/False per row ({len(frame)}), "
                        f"got shape {result.shape}")
    if result.dtype != bool:
        raise TypeError(f"the filter callable must return booleans, got dtype {result.dtype}")
    return result
