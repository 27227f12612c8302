"""Between-occasion variability: ``$OMEGA BLOCK(n) SAME`` groups and the ``IF (OCC.EQ.k)`` code.

NONMEM writes one ETA per occasion: ``$OMEGA BLOCK(1) 0.05`` then ``$OMEGA BLOCK(1) SAME``
once per further occasion, and picks the occasion's ETA in code::

    IF (OCC.EQ.1) IOVCL = ETA(3)
    IF (OCC.EQ.2) IOVCL = ETA(4)

The model language says the same with a kappa (``kappa3 ~ 0.05 | OCC``): one value per
occasion of a subject, all with one variance. Here the group becomes kappas and the IF
statements one assignment ``IOVCL = kappa``; an ETA of a group used in any other way, an
occasion without its IF, or two columns are refused. The occasion values are kept so that
reading the data can refuse an occasion value the control stream has no ETA for.
"""

from __future__ import annotations

from dataclasses import dataclass

from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem.issues import fail


@dataclass(frozen=True)
class KappaGroup:
    """A BLOCK(n) and its SAME copies: ``etas[o][p]`` is ETA of occasion slot o, kappa p."""

    etas: tuple[tuple[int, ...], ...]
    values: tuple[float, ...]
    fixed: bool
    labels: tuple[str, ...]
    line: int

    @property
    def kappa_indices(self) -> tuple[int, ...]:
        """The ETA numbers that name the kappas (those of the first occasion)."""
        return self.etas[0]


@dataclass(frozen=True)
class Occasions:
    column: str  # the data item (``OCC``)
    values: tuple[float, ...]  # occasion values in slot order


def kappa_groups(omegas) -> list[KappaGroup]:
    groups: dict[int, list] = {}
    for block in omegas:
        if block.same_as is not None:
            groups.setdefault(block.same_as, []).append(block)
    out = []
    for block in omegas:
        if block.first in groups:
            copies = [block, *groups[block.first]]
            out.append(KappaGroup(tuple(b.indices for b in copies), block.values, block.fixed, block.labels,
                                  block.line))
    return out


def rewrite(statements, groups: list[KappaGroup], labels, record: str) -> tuple[tuple, Occasions | None]:
    """The statements with each occasion IF replaced by ``X = KAPPA``, and the occasions."""
    if not groups:
        return tuple(statements), None
    where = {j: (g, o, p) for g in groups for o, etas in enumerate(g.etas) for p, j in enumerate(etas)}
    found: dict[str, dict[int, tuple]] = {}  # variable -> slot -> (value, kappa eta, line)
    columns: dict[str, int] = {}
    out = []
    for stmt in statements:
        picks = _occasion_picks(stmt, where, labels, record)
        if picks is None:
            out.append(stmt)
            continue
        column, value, assigns = picks
        columns.setdefault(column, stmt.line)
        for target, j in assigns:
            group, o, p = where[j]
            slots = found.setdefault(target, {})
            if o in slots:
                fail(f"{target} takes a second ETA for occasion slot {o + 1}", record, stmt.line)
            slots[o] = (value, group.kappa_indices[p], stmt.line, group)
            out.append(na.Assign(target, None, na.Param("kappa", group.kappa_indices[p]), stmt.line))
    if not found:
        return tuple(statements), None
    if len(columns) > 1:
        fail(f"occasions are read from two columns ({', '.join(columns)})", record, list(columns.values())[1])
    return tuple(_dedupe(out)), _occasions(found, next(iter(columns)), record)


def _dedupe(statements):
    """One ``X = KAPPA`` per variable (the IF of each occasion gave one)."""
    seen, out = set(), []
    for stmt in statements:
        if isinstance(stmt, na.Assign) and isinstance(stmt.value, na.Param) and stmt.value.kind == "kappa":
            if stmt.target in seen:
                continue
            seen.add(stmt.target)
        out.append(stmt)
    return out


def _occasion_picks(stmt, where, labels, record):
    """(column, value, [(target, eta)]) when ``stmt`` is ``IF (COL.EQ.v) X = ETA(j)`` (one line or a
    block of such assignments) with j in a SAME group; None for any other statement."""
    if not isinstance(stmt, na.If) or len(stmt.branches) != 1 or stmt.orelse:
        return None
    condition, body = stmt.branches[0]
    etas = [(a.target, a.value.args[0]) for a in body if isinstance(a, na.Assign) and _is_eta_call(a.value)]
    if not etas or len(etas) != len(body) or not all(_eta_number(e) in where for _, e in etas):
        return None
    if not (isinstance(condition, na.Compare) and condition.op == "==" and isinstance(condition.left, na.Name)
            and isinstance(condition.right, na.Num)):
        fail("an ETA of a BLOCK SAME group is picked under a condition other than IF (OCC.EQ.k)", record, stmt.line)
    column = labels(condition.left.name, stmt.line)
    return column, condition.right.value, [(t, _eta_number(e)) for t, e in etas]


def _is_eta_call(value) -> bool:
    return isinstance(value, na.Call) and value.name == "ETA" and len(value.args) == 1


def _eta_number(arg) -> int:
    return int(arg.value) if isinstance(arg, na.Num) and arg.value == int(arg.value) else -1


def _occasions(found: dict, column: str, record: str) -> Occasions:
    reference: dict[int, float] | None = None
    for target, slots in found.items():
        groups = {id(v[3]) for v in slots.values()}
        line = min(v[2] for v in slots.values())
        if len(groups) > 1 or len({v[1] for v in slots.values()}) > 1:
            fail(f"{target} takes ETAs of different kappas on different occasions", record, line)
        group = next(iter(slots.values()))[3]
        if sorted(slots) != list(range(len(group.etas))):
            missing = [o + 1 for o in range(len(group.etas)) if o not in slots]
            fail(f"{target}: no IF (...) picks the ETAs of occasion slot(s) {missing} of the BLOCK SAME group "
                 f"at $OMEGA line {group.line}", record, line)
        values = {o: v[0] for o, v in slots.items()}
        if len(set(values.values())) != len(values):
            fail(f"{target}: two occasion slots share one {column} value", record, line)
        if reference is None:
            reference = values
        elif values != reference:
            fail(f"{target} maps {column} values to occasion slots differently from another IOV variable",
                 record, line)
    assert reference is not None
    return Occasions(column, tuple(reference[o] for o in sorted(reference)))
