"""Locations in model text and the collector of located problems.

Lines and columns are 1-based and count characters (a tab is one column). Text is first
normalised as an editor shows it (``normalize_text``): CRLF and a lone CR end a line, as LF does,
and a leading byte-order mark is dropped; so ``add_sd = 0.7  # label\\rtq = 5`` is two lines,
as every editor displays it, never one line whose second half hides in a comment. ``end_col``
is exclusive, as editors (Monaco, CodeMirror, LSP) expect.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

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

_LINE_END = re.compile(r"\r\n?")
BOM = "\ufeff"
MAX_FILE_BYTES = 1_000_000  # a model is a page of text; anything larger is not a model file


def normalize_text(text: str) -> str:
    """``text`` as an editor shows it: CRLF and lone CR become LF, a leading BOM is dropped."""
    if text.startswith(BOM):
        text = text[1:]
    return _LINE_END.sub("\n", text) if "\r" in text else text


def read_model_file(path: Path) -> str:
    """The text of a model file (UTF-8, normalised). Raises ``ModelError`` naming the file when
    it is missing, a folder, not a regular file, too large, or not UTF-8 (with the line and
    column of the first byte that is not)."""
    path = Path(path)
    problem = _file_problem(path)
    if problem is None:
        try:
            data = path.read_bytes()
        except OSError as err:
            problem = f"the model file cannot be read: {err.strerror or err}"
    if problem is not None:
        raise ModelError(Diagnostic(problem, 0, 0), file=path)
    try:
        return normalize_text(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ModelError(_decode_diagnostic(data, err), file=path) from None


def _file_problem(path: Path) -> str | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return "the model file does not exist"
    except OSError as err:
        return f"the model file cannot be read: {err.strerror or err}"
    if path.is_dir():
        return "this is a folder, not a model file"
    if not path.is_file():
        return "this is not a regular file (a device, pipe or socket), not a model file"
    if info.st_size > MAX_FILE_BYTES:
        return f"the file is too large for a model file ({info.st_size} bytes; the limit is {MAX_FILE_BYTES})"
    return None


def _decode_diagnostic(data: bytes, err: UnicodeDecodeError) -> Diagnostic:
    start = err.start
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
    message = (f"the model file is not UTF-8 text: byte 0x{data[start]:02X} at byte offset {start} "
               "cannot be decoded (save the file as UTF-8)")
    return Diagnostic(message, line, column, column + 1)


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


def edit_distance(a: str, b: str) -> int:
    """Edits between ``a`` and ``b``, case ignored: insertions, deletions, substitutions and
    swaps of two neighbours (``tlc`` is one edit from ``tcl``; optimal string alignment)."""
    a, b = a.lower(), b.lower()
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def near_miss(name: str, candidates) -> str | None:
    """The candidate ``name`` is most likely a typo of, or None.

    Close means at most 2 edits (case ignored) and at most half the shorter name's length, so
    ``centrl`` is a typo of ``center`` and ``eta_cll`` of ``eta_cl``, while the usual short
    covariate names stay apart from short model names (``WT`` is 2 edits from ``v`` but
    not a typo of it; ``CRCL`` is not one of ``cl``). A name in capitals (``APGR``, ``DUR2``,
    ``WT``) is a dataset column by convention and never a typo here: ``APGR`` beside a
    parameter ``apgr_v``, or ``wt = WT``, mean the column (binding checks it exists). Ties go
    to the first candidate."""
    if name.isupper():
        return None
    best, best_distance = None, 3
    for candidate in candidates:
        if candidate == name:
            continue
        distance = edit_distance(name, candidate)
        if distance < best_distance and distance <= min(len(name), len(candidate)) // 2:
            best, best_distance = candidate, distance
    return best


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
