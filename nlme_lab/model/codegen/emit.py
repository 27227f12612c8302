"""From a ``Plan`` to the text of one Python module with the twelve ABI functions.

Value functions (``pk``, ``rhs``, ``init``, ``obs``, ``linsys``) are written statement by
statement, mirroring the model. Derivative functions compute the values they need the same
way, then the exact derivatives (``sympy.diff`` of the fully substituted expressions) after
common-subexpression elimination. Before CSE, any subexpression that equals a model
variable's value is replaced by that variable (``d exp(a)/da`` becomes ``v_ka``).

Kinks: ``Min``/``Max``/``Abs`` are rewritten as ``Piecewise`` before differentiating, so the
derivative at a kink is the one of the side the value takes (``max(a, b)`` is ``a`` when
``a >= b``). The derivative of a ``Piecewise`` is the ``Piecewise`` of the derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from nlme_lab import config
from nlme_lab.model.codegen.analysis import TIME, Plan, Stmt
from nlme_lab.model.codegen.printer import Printer

CODEGEN_VERSION = "1"
_V, _M, _A3 = "float64[::1]", "float64[:, ::1]", "float64[:, :, ::1]"

# name -> (argument list, numba signature); must equal nlme_lab/kernels/abi.py (tested)
SIGNATURES = {
    "pk": ("t, theta, eta, cov, p", f"void(float64, {_V}, {_V}, {_V}, {_V})"),
    "dpk": ("t, theta, eta, cov, p, dp_deta, dp_dtheta", f"void(float64, {_V}, {_V}, {_V}, {_V}, {_M}, {_M})"),
    "rhs": ("t, y, p, dydt", f"void(float64, {_V}, {_V}, {_V})"),
    "jac": ("t, y, p, J", f"void(float64, {_V}, {_V}, {_M})"),
    "dfdp": ("t, y, p, Fp", f"void(float64, {_V}, {_V}, {_M})"),
    "init": ("p, y0", f"void({_V}, {_V})"),
    "dinit": ("p, Y0p", f"void({_V}, {_M})"),
    "obs": ("t, y, p, out", f"void(float64, {_V}, {_V}, {_V})"),
    "dobs_dy": ("t, y, p, Oy", f"void(float64, {_V}, {_V}, {_M})"),
    "dobs_dp": ("t, y, p, Op", f"void(float64, {_V}, {_V}, {_M})"),
    "linsys": ("p, K", f"void({_V}, {_M})"),
    "dlinsys": ("p, dK", f"void({_V}, {_A3})"),
}
FUNCTION_NAMES = tuple(SIGNATURES)


@dataclass
class _Land:
    """Where a function's values come from: statements it may compute, symbols it loads."""

    pool: list[Stmt]
    loads: dict  # symbol -> "array[i]"
    backsub: dict  # fully substituted form -> variable symbol
    has_time: bool = True


@dataclass
class _Out:
    target: str
    expr: sympy.Expr
    comment: str = ""


@dataclass
class _Body:
    raw: list[_Out] = field(default_factory=list)  # printed as they are (values)
    derived: list[_Out] = field(default_factory=list)  # CSE'd together (derivatives)
    zero: list[str] = field(default_factory=list)  # arrays to clear first
    doc: str = ""


