"""From a ``ModelIR`` to a ``Plan``: every quantity the generated functions compute, as sympy.

What happens here, in order:

1. Every name gets a role (theta, random effect, covariate, state, time, assigned variable)
   and an internal symbol whose name is the mangled identifier used in generated code
   (``th_tka``, ``re_eta_cl``, ``cv_WT``, ``y_center``, ``v_cl``; a re-assigned variable's
   later versions are ``v2_cl``, ``v3_cl``, ...). The IR's symbols are matched by *name*, so
   their sympy assumptions do not matter; internal symbols are all ``real=True``.
2. Assignments are split: those that depend on neither ``t`` nor a state (transitively) are
   "p" quantities computed once per record by ``pk``; the others are recomputed inside
   ``rhs``/``obs`` from ``p``, ``t`` and ``y``.
3. The p vector: one slot per p assignment, one per dose modifier, then one "input" slot per
   theta/eta/covariate that time/state-dependent code uses directly (rhs/obs see only ``p``).
4. Each part is expressed twice: as statements (readable value code) and fully substituted
   (``full_base``: in thetas/etas/covariates/t/states; ``full_dyn``: in p-slot symbols/t/
   states) for exact derivatives.

Names in ODEs, initial conditions and dose modifiers resolve to the last assignment *before*
their line (a name assigned only later means its final value); endpoints use final values.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import sympy
from sympy.core.function import AppliedUndef

from nlme_lab.errors import Diagnostic, ModelError
from nlme_lab.model.codegen.printer import UnsupportedExpression, check_supported
from nlme_lab.model.ir import DoseModifier, ErrorKind, ModelIR

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TIME = sympy.Symbol("t", real=True)
LINCMT_STATES = ("depot", "central", "periph1", "periph2")
MODIFIER_ROWS = (DoseModifier.F, DoseModifier.ALAG, DoseModifier.RATE, DoseModifier.DUR)
ERROR_COLUMNS = (ErrorKind.ADD, ErrorKind.PROP, ErrorKind.LNORM)


class SlotKind(enum.Enum):
    VARIABLE = "variable"  # a p assignment
    DOSE_MODIFIER = "dose_modifier"
    INPUT = "input"  # a theta/eta/covariate used directly by t/state-dependent code


@dataclass(frozen=True)
class Stmt:
    name: str  # the model's name
    sym: sympy.Symbol  # internal symbol (mangled identifier)
    expr: sympy.Expr  # resolved: internal symbols only
    line: int
    dynamic: bool  # depends on t or a state


@dataclass(frozen=True)
class Slot:
    name: str
    kind: SlotKind
    sym: sympy.Symbol | None  # the symbol that holds it in rhs/obs (None for dose modifiers)
    value: sympy.Expr  # what pk stores (statement-level, resolved)
    full: sympy.Expr  # fully substituted in theta/eta/cov/t


@dataclass(frozen=True)
class LinCmtInfo:
    """The linear system behind ``linCmt()``: sizes, state positions, and p indices of its
    parameters (``cl v [q v2 [q2 v3]] [ka]``)."""

    n_cmt: int
    has_depot: bool
    central: int  # state index of the central compartment
    depot: int  # state index of the depot, -1 without
    param_index: dict[str, int]


@dataclass(frozen=True)
class Plan:
    ir: ModelIR
    thetas: tuple[sympy.Symbol, ...]
    res: tuple[sympy.Symbol, ...]
    covs: tuple[sympy.Symbol, ...]
    states: tuple[sympy.Symbol, ...]
    state_names: tuple[str, ...]
    stmts: tuple[Stmt, ...]
    slots: tuple[Slot, ...]
    odes: tuple[sympy.Expr, ...]  # per state, resolved (may use dynamic variables)
    inits: tuple[sympy.Expr | None, ...]  # per state
    obs: tuple[sympy.Expr, ...]  # per endpoint, resolved
    K: sympy.Matrix | None  # linCmt: dy/dt = K y, in p-slot symbols
    full_base: dict  # var symbol -> expression in theta/eta/cov/t/states
    full_dyn: dict  # dynamic var symbol -> expression in p-slot symbols/t/states
    dose_index: tuple[tuple[int, ...], ...]  # (4, n_state)
    error_index: tuple[tuple[int, ...], ...]  # (n_endpoint, 3): ADD, PROP, LNORM theta or -1
    lincmt: LinCmtInfo | None
    #: how the states are propagated, in words (``ode_path``); empty without states
    path: str = ""
    #: a d/dt system on the linear propagator has a constant input written in the model (``dy/dt =
    #: K y + b``, b = f(t, 0, p) free of t and the states): the engine adds b to the dose inputs
    has_input: bool = False

    @property
    def p_symbols(self) -> dict:
        """rhs/obs-land symbol -> p index."""
        return {s.sym: i for i, s in enumerate(self.slots) if s.sym is not None}


def _fail(message: str, line: int) -> ModelError:
    return ModelError(Diagnostic(message, max(int(line), 1), 1))


def _symbol(prefix: str, name: str, line: int) -> sympy.Symbol:
    if not _IDENT.match(name):
        raise _fail(f"{name!r} is not a valid name (letters, digits and _ only)", line)
    return sympy.Symbol(f"{prefix}_{name}", real=True)


class _Resolver:
    """Walks the IR once, assigning roles and internal symbols."""

    def __init__(self, ir: ModelIR):
        self.ir = ir
        self.base: dict[str, sympy.Symbol] = {}
        self.thetas = self._declare("th", [(t.name, t.line) for t in ir.thetas])
        self.res = self._declare("re", [(r.name, r.line) for r in ir.random_effects])
        self.covs = self._declare("cv", [(c, 0) for c in ir.covariates])
        self.state_names = self._state_names()
        self.states = self._declare("y", [(c, 0) for c in self.state_names])
        if "t" in self.base:
            raise _fail("the name t is reserved for time", 0)
        self.base["t"] = TIME
        self.state_set = set(self.states)
        self.env: dict[str, sympy.Symbol] = {}
        self.history: list[tuple[int, dict]] = []  # (line, env after that statement)
        self.stmts: list[Stmt] = []
        self.dynamic: set = set()
        self.lincmt_volume: sympy.Symbol | None = None

    def _declare(self, prefix, names_lines) -> tuple[sympy.Symbol, ...]:
        out = []
        for name, line in names_lines:
            if name in self.base:
                raise _fail(f"{name} is declared twice (or as two different things)", line)
            self.base[name] = _symbol(prefix, name, line)
            out.append(self.base[name])
        return tuple(out)

    def _state_names(self) -> tuple[str, ...]:
        lc = self.ir.lincmt
        if lc is None:
            return tuple(self.ir.compartments)
        n = lc.n_cmt + int(lc.has_depot)
        if self.ir.compartments:
            if len(self.ir.compartments) != n:
                raise _fail(f"linCmt() with {lc.n_cmt} compartment(s){' and a depot' if lc.has_depot else ''} "
                            f"needs {n} states, the model lists {len(self.ir.compartments)}", lc.line)
            return tuple(self.ir.compartments)
        names = LINCMT_STATES if lc.has_depot else LINCMT_STATES[1:]
        return names[:n]

    # -------------------------------------------------------------- names -> symbols
    def env_at(self, line: int) -> dict:
        env = dict(self.env)
        if line > 0:
            for stmt_line, snapshot in self.history:
                if stmt_line < line:
                    env.update(snapshot)
        return env

    def resolve(self, expr, env: dict, line: int, allow_lincmt: bool = False) -> sympy.Expr:
        expr = sympy.sympify(expr)
        calls = [a for a in expr.atoms(AppliedUndef) if a.func.__name__ == "linCmt"]
        mapping = {}
        for s in expr.free_symbols:
            target = env.get(s.name)
            if target is None:
                target = self.base.get(s.name)
            if target is None:
                raise _fail(f"unknown name {s.name}", line)
            mapping[s] = target
        if calls:
            if not allow_lincmt:
                raise _fail("linCmt() may only be assigned to a variable", line)
            mapping.update({c: self._lincmt_concentration(line) for c in calls})
        out = expr.xreplace(mapping)
        try:
            check_supported(out)
        except UnsupportedExpression as exc:
            raise _fail(f"cannot generate code for this expression: {exc}", line) from None
        return out

    def _lincmt_concentration(self, line: int) -> sympy.Expr:
        """``linCmt()`` is the central amount over the central volume ``v``."""
        lc = self.ir.lincmt
        if lc is None:
            raise _fail("linCmt() used, but the model has no linear compartment system", line)
        volume = self.env.get("v")
        if volume is None:
            raise _fail("linCmt() needs the central volume v assigned before it", line)
        self.lincmt_volume = volume
        return self.states[1 if lc.has_depot else 0] / volume

    # -------------------------------------------------------------- statements
    def statements(self) -> None:
        count: dict[str, int] = {}
        for a in self.ir.statements:
            if a.name in self.base:
                raise _fail(f"{a.name} is assigned, but it is already a parameter, covariate, "
                            f"compartment or t", a.line)
            expr = self.resolve(a.expr, self.env, a.line, allow_lincmt=True)
            k = count.get(a.name, 0)
            count[a.name] = k + 1
            sym = _symbol("v" if k == 0 else f"v{k + 1}", a.name, a.line)
            uses = expr.free_symbols
            dynamic = TIME in uses or bool(uses & self.state_set) or bool(uses & self.dynamic)
            if dynamic:
                self.dynamic.add(sym)
            self.stmts.append(Stmt(a.name, sym, expr, a.line, dynamic))
            self.env[a.name] = sym
            self.history.append((a.line, {a.name: sym}))


def build_plan(ir: ModelIR, route_linear: bool = True) -> Plan:
    """Resolve ``ir`` into a ``Plan``; model problems raise ``ModelError`` naming the line.

    ``route_linear``: d/dt systems that are linear in the states with coefficients constant
    between records get ``K`` (``linear_system``) and so the exact linear propagator of
    linCmt(); False keeps every d/dt system on the ODE solver (for checks)."""
    r = _Resolver(ir)
    r.statements()
    stmts = tuple(r.stmts)
    full_base, full_dyn = _substitutions(stmts)
    modifiers = _modifiers(ir, r, full_base)
    lincmt, K = _lincmt(ir, r, stmts)
    odes = _odes(ir, r, K)
    obs = _observations(ir, r)
    inits = _initials(ir, r, full_dyn)
    slots = _slots(r, stmts, full_base, modifiers, odes, obs, inits)
    if lincmt is not None:
        index = {s.sym: i for i, s in enumerate(slots)}
        lincmt = LinCmtInfo(lincmt[0], lincmt[1], lincmt[2], lincmt[3],
                            {name: index[sym] for name, sym in lincmt[4].items()})
    dose_index = _dose_index(ir, r, slots)
    path = ""
    has_input = False
    if K is not None:
        path = "linCmt() closed form (exact linear propagator)"
    elif r.states:
        K, reason, inputs = linear_system(odes, r.states, r.state_names, full_dyn, slots)
        if not route_linear:
            K, reason = None, "forced by the model's solver option (solver='ode')"
        has_input = K is not None and bool(inputs)
        path = (f"ODE system routed to the exact linear propagator ({reason})" if K is not None
                else f"stiff ODE solver: {reason}")
    return Plan(
        ir=ir, thetas=r.thetas, res=r.res, covs=r.covs, states=r.states,
        state_names=r.state_names, stmts=stmts, slots=slots, odes=odes, inits=inits, obs=obs,
        K=K, full_base=full_base, full_dyn=full_dyn, dose_index=dose_index,
        error_index=_error_index(ir), lincmt=lincmt, path=path, has_input=has_input,
    )


def linear_system(odes, states, state_names, full_dyn: dict, slots) -> tuple:
    """``(K, words, inputs)`` when ``d/dt y = K y + b`` exactly, with ``K`` and ``b`` free of t and of
    the states (so constant between records) and ``K`` written in p-slot symbols; ``(None, why
    not, ())`` otherwise; ``inputs``: the states with a term of b (``model_inputs``).

    Decided on the fully substituted right-hand sides: the Jacobian with respect to the
    states must be free of states and t. The part left at y = 0 is ``b``, a zero-order input
    written in the model (``kin`` of a turnover, an endogenous production): the engine
    evaluates it as ``rhs(t, 0, p)`` and adds it to the dose inputs (``model_inputs``)."""
    exprs = [e.xreplace(full_dyn) for e in odes]
    for name, e in zip(state_names, exprs):
        if TIME in e.free_symbols:
            return None, f"d/dt({name}) depends on t", ()
    J = sympy.Matrix(exprs).jacobian(sympy.Matrix(states))
    state_set = set(states)
    for i, name in enumerate(state_names):
        for j, other in enumerate(state_names):
            uses = J[i, j].free_symbols
            if uses & state_set or TIME in uses:
                return None, (f"d/dt({name}) is not linear in the states (its derivative with "
                              f"respect to {other} depends on {_names(uses & state_set, states, state_names)})"), ()
    allowed = {s.sym for s in slots if s.sym is not None}
    if not J.free_symbols <= allowed:  # a value the linear functions cannot load
        return None, "a coefficient is not available per record", ()
    if any(not v.is_finite for v in J if v.is_number):
        return None, "a coefficient is not finite", ()
    inputs = model_inputs(odes, states, state_names, full_dyn)
    if inputs:
        return J, f"linear in the states, with a constant input in {', '.join(f'd/dt({n})' for n in inputs)}", inputs
    return J, "linear in the states", ()


def model_inputs(odes, states, state_names, full_dyn: dict) -> tuple[str, ...]:
    """Names of the states whose d/dt has a term without a state (a zero-order input written in
    the model: ``kin`` in ``d/dt(R) = kin - kout * R``)."""
    zero = {s: sympy.S.Zero for s in states}
    out = []
    for name, e in zip(state_names, odes):
        rest = e.xreplace(full_dyn).xreplace(zero)
        if rest != 0 and sympy.simplify(rest) != 0:
            out.append(name)
    return tuple(out)


def accumulating_states(plan: Plan) -> tuple[str, ...]:
    """Names of the states on which no d/dt depends (an AUC or cumulative-effect compartment:
    nothing eliminates it). Such a state has no steady state under repeated dosing (SS=1): it
    grows by the same amount every dosing interval."""
    if not plan.states:
        return ()
    if plan.K is not None:
        J = plan.K
    else:
        exprs = [e.xreplace(plan.full_dyn) for e in plan.odes]
        J = sympy.Matrix(exprs).jacobian(sympy.Matrix(plan.states))
    return tuple(name for k, name in enumerate(plan.state_names)
                 if all(sympy.simplify(J[i, k]) == 0 for i in range(J.rows)))


def _names(syms, states, state_names) -> str:
    out = [state_names[states.index(s)] for s in states if s in syms]
    return ", ".join(out) if out else "t"


def _substitutions(stmts) -> tuple[dict, dict]:
    full_base: dict = {}
    full_dyn: dict = {}
    for s in stmts:
        full_base[s.sym] = s.expr.xreplace(full_base)
        if s.dynamic:
            full_dyn[s.sym] = s.expr.xreplace(full_dyn)
    return full_base, full_dyn


def _modifiers(ir: ModelIR, r: _Resolver, full_base: dict) -> list:
    out = []
    seen = set()
    for kind, cmt, expr, line in ir.dose_modifiers:
        if cmt not in r.state_names:
            raise _fail(f"{kind.value}({cmt}): {cmt} is not a compartment "
                        f"(compartments: {', '.join(r.state_names) or 'none'})", line)
        if (kind, cmt) in seen:
            raise _fail(f"{kind.value}({cmt}) is set twice", line)
        seen.add((kind, cmt))
        value = r.resolve(expr, r.env_at(line), line)
        full = value.xreplace(full_base)
        if full.free_symbols & r.state_set:
            raise _fail(f"{kind.value}({cmt}) depends on a compartment amount; dose modifiers "
                        f"may use parameters, covariates and t only", line)
        out.append((kind, cmt, value, full))
    return out


def _lincmt(ir: ModelIR, r: _Resolver, stmts) -> tuple:
    lc = ir.lincmt
    if lc is None:
        return None, None
    if ir.odes:
        raise _fail("linCmt() cannot be combined with d/dt lines", ir.odes[0][2])
    if lc.n_cmt not in (1, 2, 3):
        raise _fail(f"linCmt() supports 1, 2 or 3 compartments, not {lc.n_cmt}", lc.line)
    names = ["cl", "v", "q", "v2", "q2", "v3"][: 2 * lc.n_cmt] + (["ka"] if lc.has_depot else [])
    params = {}
    dynamic = {s.sym for s in stmts if s.dynamic}
    for name in names:
        sym = r.env.get(name)
        if sym is None:
            raise _fail(f"linCmt() with {lc.n_cmt} compartment(s) needs {name} to be assigned", lc.line)
        if sym in dynamic:
            raise _fail(f"linCmt() parameter {name} must not depend on t or a compartment", lc.line)
        params[name] = sym
    if r.lincmt_volume is not None and r.lincmt_volume != params["v"]:
        raise _fail("v is assigned again after linCmt(); the closed form uses one central volume", lc.line)
    K = lincmt_matrix(lc.n_cmt, lc.has_depot, params)
    central = 1 if lc.has_depot else 0
    return (lc.n_cmt, lc.has_depot, central, 0 if lc.has_depot else -1, params), K


def lincmt_matrix(n_cmt: int, has_depot: bool, s: dict) -> sympy.Matrix:
    """K of ``dA/dt = K A`` for amounts (depot?, central, periph1, periph2), with
    k10 = cl/v, k12 = q/v, k21 = q/v2, k13 = q2/v, k31 = q2/v3."""
    n = n_cmt + int(has_depot)
    K = sympy.zeros(n, n)
    c = 1 if has_depot else 0
    K[c, c] = -s["cl"] / s["v"]
    if has_depot:
        K[0, 0] = -s["ka"]
        K[c, 0] = s["ka"]
    for k, (q, vp) in enumerate((("q", "v2"), ("q2", "v3"))[: n_cmt - 1]):
        j = c + 1 + k
        K[c, c] -= s[q] / s["v"]
        K[c, j] = s[q] / s[vp]
        K[j, c] = s[q] / s["v"]
        K[j, j] = -s[q] / s[vp]
    return K


def _odes(ir: ModelIR, r: _Resolver, K) -> tuple:
    if K is not None:
        return tuple(K * sympy.Matrix(r.states))
    odes: dict[str, sympy.Expr] = {}
    for cmt, expr, line in ir.odes:
        if cmt not in r.state_names:
            raise _fail(f"d/dt({cmt}): {cmt} is not a compartment", line)
        if cmt in odes:
            raise _fail(f"d/dt({cmt}) is defined twice", line)
        odes[cmt] = r.resolve(expr, r.env_at(line), line)
    return tuple(odes.get(name, sympy.S.Zero) for name in r.state_names)


def _observations(ir: ModelIR, r: _Resolver) -> tuple:
    out = []
    for e in ir.endpoints:
        sym = r.env.get(e.variable)
        if sym is None and e.variable in r.state_names:
            sym = r.base[e.variable]
        if sym is None:
            raise _fail(f"{e.variable} ~ ...: {e.variable} is neither assigned nor a compartment", e.line)
        out.append(sym)
    return tuple(out)


def _initials(ir: ModelIR, r: _Resolver, full_dyn: dict) -> tuple:
    inits: dict[str, sympy.Expr] = {}
    for cmt, expr, line in ir.initial:
        if cmt not in r.state_names:
            raise _fail(f"{cmt}(0): {cmt} is not a compartment", line)
        if cmt in inits:
            raise _fail(f"{cmt}(0) is set twice", line)
        value = r.resolve(expr, r.env_at(line), line)
        uses = value.xreplace(full_dyn).free_symbols
        if TIME in uses or uses & r.state_set:
            raise _fail(f"{cmt}(0) may use parameters and covariates, not t or compartments", line)
        inits[cmt] = value
    return tuple(inits.get(name) for name in r.state_names)


def _slots(r, stmts, full_base, modifiers, odes, obs, inits) -> tuple[Slot, ...]:
    finals = set(r.env.values())
    slots = []
    seen = {}
    for s in stmts:
        if s.dynamic:
            continue
        seen[s.name] = seen.get(s.name, 0) + 1
        name = s.name if s.sym in finals else f"{s.name}#{seen[s.name]}"
        slots.append(Slot(name, SlotKind.VARIABLE, s.sym, s.sym, full_base[s.sym]))
    for kind, cmt, value, full in modifiers:
        slots.append(Slot(f"{kind.value}({cmt})", SlotKind.DOSE_MODIFIER, None, value, full))
    # thetas/etas/covariates that state- or time-dependent code reads directly
    used = set()
    for e in [s.expr for s in stmts if s.dynamic] + list(odes) + list(obs) + [i for i in inits if i is not None]:
        used |= e.free_symbols
    for sym in r.thetas + r.res + r.covs:
        if sym in used:
            name = sym.name.split("_", 1)[1]
            slots.append(Slot(name, SlotKind.INPUT, sym, sym, sym))
    return tuple(slots)


def _dose_index(ir: ModelIR, r: _Resolver, slots) -> tuple:
    rows = [[-1] * len(r.state_names) for _ in MODIFIER_ROWS]
    for i, slot in enumerate(slots):
        if slot.kind is SlotKind.DOSE_MODIFIER:
            kind, cmt = slot.name[:-1].split("(")
            rows[MODIFIER_ROWS.index(DoseModifier(kind))][r.state_names.index(cmt)] = i
    return tuple(tuple(row) for row in rows)


def _error_index(ir: ModelIR) -> tuple:
    names = [t.name for t in ir.thetas]
    out = []
    for e in ir.endpoints:
        row = [-1, -1, -1]
        for term in e.terms:
            if term.param not in names:
                raise _fail(f"{e.variable} ~ {term.kind.value}({term.param}): {term.param} "
                            f"is not a parameter of [ini]", e.line)
            row[ERROR_COLUMNS.index(term.kind)] = names.index(term.param)
        out.append(tuple(row))
    return tuple(out)
