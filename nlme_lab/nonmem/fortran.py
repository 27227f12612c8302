"""sympy expressions of a model's IR -> NM-TRAN abbreviated code.

NM-TRAN has no conditional expression, so every ``Piecewise`` (``a if c else b``, a boolean
used as a number, ``min``/``max``) is written first as an IF block on a variable of its own
(``hoist``); numbers are written as doubles (``0.5``, never the integer division ``1/2``).
"""

from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter

from nlme_lab.nonmem.issues import ControlStreamError

_FUNCTIONS = {"exp": "EXP", "log": "LOG", "sin": "SIN", "cos": "COS", "Abs": "ABS"}
_RELATIONS = {"<": ".LT.", "<=": ".LE.", ">": ".GT.", ">=": ".GE.", "==": ".EQ.", "!=": ".NE."}


class FortranPrinter(StrPrinter):
    """Abbreviated code; ``names`` maps each symbol's name to its NONMEM spelling."""

    def __init__(self, names: dict[str, str]):
        super().__init__()
        self.names = names

    def _print_Symbol(self, expr) -> str:
        return self.names[expr.name]

    def _print_Float(self, expr) -> str:
        return _double(float(expr))

    def _print_Rational(self, expr) -> str:
        return _double(float(expr)) if expr.q != 1 else str(expr.p)

    def _print_Integer(self, expr) -> str:
        return str(expr.p)

    def _print_Exp1(self, expr) -> str:
        return "EXP(1.0)"

    def _print_Pi(self, expr) -> str:
        return _double(float(sympy.pi))

    def _print_Pow(self, expr, rational=False) -> str:
        base, power = expr.args
        if power == sympy.Rational(1, 2):
            return f"SQRT({self._print(base)})"
        if power == sympy.Rational(-1, 2):
            return f"1/SQRT({self._print(base)})"
        if power == -1:
            return f"1/{self.parenthesize(base, 50)}"
        return f"{self.parenthesize(base, 60)}**{self.parenthesize(power, 60)}"

    def _print_Function(self, expr) -> str:
        name = type(expr).__name__
        if name not in _FUNCTIONS:
            raise ControlStreamError(f"the function {name} has no NONMEM counterpart here", source="model")
        return f"{_FUNCTIONS[name]}({', '.join(self._print(a) for a in expr.args)})"

    _print_exp = _print_log = _print_Abs = _print_sin = _print_cos = _print_Function

    def _print_Relational(self, expr) -> str:
        return f"{self._print(expr.lhs)}{_RELATIONS[expr.rel_op]}{self._print(expr.rhs)}"

    def _print_And(self, expr) -> str:
        return " .AND. ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr) -> str:
        return " .OR. ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr) -> str:
        return f".NOT.({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr) -> str:
        raise AssertionError("Piecewise must be hoisted before printing")


def _double(value: float) -> str:
    text = repr(value).upper()
    return text if any(c in text for c in ".E") or "INF" in text or "NAN" in text else text + ".0"


def hoist(expr, fresh, printer: FortranPrinter) -> tuple[list[str], object]:
    """(IF-block lines defining each Piecewise of ``expr`` as a variable, ``expr`` using them).

    ``fresh()`` gives a new NONMEM variable name; ``printer.names`` learns it."""
    lines: list[str] = []
    expr = expr.replace(lambda e: isinstance(e, sympy.Min | sympy.Max), lambda e: e.rewrite(sympy.Piecewise))

    def visit(node):
        if not node.args:
            return node
        node = node.func(*[visit(a) for a in node.args]) if not isinstance(node, sympy.Piecewise) else node
        if not isinstance(node, sympy.Piecewise):
            return node
        pieces = [(visit(value), visit(cond) if cond is not sympy.true else cond) for value, cond in node.args]
        name = fresh()
        symbol = sympy.Symbol(name, real=True)
        printer.names[name] = name
        for k, (value, cond) in enumerate(pieces):
            if cond is sympy.true:
                lines.append("ELSE" if k else "")
                lines.append(f"  {name} = {printer.doprint(value)}")
                break
            lines.append(f"{'IF' if k == 0 else 'ELSE IF'} ({printer.doprint(cond)}) THEN")
            lines.append(f"  {name} = {printer.doprint(value)}")
        lines.append("ENDIF" if pieces[0][1] is not sympy.true else "")
        return symbol

    result = visit(expr)
    return [line for line in lines if line], result
