"""Translated statements -> model-language text: what is kept, the names, the ``[ini]`` section.

Kept: every statement the prediction, the compartments or the dose modifiers need, and every
other variable's last value that the model language can compute (derived quantities such as
an AUC stay visible in the individual tables). Left out, with a note: statements that read a
record item (``IRES = DV - IPRED``), depend on an EPS, or serve only ``Y``'s residual error
(``W``). A needed statement that cannot be computed is refused with its record and line.

Names: ``theta1``, ``eta1``, ``kappa3`` (the ETA number of its first occasion), ``add_sd`` /
``prop_sd`` for an SD made from a SIGMA; variables lower case, the last value of a variable
keeps its name and earlier ones are numbered (``tvv_1``); data items keep their $INPUT label.
"""

from __future__ import annotations

import keyword
import math
import re

from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem.issues import Note, fail
from nlme_lab.nonmem.observation import depends_on
from nlme_lab.nonmem.text import to_text
from nlme_lab.nonmem.translate import LINCMT, Slot, Special

_FUNCTION_NAMES = ("exp", "log", "log10", "sqrt", "abs", "min", "max", "logit", "expit", "sin", "cos",
                   "linCmt", "fix", "t", "add", "prop", "lnorm")
_LINCMT_NAMES = ("cl", "v", "q", "v2", "q2", "v3", "ka")
_TITLES = {"PK": "$PK", "DES": "$DES", "ERROR": "$ERROR", "PRED": "$PRED"}


def valid_name(name: str) -> bool:
    return (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) is not None and not name.startswith("__")
            and name not in keyword.kwlist and name not in _FUNCTION_NAMES)


def _refs(expr):
    return [node.slot for node in na.walk(expr) if isinstance(node, na.Ref)]


def _uses_theta(expr, thetas) -> bool:
    return any(isinstance(n, na.Param) and n.kind == "theta" and n.index in thetas for n in na.walk(expr))


class Assembly:
    """Decides what is kept and how it is named, then writes the text."""

    def __init__(self, items, finals, observation, states, lincmt: bool, notes: list[Note]):
        self.items, self.obs, self.states, self.notes = items, observation, states, notes
        self.finals = finals
        self.lincmt = lincmt
        self.kept: list = []

    # ------------------------------------------------------------------ what is kept
    def select(self) -> None:
        slots = [i for i in self.items if isinstance(i, Slot)]
        observed = [e.slot for e in self.obs.endpoints]
        roots = observed + [s for s in slots if s.claim or s.expr is LINCMT]
        roots += [r for i in self.items if isinstance(i, Special) for r in _refs(i.expr)]
        live = self._closure(roots)
        residual = self.obs.residual_thetas
        for slot in live:
            self._check_live(slot, residual)
        y_only = self._closure([self.obs.y_slot]) - live
        dropped: dict[str, list[str]] = {}
        extras = []
        for slot in slots:
            if slot in live or slot.var.startswith("<") or slot.var == "F" and slot.expr is not LINCMT:
                continue
            reason = self._reason(slot, y_only, residual)
            if reason is None and slot in self.finals:
                extras.append(slot)
            elif reason and slot in self.finals and slot.var != "Y":
                dropped.setdefault(reason, []).append(slot.var)
        keep = live | self._closure(extras)
        self.kept = [i for i in self.items if isinstance(i, Special) or i in keep]
        for reason, names in dropped.items():
            self.notes.append(Note(f"{', '.join(dict.fromkeys(names))} left out: {reason}"))

    def _reason(self, slot: Slot, y_only, residual) -> str | None:
        if self.obs.selector and depends_on(slot, self.obs.selector):
            return f"they pick the endpoint by {self.obs.selector}, which the observation lines do"
        if slot.var == "Y" or slot in y_only:
            return "used only for Y's residual error"
        if slot.poison:
            return "they read a record item (DV, AMT, ...), which the model language cannot"
        if slot.eps:
            return "they depend on an EPS"
        if any(_uses_theta(s.expr, residual) for s in self._closure([slot])):
            return "they use a residual SD, which the model language keeps in the error model"
        return None

    def _check_live(self, slot: Slot, residual) -> None:
        if slot.poison:
            fail(f"{slot.var} is needed by the model, but {slot.poison}", slot.record, slot.line)
        if slot.eps:
            fail(f"{slot.var} depends on an EPS and is needed by the prediction: EPS may appear only in Y",
                 slot.record, slot.line)
        if _uses_theta(slot.expr, residual):
            k = next(n.index for n in na.walk(slot.expr) if isinstance(n, na.Param) and n.kind == "theta"
                     and n.index in residual)
            fail(f"THETA({k}) is a residual SD (Y's error) and also used by {slot.var}: the model language "
                 "keeps residual SDs out of the equations", slot.record, slot.line)

    @staticmethod
    def _closure(roots) -> set:
        seen, stack = set(), list(roots)
        while stack:
            slot = stack.pop()
            if slot in seen:
                continue
            seen.add(slot)
            if slot.expr is not LINCMT:
                stack.extend(_refs(slot.expr))
        return seen

    # ------------------------------------------------------------------ names
    def name(self, taken: set[str]) -> None:
        inline = self._inlined()
        slots = [i for i in self.kept if isinstance(i, Slot) and i not in inline]
        for slot in slots:
            if slot.claim:
                slot.name = slot.claim
                taken.add(slot.claim)
        if self.lincmt:
            taken.update(_LINCMT_NAMES)
        counts: dict[str, int] = {}
        for slot in slots:
            if slot.name is None and (slot in self.finals or slot.preferred):
                slot.name = _fresh(slot.preferred or _base(slot.var), taken)
        for slot in slots:
            if slot.name is None:
                base = _base(slot.var)
                counts[base] = counts.get(base, 0) + 1
                slot.name = _fresh(f"{base}_{counts[base]}", taken)
        self.kept = [i for i in self.kept if i not in inline]
        self.inline = inline

    def _inlined(self) -> set:
        """``DADT(n)`` / ``A_0(n)`` values used only by their ``d/dt`` / ``(0)`` line: written there."""
        uses: dict = {}
        for item in self.kept:
            expr = item.expr if isinstance(item, Special) or item.expr is not LINCMT else None
            for slot in _refs(expr) if expr is not None else ():
                uses[slot] = uses.get(slot, 0) + 1
        out = set()
        for item in self.kept:
            if isinstance(item, Special) and item.kind in ("ode", "init") and isinstance(item.expr, na.Ref):
                slot = item.expr.slot
                if slot.var.startswith(("DADT(", "A_0(")) and uses.get(slot) == 1 \
                        and all(e.slot is not slot for e in self.obs.endpoints):
                    out.add(slot)
        return out

    # ------------------------------------------------------------------ text
    def model_lines(self, name_of, structure_title: str) -> list[str]:
        lines, section = [], None
        for item in self.kept:
            record = item.record
            if record != section:
                lines.append(f"# {_TITLES.get(record, structure_title)}")
                section = record
            lines.append(self._line(item, name_of))
        for endpoint in self.obs.endpoints:
            terms = " + ".join(f"{kind}({name_of(param)})" for kind, param in endpoint.terms)
            lines.append(f"{endpoint.slot.name} ~ {terms}")
        return lines

    def _line(self, item, name_of) -> str:
        if isinstance(item, Slot):
            return f"{item.name} = linCmt()" if item.expr is LINCMT else f"{item.name} = {to_text(item.expr, name_of)}"
        expr = item.expr
        if isinstance(expr, na.Ref) and expr.slot in self.inline:
            expr = expr.slot.expr
        state = self.states[item.state - 1]
        value = to_text(expr, name_of)
        if item.kind == "ode":
            return f"d/dt({state}) = {value}"
        if item.kind == "init":
            return f"{state}(0) = {value}"
        return f"{item.kind}({state}) = {value}"


