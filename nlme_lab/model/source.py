"""Locations in model text and the collector of located problems.

Lines and columns are 1-based and count characters (a tab is one column). Lines are split on
``\\n`` only; a ``\\r`` before it is whitespace, so locations are the same for LF and CRLF text.
``end_col`` is exclusive, as editors (Monaco, CodeMirror, LSP) expect.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from nlme_lab.errors import Diagnostic, ModelError


@dataclass(frozen=True, slots=True)
class Span:
    """A range on one line: columns ``col`` (inclusive) to ``end_col`` (exclusive)."""

    line: int
    col: int
    end_col: int

    def to(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other`` (same line)."""
        return Span(self.line, self.col, max(other.end_col, self.col + 1))


NOSPAN = Span(0, 0, 0)


class Problems:
    """Collects error and warning diagnostics; ``raise_if_errors`` raises them all at once."""

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def error(self, message: str, span: Span) -> None:
        self.errors.append(_diagnostic(message, span, "error"))

    def warning(self, message: str, span: Span) -> None:
        self.warnings.append(_diagnostic(message, span, "warning"))

    def raise_if_errors(self) -> None:
        if self.errors:
            unique = dict.fromkeys(self.errors)  # keep order, drop exact repeats
            raise ModelError(sorted(unique, key=lambda d: (d.line, d.column)))


def _diagnostic(message: str, span: Span, severity: str) -> Diagnostic:
    line = max(span.line, 1)
    col = max(span.col, 1)
    end = span.end_col if span.end_col > col else col + 1
    return Diagnostic(message, line, col, end, severity)


def suggest(name: str, candidates, *, prefix: str = "; did you mean ") -> str:
    """``"; did you mean exp?"`` when a candidate is close to ``name``, else ``""``."""
    pool = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(pool), n=1, cutoff=0.6)
    return f"{prefix}{pool[close[0]]}?" if close else ""


def line_offsets(text: str) -> list[int]:
    """Offset in ``text`` of the first character of each line (index 0 is line 1)."""
    offsets = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            offsets.append(i + 1)
    return offsets


def replace_spans(text: str, edits: list[tuple[Span, str]]) -> str:
    """Replace each span of ``text`` by its new text (spans must not overlap)."""
    offsets = line_offsets(text)
    absolute = []
    for span, new in edits:
        start = offsets[span.line - 1] + span.col - 1
        absolute.append((start, offsets[span.line - 1] + span.end_col - 1, new))
    for start, end, new in sorted(absolute, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def span_text(text: str, span: Span) -> str:
    offsets = line_offsets(text)
    start = offsets[span.line - 1]
    return text[start + span.col - 1 : start + span.end_col - 1]
