"""``Y`` of ``$ERROR``/``$PRED`` -> the observed variable and its error model (``residual.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy

from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem.issues import Note, fail
from nlme_lab.nonmem.residual import ResidualRefused, analyse, to_sympy
from nlme_lab.nonmem.translate import LINCMT, Slot, Translator


@dataclass(frozen=True)
class ResidualSD:
    """A residual SD parameter made from a SIGMA (estimated) or a fixed number."""

    kind: str  # "add" / "prop"
    init: float
    fixed: bool
    source: str  # e.g. "$SIGMA 2 (variance 0.0131)"


@dataclass(frozen=True)
class Endpoint:
    slot: Slot  # the observed variable
    terms: tuple  # (("add", Param), ("prop", Param)): Param("theta", k) or Param("sd", j)


@dataclass(frozen=True)
class Observation:
    endpoints: tuple[Endpoint, ...]  # in DVID order (DVID = k is the k-th)
    sds: tuple[ResidualSD, ...]  # the Param("sd", j) parameters, j = index + 1
    residual_thetas: frozenset[int]
    y_slot: Slot
    selector: str | None  # "DVID" when Y picks its endpoint by IF (DVID.EQ.k)


def observe(tr: Translator, sigmas, record: str, line: int, notes: list[Note]) -> Observation:
    y = tr.env.get("Y")
    if y is None:
        fail("Y is never assigned: the observation equation is Y = prediction + error", record, line)
    y_slot = y.slot
    selector, values = _selector(y_slot)
    sds: dict = {}
    endpoints, thetas = [], set()
    for k in values:
        expr = y_slot.expr if selector is None else _specialize(y_slot.expr, selector, k)
        endpoint, used = _endpoint(tr, expr, y_slot, sigmas, sds, notes, f"{k:g}" if selector else "")
        endpoints.append(endpoint)
        thetas |= used
    seen = {}
    for k, endpoint in zip(values, endpoints):
        if endpoint.slot in seen:
            fail(f"DVID {seen[endpoint.slot]:g} and {k:g} observe the same prediction", y_slot.record, y_slot.line)
        seen[endpoint.slot] = k
    return Observation(tuple(endpoints), tuple(sds.values()), frozenset(thetas), y_slot, selector)


def _endpoint(tr, expr, y_slot, sigmas, sds: dict, notes, suffix: str) -> tuple[Endpoint, set]:
    prediction = _without_eps(_inline_eps(expr))
    if isinstance(prediction, na.Ref):
        observed = prediction.slot
    else:
        observed = _slot(tr.add(Slot("<prediction>", prediction, y_slot.record, y_slot.line,
                                     preferred=f"ipred{suffix}")))
    chain = _aliases(observed)
    p = sympy.Symbol("P_", real=True)
    guards: list[Slot] = []

    def ref(slot: Slot):
        if slot in chain:
            return p
        inner = _guard(slot)
        if inner is not None:
            guards.append(slot)
            return ref(inner)
        if slot.expr is LINCMT:
            return sympy.Symbol(f"VAR_{slot.var}", real=True)
        return to_sympy(slot.expr, ref)

    try:
        model = _analyse(expr, prediction, ref, p, sigmas)
    except ResidualRefused as err:
        where = f" for DVID {suffix}" if suffix else ""
        fail(f"the residual error of Y{where} is not one of the model language's (add, prop, add + prop): {err}",
             y_slot.record, y_slot.line)
    for slot in dict.fromkeys(guards):
        notes.append(Note(f"IF ({slot.var}.EQ.0) {slot.var} = ... left out of the residual error (it only guards "
                          "a zero SD; the model language has none)", slot.record, slot.line))
    if not model.linear:
        notes.append(Note("Y is not linear in the EPS: as NONMEM's conditional methods do, its first-order "
                          "expansion in the EPS is used", y_slot.record, y_slot.line))
    terms, thetas = _terms(model, sigmas, sds)
    return Endpoint(observed, terms), thetas


def _analyse(y_expr, prediction, ref, p, sigmas):
    y = to_sympy(y_expr, ref)
    if not isinstance(prediction, na.Ref):
        y = y.subs(to_sympy(prediction, ref), p)
    eps = {k: sympy.Symbol(f"EPS_{k}", real=True) for k in range(1, 1 + sum(b.size for b in sigmas))}
    variances = {}
    for block in sigmas:
        if block.size > 1 and any(block.values[i * (i + 1) // 2 + j] != 0
                                  for i in range(block.size) for j in range(i)):
            raise ResidualRefused(f"$SIGMA BLOCK({block.size}) has covariances")
        for k, index in enumerate(block.indices):
            value = block.variance(k)
            if block.fixed:
                variances[index] = sympy.Integer(int(value)) if value == int(value) else sympy.Float(value)
            else:
                variances[index] = sympy.Symbol(f"SIGMA_{index}", real=True)
    return analyse(y, p, {k: e for k, e in eps.items() if y.has(e)}, variances.__getitem__)


def _terms(model, sigmas, sds: dict) -> tuple[tuple, set]:
    """The error terms; an SD made from a SIGMA is shared by every endpoint using that SIGMA."""
    terms, thetas = [], set()
    by_index = {i: (b, k) for b in sigmas for k, i in enumerate(b.indices)}
    for kind, part in (("add", model.add), ("prop", model.prop)):
        if part is None:
            continue
        if part.kind == "theta":
            thetas.add(part.index)
            terms.append((kind, na.Param("theta", part.index)))
            continue
        key = ("sigma", part.index) if part.kind == "sigma" else ("fixed", kind, part.value)
        if key not in sds:
            if part.kind == "sigma":
                block, k = by_index[part.index]
                variance = block.variance(k)
                sds[key] = ResidualSD(kind, math.sqrt(variance), False,
                                      f"SD of $SIGMA {part.index} (variance {variance:g})")
            else:
                sds[key] = ResidualSD(kind, part.value, True, "a fixed SIGMA")
        terms.append((kind, na.Param("sd", list(sds).index(key) + 1)))
    return tuple(terms), thetas


def _selector(y_slot: Slot) -> tuple[str | None, list[float]]:
    """The column Y's IF picks the endpoint by (``IF (DVID.EQ.k)``) and its values; (None, [0])
    when Y has no condition."""
    tests = set()
    for node in _walk_through(y_slot.expr):
        if isinstance(node, na.Conditional):
            tests.add(_equality(node.condition))
    if not tests:
        return None, [0.0]
    columns = {t[0] for t in tests if t is not None}
    if None in tests or len(columns) != 1 or columns != {"DVID"}:
        fail("Y depends on conditions: one observation equation, or one per endpoint chosen by "
             "IF (DVID.EQ.k) THEN ... (k = 1, 2, ...), is read", y_slot.record, y_slot.line)
    values = sorted({t[1] for t in tests})
    if values != [float(k) for k in range(1, len(values) + 1)]:
        fail(f"Y's endpoints are DVID {', '.join(f'{v:g}' for v in values)}: the model language numbers them "
             "1, 2, ... (DVID = k is the k-th observation line)", y_slot.record, y_slot.line)
    return "DVID", values


def _equality(condition):
    if (isinstance(condition, na.Compare) and condition.op == "==" and isinstance(condition.left, na.Covariate)
            and isinstance(condition.right, na.Num)):
        return condition.left.column, condition.right.value
    return None


def _walk_through(expr):
    """Every node of ``expr`` and of the slots it reads."""
    seen, stack = set(), [expr]
    while stack:
        node = stack.pop()
        for inner in na.walk(node):
            yield inner
            if isinstance(inner, na.Ref) and inner.slot not in seen and inner.slot.expr is not LINCMT:
                seen.add(inner.slot)
                guarded = _guard(inner.slot)
                stack.append(inner.slot.expr if guarded is None else guarded.expr)


def depends_on(slot: Slot, column: str) -> bool:
    return any(isinstance(n, na.Covariate) and n.column == column for n in _walk_through(slot.expr))


def _specialize(expr, column: str, value: float):
    """``expr`` where ``column == value``: its IF (column.EQ.k) decided, slots that test it written out."""
    if isinstance(expr, na.Ref):
        return _specialize(expr.slot.expr, column, value) if depends_on(expr.slot, column) else expr
    if isinstance(expr, na.Conditional):
        test = _equality(expr.condition)
        if test is not None and test[0] == column:
            return _specialize(expr.body if test[1] == value else expr.orelse, column, value)
    return _map(expr, lambda e: _specialize(e, column, value))


def _slot(ref: na.Ref) -> Slot:
    return ref.slot


def _aliases(slot: Slot) -> set:
    chain = {slot}
    while isinstance(slot.expr, na.Ref):
        slot = slot.expr.slot
        chain.add(slot)
    return chain


def _guard(slot: Slot) -> Slot | None:
    """The slot before ``IF (W.EQ.0) W = c`` when ``slot`` is that guard, else None."""
    expr = slot.expr
    if not (isinstance(expr, na.Conditional) and isinstance(expr.body, na.Num)
            and isinstance(expr.condition, na.Compare) and expr.condition.op == "=="
            and isinstance(expr.condition.right, na.Num) and expr.condition.right.value == 0):
        return None
    left, orelse = expr.condition.left, expr.orelse
    if isinstance(left, na.Ref) and isinstance(orelse, na.Ref) and left.slot is orelse.slot:
        return left.slot
    return None


def _inline_eps(expr):
    """``expr`` with every slot that depends on an EPS written out."""
    if isinstance(expr, na.Ref):
        return _inline_eps(expr.slot.expr) if expr.slot.eps else expr
    return _map(expr, _inline_eps)


def _without_eps(expr):
    """``expr`` at EPS = 0, with the zeros folded (``F + W*0`` -> ``F``, ``F*(1+0)`` -> ``F``)."""
    if isinstance(expr, na.Param) and expr.kind == "eps":
        return na.Num("0")
    expr = _map(expr, _without_eps)
    zero, one = _is(0), _is(1)
    if isinstance(expr, na.Binary):
        a, b = expr.left, expr.right
        if expr.op == "*" and (zero(a) or zero(b)) or expr.op == "/" and zero(a):
            return na.Num("0")
        if expr.op == "*" and one(a) or expr.op == "+" and zero(a):
            return b
        if expr.op in ("*", "/") and one(b) or expr.op in ("+", "-") and zero(b):
            return a
    if isinstance(expr, na.Call) and expr.name == "exp" and zero(expr.args[0]):
        return na.Num("1")
    if isinstance(expr, na.Unary) and zero(expr.operand):
        return na.Num("0")
    return expr


def _is(value: float):
    return lambda e: isinstance(e, na.Num) and e.value == value


def _map(expr, f):
    if isinstance(expr, na.Call):
        return na.Call(expr.name, tuple(f(a) for a in expr.args))
    if isinstance(expr, na.Unary):
        return na.Unary(expr.op, f(expr.operand))
    if isinstance(expr, na.Not):
        return na.Not(f(expr.operand))
    if isinstance(expr, na.Binary | na.Compare | na.Logic):
        return type(expr)(expr.op, f(expr.left), f(expr.right))
    if isinstance(expr, na.Conditional):
        return na.Conditional(f(expr.body), f(expr.condition), f(expr.orelse))
    return expr
