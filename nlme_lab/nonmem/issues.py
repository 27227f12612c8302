"""The error of the control-stream import and export, and the notes an import keeps.

Every refusal names the record and the line of the control stream (``run1.mod line 14
($PK): ...``), so a NONMEM user finds the construct at once; nothing unsupported is ever
dropped without a word: what is left out on purpose (``$TABLE``, ...) becomes a ``Note``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nlme_lab.errors import NlmeError


class ControlStreamError(NlmeError, ValueError):
    """A control stream (or a model to export) that cannot be translated, and where."""

    def __init__(self, message: str, *, record: str | None = None, line: int | None = None,
                 source: str | None = None):
        self.message = message
        self.record = record
        self.line = line
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        where = [self.source or "control stream"]
        if self.line:
            where.append(f"line {self.line}")
        if self.record:
            where.append(f"(${self.record})")
        return f"{' '.join(where)}: {self.message}"

    def located(self, source: str) -> ControlStreamError:
        """The same error naming the file it comes from."""
        return ControlStreamError(self.message, record=self.record, line=self.line, source=source)


def fail(message: str, record: str | None = None, line: int | None = None):
    raise ControlStreamError(message, record=record, line=line)


@dataclass(frozen=True)
class Note:
    """Something the import did that a reader of the control stream should know."""

    message: str
    record: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line} " if self.line else ""
        record = f"(${self.record}) " if self.record else ""
        return f"{where}{record}{self.message}".strip()
