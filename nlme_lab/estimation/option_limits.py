"""What each method option accepts, checked when an options dataclass is built.

Every options dataclass of ``estimation.methods`` lists its fields' ``Limit``s in a class
attribute ``LIMITS``; ``Checked.__post_init__`` checks every field against the limits of its
class and its bases, so ``SAEMOptions(anneal=5.0)``, ``InnerOptions(max_iterations=-1)`` or
``NUTSOptions(chains="lots")`` are refused where they are written, naming the option and what
it accepts (``OptionsError``), instead of crashing deep inside a fit or reporting nonsense as
converged. ``dataclasses.replace`` runs the same check, so option text (``option_text``) and
session files are checked too.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from dataclasses import dataclass

from nlme_lab.errors import NlmeError


class OptionsError(NlmeError, ValueError):
    """An option outside what it accepts. ``owner`` is the options class, ``option`` the field,
    ``requirement`` the words after "must be"."""

    def __init__(self, owner: str, option: str, requirement: str, value, *, where: str | None = None):
        self.owner, self.option, self.requirement, self.value = owner, option, requirement, value
        got = type(value).__name__ if dataclasses.is_dataclass(value) else _show(value)
        super().__init__(f"{where or owner + '.' + option} must be {requirement}, got {got}")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class Limit:
    """A number option: ``integer`` or real (an int is fine where a real goes), between
    ``low`` and ``high`` (``open_low`` / ``open_high``: the bound itself excluded); ``optional``:
    None accepted too. ``meaning`` is added to the message (why the range is what it is)."""

    integer: bool = False
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    optional: bool = False
    meaning: str = ""

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if not (_is_int(value) if self.integer else _is_real(value)):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.open_high else value > self.high))

    def requirement(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            text = f"{kind} in {left}{self.low:g}, {self.high:g}{right}"
        elif self.low is not None:
            text = f"{kind} {'>' if self.open_low else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.open_high else '<='} {self.high:g}"
        else:
            text = f"a finite {'integer' if self.integer else 'number'}"
        text += " or None" if self.optional else ""
        return text + (f" ({self.meaning})" if self.meaning else "")


@dataclass(frozen=True)
class IntTuple:
    """A tuple of integers, each >= ``low``: of ``length`` entries (None: any), with a positive
    sum if ``positive_sum``; ``optional``: None accepted too."""

    low: int = 0
    length: int | None = None
    positive_sum: bool = False
    optional: bool = False
    meaning: str = ""

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if not isinstance(value, tuple) or (self.length is not None and len(value) != self.length):
            return False
        if not all(_is_int(v) and v >= self.low for v in value):
            return False
        return not self.positive_sum or sum(value) > 0

    def requirement(self) -> str:
        size = f"{self.length} " if self.length is not None else ""
        text = f"a tuple of {size}integers >= {self.low}" + (" or None" if self.optional else "")
        notes = (["not all 0"] if self.positive_sum else []) + ([self.meaning] if self.meaning else [])
        return text + (f" ({'; '.join(notes)})" if notes else "")


@dataclass(frozen=True)
class InstanceOf:
    """A value of one of ``types`` (an options group, an enum kind); ``describe`` names them."""

    types: tuple
    describe: str
    optional: bool = False

    def accepts(self, value) -> bool:
        return (value is None and self.optional) or isinstance(value, self.types)

    def requirement(self) -> str:
        if all(isinstance(t, type) and issubclass(t, enum.Enum) for t in self.types):
            kinds = ", ".join(f"{t.__name__}.{k.name}" for t in self.types for k in t)
            return f"{self.describe} ({kinds})"
        return self.describe + (" or None" if self.optional else "")


class Checked:
    """Mixin of the options dataclasses: ``__post_init__`` checks every field that has a limit
    in ``LIMITS`` of the class or of one of its bases."""

    LIMITS: dict = {}

    def __post_init__(self):
        limits: dict = {}
        for cls in reversed(type(self).__mro__):
            limits.update(cls.__dict__.get("LIMITS", {}))
        for f in dataclasses.fields(self):
            limit = limits.get(f.name)
            value = getattr(self, f.name)
            if limit is not None and not limit.accepts(value):
                raise OptionsError(type(self).__name__, f.name, limit.requirement(), value)
        self.check_together()

    def check_together(self) -> None:
        """Checks that involve several fields (none by default)."""
