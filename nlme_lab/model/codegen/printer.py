"""Print sympy expressions as Python source that numba compiles: a closed whitelist.

The printer emits only: float literals, the names it is given, arithmetic operators,
comparisons, ``and``/``or``/``not``, conditional expressions, ``math.<fn>`` calls for the
functions in ``MATH_FUNCTIONS``, and the builtins ``abs``, ``min``, ``max``. Anything else in
an expression is an error (``UnsupportedExpression``), never printed: the generated code can
only compute arithmetic.

Every number is printed as a float literal (``2.0``) so both branches of a conditional have
the same numba type; only integer exponents stay integers (``x**2`` compiles to a multiply).
"""

from __future__ import annotations

import sympy
from sympy.core.relational import Relational

# sympy function name -> math module function
MATH_FUNCTIONS = {
    "exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
    "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
    "tanh": "tanh", "erf": "erf", "erfc": "erfc",
}
_REL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}

# Python operator precedence (higher binds tighter)
_COND, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = range(10)


class UnsupportedExpression(TypeError):
    """An expression node the generated code may not contain."""


def check_supported(expr: sympy.Basic) -> None:
    """Raise ``UnsupportedExpression`` for the first node the printer would refuse."""
    for node in sympy.preorder_traversal(expr):
        if not _is_supported(node):
            raise UnsupportedExpression(f"unsupported {type(node).__name__} in {expr}")


def _is_supported(node) -> bool:
    if isinstance(node, (sympy.Symbol, sympy.Number, sympy.NumberSymbol, sympy.Add, sympy.Mul,
                         sympy.Pow, sympy.Piecewise, Relational, sympy.And, sympy.Or, sympy.Not, sympy.ITE,
                         sympy.Abs, sympy.Min, sympy.Max, sympy.Heaviside, sympy.sign,
                         sympy.DiracDelta)):
        return True
    if isinstance(node, (sympy.logic.boolalg.BooleanAtom, sympy.core.numbers.NaN,
                         sympy.core.numbers.ComplexInfinity, sympy.functions.elementary.piecewise.ExprCondPair)):
        return True
    if isinstance(node, sympy.Tuple):
        return True
    if isinstance(node, sympy.Function) and type(node).__name__ in MATH_FUNCTIONS:
        return len(node.args) == 1
    return False