def generate_source(plan: Plan) -> str:
    """The module text; deterministic for a given plan (its hash names the cache file)."""
    pk_land, dyn_land = _lands(plan)
    static_land = _Land(dyn_land.pool, dyn_land.loads, dyn_land.backsub, has_time=False)
    bodies = {
        "pk": (pk_land, _pk(plan, derivatives=False)),
        "dpk": (pk_land, _pk(plan, derivatives=True)),
        "rhs": (dyn_land, _rhs(plan)),
        "jac": (dyn_land, _state_jacobian(plan, plan.odes, "J", "dydt", "df/dy: J[i, j] = d dydt[i] / d y[j]")),
        "dfdp": (dyn_land, _p_jacobian(plan, plan.odes, "Fp", "dydt", "df/dp: Fp[i, k] = d dydt[i] / d p[k]")),
        "init": (static_land, _init(plan)),
        "dinit": (static_land, _p_jacobian(plan, _init_exprs(plan), "Y0p", "y0", "d y0[i] / d p[k]")),
        "obs": (dyn_land, _obs(plan)),
        "dobs_dy": (dyn_land, _state_jacobian(plan, plan.obs, "Oy", "out", "d out[e] / d y[j]")),
        "dobs_dp": (dyn_land, _p_jacobian(plan, plan.obs, "Op", "out", "d out[e] / d p[k]")),
        "linsys": (static_land, _linsys(plan)),
        "dlinsys": (static_land, _dlinsys(plan)),
    }
    parts = [_header(plan)]
    for name in FUNCTION_NAMES:
        land, body = bodies[name]
        parts.append(_function(name, land, body))
    return "\n\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------- lands
def _lands(plan: Plan) -> tuple[_Land, _Land]:
    states = set(plan.states)
    pk_pool = [s for s in plan.stmts if not (plan.full_base[s.sym].free_symbols & states)]
    pk_loads = {}
    for array, syms in (("theta", plan.thetas), ("eta", plan.res), ("cov", plan.covs)):
        pk_loads.update({sym: f"{array}[{i}]" for i, sym in enumerate(syms)})
    pk_back = [(plan.full_base[s.sym], s.sym) for s in pk_pool]
    dyn_pool = [s for s in plan.stmts if s.dynamic]
    dyn_loads = {sym: f"p[{i}]" for sym, i in plan.p_symbols.items()}
    dyn_loads.update({sym: f"y[{i}]" for i, sym in enumerate(plan.states)})
    dyn_back = [(plan.full_dyn[s.sym], s.sym) for s in dyn_pool]
    return _Land(pk_pool, pk_loads, _nontrivial(pk_back)), _Land(dyn_pool, dyn_loads, _nontrivial(dyn_back))


def _nontrivial(pairs: list) -> dict:
    """fully substituted form -> the first variable that holds it (atoms are left alone)."""
    out = {}
    for full, sym in pairs:
        if not full.is_Atom:
            out.setdefault(full, sym)
            out.setdefault(kink_free(full), sym)
    return out


def kink_free(expr: sympy.Expr) -> sympy.Expr:
    """``Min``/``Max``/``Abs`` as ``Piecewise`` (the side Python's min/max/abs returns)."""

    def rewrite(e):
        if isinstance(e, sympy.Abs):
            x = e.args[0]
            return sympy.Piecewise((x, x >= 0), (-x, True))
        first, *rest = e.args
        out = first
        for b in rest:
            if isinstance(e, sympy.Max):
                out = sympy.Piecewise((out, out >= b), (b, True))
            else:
                out = sympy.Piecewise((out, out <= b), (b, True))
        return out

    return expr.replace(lambda e: isinstance(e, (sympy.Min, sympy.Max, sympy.Abs)), rewrite)


def _diff(expr: sympy.Expr, wrt: sympy.Symbol) -> sympy.Expr:
    return sympy.diff(kink_free(expr), wrt) if wrt in expr.free_symbols else sympy.S.Zero


# ---------------------------------------------------------------------------- bodies
def _pk(plan: Plan, derivatives: bool) -> _Body:
    body = _Body(doc="p: every time- and state-independent quantity (see the table above)")
    for i, slot in enumerate(plan.slots):
        body.raw.append(_Out(f"p[{i}]", slot.value, slot.name))
    if not derivatives:
        return body
    body.doc = "p (as pk) and its exact Jacobians dp_deta[i, j] = d p[i] / d eta[j], dp_dtheta likewise"
    body.zero = ["dp_deta", "dp_dtheta"]
    for array, syms in (("dp_deta", plan.res), ("dp_dtheta", plan.thetas)):
        for i, slot in enumerate(plan.slots):
            for j, sym in enumerate(syms):
                d = _diff(slot.full, sym)
                if d != 0:
                    body.derived.append(_Out(f"{array}[{i}, {j}]", d, f"d {slot.name} / d {sym.name[3:]}"))
    return body


