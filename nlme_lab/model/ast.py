"""The syntax tree of a model file, as the parser builds it (no meaning attached yet).

Every node carries a ``span`` (its place in the text), excluded from equality so that tests
can compare tree shapes: ``BinOp("+", Num(1.0), Name("x")) == parse_expression("1 + x")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlme_lab.model.source import NOSPAN, Span


def _span() -> Span:
    return field(default=NOSPAN, compare=False, repr=False)


# --------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Num:
    value: float
    text: str = field(default="", compare=False, repr=False)  # as written, e.g. "1e-3"
    span: Span = _span()


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    id: str
    span: Span = _span()


@dataclass(frozen=True)
class UnaryOp:
    op: str  # "-" or "+"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class BinOp:
    op: str  # "+", "-", "*", "/", "**" (``^`` is parsed as "**")
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Compare:
    """``a < b <= c``: Python's chained comparison (``a < b and b <= c``)."""

    left: Expr
    ops: tuple[str, ...]
    comparators: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    values: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class IfExp:
    """``body if test else orelse``."""

    body: Expr
    test: Expr
    orelse: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """A call of a whitelisted function (the parser rejects every other callee)."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


Expr = Num | Bool | Name | UnaryOp | BinOp | Compare | BoolOp | Not | IfExp | Call


# --------------------------------------------------------------------------- [ini]
@dataclass(frozen=True)
class ThetaDecl:
    """``name = init``, ``name = (lo, init[, hi])``, ``name = fix(init)``, ``fix(lo, init[, hi])``."""

    name: str
    init: Expr
    lower: Expr | None = None
    upper: Expr | None = None
    fixed: bool = False
    label: str = ""
    span: Span = _span()  # the whole statement
    name_span: Span = _span()
    spec_span: Span = _span()  # everything after '=' (before the comment)
    inner_span: Span = _span()  # inside ``fix( )`` or ``( )``; equals spec_span for a bare value


@dataclass(frozen=True)
class RandomDecl:
    """``eta ~ var``, ``a + b ~ [v11, c21, v22]``, ``~ fix(...)``, ``kappa ~ var | OCC``."""

    names: tuple[str, ...]
    values: tuple[Expr, ...]  # lower triangle by rows for a block
    block: bool = False  # written with [ ]
    fixed: bool = False
    occasion: str | None = None
    label: str = ""
    span: Span = _span()
    name_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    spec_span: Span = _span()  # the variance part, before '|'
    inner_span: Span = _span()  # inside ``fix( )``; equals spec_span when not fixed
    occasion_span: Span = _span()


# --------------------------------------------------------------------------- [model]
@dataclass(frozen=True)
class Assign:
    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Ode:
    """``d/dt(cmt) = value``."""

    cmt: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()  # the compartment name


@dataclass(frozen=True)
class Initial:
    """``cmt(0) = value``."""

    cmt: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class DoseMod:
    """``f(cmt) = value`` and likewise ``alag``, ``rate``, ``dur`` (``kind`` is that word)."""

    kind: str
    cmt: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()  # the compartment name


@dataclass(frozen=True)
class LinCmtAssign:
    """``name = linCmt()``."""

    name: str
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class ErrorTermNode:
    kind: str  # "add" | "prop" | "lnorm" (checked by the parser)
    param: str
    span: Span = _span()
    param_span: Span = _span()


@dataclass(frozen=True)
class Observe:
    """``variable ~ add(a) + prop(b)``."""

    variable: str
    terms: tuple[ErrorTermNode, ...]
    span: Span = _span()
    name_span: Span = _span()


IniStatement = ThetaDecl | RandomDecl
ModelStatement = Assign | Ode | Initial | DoseMod | LinCmtAssign | Observe


@dataclass(frozen=True)
class Section:
    name: str  # "ini" | "model"
    span: Span = _span()


@dataclass(frozen=True)
class Program:
    ini: tuple[IniStatement, ...]
    model: tuple[ModelStatement, ...]
    sections: tuple[Section, ...] = ()
    n_lines: int = field(default=1, compare=False)


def walk(expr: Expr):
    """Every node of an expression, parents before children."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, UnaryOp | Not):
            stack.append(node.operand)
        elif isinstance(node, BinOp):
            stack.extend((node.right, node.left))
        elif isinstance(node, Compare):
            stack.extend(reversed((node.left, *node.comparators)))
        elif isinstance(node, BoolOp):
            stack.extend(reversed(node.values))
        elif isinstance(node, IfExp):
            stack.extend((node.orelse, node.test, node.body))
        elif isinstance(node, Call):
            stack.extend(reversed(node.args))


def names_in(expr: Expr) -> list[Name]:
    """The ``Name`` nodes of an expression in reading order."""
    return [n for n in walk(expr) if isinstance(n, Name)]