class Printer:
    """Prints expressions whose symbols all appear in ``names`` (symbol name -> code name)."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def __call__(self, expr) -> str:
        return self._print(sympy.sympify(expr))[0]

    # ------------------------------------------------------------------ dispatch
    def _print(self, e) -> tuple[str, int]:
        if isinstance(e, sympy.Symbol):
            if e.name not in self.names:
                raise UnsupportedExpression(f"symbol {e.name} has no value here")
            return self.names[e.name], _ATOM
        if isinstance(e, (sympy.Number, sympy.NumberSymbol)) or e in (sympy.nan, sympy.zoo):
            return self._number(e)
        if isinstance(e, sympy.logic.boolalg.BooleanAtom):
            return ("True" if bool(e) else "False"), _ATOM
        if isinstance(e, sympy.Add):
            return self._add(e)
        if isinstance(e, sympy.Mul):
            return self._mul(e)
        if isinstance(e, sympy.Pow):
            return self._pow(e.base, e.exp)
        if isinstance(e, sympy.Piecewise):
            return self._piecewise(e)
        if isinstance(e, Relational):
            op = _REL_OPS[e.rel_op]
            return f"{self._wrap(e.lhs, _CMP + 1)} {op} {self._wrap(e.rhs, _CMP + 1)}", _CMP
        if isinstance(e, (sympy.And, sympy.Or)):
            word, prec = ("and", _AND) if isinstance(e, sympy.And) else ("or", _OR)
            return f" {word} ".join(self._wrap(a, prec + 1) for a in e.args), prec
        if isinstance(e, sympy.ITE):  # boolean if-then-else (sympy makes these from nested conditions)
            cond, then, other = (self._wrap(arg, _COND + 1) for arg in e.args)
            return f"({then} if {cond} else {other})", _ATOM
        if isinstance(e, sympy.Not):
            return f"not {self._wrap(e.args[0], _NOT)}", _NOT
        return self._function(e)

    def _wrap(self, e, min_prec: int) -> str:
        text, prec = self._print(e)
        return text if prec >= min_prec else f"({text})"

    # ------------------------------------------------------------------ atoms
    def _number(self, e) -> tuple[str, int]:
        if e is sympy.pi:
            return "math.pi", _ATOM
        if e is sympy.E:
            return "math.e", _ATOM
        if e in (sympy.nan, sympy.zoo):
            return "math.nan", _ATOM
        if e is sympy.oo:
            return "math.inf", _ATOM
        if e is sympy.S.NegativeInfinity:
            return "-math.inf", _UNARY
        value = float(e)
        if value != value or abs(value) == float("inf"):
            return ("math.nan", _ATOM) if value != value else (("math.inf", _ATOM) if value > 0 else ("-math.inf", _UNARY))
        text = repr(value)
        return (text, _UNARY) if value < 0 else (text, _ATOM)

    # ------------------------------------------------------------------ arithmetic
    def _add(self, e) -> tuple[str, int]:
        terms = e.as_ordered_terms()
        out = self._wrap(terms[0], _ADD)
        for term in terms[1:]:
            coeff, rest = term.as_coeff_Mul()
            if coeff.is_number and coeff < 0:
                out += " - " + self._wrap(-term, _MUL)
            else:
                out += " + " + self._wrap(term, _MUL)
        return out, _ADD

    def _mul(self, e) -> tuple[str, int]:
        coeff, rest = e.as_coeff_Mul()
        if coeff < 0:
            # "-a * b" parses as (-a) * b, which equals -(a * b) exactly (negation is exact)
            return f"-{self._wrap(-e, _MUL)}", _MUL
        num, den = [], []
        if coeff != 1:
            p, q = sympy.fraction(coeff) if coeff.is_Rational else (coeff, sympy.S.One)
            if p != 1 or q == 1:
                num.append(p)
            if q != 1:
                den.append(q)
        for factor in sympy.Mul.make_args(rest):
            if factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                den.append(sympy.Pow(factor.base, -factor.exp, evaluate=False) if factor.exp != -1 else factor.base)
            else:
                num.append(factor)
        text = " * ".join(self._wrap(f, _MUL) for f in num) if num else "1.0"
        if den:
            # x / (a * b): the divisor is one operand, so it needs parentheses if it is a product
            den_text = (self._wrap(den[0], _UNARY) if len(den) == 1
                        else "(" + " * ".join(self._wrap(f, _MUL) for f in den) + ")")
            text = f"{text} / {den_text}"
        return text, _MUL

    def _pow(self, base, exp) -> tuple[str, int]:
        if exp == sympy.Rational(1, 2):
            return f"math.sqrt({self._print(base)[0]})", _ATOM
        if exp == sympy.Rational(-1, 2):
            return f"1.0 / math.sqrt({self._print(base)[0]})", _MUL
        if exp.is_number and exp.is_negative:
            inverse = base if exp == -1 else sympy.Pow(base, -exp, evaluate=False)
            return f"1.0 / {self._wrap(inverse, _UNARY)}", _MUL
        if exp.is_Integer:
            exp_text = str(int(exp))
        else:
            exp_text = self._wrap(exp, _POW)
        return f"{self._wrap(base, _POW + 1)}**{exp_text}", _POW

    # ------------------------------------------------------------------ conditionals, functions
    def _piecewise(self, e) -> tuple[str, int]:
        pieces = list(e.args)
        last_value, last_cond = pieces[-1]
        if last_cond == sympy.true:
            text = self._wrap(last_value, _COND + 1)
            pieces = pieces[:-1]
        else:
            text = "math.nan"  # sympy leaves a Piecewise without "otherwise" undefined there
        for value, cond in reversed(pieces):
            text = f"({self._wrap(value, _COND + 1)} if {self._wrap(cond, _COND + 1)} else {text})"
        return text, _ATOM

    def _function(self, e) -> tuple[str, int]:
        name = type(e).__name__
        if name in MATH_FUNCTIONS and len(e.args) == 1:
            return f"math.{MATH_FUNCTIONS[name]}({self._print(e.args[0])[0]})", _ATOM
        if isinstance(e, sympy.Abs):
            return f"abs({self._print(e.args[0])[0]})", _ATOM
        if isinstance(e, (sympy.Min, sympy.Max)):
            fn = "min" if isinstance(e, sympy.Min) else "max"
            return f"{fn}({', '.join(self._print(a)[0] for a in e.args)})", _ATOM
        if isinstance(e, sympy.Heaviside):
            x = self._wrap(e.args[0], _CMP + 1)
            h0 = self._print(e.args[1])[0] if len(e.args) > 1 else "0.5"
            return f"(1.0 if {x} > 0.0 else ({h0} if {x} == 0.0 else 0.0))", _ATOM
        if isinstance(e, sympy.sign):
            x = self._wrap(e.args[0], _CMP + 1)
            return f"(1.0 if {x} > 0.0 else (-1.0 if {x} < 0.0 else 0.0))", _ATOM
        if isinstance(e, sympy.DiracDelta):
            return "0.0", _ATOM  # zero except on a set of measure zero
        raise UnsupportedExpression(f"cannot print {name}: {e}")
