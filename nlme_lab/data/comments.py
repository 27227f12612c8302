"""Comment records as NM-TRAN's ``$DATA IGNORE=`` option treats them, and the ``C`` column.

A text file's lines are records or comments. The rule is given as ``filter={"ignore": c}``
(or NM-TRAN's text ``filter="IGNORE=c"``, see ``filters.py``):

* **every rule**: a line whose first non-blank character is ``#`` is a comment (NM-TRAN's
  default ``IGNORE=#``; such a line can never be a record, so nothing is lost);
* ``"#"``: nothing else is a comment, as in NM-TRAN without an IGNORE option: a line that
  begins with a letter is a record, so a text ID in it is an error;
* ``"@"``: also every line whose first non-blank character is a letter or ``@`` (NM-TRAN's
  ``IGNORE=@``, which lets a file with header lines, such as a NONMEM table file, be read);
* any other single character ``c`` (``"C"``, ``"I"``, ``";"``, or quoted like ``"' '"``):
  also every line whose **first** character is exactly ``c`` (NM-TRAN's ``IGNORE=c`` looks at
  column 1 only, and at the case as given);
* **default** (no character given): ``#`` and ``@`` lines, lines that begin with ``C`` or
  ``c`` (the usual mark of ``IGNORE=C``), and lines that begin with another letter unless
  they have the shape of a record (as many cells as the header, every cell after the first a
  number or missing). A record-shaped line such as ``S01,0,5.2`` is read as a record, so its
  text ID is an error naming its row and column, never a silent drop.

Under every rule, a line whose first cell is a spelling of a missing or infinite number
(``NA``, ``NaN``, ``Inf``, ``Infinity``, ``NULL``, ``None``; any case and sign) is a record:
R writes ``NA`` for a missing value, and ``IGNORE=@`` would drop such a record without a
word. A double quote before the first character is passed over (quoted CSV cells). Under the
default and ``@`` rules, lines before the header that begin with ``TABLE NO.`` (the banner of
a NONMEM table file) are skipped.

**Comment column.** A first column named ``C`` (any case) is NM-TRAN's comment column, read
as ``$INPUT C=DROP ...``: never a covariate. A record is a comment when its C cell begins a
comment under the rule in force (under the default rule, any text beginning with a letter,
``@`` or ``#``); on every other record the cell must be empty, ``.`` or ``NA``, else it is an
error naming the row. In a DataFrame (no text lines) only the cells of a leading C column are
looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from nlme_lab.data.cells import is_bad, parse_column
from nlme_lab.data.issues import excerpt, fail

#: a cell that is a missing or infinite number as other tools spell it, never a comment mark
_NOT_A_NUMBER = re.compile(r'\s*"?\s*[+-]?(?:na|nan|inf|infinity|null|none)\s*"?\s*', re.IGNORECASE)
_BANNER = "TABLE NO."
_NUMERIC_STARTS = frozenset("0123456789.+-,;\t")


def is_comment_column(names) -> bool:
    """Whether the first of ``names`` is NM-TRAN's comment column ``C``."""
    return bool(names) and str(names[0]).strip().upper() == "C"


def is_not_a_number_spelling(text: str) -> bool:
    """NA, NaN, Inf, ...: a value, not a comment mark."""
    return _NOT_A_NUMBER.fullmatch(text) is not None


@dataclass(frozen=True)
class IgnoreRule:
    """Which text records are comments: ``character`` of NM-TRAN's ``IGNORE=c``, None = default."""

    character: str | None = None

    @classmethod
    def parse(cls, text: str) -> IgnoreRule | None:
        """The rule written as ``C``, ``@``, ``#`` or quoted ``'c'``; None if ``text`` is not one."""
        stripped = text.strip()
        if len(stripped) == 3 and stripped[0] == stripped[2] and stripped[0] in "'\"":
            return cls(stripped[1])
        return cls(stripped) if len(stripped) == 1 else None

    @property
    def label(self) -> str:
        return "the default rule" if self.character is None else f"IGNORE={self.character}"

    @property
    def record_starts(self) -> frozenset:
        """First characters of a stripped line that always begin a record under this rule."""
        return _NUMERIC_STARTS - {self.character}

    @property
    def skips_banners(self) -> bool:
        return self.character in (None, "@")

    def is_banner(self, line: str) -> bool:
        """A NONMEM table file's ``TABLE NO.`` line (skipped before the header)."""
        return self.skips_banners and line.lstrip().upper().startswith(_BANNER)

    def line_test(self, split, n_columns: int, comment_column: bool):
        """``is_comment(line, stripped)`` for the lines after the header (``stripped`` non-empty)."""
        c = self.character
        letters = c in (None, "@")

        def is_comment(line: str, stripped: str) -> bool:
            first = stripped[1] if stripped[0] == '"' and len(stripped) > 1 else stripped[0]
            if first == "#":
                return True
            if not letters:
                return c != "#" and _first_character(line) == c and not _not_a_number_first(split(line))
            if first != "@" and not first.isalpha():
                return False
            cells = split(line)
            if _not_a_number_first(cells):
                return False
            if c == "@" or comment_column or first in "@Cc":
                return True
            return not _record_shaped(cells, n_columns)

        return is_comment

    def marks(self, cell) -> bool:
        """Whether a C-column cell marks its record as a comment (any object from a DataFrame)."""
        if not isinstance(cell, str):
            return False
        text = cell.strip().strip('"').strip()
        if not text or is_not_a_number_spelling(text):
            return False
        first = text[0]
        if first == "#":
            return True
        if self.character in (None, "@"):
            return first == "@" or first.isalpha()
        return self.character != "#" and first == self.character


def _first_character(line: str) -> str:
    return line[1:2] if line[:1] == '"' else line[:1]


def _not_a_number_first(cells) -> bool:
    return bool(cells) and is_not_a_number_spelling(cells[0])


def _record_shaped(cells, n_columns: int) -> bool:
    """As many cells as the header (two or more), every cell after the first a number or missing."""
    return n_columns >= 2 and len(cells) == n_columns and not any(is_bad(cell) for cell in cells[1:])


def check_comment_column(column, rows: np.ndarray, rule: IgnoreRule, name: str) -> None:
    """DataError at the first record kept as data whose comment-column cell is not blank."""
    parsed = parse_column(column)
    for i in np.flatnonzero(~parsed.missing):
        cell = parsed.cell(int(i))
        if isinstance(cell, str) and is_not_a_number_spelling(cell):
            continue
        shown = excerpt(cell.strip() if isinstance(cell, str) else cell)
        if IgnoreRule("@").marks(cell):
            mark = cell.strip().strip('"').strip()[0]
            fail(f"{shown} in the comment column {name} marks a comment, but {rule.label} reads this "
                 f"record as data (IGNORE=c skips only records whose first character is c): pass "
                 f"filter={{'ignore': {mark!r}}} (NM-TRAN's IGNORE={mark}) or filter={{'ignore': '@'}}",
                 row=rows[i], column=name)
        fail(f"the first column {name} is NM-TRAN's comment column (read as {name}=DROP), so on a data "
             f"record it must be empty, '.' or NA, not {shown}; rename the column if it holds data",
             row=rows[i], column=name)
