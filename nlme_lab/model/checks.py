"""Semantic checks that do not shape the IR: bounds, omega values, names, usage, endpoints.

Each check adds located diagnostics to a ``Problems`` collector and returns nothing, so that
every problem of a model is reported at once.
"""

from __future__ import annotations

import math

import sympy

from nlme_lab.model import ast
from nlme_lab.model.functions import ARITY
from nlme_lab.model.source import Problems, Span


def check_name(name: str, span: Span, problems: Problems, what: str) -> bool:
    """Names a user may not define (``t``, function names, ``linCmt``). True when fine."""
    if name == "t":
        problems.error(f"'t' is time and cannot be {what}", span)
        return False
    if name in ARITY or name in ("linCmt", "fix"):
        problems.error(f"'{name}' is a function name and cannot be {what}", span)
        return False
    return True


def check_bounds(decl: ast.ThetaDecl, lower: float, init: float, upper: float, problems: Problems) -> None:
    if lower >= upper:
        problems.error(f"the lower bound {lower:g} of '{decl.name}' is not below its upper bound {upper:g}", decl.spec_span)
        return
    if not lower <= init <= upper:
        problems.error(
            f"the initial value {init:g} of '{decl.name}' is outside its bounds ({lower:g}, {upper:g})", decl.init.span
        )
    elif not decl.fixed and init in (lower, upper):
        problems.error(
            f"the initial value {init:g} of '{decl.name}' is on a bound: it must lie strictly inside "
            f"({lower:g}, {upper:g}) to be estimated",
            decl.init.span,
        )


def check_omega(decl: ast.RandomDecl, values: list[float], problems: Problems) -> bool:
    """Value count, positive variances, positive definite blocks. True when fine."""
    n = len(decl.names)
    expected = n * (n + 1) // 2
    if n > 1 and not decl.block:
        problems.error(
            f"a block of {n} random effects needs its {expected} values in brackets, lower triangle by rows "
            f"(e.g. {' + '.join(decl.names[:2])} ~ [var, cov, var])",
            decl.spec_span,
        )
        return False
    if len(values) != expected:
        problems.error(
            f"expected {expected} values (the lower triangle by rows) for {n} random effect(s), found {len(values)}",
            decl.spec_span,
        )
        return False
    for i, value in enumerate(_diagonal(values, n)):
        if value <= 0:
            problems.error(f"the variance of '{decl.names[i]}' must be > 0, found {value:g}", decl.spec_span)
            return False
    if n > 1 and not _positive_definite(values, n):
        problems.error(
            f"the omega block of {', '.join(decl.names)} is not positive definite (check the covariances)",
            decl.spec_span,
        )
        return False
    return True


def _diagonal(values: list[float], n: int) -> list[float]:
    return [values[i * (i + 1) // 2 + i] for i in range(n)]


def _positive_definite(values: list[float], n: int) -> bool:
    """Cholesky of the lower triangle (by rows) succeeds with positive pivots."""
    a = [[0.0] * n for _ in range(n)]
    k = 0
    for i in range(n):
        for j in range(i + 1):
            a[i][j] = values[k]
            k += 1
    chol = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(chol[i][m] * chol[j][m] for m in range(j))
            if i == j:
                if s <= 1e-12 * max(abs(a[i][i]), 1e-300):
                    return False
                chol[i][i] = math.sqrt(s)
            else:
                chol[i][j] = s / chol[j][j]
    return True


def check_dose_modifier_target(stmt: ast.DoseMod | ast.Initial, compartments: list[str], problems: Problems) -> bool:
    if stmt.cmt in compartments:
        return True
    where = f"compartments: {', '.join(compartments)}" if compartments else "the model has no compartments"
    if isinstance(stmt, ast.DoseMod):
        form = f"{stmt.kind}({stmt.cmt})"
        problems.error(f"'{stmt.cmt}' in {form} is not a compartment ({where})", stmt.name_span)
    else:
        problems.error(f"'{stmt.cmt}' in {stmt.cmt}(0) is not a compartment ({where})", stmt.name_span)
    return False


def check_error_terms(stmt: ast.Observe, kinds: dict[str, str], problems: Problems) -> bool:
    """Residual parameters are declared thetas; no term twice; lnorm alone."""
    ok = True
    seen: set[str] = set()
    for term in stmt.terms:
        kind = kinds.get(term.param)
        if kind is None:
            problems.error(f"residual parameter '{term.param}' in {term.kind}() is not declared in [ini]", term.param_span)
            ok = False
        elif kind != "theta":
            problems.error(
                f"'{term.param}' is a random effect; a residual SD is declared with '=' in [ini] (e.g. add_sd = 0.5)",
                term.param_span,
            )
            ok = False
        if term.kind in seen:
            problems.error(f"{term.kind}() appears twice on this line", term.span)
            ok = False
        seen.add(term.kind)
    if "lnorm" in seen and len(stmt.terms) > 1:
        problems.error("lnorm() cannot be combined with other error terms", stmt.span)
        ok = False
    return ok


#: The largest expression, counted with every variable written out (what code generation
#: differentiates), that compiles in seconds. A chain of assignments each using the previous
#: one twice (a1 = a0*a0 + a0, a2 = a1*a1 + a1, ...) doubles it per line: 10 lines reach it.
#: The shared models stay below 50.
MAX_EXPANDED_SIZE = 5000


def expanded_size(expr: sympy.Expr, sizes: dict[str, int]) -> int:
    """Nodes of ``expr`` with each variable in ``sizes`` counted as the expression it stands for."""
    total = 0
    for node in sympy.preorder_traversal(expr):
        total += sizes.get(node.name, 1) if isinstance(node, sympy.Symbol) else 1
    return total


def check_expanded_size(what: str, expr: sympy.Expr, sizes: dict[str, int], span: Span, problems: Problems) -> int:
    """The expanded size of ``expr`` (see ``MAX_EXPANDED_SIZE``); an error when too large.
    A reported expression counts as 1 afterwards, so that only its own line is reported, not
    every line that uses it."""
    size = expanded_size(expr, sizes)
    if size <= MAX_EXPANDED_SIZE:
        return size
    problems.error(
        f"{what} is too large once the variables it uses are written out (about {size:.3g} operations, the "
        f"limit is {MAX_EXPANDED_SIZE}); its exact derivatives cannot be generated: each line using the "
        "previous variable several times doubles the size, so compute such a chain in fewer steps",
        span,
    )
    return 1


def check_residual_sds(ini, observations, thetas, problems: Problems) -> None:
    """A residual parameter is a standard deviation: its initial value must not be negative."""
    decls = {d.name: d for d in ini if isinstance(d, ast.ThetaDecl)}
    inits = {t.name: t.init for t in thetas}
    reported: set[str] = set()
    for stmt in observations:
        for term in stmt.terms:
            name = term.param
            init = inits.get(name)
            if init is None or init >= 0 or name in reported or name not in decls:
                continue
            reported.add(name)
            problems.error(
                f"the initial value {init:g} of the residual SD '{name}' is negative; residual parameters are "
                f"standard deviations ({term.kind}() at line {term.span.line}): give a positive value",
                decls[name].init.span,
            )


def check_unused(declared: dict[str, tuple[str, Span]], used: set[str], problems: Problems) -> None:
    """Warn (not fail) about parameters that nothing uses."""
    for name, (kind, span) in declared.items():
        if name in used:
            continue
        if kind == "theta":
            problems.warning(f"parameter '{name}' is declared but never used", span)
        else:
            problems.warning(f"random effect '{name}' is declared but never used in [model]", span)
