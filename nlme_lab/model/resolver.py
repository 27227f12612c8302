"""The resolver: syntax tree -> ``ModelIR`` (names bound, sympy expressions, checks).

Names in ``[model]`` resolve, in this order, to: a parameter from ``[ini]``, a compartment,
``t``, a name assigned earlier; a name assigned only later is an error (used before it is
assigned); any other name is a covariate (a dataset column), recorded as written, with the
location of its first use, unless it is a typo: a name close to one the model defines
(``source.near_miss``: ``centrl`` for ``center``) is an error with "did you mean", and an
undefined name inside a ``d/dt()`` line is an error (a compartment never declared, most
likely; a dataset column reaches an ODE through a variable, ``wt = WT``).

Compartments are numbered by first appearance in a ``d/dt`` line. A ``linCmt()`` model has
fixed states: (depot,) central, periph1, periph2, chosen by which of ka, cl v, q v2, q2 v3 are
assigned. This module imports sympy (through ``ir``); ``nlme_lab.model`` imports it lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from nlme_lab.errors import Diagnostic
from nlme_lab.model import ast, checks
from nlme_lab.model.expressions import BuildError, ExprBuilder
from nlme_lab.model.ir import (
    LINCMT_NAMES,
    TIME,
    Assignment,
    DoseModifier,
    Endpoint,
    ErrorKind,
    ErrorTerm,
    LinCmt,
    ModelIR,
    symbol,
)
from nlme_lab.model.parameters import Parameters, declare_parameters
from nlme_lab.model.parser import parse
from nlme_lab.model.source import Problems, Span, near_miss


@dataclass(frozen=True)
class Resolution:
    """The IR of a model and the warnings found while resolving it."""

    ir: ModelIR
    warnings: tuple[Diagnostic, ...]


def resolve_text(text: str) -> Resolution:
    """Parse and resolve model text. Raises ``ModelError`` with every problem found."""
    return resolve(parse(text), text)


def resolve(program: ast.Program, text: str = "") -> Resolution:
    """Resolve a parsed program. Raises ``ModelError`` with every problem found."""
    problems = Problems()
    params = declare_parameters(program.ini, problems)
    layout = _scan_structure(program.model, params, problems)
    body = _Body(params, layout, problems)
    for stmt in program.model:
        body.add(stmt)
    body.finish(program)
    checks.check_unused(params.declared, body.used, problems)
    problems.raise_if_errors()
    ir = ModelIR(
        thetas=tuple(params.thetas),
        random_effects=(*params.etas, *params.kappas),
        omega=(*params.eta_blocks, *params.kappa_blocks),
        covariates=tuple(body.covariates),
        compartments=tuple(layout.compartments),
        statements=tuple(body.statements),
        odes=tuple(body.odes),
        initial=tuple(body.initial),
        dose_modifiers=tuple(body.dose_modifiers),
        endpoints=tuple(body.endpoints),
        lincmt=layout.lincmt,
        source=text,
        covariate_lines=tuple(span.line for span in body.covariates.values()),
        covariate_spans=tuple(body.covariates.values()),
    )
    return Resolution(ir, tuple(problems.warnings))


# --------------------------------------------------------------------------- structure
@dataclass
class _Layout:
    compartments: list[str] = field(default_factory=list)
    cmt_spans: dict[str, Span] = field(default_factory=dict)
    assigned: dict[str, Span] = field(default_factory=dict)  # first assignment of each name
    lincmt: LinCmt | None = None


def _scan_structure(stmts, params: Parameters, problems: Problems) -> _Layout:
    layout = _Layout()
    lincmts: list[ast.LinCmtAssign] = []
    for stmt in stmts:
        if isinstance(stmt, ast.Ode):
            _add_compartment(stmt, layout, params, problems)
        elif isinstance(stmt, ast.Assign | ast.LinCmtAssign):
            _add_assigned(stmt, layout, params, problems)
            if isinstance(stmt, ast.LinCmtAssign):
                lincmts.append(stmt)
    for name, span in layout.assigned.items():
        if name in layout.cmt_spans:
            line = layout.cmt_spans[name].line
            problems.error(f"'{name}' is a compartment (d/dt at line {line}) and cannot also be assigned", span)
    for extra in lincmts[1:]:
        problems.error(f"only one linCmt() per model (first at line {lincmts[0].span.line})", extra.span)
    if lincmts and layout.compartments:
        first_ode = layout.cmt_spans[layout.compartments[0]].line
        problems.error(
            f"a model with both linCmt() and d/dt() (line {first_ode}) is not supported yet: "
            "write every compartment as a d/dt() line",
            lincmts[0].span,
        )
    elif lincmts:
        layout.lincmt = _lincmt(lincmts[0], layout, params, problems)
        if layout.lincmt is not None:
            layout.compartments = list(layout.lincmt.states)
            _check_lincmt_names(layout, problems)
    return layout


def _add_compartment(stmt: ast.Ode, layout: _Layout, params: Parameters, problems: Problems) -> None:
    name = stmt.cmt
    if name in layout.cmt_spans:
        problems.error(f"d/dt({name}) is defined twice (first at line {layout.cmt_spans[name].line})", stmt.name_span)
        return
    if not checks.check_name(name, stmt.name_span, problems, "a compartment name"):
        return
    if params.kind(name):
        line = params.declared[name][1].line
        problems.error(f"'{name}' is a parameter (line {line}) and cannot also be a compartment", stmt.name_span)
        return
    layout.cmt_spans[name] = stmt.name_span
    layout.compartments.append(name)


def _add_assigned(stmt, layout: _Layout, params: Parameters, problems: Problems) -> None:
    name = stmt.name
    if name in layout.assigned:
        first = layout.assigned[name].line
        problems.error(f"'{name}' is assigned twice (first at line {first}); each name is assigned once", stmt.name_span)
        return
    layout.assigned[name] = stmt.name_span
    if not checks.check_name(name, stmt.name_span, problems, "assigned"):
        return
    if params.kind(name):
        line = params.declared[name][1].line
        problems.error(f"cannot assign to '{name}': it is a parameter declared in [ini] at line {line}", stmt.name_span)


def _lincmt(stmt: ast.LinCmtAssign, layout: _Layout, params: Parameters, problems: Problems) -> LinCmt | None:
    have = {n for n in LINCMT_NAMES if n in layout.assigned}
    for name in LINCMT_NAMES:
        if params.kind(name) and name not in have:
            problems.error(
                f"linCmt() reads '{name}' as a variable assigned in [model], but '{name}' is a parameter: "
                f"rename it in [ini] and assign {name} = ... in [model]",
                stmt.span,
            )
    missing = [n for n in ("cl", "v") if n not in have]
    if missing:
        problems.error(f"linCmt() needs 'cl' and 'v' assigned in [model] (missing: {', '.join(missing)})", stmt.span)
        return None
    n_cmt = 1
    for pair, level in ((("q", "v2"), 2), (("q2", "v3"), 3)):
        present = [n for n in pair if n in have]
        if present and len(present) < 2:
            absent = next(n for n in pair if n not in have)
            problems.error(f"'{present[0]}' is assigned but '{absent}' is not (a {level}-compartment linCmt() needs both)", stmt.span)
            return None
        if present:
            if n_cmt != level - 1:
                problems.error("a 3-compartment linCmt() needs q and v2 as well as q2 and v3", stmt.span)
                return None
            n_cmt = level
    late = [n for n in sorted(have) if layout.assigned[n].line > stmt.span.line]
    if late:
        problems.error(f"linCmt() uses {', '.join(late)}: assign them before line {stmt.span.line}", stmt.span)
        return None
    return LinCmt(n_cmt, "ka" in have, stmt.span.line, stmt.name)


def _check_lincmt_names(layout: _Layout, problems: Problems) -> None:
    for state in layout.compartments:
        if state in layout.assigned:
            problems.error(f"'{state}' is a compartment of linCmt() and cannot be assigned", layout.assigned[state])


# --------------------------------------------------------------------------- statements
class _Body:
    """Builds the IR statements in source order, tracking which names are defined so far."""

    def __init__(self, params: Parameters, layout: _Layout, problems: Problems):
        self.params = params
        self.layout = layout
        self.problems = problems
        self.states = set(layout.compartments)
        self.defined: dict[str, Assignment | None] = {}
        self.covariates: dict[str, Span] = {}  # name -> first use
        self.in_ode: str | None = None  # the compartment of the d/dt() line being built
        self.sizes: dict[str, int] = {}  # variable -> expanded size (checks.MAX_EXPANDED_SIZE)
        self.used: set[str] = set()
        self.statements: list[Assignment] = []
        self.odes: list = []
        self.initial: list = []
        self.dose_modifiers: list = []
        self.endpoints: list[Endpoint] = []
        self._seen_targets: dict[tuple[str, str], int] = {}
        self._observations: list[ast.Observe] = []
        self.builder = ExprBuilder(self._resolve_name)

    def _resolve_name(self, node: ast.Name) -> sympy.Symbol:
        name = node.id
        if self.params.kind(name):
            self.used.add(name)
        elif name not in self.states and name != TIME and name not in self.defined:
            if name in self.layout.assigned:
                line = self.layout.assigned[name].line
                self.problems.error(f"'{name}' is used before it is assigned (at line {line})", node.span)
            else:
                self._undefined(name, node.span)
        return symbol(name)

    def _undefined(self, name: str, span: Span) -> None:
        """A name the model does not define: a covariate, unless it looks like a mistake."""
        defined = [*self.params.declared, *self.layout.assigned, *self.layout.compartments, TIME]
        typo_of = near_miss(name, defined)
        if typo_of is not None:
            self.problems.error(f"'{name}' is not defined in the model; did you mean {typo_of}?", span)
        elif self.in_ode is not None:
            self.problems.error(
                f"'{name}' in d/dt({self.in_ode}) is not a compartment, variable or parameter of the model; "
                f"declare it with d/dt({name}) = ... if it is a compartment (a dataset column reaches an ODE "
                "through a variable assigned before it, e.g. wt = WT)",
                span,
            )
        else:
            self.covariates.setdefault(name, span)

    def _build(self, value: ast.Expr) -> sympy.Expr | None:
        try:
            return self.builder.build(value)
        except BuildError as err:
            self.problems.error(err.message, err.span)
            return None

    def _depends(self, expr: sympy.Expr) -> tuple[bool, bool]:
        state = time = False
        for sym in expr.free_symbols:
            name = sym.name
            prior = self.defined.get(name)
            state = state or name in self.states or bool(prior and prior.depends_on_state)
            time = time or name == TIME or bool(prior and prior.depends_on_time)
        return state, time

    def add(self, stmt: ast.ModelStatement) -> None:
        if isinstance(stmt, ast.Assign):
            self._assign(stmt)
        elif isinstance(stmt, ast.LinCmtAssign):
            self._lincmt(stmt)
        elif isinstance(stmt, ast.Ode):
            self.in_ode = stmt.cmt
            expr = self._build(stmt.value)
            self.in_ode = None
            if expr is not None:
                checks.check_expanded_size(f"d/dt({stmt.cmt})", expr, self.sizes, stmt.span, self.problems)
            if expr is not None and stmt.cmt in self.layout.cmt_spans:
                self.odes.append((stmt.cmt, expr, stmt.span.line))
        elif isinstance(stmt, ast.Initial | ast.DoseMod):
            self._per_compartment(stmt)
        elif isinstance(stmt, ast.Observe):
            self._observations.append(stmt)

    def _assign(self, stmt: ast.Assign) -> None:
        expr = self._build(stmt.value)
        if stmt.name in self.defined or self.params.kind(stmt.name) or stmt.name in self.states:
            return  # reported by _scan_structure
        if expr is None:
            self.defined[stmt.name] = None
            return
        self.sizes[stmt.name] = checks.check_expanded_size(f"'{stmt.name}'", expr, self.sizes, stmt.span, self.problems)
        state, time = self._depends(expr)
        assignment = Assignment(stmt.name, expr, stmt.span.line, state, time)
        self.defined[stmt.name] = assignment
        self.statements.append(assignment)

    def _lincmt(self, stmt: ast.LinCmtAssign) -> None:
        if self.layout.lincmt is None or stmt.name in self.defined or self.params.kind(stmt.name):
            self.defined.setdefault(stmt.name, None)
            return
        expr = symbol("central") / symbol("v")
        assignment = Assignment(stmt.name, expr, stmt.span.line, True, False)
        self.defined[stmt.name] = assignment
        self.statements.append(assignment)

    def _per_compartment(self, stmt: ast.Initial | ast.DoseMod) -> None:
        expr = self._build(stmt.value)
        if not checks.check_dose_modifier_target(stmt, self.layout.compartments, self.problems):
            return
        kind = stmt.kind if isinstance(stmt, ast.DoseMod) else "init"
        form = f"{kind}({stmt.cmt})" if kind != "init" else f"{stmt.cmt}(0)"
        first = self._seen_targets.setdefault((kind, stmt.cmt), stmt.span.line)
        if first != stmt.span.line:
            self.problems.error(f"{form} is defined twice (first at line {first})", stmt.name_span)
            return
        if expr is None:
            return
        if self._depends(expr)[0]:
            self.problems.error(f"{form} must not depend on compartment amounts", stmt.value.span)
            return
        if isinstance(stmt, ast.DoseMod):
            self.dose_modifiers.append((DoseModifier(stmt.kind), stmt.cmt, expr, stmt.span.line))
        else:
            self.initial.append((stmt.cmt, expr, stmt.span.line))

    def finish(self, program: ast.Program) -> None:
        """Observation lines (they may name anything the model defines, wherever it is)."""
        seen: dict[str, int] = {}
        kinds = self.params.kinds()
        for stmt in self._observations:
            self.used.update(t.param for t in stmt.terms)
            ok = self._check_observed(stmt, seen)
            if checks.check_error_terms(stmt, kinds, self.problems) and ok:
                terms = tuple(ErrorTerm(ErrorKind(t.kind), t.param) for t in stmt.terms)
                self.endpoints.append(Endpoint(stmt.variable, terms, stmt.span.line))
        if not self._observations:
            header = next((s.span for s in program.sections if s.name == "model"), Span(1, 1, 2))
            self.problems.error("the model has no observation line (e.g. cp ~ add(add_sd)) in [model]", header)
        checks.check_residual_sds(program.ini, self._observations, self.params.thetas, self.problems)

    def _check_observed(self, stmt: ast.Observe, seen: dict[str, int]) -> bool:
        name = stmt.variable
        if name in seen:
            self.problems.error(f"'{name}' is observed twice (first at line {seen[name]})", stmt.name_span)
            return False
        seen[name] = stmt.span.line
        if self.params.kind(name):
            self.problems.error(f"observation variable '{name}' is a parameter; observe a model variable", stmt.name_span)
            return False
        if name not in self.layout.assigned and name not in self.states:
            self.problems.error(
                f"observation variable '{name}' is not defined by the model (assign it, e.g. {name} = center / v)",
                stmt.name_span,
            )
            return False
        return True
