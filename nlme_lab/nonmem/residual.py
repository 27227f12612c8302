"""The residual error of ``Y``: which of the model language's error models it is.

NONMEM's conditional methods use ``Y`` to first order in the EPS: the prediction
``P = Y(EPS = 0)`` and the variance ``Var = sum_k (dY/dEPS_k)^2 SIGMA_kk``. Written as a
polynomial in ``P`` the variance must be ``a + b P^2`` (``a``, ``b`` free of anything but THETAs,
SIGMAs and numbers): then ``P ~ add(sqrt(a)) + prop(sqrt(b))``. Each of ``a`` and ``b`` must be a
THETA squared with ``$SIGMA 1 FIX`` (the THETA is the SD), an estimated SIGMA (its SD becomes a
new parameter, ``sqrt(SIGMA)`` initially) or a fixed number (a fixed SD). So ``Y = F + EPS(1)``,
``Y = F*(1+EPS(1))``, ``Y = F*EXP(EPS(1))``, ``Y = F + F*EPS(1) + EPS(2)``, ``Y = IPRED + W*EPS(1)``
with ``W = SQRT(THETA(4)**2*IPRED**2 + THETA(5)**2)``, and a log-scale ``Y = LOG(F) + EPS(1)``
(an additive error on log F: the data hold log DV) are read; ``IF (W.EQ.0) W = 1`` guards
are passed over (with a note). Anything else is refused with the variance found.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from nlme_lab.nonmem import code_ast as na

_FUNCTIONS = {"exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "sin": sympy.sin,
              "cos": sympy.cos, "log10": lambda x: sympy.log(x) / sympy.log(10), "min": sympy.Min, "max": sympy.Max}


class ResidualRefused(Exception):
    """The variance is not of a form the model language has (message says which it is)."""


@dataclass(frozen=True)
class ErrorPart:
    """``sqrt(a)`` or ``sqrt(b)``: an SD that is a THETA, an estimated SIGMA, or a fixed number."""

    kind: str  # "theta", "sigma", "fixed"
    index: int = 0  # THETA(n) / SIGMA(n)
    value: float = 0.0  # the SD when "fixed"


@dataclass(frozen=True)
class ErrorModel:
    add: ErrorPart | None
    prop: ErrorPart | None
    linear: bool  # Y is linear in the EPS (else its first-order expansion is used)


def symbol(leaf) -> sympy.Symbol:
    if isinstance(leaf, na.Param):
        return sympy.Symbol(f"{leaf.kind.upper()}_{leaf.index}", real=True)
    if isinstance(leaf, na.Covariate):
        return sympy.Symbol(f"COV_{leaf.column}", real=True)
    if isinstance(leaf, na.State):
        return sympy.Symbol(f"A_{leaf.number}", real=True)
    return sympy.Symbol("TIME_", real=True)


def to_sympy(expr, ref):
    """sympy form of ``expr``; ``ref(slot)`` gives a ``Ref``'s value (a symbol or its inlined form)."""
    if isinstance(expr, na.Num):
        text = expr.text
        return sympy.Integer(int(text)) if text.isdigit() else sympy.Float(expr.value)
    if isinstance(expr, na.Ref):
        return ref(expr.slot)
    if isinstance(expr, na.Param | na.Covariate | na.State | na.Time):
        return symbol(expr)
    if isinstance(expr, na.Call):
        return _FUNCTIONS[expr.name](*(to_sympy(a, ref) for a in expr.args))
    if isinstance(expr, na.Unary):
        inner = to_sympy(expr.operand, ref)
        return -inner if expr.op == "-" else inner
    if isinstance(expr, na.Binary):
        a, b = to_sympy(expr.left, ref), to_sympy(expr.right, ref)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "**": a ** b}[expr.op]
    raise ResidualRefused("Y depends on a condition (IF): one observation equation without IF is read")


def analyse(y, prediction, eps: dict[int, object], sigma_symbol) -> ErrorModel:
    """The error model of ``y`` (sympy, in the EPS symbols) around ``prediction`` (a symbol).

    ``eps``: EPS number -> symbol; ``sigma_symbol(k)``: the variance of EPS(k), a number when
    fixed, else the symbol ``SIGMA_k``."""
    at_zero = {e: 0 for e in eps.values()}
    gradient = {k: sympy.diff(y, e).subs(at_zero) for k, e in eps.items()}
    base = y.subs(at_zero)
    linear = sympy.simplify(y - base - sum(g * eps[k] for k, g in gradient.items())) == 0
    variance = sympy.expand(sum(g ** 2 * sigma_symbol(k) for k, g in gradient.items()))
    if variance == 0:
        raise ResidualRefused("Y has no residual error (no EPS with a non-zero SIGMA)")
    try:
        poly = sympy.Poly(variance, prediction)
    except sympy.PolynomialError:
        raise ResidualRefused(f"the residual variance {_show(variance, prediction)} is not a + b*P**2 in the "
                              "prediction P") from None
    terms = {m[0]: c for m, c in zip(poly.monoms(), poly.coeffs())}
    if set(terms) - {0, 2}:
        raise ResidualRefused(f"the residual variance {_show(variance, prediction)} is not of the form "
                              "add**2 + (prop*P)**2 (a term in P or P**3 and up)")
    return ErrorModel(_part(terms.get(0)), _part(terms.get(2)), linear)


def _part(coefficient) -> ErrorPart | None:
    if coefficient is None or coefficient == 0:
        return None
    c = sympy.nsimplify(coefficient) if coefficient.is_Number else coefficient
    if c.is_Number:
        if c <= 0:
            raise ResidualRefused(f"a residual variance term {c} is not positive")
        return ErrorPart("fixed", value=float(sympy.sqrt(c)))
    free = c.free_symbols
    if len(free) == 1:
        (s,) = free
        kind, _, number = s.name.partition("_")
        if kind == "THETA" and sympy.simplify(c - s ** 2) == 0:
            return ErrorPart("theta", int(number))
        if kind == "SIGMA" and c == s:
            return ErrorPart("sigma", int(number))
    others = sorted(s.name for s in free if not s.name.startswith(("THETA_", "SIGMA_")))
    if len(free) == 2 and not others:
        raise ResidualRefused(f"the residual variance term {_show(c)} is a THETA times an estimated SIGMA: one "
                              "of them must be fixed ($SIGMA 1 FIX with the THETA as the SD)")
    if others:
        raise ResidualRefused(f"the residual variance depends on {_names(others)}, not only on THETAs and SIGMAs")
    raise ResidualRefused(f"the residual variance term {_show(c)} is not a THETA squared (with $SIGMA 1 FIX), "
                          "an estimated SIGMA, or a number")


def _names(names) -> str:
    out = []
    for name in names:
        kind, _, rest = name.partition("_")
        out.append(f"{kind}({rest})" if kind in ("THETA", "ETA", "A") else rest if kind in ("COV", "VAR") else name)
    return ", ".join(out)


def _show(expr, prediction=None) -> str:
    text = str(expr if prediction is None else expr.subs(prediction, sympy.Symbol("P")))
    for kind in ("THETA", "SIGMA", "EPS", "ETA"):
        text = text.replace(f"{kind}_", f"{kind}")
    return text