def _base(var: str) -> str:
    return re.sub(r"[^a-z0-9_]", "", var.lower().replace("(", "_")) or "x"


def _fresh(base: str, taken: set[str]) -> str:
    candidates = [base] if valid_name(base) else [f"{base}_"]
    candidates += [f"{base}_{k}" for k in range(2, 1000)]
    for name in candidates:
        if valid_name(name) and name not in taken:
            taken.add(name)
            return name
    raise RuntimeError(f"no free name for {base}")


# --------------------------------------------------------------------------- [ini]
def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def theta_line(name: str, theta, residual: bool, notes: list[Note]) -> str:
    low, init, up = theta.lower, theta.init, theta.upper
    if residual and init < 0:
        notes.append(Note(f"THETA({theta.index}) is a residual SD: its initial value {init:g} is used as {-init:g}",
                          "THETA", theta.line))
        init = -init
    if residual and up <= 0:
        fail(f"THETA({theta.index}) is a residual SD but its upper bound is {up:g}", "THETA", theta.line)
    if not theta.fixed and (init == low or init == up):
        fail(f"THETA({theta.index}): the initial value {init:g} is on a bound; an estimated THETA starts "
             "strictly inside its bounds", "THETA", theta.line)
    if math.isinf(low) and math.isfinite(up):
        fail(f"THETA({theta.index}) has an upper bound but no lower bound: the model language writes "
             "(low, init, up); give a lower bound", "THETA", theta.line)
    if math.isinf(low):
        spec = _number(init)
    elif math.isinf(up):
        spec = f"({_number(low)}, {_number(init)})"
    else:
        spec = f"({_number(low)}, {_number(init)}, {_number(up)})"
    if theta.fixed:
        spec = f"fix{spec}" if spec.startswith("(") else f"fix({spec})"
    return _labelled(f"{name} = {spec}", theta.label)


def omega_line(names: list[str], block, occasion: str | None = None) -> str:
    values = ", ".join(_number(v) for v in block.values)
    spec = f"[{values}]" if len(names) > 1 else values
    if block.fixed:
        spec = f"fix({spec})"
    tail = f" | {occasion}" if occasion else ""
    return _labelled(f"{' + '.join(names)} ~ {spec}{tail}", "; ".join(label for label in block.labels if label))


def sd_line(name: str, sd) -> str:
    spec = f"fix({_number(sd.init)})" if sd.fixed else f"(0, {_number(sd.init)})"
    return _labelled(f"{name} = {spec}", sd.source)


def _labelled(line: str, label: str) -> str:
    label = " ".join(label.split())
    return f"{line}  # {label}" if label else line
