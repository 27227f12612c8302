"""The constant evaluator of ``[ini]`` values (``tka = log(1.57)``): a tree walk, never ``eval``.

Arithmetic is done in Python floats (so ``10**10**10`` overflows at once instead of building
a huge integer). Comparisons and ``and``/``or``/``not`` give 1.0 or 0.0, as a boolean used as
a number does in ``[model]``. Names are rejected: initial values are constants.
"""

from __future__ import annotations

import math

from nlme_lab.model import ast
from nlme_lab.model.functions import FLOAT_IMPL
from nlme_lab.model.source import Span

_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class ConstError(Exception):
    """A located problem while evaluating a constant."""

    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message = message
        self.span = span


def evaluate(expr: ast.Expr) -> float:
    """The value of a constant expression; raises ``ConstError`` (located) on any problem."""
    value = _eval(expr)
    if not math.isfinite(value):
        raise ConstError("the value is not a finite number", expr.span)
    return value


def _eval(node: ast.Expr) -> float:
    try:
        value = _dispatch(node)
    except ConstError:
        raise
    except ZeroDivisionError:
        raise ConstError("division by zero", node.span) from None
    except OverflowError:
        raise ConstError("the value is too large", node.span) from None
    except ValueError:
        raise ConstError("a function argument is outside its domain (e.g. log of a negative number)", node.span) from None
    if isinstance(value, complex):
        raise ConstError("the result is not a real number (negative number to a fractional power)", node.span)
    return float(value)


def _dispatch(node: ast.Expr) -> float:
    if isinstance(node, ast.Num):
        return node.value
    if isinstance(node, ast.Bool):
        return 1.0 if node.value else 0.0
    if isinstance(node, ast.Name):
        raise ConstError(
            f"initial values must be constants: '{node.id}' is a name ([ini] cannot refer to other parameters)",
            node.span,
        )
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand)
        return -value if node.op == "-" else value
    if isinstance(node, ast.BinOp):
        return _binop(node.op, _eval(node.left), _eval(node.right))
    if isinstance(node, ast.Call):
        return FLOAT_IMPL[node.func](*(_eval(a) for a in node.args))
    if isinstance(node, ast.IfExp):
        return _eval(node.body) if _truth(node.test) else _eval(node.orelse)
    return 1.0 if _truth(node) else 0.0


def _binop(op: str, left: float, right: float) -> float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    return left**right


def _truth(node: ast.Expr) -> bool:
    if isinstance(node, ast.Compare):
        operands = [_eval(node.left), *(_eval(c) for c in node.comparators)]
        return all(_COMPARE[op](a, b) for op, a, b in zip(node.ops, operands, operands[1:]))
    if isinstance(node, ast.BoolOp):
        truths = (_truth(v) for v in node.values)
        return all(truths) if node.op == "and" else any(truths)
    if isinstance(node, ast.Not):
        return not _truth(node.operand)
    return _eval(node) != 0.0
