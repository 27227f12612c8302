"""The syntax tree of NM-TRAN abbreviated code (``$PK``, ``$DES``, ``$ERROR``, ``$PRED``).

Expressions are immutable; ``Call`` covers both a function (``EXP(X)``) and an indexed
reserved name (``THETA(1)``, ``ETA(2)``, ``A(1)``): what a name means is decided by the
translator, never here. Every statement keeps the line of the control stream it came from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    text: str  # as written, upper case (``1.5D-3``)

    @property
    def value(self) -> float:
        return float(self.text.replace("D", "E"))


@dataclass(frozen=True)
class Name:
    name: str  # upper case


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "+"
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / **
    left: object
    right: object


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: object
    right: object


@dataclass(frozen=True)
class Logic:
    op: str  # "and" / "or"
    left: object
    right: object


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class Conditional:
    """``body if condition else orelse``: made by the translator when branches merge."""

    body: object
    condition: object
    orelse: object


@dataclass(frozen=True)
class Assign:
    target: str  # ``CL``, or ``DADT`` / ``A_0`` with ``index``
    index: int | None
    value: object
    line: int

    @property
    def label(self) -> str:
        return self.target if self.index is None else f"{self.target}({self.index})"


@dataclass(frozen=True)
class If:
    """``IF (c) THEN ... ELSE IF (c2) THEN ... ELSE ... ENDIF``, or the one-line ``IF (c) X = e``."""

    branches: tuple  # ((condition, (statements...)), ...)
    orelse: tuple | None  # statements of ELSE, None when there is no ELSE
    line: int
    one_line: bool = False


def walk(expr):
    """Every node of an expression, depth first."""
    yield expr
    if isinstance(expr, Call):
        for arg in expr.args:
            yield from walk(arg)
    elif isinstance(expr, Unary | Not):
        yield from walk(expr.operand)
    elif isinstance(expr, Binary | Compare | Logic):
        yield from walk(expr.left)
        yield from walk(expr.right)
    elif isinstance(expr, Conditional):
        yield from walk(expr.body)
        yield from walk(expr.condition)
        yield from walk(expr.orelse)


def assignments(statements):
    """Every assignment in a statement list, inside IF blocks too, in order."""
    for stmt in statements:
        if isinstance(stmt, Assign):
            yield stmt
        else:
            for _, body in stmt.branches:
                yield from assignments(body)
            if stmt.orelse:
                yield from assignments(stmt.orelse)


# --------------------------------------------------------------------------- resolved leaves
# The translator replaces names by these: what each name of the control stream means.


@dataclass(frozen=True)
class Param:
    """THETA(n), ETA(n), EPS(n), a kappa (between-occasion effect) or a SIGMA-derived SD."""

    kind: str  # "theta", "eta", "eps", "kappa", "sd"
    index: int


@dataclass(frozen=True)
class Covariate:
    column: str  # the Dataset column


@dataclass(frozen=True)
class Time:
    pass


@dataclass(frozen=True)
class State:
    number: int  # 1-based compartment


@dataclass(frozen=True)
class Unavailable:
    """A name the model language cannot read (``DV``, ``AMT``, ...): a statement using it is
    left out when nothing needs it, else refused with ``reason``."""

    reason: str


@dataclass(frozen=True, eq=False)
class Ref:
    """A reference to a translated statement (``translate.Slot``), compared by identity."""

    slot: object