def _rhs(plan: Plan) -> _Body:
    body = _Body(doc="dydt = f(t, y, p)" + (": K(p) @ y (linCmt)" if plan.K is not None else ""))
    for i, expr in enumerate(plan.odes):
        body.raw.append(_Out(f"dydt[{i}]", expr, f"d/dt({plan.state_names[i]})"))
    return body


def _init_exprs(plan: Plan) -> tuple:
    return tuple(e if e is not None else sympy.S.Zero for e in plan.inits)


def _init(plan: Plan) -> _Body:
    body = _Body(doc="initial amounts y0 (zero unless cmt(0) = ...)")
    if any(e is not None for e in plan.inits):
        body.zero = ["y0"]
    for i, expr in enumerate(plan.inits):
        if expr is not None:
            body.raw.append(_Out(f"y0[{i}]", expr, f"{plan.state_names[i]}(0)"))
    if not body.raw and plan.states:
        body.zero = ["y0"]
    return body


def _obs(plan: Plan) -> _Body:
    body = _Body(doc="the prediction of every endpoint, in endpoint order")
    for k, expr in enumerate(plan.obs):
        body.raw.append(_Out(f"out[{k}]", expr, plan.ir.endpoints[k].variable))
    return body


def _state_jacobian(plan, exprs, array, what, doc) -> _Body:
    body = _Body(doc=doc, zero=[array])
    for i, expr in enumerate(exprs):
        full = expr.xreplace(plan.full_dyn)
        for j, sym in enumerate(plan.states):
            d = _diff(full, sym)
            if d != 0:
                body.derived.append(_Out(f"{array}[{i}, {j}]", d, f"d {what}[{i}] / d {plan.state_names[j]}"))
    return body


def _p_jacobian(plan, exprs, array, what, doc) -> _Body:
    body = _Body(doc=doc, zero=[array])
    for i, expr in enumerate(exprs):
        full = expr.xreplace(plan.full_dyn)
        for k, slot in enumerate(plan.slots):
            d = _diff(full, slot.sym) if slot.sym is not None else sympy.S.Zero
            if d != 0:
                body.derived.append(_Out(f"{array}[{i}, {k}]", d, f"d {what}[{i}] / d {slot.name}"))
    return body


def _linsys(plan: Plan) -> _Body:
    body = _Body(doc="linear models: dy/dt = K y + inputs (zeros for non-linear models)", zero=["K"])
    if plan.K is not None:
        for (i, j), value in _entries(plan.K):
            body.raw.append(_Out(f"K[{i}, {j}]", value))
    return body


def _dlinsys(plan: Plan) -> _Body:
    body = _Body(doc="dK[i, j, k] = d K[i, j] / d p[k]", zero=["dK"])
    if plan.K is not None:
        for (i, j), value in _entries(plan.K):
            for k, slot in enumerate(plan.slots):
                d = _diff(value, slot.sym) if slot.sym is not None else sympy.S.Zero
                if d != 0:
                    body.derived.append(_Out(f"dK[{i}, {j}, {k}]", d, f"d K[{i}, {j}] / d {slot.name}"))
    return body


def _entries(K: sympy.Matrix):
    for i in range(K.rows):
        for j in range(K.cols):
            if K[i, j] != 0:
                yield (i, j), K[i, j]


