"""Abbreviated code -> model-language statements (single assignment, conditions as ``a if c else b``).

NONMEM code assigns a variable many times and under IF; the model language assigns each name
once. So each assignment is a new ``Slot`` (a version of its variable): the last version keeps
the variable's name (``tvv``), earlier ones are numbered (``tvv_1``). Inside IF branches the
values are kept as expressions and merged at ENDIF: ``X = (a if c1 else (b if c2 else X_before))``.
A variable that no branch and nothing before assigns is 0 there (NONMEM's initial value), with a note.

What each name means (``Translator._name``): an assigned variable, a data item (a covariate; a
reserved item such as DV or AMT can be read by no model statement: a statement using it is left
out when nothing needs it, else refused), ``TIME`` (``t``, not in ``$PK``, where NONMEM's TIME is
the record's time), ``T`` in ``$DES``, ``THETA(n)``, ``ETA(n)``, ``EPS(n)``/``ERR(n)``, ``A(n)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem.datafile import LOCAL_ROLES, ROLES
from nlme_lab.nonmem.issues import Note, fail

FUNCTIONS = {"EXP": "exp", "DEXP": "exp", "LOG": "log", "DLOG": "log", "LOG10": "log10", "DLOG10": "log10",
             "SQRT": "sqrt", "DSQRT": "sqrt", "ABS": "abs", "DABS": "abs", "SIN": "sin", "COS": "cos",
             "MIN": "min", "MAX": "max"}
#: NONMEM names whose meaning depends on the record being processed, or on NONMEM's internals
REFUSED_NAMES = ("NEWIND", "ICALL", "IREP", "NIREC", "NDREC", "NEWL2", "COMACT", "COMSAV", "MIXNUM", "MIXEST",
                 "MIXP", "CALLFL", "F_FLAG", "MDVRES", "MTIME", "MNEXT", "MPAST", "MNOW", "MTDIFF", "PRED_", "RES_",
                 "WRES_", "IIDX", "LIREC", "FO", "F0", "XSCALE", "TSCALE", "A_0FLG", "ISFINL", "PRDFL",
                 "RPTI", "RPTO", "RPTON", "RPTONF", "NOFRST", "EVTREC", "IPROB", "S1SIMFL")
UNDEFINED = object()


@dataclass(eq=False)
class Slot:
    """One assigned value: a version of a NONMEM variable, or a generated variable."""

    var: str  # NONMEM name (``CL``, ``DADT(1)``) or a tag of a generated variable
    expr: object  # output expression (``code_ast`` with resolved leaves); ``LINCMT`` for linCmt()
    record: str
    line: int
    preferred: str | None = None  # the name it asks for (else from ``var``)
    claim: str | None = None  # the name it must have (linCmt's cl, v, ...)
    name: str | None = None  # its model-language name, set when the text is written
    poison: str | None = None  # why the model language cannot compute it
    eps: bool = False  # depends on an EPS


@dataclass(frozen=True)
class Special:
    """A model line that is not an assignment: ``f(depot) = ...``, ``central(0) = ...``, ``d/dt(...) = ...``."""

    kind: str  # "f", "alag", "rate", "dur", "init", "ode"
    state: int  # 1-based compartment
    expr: object
    line: int
    record: str


LINCMT = "linCmt()"


@dataclass
class Context:
    """What the names of the code can mean."""

    n_theta: int
    etas: dict  # ETA number -> Param, Num 0 (zero variance) or None (a kappa's ETA: only via iov)
    n_eps: int
    columns: dict  # label -> InputColumn
    n_states: int  # 0 for $PRED
    notes: list = field(default_factory=list)
    used_local_roles: dict = field(default_factory=dict)  # DVID/OCC/CENS/LIMIT read as covariates -> line


class Translator:
    def __init__(self, context: Context):
        self.ctx = context
        self.items: list = []  # Slot and Special, in model order
        self.env: dict = {}

    # ------------------------------------------------------------------ statements
    def run(self, statements, record: str) -> None:
        self.env = self._block(statements, dict(self.env), record, inline=False)

    def _block(self, statements, env: dict, record: str, inline: bool) -> dict:
        for stmt in statements:
            if isinstance(stmt, na.Assign):
                self._check_target(stmt, record)
                value = self._expr(stmt.value, env, record, stmt.line)
                env[stmt.label] = self._bind(stmt.label, value, record, stmt.line, inline)
            else:
                self._if(stmt, env, record, inline)
        return env

    def _if(self, stmt: na.If, env: dict, record: str, inline: bool) -> None:
        branches = []
        for condition, body in stmt.branches:
            cond = self._expr(condition, env, record, stmt.line)
            branches.append((cond, self._block(body, dict(env), record, inline=True)))
        orelse = self._block(stmt.orelse, dict(env), record, inline=True) if stmt.orelse is not None else env
        changed = [k for _, b in branches for k in b if b[k] is not env.get(k, UNDEFINED)]
        changed += [k for k in orelse if orelse[k] is not env.get(k, UNDEFINED)]
        for key in dict.fromkeys(changed):
            value = orelse.get(key, UNDEFINED)
            for cond, branch in reversed(branches):
                value = na.Conditional(self._defined(branch.get(key, UNDEFINED), key, stmt, record), cond,
                                       self._defined(value, key, stmt, record))
            env[key] = self._bind(key, value, record, stmt.line, inline)

    def _defined(self, value, key: str, stmt: na.If, record: str):
        if value is not UNDEFINED:
            return value
        self.ctx.notes.append(Note(f"{key} has no value where no branch of this IF assigns it: 0 there, "
                                   "NONMEM's value before any assignment", record, stmt.line))
        return na.Num("0")

    def _bind(self, key: str, value, record: str, line: int, inline: bool):
        if inline:
            return value
        slot = Slot(key, value, record, line)
        self._mark(slot)
        self.items.append(slot)
        return na.Ref(slot)

    def _mark(self, slot: Slot) -> None:
        """Poison and EPS dependence, from the leaves and the slots the value reads."""
        for node in na.walk(slot.expr):
            if isinstance(node, na.Unavailable) and slot.poison is None:
                slot.poison = node.reason
            elif isinstance(node, na.Param) and node.kind == "eps":
                slot.eps = True
            elif isinstance(node, na.Ref):
                slot.poison = slot.poison or node.slot.poison
                slot.eps = slot.eps or node.slot.eps

    def add(self, slot: Slot) -> na.Ref:
        """A generated slot (structure, prediction), placed now."""
        self._mark(slot)
        self.items.append(slot)
        return na.Ref(slot)

    def special(self, kind: str, state: int, expr, line: int, record: str) -> None:
        self.items.append(Special(kind, state, expr, line, record))

    def _check_target(self, stmt: na.Assign, record: str) -> None:
        target = stmt.target
        if stmt.index is not None:
            allowed = {"DADT": "DES", "A_0": "PK"}
            if allowed.get(target) != record:
                where = f"only in ${allowed[target]}" if target in allowed else "nowhere"
                fail(f"{stmt.label} can be assigned {where}", record, stmt.line)
            if not 1 <= stmt.index <= self.ctx.n_states:
                fail(f"{stmt.label}: the model has compartments 1..{self.ctx.n_states}", record, stmt.line)
            return
        if target in ("THETA", "ETA", "EPS", "ERR", "A", "DADT", "T") or target in REFUSED_NAMES:
            fail(f"{target} cannot be assigned here (a reserved NONMEM name)", record, stmt.line)
        if target in self.ctx.columns:
            fail(f"{target} is a data item of $INPUT and cannot be assigned", record, stmt.line)
        if target == "F" and record != "PRED" or target == "Y" and record in ("PK", "DES"):
            fail(f"{target} cannot be assigned in ${record}", record, stmt.line)

    # ------------------------------------------------------------------ expressions
    def _expr(self, node, env: dict, record: str, line: int):
        if isinstance(node, na.Num | na.Param):  # a Param: a kappa put in by ``iov.rewrite``
            return node
        if isinstance(node, na.Name):
            return self._name(node.name, env, record, line)
        if isinstance(node, na.Call):
            return self._call(node, env, record, line)
        if isinstance(node, na.Unary):
            return na.Unary(node.op, self._expr(node.operand, env, record, line))
        if isinstance(node, na.Not):
            return na.Not(self._expr(node.operand, env, record, line))
        if isinstance(node, na.Binary | na.Compare | na.Logic):
            return type(node)(node.op, self._expr(node.left, env, record, line),
                              self._expr(node.right, env, record, line))
        raise TypeError(type(node).__name__)

    def _name(self, name: str, env: dict, record: str, line: int):
        if name in env:
            return env[name]
        if name == "T" and record == "DES":
            return na.Time()
        if name == "TIME":
            if record == "PK":
                fail("TIME in $PK is not translated: it is the time of the record being processed, held "
                     "over the whole interval, while the model language's t runs continuously "
                     "(use TIME in $ERROR or $PRED, T in $DES)", record, line)
            return na.Time()
        if name in self.ctx.columns:
            return self._data_item(name, record, line)
        if name in REFUSED_NAMES:
            fail(f"{name} is not translated (it depends on NONMEM's processing of records)", record, line)
        if name in ("THETA", "ETA", "EPS", "ERR", "A"):
            fail(f"{name} without an index: write {name}(n)", record, line)
        fail(f"{name} is used before it is assigned and is not a data item of $INPUT", record, line)

    def _data_item(self, label: str, record: str, line: int):
        column = self.ctx.columns[label]
        if column.dropped:
            fail(f"{label} is a dropped column of $INPUT", record, line)
        if column.name in ROLES:
            return na.Unavailable(f"{label} (a NONMEM record item) is read at line {line} of ${record}: the model "
                                  "language reads no record item but time (t)")
        if column.name in LOCAL_ROLES:
            self.ctx.used_local_roles.setdefault(column.name, (record, line))
        return na.Covariate(column.name)

    def _call(self, node: na.Call, env: dict, record: str, line: int):
        name = node.name
        if name in ("THETA", "ETA", "EPS", "ERR", "A"):
            return self._indexed(name, node.args, record, line)
        if name in FUNCTIONS:
            args = tuple(self._expr(a, env, record, line) for a in node.args)
            low = FUNCTIONS[name]
            if (low in ("min", "max")) != (len(args) > 1) or (low in ("min", "max") and len(args) < 2):
                fail(f"{name} takes {'two or more arguments' if low in ('min', 'max') else 'one argument'}",
                     record, line)
            return na.Call(low, args)
        if name in self.ctx.columns or name in env:
            fail(f"{name}(...): {name} is not a function", record, line)
        fail(f"the function {name} is not supported (supported: {', '.join(sorted(set(FUNCTIONS)))})", record, line)

    def _indexed(self, name: str, args, record: str, line: int):
        if len(args) != 1 or not isinstance(args[0], na.Num) or not args[0].text.isdigit():
            fail(f"{name}(...) takes one whole number", record, line)
        k = int(args[0].text)
        if name == "THETA":
            if not 1 <= k <= self.ctx.n_theta:
                fail(f"THETA({k}): $THETA has {self.ctx.n_theta} values", record, line)
            return na.Param("theta", k)
        if name == "ETA":
            if k not in self.ctx.etas:
                fail(f"ETA({k}): $OMEGA has {len(self.ctx.etas)} values", record, line)
            value = self.ctx.etas[k]
            if value is None:
                fail(f"ETA({k}) belongs to a BLOCK SAME group (between-occasion variability): it is read "
                     "only as IF (OCC.EQ.n) X = ETA(k)", record, line)
            return value
        if name in ("EPS", "ERR"):
            if record not in ("ERROR", "PRED"):
                fail(f"{name}({k}) outside $ERROR/$PRED", record, line)
            if not 1 <= k <= self.ctx.n_eps:
                fail(f"{name}({k}): $SIGMA has {self.ctx.n_eps} values", record, line)
            return na.Param("eps", k)
        if record not in ("DES", "ERROR"):
            fail(f"A({k}) (a compartment amount) is read only in $DES and $ERROR", record, line)
        if not 1 <= k <= self.ctx.n_states:
            fail(f"A({k}): the model has compartments 1..{self.ctx.n_states}", record, line)
        return na.State(k)
