"""``filter=``: dropping records as NM-TRAN's ``$DATA IGNORE=`` / ``ACCEPT=`` options do.

Accepted forms:

* a callable ``f(frame) -> boolean Series/array`` of the records to **keep**. ``frame`` has
  one row per input record (after comment lines), standard columns upper-cased and numeric
  (missing cells NaN, bad cells NaN), covariates under their own names, DVID as read;
* ``{"ignore": [items]}``: drop a record when **any** condition holds. An item is a condition
  or one comment character (``"C"``, ``"@"``, ``"#"``, quoted ``"';'"``): NM-TRAN's
  ``IGNORE=c``, which decides which text lines are comments (``comments.py``);
* ``{"accept": [conditions]}``: keep a record only when **any** condition holds (it may
  come with ``{"ignore": "C"}``, as NM-TRAN's ``IGNORE=c`` with ``ACCEPT=(list)``);
* NM-TRAN's own text: ``"IGNORE=@"``, ``"IGNORE=C IGNORE=(ID.EQ.5,DV.LE.0)"``,
  ``"IGNORE='C' ACCEPT=(DOSE.GT.10)"``.

Items may be given as one text: ``{"ignore": "ID.EQ.5,DV.GT.100"}`` or ``"(ID.EQ.5,DV.GT.100)"``.
Conditions of IGNORE and of ACCEPT cannot be mixed (nor can they in NM-TRAN). Every mistake
is a DataError whose message begins with ``filter``.

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

from nlme_lab.data.comments import IgnoreRule
from nlme_lab.data.issues import excerpt, fail, fail_argument, short_name
from nlme_lab.errors import DataError


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


_OPTION = re.compile(
    r"\s*(?P<option>IGNORE|ACCEPT)\s*=\s*(?P<value>\([^()]*\)|'[^']*'|\"[^\"]*\"|[^\s()'\"]+)\s*",
    re.IGNORECASE,
)


_OPTION_WORD = re.compile(r"\b(?:IGNORE|ACCEPT)\s*=", re.IGNORECASE)


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
            fail_argument(f"filter= conditions are text like 'ID.EQ.5', got {excerpt(text)}")
        match = _CONDITION.fullmatch(text)
        if match is None:
            fail(f"cannot read filter condition {excerpt(text)}: expected COLUMN.OP.NUMBER such as "
                 f"'ID.EQ.5' or 'DV>100' (OP one of EQ NE GT GE LT LE, or == != > >= < <=), or, "
                 f"under IGNORE, one comment character such as 'C' or '@'")
        op = (match["word"] or match["symbol"]).upper()
        value = float(match["value"].replace("d", "e").replace("D", "e"))
        return cls(match["column"], _OPERATORS[op], value, text.strip())

    def holds(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            result = self.comparison.function(values, self.value)
        return np.asarray(result, dtype=bool) & ~np.isnan(values)


@dataclass(frozen=True)
class RecordFilter:
    """A parsed ``filter=``: the comment rule for text lines, then conditions or a callable."""

    comments: IgnoreRule = IgnoreRule()
    mode: FilterMode = FilterMode.IGNORE
    conditions: tuple[Condition, ...] = ()
    function: object = None  # callable frame -> booleans of the rows to keep

    @classmethod
    def parse(cls, spec) -> RecordFilter:
        if spec is None:
            return cls()
        if callable(spec):
            return cls(function=spec)
        if isinstance(spec, str) and _OPTION_WORD.search(spec):
            return cls._from_items(_nm_tran_options(spec))
        if isinstance(spec, dict):
            return cls._from_items(_dict_items(spec))
        fail_argument(
            "filter= must be a callable (DataFrame -> boolean Series of rows to keep) or a dict "
            "{'ignore': [...]} / {'accept': [...]}, or NM-TRAN $DATA options text such as "
            f"'IGNORE=@ IGNORE=(ID.EQ.5)', got {type(spec).__name__}"
            + (f" {excerpt(spec)}" if isinstance(spec, str) else "")
        )

    @classmethod
    def _from_items(cls, items: list[tuple[FilterMode, str]]) -> RecordFilter:
        rules, conditions = [], {FilterMode.IGNORE: [], FilterMode.ACCEPT: []}
        for mode, text in items:
            rule = IgnoreRule.parse(text)
            if rule is None:
                conditions[mode].append(Condition.parse(text))
            elif mode is FilterMode.ACCEPT:
                fail(f"filter=: a comment character ({excerpt(text.strip())}) belongs to IGNORE "
                     f"(NM-TRAN's IGNORE={rule.character}), not to ACCEPT")
            else:
                rules.append(rule)
        if len(rules) > 1:
            shown = " and ".join(repr(r.character) for r in rules)
            fail(f"filter= takes one comment character (NM-TRAN's IGNORE=c), got {shown}")
        if conditions[FilterMode.IGNORE] and conditions[FilterMode.ACCEPT]:
            fail("filter= takes IGNORE or ACCEPT conditions, not both (as NM-TRAN's $DATA)")
        mode = FilterMode.ACCEPT if conditions[FilterMode.ACCEPT] else FilterMode.IGNORE
        return cls(rules[0] if rules else IgnoreRule(), mode, tuple(conditions[mode]))

    def keep(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array of the rows of ``frame`` kept (comment lines are already gone)."""
        if self.function is not None:
            return _callable_mask(frame, self.function)
        if not self.conditions:
            return np.ones(len(frame), bool)
        hits = np.zeros(len(frame), bool)
        for condition in self.conditions:
            hits |= condition.holds(_column(frame, condition))
        return ~hits if self.mode is FilterMode.IGNORE else hits