# ---------------------------------------------------------------------------- printing
def _function(name: str, land: _Land, body: _Body) -> str:
    args, sig = SIGNATURES[name]
    derived = [o.expr.xreplace(land.backsub) for o in body.derived]
    temps, reduced = sympy.cse(derived, symbols=sympy.numbered_symbols("x_", real=True), order="none") if derived else ([], [])
    needed = set()
    for expr in [o.expr for o in body.raw] + [e for _, e in temps] + list(reduced):
        needed |= expr.free_symbols
    stmts = _closure(land.pool, needed)
    for s in stmts:
        needed |= s.expr.free_symbols
    known = set(land.loads) | {s.sym for s in stmts} | {t for t, _ in temps}
    if land.has_time:
        known.add(TIME)
    missing = needed - known
    if missing:  # a bug in the analysis, not a model problem
        raise AssertionError(f"{name}: no value for {sorted(map(str, missing))}")
    names = {s.name: s.name for s in known}
    printer = Printer(names)
    lines = [f"@lazy_njit({sig!r}, {config.njit_options_source()})", f"def {name}({args}):",
             f'    """{body.doc}"""']
    loads = sorted(((land.loads[s], s.name) for s in needed if s in land.loads), key=_load_order)
    lines += [f"    {sym} = {src}" for src, sym in loads]
    lines += [f"    {s.sym.name} = {printer(s.expr)}  # {s.name}" for s in stmts]
    lines += [f"    {t.name} = {printer(e)}" for t, e in temps]
    lines += [f"    {a}[{', '.join([':'] * _ndim(a))}] = 0.0" for a in body.zero]
    for o in body.raw:
        lines.append(f"    {o.target} = {printer(o.expr)}" + (f"  # {o.comment}" if o.comment else ""))
    for o, e in zip(body.derived, reduced):
        lines.append(f"    {o.target} = {printer(e)}" + (f"  # {o.comment}" if o.comment else ""))
    if len(lines) == 3:
        lines.append("    return")
    return "\n".join(lines)


_ARRAY_ORDER = {"theta": 0, "eta": 1, "cov": 2, "p": 3, "y": 4}


def _load_order(item):
    src, _ = item
    array, index = src[:-1].split("[")
    return _ARRAY_ORDER[array], int(index)


def _ndim(array: str) -> int:
    return {"dp_deta": 2, "dp_dtheta": 2, "J": 2, "Fp": 2, "Y0p": 2, "Oy": 2, "Op": 2, "K": 2, "dK": 3}.get(array, 1)


def _closure(pool: list[Stmt], needed: set) -> list[Stmt]:
    """The statements of ``pool`` that ``needed`` uses, directly or through others, in order."""
    keep = []
    want = set(needed)
    for s in reversed(pool):
        if s.sym in want:
            keep.append(s)
            want |= s.expr.free_symbols
    return keep[::-1]


def _header(plan: Plan) -> str:
    ir = plan.ir
    rows = [
        "# Generated by nlme_lab.model.codegen from a model IR: do not edit.",
        f"# codegen version {CODEGEN_VERSION}. The file name is a hash of this text, so models that",
        "# generate the same code share it and its numba cache (model line numbers are left out, so",
        "# editing comments or blank lines of a model does not compile it again).",
        "#",
        f"# theta: {', '.join(t.name for t in ir.thetas) or '-'}",
        f"# eta:   {', '.join(r.name for r in ir.random_effects) or '-'}",
        f"# cov:   {', '.join(ir.covariates) or '-'}",
        f"# y:     {', '.join(plan.state_names) or '-'}",
        f"# out:   {', '.join(e.variable for e in ir.endpoints) or '-'}",
        "# p:",
    ]
    rows += [f"#   p[{i}] {s.name} ({s.kind.value})" for i, s in enumerate(plan.slots)]
    rows += [
        "#",
        "# @lazy_njit(sig, **options) compiles a function with numba.njit(sig, **options) when it is",
        "# first needed; numba caches the machine code beside this file (cache=True).",
        "",
        "import math",
        "",
        "from nlme_lab.model.codegen.runtime import lazy_njit",
    ]
    return "\n".join(rows)
