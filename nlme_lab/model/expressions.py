"""Syntax tree expressions -> sympy expressions (imported lazily: sympy is heavy).

* ``log10(x)`` -> ``log(x)/log(10)``, ``logit(x)`` -> ``log(x/(1 - x))``,
  ``expit(x)`` -> ``1/(1 + exp(-x))``, ``abs`` -> ``Abs``, ``min``/``max`` -> ``Min``/``Max``.
* ``a if c else b`` -> ``Piecewise((a, c), (b, True))``.
* a boolean used as a number -> ``Piecewise((1, c), (0, True))``; a number used as a condition
  -> ``Ne(x, 0)`` (Python truthiness). ``and``/``or`` are logical (their value is 1 or 0, not an
  operand as in Python).
* Integer literals stay exact (``Integer``), others are ``Float`` of the parsed double.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import sympy

from nlme_lab.model import ast
from nlme_lab.model.source import Span

_RELATIONS = {
    "<": sympy.Lt,
    "<=": sympy.Le,
    ">": sympy.Gt,
    ">=": sympy.Ge,
    "==": sympy.Eq,
    "!=": sympy.Ne,
}
_MAX_EXACT_EXPONENT = 64


class BuildError(Exception):
    """A located problem while building a sympy expression."""

    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message = message
        self.span = span


def _expit(x):
    return 1 / (1 + sympy.exp(-x))


def _logit(x):
    return sympy.log(x / (1 - x))


_FUNCTIONS: dict[str, Callable] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "log10": lambda x: sympy.log(x) / sympy.log(10),
    "sqrt": sympy.sqrt,
    "abs": sympy.Abs,
    "min": lambda *a: sympy.Min(*a),
    "max": lambda *a: sympy.Max(*a),
    "logit": _logit,
    "expit": _expit,
    "sin": sympy.sin,
    "cos": sympy.cos,
}


class ExprBuilder:
    """Builds sympy expressions; ``resolve_name`` maps a ``Name`` node to its symbol."""

    def __init__(self, resolve_name: Callable[[ast.Name], sympy.Expr]):
        self.resolve_name = resolve_name

    def build(self, node: ast.Expr) -> sympy.Expr:
        """The value of a statement's right-hand side; rejects undefined results (1/0)."""
        expr = self.value(node)
        if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise BuildError("the expression is undefined or infinite (division by zero?)", node.span)
        return expr

    def value(self, node: ast.Expr) -> sympy.Expr:
        try:
            return self._value(node)
        except BuildError:
            raise
        except RecursionError:
            raise BuildError("expression nested too deeply", node.span) from None
        except Exception as err:  # noqa: BLE001 - sympy raises many types on odd input
            raise BuildError(f"cannot build this expression: {err}", node.span) from None

    def _value(self, node: ast.Expr) -> sympy.Expr:
        if isinstance(node, ast.Num):
            return _number(node)
        if isinstance(node, ast.Bool):
            return sympy.Integer(1 if node.value else 0)
        if isinstance(node, ast.Name):
            return self.resolve_name(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            return -operand if node.op == "-" else operand
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            return _FUNCTIONS[node.func](*(self.value(a) for a in node.args))
        if isinstance(node, ast.IfExp):
            body, test, orelse = self.value(node.body), self.condition(node.test), self.value(node.orelse)
            return sympy.Piecewise((body, test), (orelse, True))
        return sympy.Piecewise((sympy.Integer(1), self.condition(node)), (sympy.Integer(0), True))

    def _binop(self, node: ast.BinOp) -> sympy.Expr:
        left, right = self.value(node.left), self.value(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            if right.is_zero:
                raise BuildError("division by zero", node.span)
            return left / right
        return _power(left, right, node.span)

    def condition(self, node: ast.Expr):
        try:
            return self._condition(node)
        except BuildError:
            raise
        except RecursionError:
            raise BuildError("expression nested too deeply", node.span) from None
        except Exception as err:  # noqa: BLE001
            raise BuildError(f"cannot build this condition: {err}", node.span) from None

    def _condition(self, node: ast.Expr):
        if isinstance(node, ast.Compare):
            operands = [self.value(node.left), *(self.value(c) for c in node.comparators)]
            pairs = [_RELATIONS[op](a, b) for op, a, b in zip(node.ops, operands, operands[1:])]
            return sympy.And(*pairs) if len(pairs) > 1 else pairs[0]
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            return sympy.And(*parts) if node.op == "and" else sympy.Or(*parts)
        if isinstance(node, ast.Not):
            return sympy.Not(self.condition(node.operand))
        if isinstance(node, ast.Bool):
            return sympy.true if node.value else sympy.false
        return sympy.Ne(self.value(node), 0)


def _number(node: ast.Num) -> sympy.Expr:
    if node.value.is_integer() and abs(node.value) < 1e15 and node.text.isdigit():
        return sympy.Integer(int(node.value))
    return sympy.Float(node.value)


def _small_power(base: int, exponent: int) -> bool:
    return abs(base).bit_length() * abs(exponent) <= 4096


def _power(base: sympy.Expr, exponent: sympy.Expr, span: Span) -> sympy.Expr:
    """``base ** exponent`` without letting sympy build astronomically large exact numbers."""
    if exponent.is_Integer and abs(int(exponent)) > _MAX_EXACT_EXPONENT:
        exponent = sympy.Float(int(exponent))
    if base.is_Number and exponent.is_Number:
        if base.is_Integer and exponent.is_Integer and _small_power(int(base), int(exponent)):
            return base**exponent
        try:
            value = math.pow(float(base), float(exponent))
        except OverflowError:
            raise BuildError("the value is too large", span) from None
        except (ValueError, ZeroDivisionError):
            raise BuildError("the power is undefined (0 to a negative power, or a negative number to a fractional power)", span) from None
        return sympy.Float(value)
    return base**exponent