def _dict_items(spec: dict) -> list[tuple[FilterMode, str]]:
    items = []
    for key, value in spec.items():
        mode = next((m for m in FilterMode if m.value == str(key).strip().lower()), None)
        if mode is None:
            fail(f"filter= dict keys are 'ignore' or 'accept', got {excerpt(key)}")
        if isinstance(value, str):
            value = _list_text(value)
        elif not isinstance(value, (list, tuple)):
            fail_argument(f"filter={{{key!r}: ...}} takes a text or a list of texts, got {excerpt(value)}")
        for item in value:
            if not isinstance(item, str):
                fail_argument(f"filter= conditions are text like 'ID.EQ.5', got {excerpt(item)}")
            items.append((mode, item))
    return items


def _list_text(text: str) -> list[str]:
    """``"(ID.EQ.5, DV.GT.100)"`` or ``"ID.EQ.5,DV.GT.100"`` or ``"C"`` to items."""
    stripped = text.strip()
    if stripped.startswith("(") and stripped.endswith(")"):
        stripped = stripped[1:-1]
    if IgnoreRule.parse(stripped) is not None:
        return [stripped]
    return [part for part in stripped.split(",") if part.strip()]


def _nm_tran_options(text: str) -> list[tuple[FilterMode, str]]:
    """``IGNORE=@ IGNORE=(ID.EQ.5) ACCEPT=(...)`` as NM-TRAN's $DATA writes them."""
    items, position = [], 0
    while position < len(text.rstrip()):
        match = _OPTION.match(text, position)
        if match is None:
            fail(f"filter=: cannot read {excerpt(text[position:].strip())}; NM-TRAN's $DATA options "
                 "read here are IGNORE=c, IGNORE=(conditions) and ACCEPT=(conditions)")
        mode = FilterMode(match["option"].lower())
        items += [(mode, item) for item in _list_text(match["value"])]
        position = match.end()
    return items


def _column(frame: pd.DataFrame, condition: Condition) -> np.ndarray:
    names = {str(c).upper(): c for c in frame.columns}
    name = names.get(condition.column.upper())
    if name is None:
        hint = difflib.get_close_matches(condition.column.upper(), list(names), n=1, cutoff=0.6)
        more = f"; did you mean {short_name(names[hint[0]])}?" if hint else ""
        fail(f"filter condition {excerpt(condition.text)} names no column of the data{more}",
             column=short_name(condition.column))
    values = frame[name]
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _callable_mask(frame: pd.DataFrame, function) -> np.ndarray:
    try:
        result = function(frame.copy())
    except Exception as error:  # noqa: BLE001 - the user's function: any failure is named here
        raise DataError(f"filter= callable failed on the data: {type(error).__name__}: "
                        f"{str(error)[:200]}") from error
    if isinstance(result, (pd.Series, pd.Index)):
        if result.isna().any():
            fail_argument("filter= callable returned missing values; return True/False for every row")
        result = result.to_numpy()
    result = np.asarray(result)
    if result.shape != (len(frame),):
        fail_argument(f"filter= callable must return one True/False per row ({len(frame)}), "
                      f"got shape {result.shape}")
    if result.dtype != bool:
        fail_argument(f"filter= callable must return booleans, got dtype {result.dtype}")
    return result
