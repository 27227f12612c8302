"""Errors and warnings users see. Every one names where the problem is.

* Data problems name the row (for a file: its 1-based line number, so the header is line 1
  and a user can jump straight to it in an editor; for a DataFrame: the 1-based position),
  the subject ID and the column.
* Model problems name the line and column of the model text (1-based) and say what was
  expected; several problems may be reported at once through ``diagnostics``.
* Solver problems name the subject and the time.
"""

from __future__ import annotations

from dataclasses import dataclass


class NlmeError(Exception):
    """Base class of every error nlme_lab raises on purpose."""


class DataError(NlmeError, ValueError):
    """A problem in a dataset: names the row, subject and column where known."""

    def __init__(self, message: str, *, row: int | None = None, subject=None, column: str | None = None):
        self.message = message
        self.row = row
        self.subject = subject
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if row := self.row:
            where.append(f"row {row}")
        if self.subject is not None:
            where.append(f"ID {self.subject}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class DataWarning(UserWarning):
    """Something NONMEM would go on with, but a user should know about."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in model text, located for an editor to underline.

    ``line`` 0 means the problem concerns the whole file (it is missing, not text, ...)."""

    message: str
    line: int
    column: int
    end_column: int | None = None
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"line {self.line}:{self.column}: {self.message}" if self.line >= 1 else self.message


class ModelError(NlmeError, ValueError):
    """Model text that cannot be compiled. ``diagnostics`` holds every problem found, and the
    message lists them all: the first as ``<problem> at line L:C[ of FILE][; hint] (and N more)``,
    then one line per other problem (``  line L:C: <problem>``). ``file`` names the model file
    when the text came from one."""

    def __init__(self, diagnostics, *, file=None):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = tuple(diagnostics)
        self.file = str(file) if file is not None else None
        first = self.diagnostics[0]
        self.line = first.line
        self.column = first.column
        super().__init__(self._format())

    def _format(self) -> str:
        first, rest = self.diagnostics[0], self.diagnostics[1:]
        more = f" (and {len(rest)} more)" if rest else ""
        # the location goes right after the problem, before any hint ("; did you mean exp?")
        problem, sep, hint = first.message.partition("; ")
        lines = [f"{problem}{self._where(first)}{sep}{hint}{more}"]
        lines += [f"  {diag}" for diag in rest]
        return "\n".join(lines)

    def _where(self, diag: Diagnostic) -> str:
        of = f" of {self.file}" if self.file else ""
        if diag.line < 1:
            return f" (model file {self.file})" if self.file else ""
        return f" at line {diag.line}:{diag.column}{of}"


class ModelWarning(UserWarning):
    """A model that compiles but probably is not what was meant (unused eta, ...)."""


class BindError(NlmeError, ValueError):
    """A model and a dataset that do not fit together (missing covariate column, bad CMT).

    ``diagnostics``: the problems located in the model text (a name that is neither defined nor
    a column), for an editor to underline. ``problems``: when binding found several problems,
    each of them (``DataError``s naming row, subject and column, or ``BindError``s); the
    message then lists them all, one per line."""

    def __init__(self, message: str = "", *, diagnostics=(), problems=()):
        self.diagnostics = tuple(diagnostics)
        self.problems = tuple(problems)
        if not message:
            lines = [f"the model and the dataset do not fit together ({len(self.problems)} problems):"]
            lines += [f"  {problem}" for problem in self.problems]
            message = "\n".join(lines)
        super().__init__(message)


class CacheError(NlmeError, PermissionError):
    """A cache folder that is not private: code loaded from it could have been written by someone
    else (names the folder and how to fix it)."""


class SolverError(NlmeError, RuntimeError):
    """The numerical solution failed for a subject at a time."""

    def __init__(self, message: str, *, subject=None, time: float | None = None):
        self.subject = subject
        self.time = time
        where = []
        if subject is not None:
            where.append(f"ID {subject}")
        if time is not None:
            where.append(f"time {time:g}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
