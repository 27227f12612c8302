"""Printing translated expressions as model-language text (Python's precedence and syntax).

Parentheses are written where the precedence needs them, and around a right operand of the
same precedence (``a - (b + c)``, ``a / (b * c)``), so the grouping of the control stream is
kept and the model computes the same operations in the same order.
"""

from __future__ import annotations

from nlme_lab.nonmem import code_ast as na

_BINARY = {"+": 5, "-": 5, "*": 6, "/": 6}
_ATOM = 9


def number(text: str) -> str:
    """A NONMEM number as model text: whole numbers as written, others as the same double."""
    if text.isdigit():
        return text.lstrip("0") or "0"
    return repr(float(text.replace("D", "E")))


def to_text(expr, name_of) -> str:
    """Model text of ``expr``; ``name_of(leaf)`` names ``Ref``, ``Param``, ``Covariate``,
    ``State`` and ``Time`` leaves."""
    return _print(expr, name_of)[0]


def _wrap(part: tuple[str, int], minimum: int) -> str:
    text, prec = part
    return f"({text})" if prec < minimum else text


def _print(expr, name_of) -> tuple[str, int]:
    if isinstance(expr, na.Num):
        return number(expr.text), _ATOM
    if isinstance(expr, na.Ref | na.Param | na.Covariate | na.State | na.Time):
        return name_of(expr), _ATOM
    if isinstance(expr, na.Call):
        return f"{expr.name}({', '.join(_print(a, name_of)[0] for a in expr.args)})", _ATOM
    if isinstance(expr, na.Binary):
        left, right = _print(expr.left, name_of), _print(expr.right, name_of)
        if expr.op == "**":
            return f"{_wrap(left, _ATOM)} ** {_wrap(right, 7)}", 8
        prec = _BINARY[expr.op]
        return f"{_wrap(left, prec)} {expr.op} {_wrap(right, prec + 1)}", prec
    if isinstance(expr, na.Unary):
        return f"{expr.op}{_wrap(_print(expr.operand, name_of), 7)}", 7
    if isinstance(expr, na.Compare):
        left, right = _print(expr.left, name_of), _print(expr.right, name_of)
        return f"{_wrap(left, 5)} {expr.op} {_wrap(right, 5)}", 4
    if isinstance(expr, na.Not):
        return f"not {_wrap(_print(expr.operand, name_of), 3)}", 3
    if isinstance(expr, na.Logic):
        prec = 2 if expr.op == "and" else 1
        left, right = _print(expr.left, name_of), _print(expr.right, name_of)
        return f"{_wrap(left, prec)} {expr.op} {_wrap(right, prec + 1)}", prec
    if isinstance(expr, na.Conditional):
        body, cond, orelse = (_print(e, name_of) for e in (expr.body, expr.condition, expr.orelse))
        return f"{_wrap(body, 1)} if {_wrap(cond, 1)} else {_wrap(orelse, 0)}", 0
    raise TypeError(f"cannot print {type(expr).__name__}")  # a translator bug, not a user error
