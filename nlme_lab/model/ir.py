"""The model's intermediate representation: what the resolver produces and codegen consumes.

Expressions are sympy expressions built by the resolver from the checked syntax tree, never
from the user's text directly. The only symbols that may appear in them are:

* a theta, eta or kappa name (``symbol(name)``),
* a covariate (``symbol(NAME)`` as written in the model; matched to a dataset column
  case-insensitively at bind time),
* a compartment state (``symbol(cmt_name)``),
* the time ``t`` (``symbol("t")``),
* an earlier assigned variable only if the resolver chose to keep it symbolic (it normally
  inlines nothing: codegen emits statements in order, so assigned names appear as symbols
  that codegen resolves through ``statements``).

Every symbol is made by :func:`symbol`, i.e. ``sympy.Symbol(name, real=True)``: use it (not a
bare ``sympy.Symbol(name)``, which is a *different* symbol) to look names up or differentiate.

For ``cp = linCmt()`` the statement's expression is ``central / v`` (the central amount over
the central volume; ``depends_on_state`` is True) and ``odes`` is empty: the linear system is
described by ``lincmt`` (see :meth:`LinCmt.odes` for the equivalent ODEs).

Functions allowed: exp, log, sqrt, Abs, Min, Max, sin, cos, Piecewise (for ``a if c else b``
and boolean-as-number), relationals inside Piecewise conditions, And/Or/Not. ``log10``,
``logit``, ``expit`` are expanded to exp/log forms by the resolver.

The IR is immutable and hashable by its canonical text (``ModelIR.key()``), which keys the
on-disk cache of generated code.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

import sympy

TIME = "t"  # the name of time in model text
LINCMT_STATES = ("depot", "central", "periph1", "periph2")
LINCMT_NAMES = ("cl", "v", "q", "v2", "q2", "v3", "ka")  # names that define a linCmt() system


def symbol(name: str) -> sympy.Symbol:
    """The sympy symbol of a model name (every symbol in the IR is ``Symbol(name, real=True)``)."""
    return sympy.Symbol(name, real=True)


class ErrorKind(enum.Enum):
    """Residual error model terms of an observation line."""

    ADD = "add"
    PROP = "prop"
    LNORM = "lnorm"


@dataclass(frozen=True)
class Theta:
    """A fixed effect of ``[ini]`` (residual SDs are thetas too; ``parameter_table`` tells them
    apart). The one theta class of the package."""

    name: str
    init: float
    lower: float = float("-inf")
    upper: float = float("inf")
    fixed: bool = False
    label: str = ""
    line: int = 0


@dataclass(frozen=True)
class RandomEffect:
    """A between-subject eta, or a between-occasion kappa when ``occasion`` is set."""

    name: str
    label: str = ""
    line: int = 0
    occasion: str | None = None  # dataset column (e.g. "OCC") for kappas


@dataclass(frozen=True)
class OmegaBlock:
    """One diagonal entry or one block of the omega matrix (of etas or of kappas); the one
    omega block class of the package.

    ``values`` is the lower triangle by rows (var_1; cov_21, var_2; ...), len n(n+1)/2
    (``parameter_table.element_names`` names them, ``parameter_table.block_matrix`` fills the
    matrix).
    """

    names: tuple[str, ...]
    values: tuple[float, ...]
    fixed: bool = False
    line: int = 0

    @property
    def size(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Assignment:
    name: str
    expr: sympy.Expr
    line: int
    depends_on_state: bool = False  # transitively uses a compartment amount
    depends_on_time: bool = False  # transitively uses t


class DoseModifier(enum.Enum):
    F = "f"
    ALAG = "alag"
    RATE = "rate"
    DUR = "dur"


@dataclass(frozen=True)
class ErrorTerm:
    kind: ErrorKind
    param: str  # the residual SD parameter's name (a Theta)


@dataclass(frozen=True)
class Endpoint:
    """One ``variable ~ error`` line; endpoints are numbered by order (DVID = index + 1)."""

    variable: str
    terms: tuple[ErrorTerm, ...]
    line: int


@dataclass(frozen=True)
class LinCmt:
    """The linear compartment model behind ``linCmt()``.

    ``n_cmt`` is 1, 2 or 3 (central plus peripherals). With ``has_depot`` the states are
    (depot, central, periph1, periph2); without, (central, periph1, periph2). The names of the
    assigned variables that define it are fixed: cl v [q v2 [q2 v3]] [ka].
    """

    n_cmt: int
    has_depot: bool
    line: int
    variable: str = ""  # the name assigned by ``name = linCmt()``

    @property
    def states(self) -> tuple[str, ...]:
        """State names in CMT order: (depot,) central, periph1, periph2 as present."""
        core = LINCMT_STATES[1 : 1 + self.n_cmt]
        return (LINCMT_STATES[0], *core) if self.has_depot else core

    def odes(self) -> tuple[tuple[str, sympy.Expr], ...]:
        """The equivalent ODE system ``d/dt(state) = rhs`` in the names cl, v, q, v2, q2, v3, ka."""
        s = {n: symbol(n) for n in (*LINCMT_STATES, *LINCMT_NAMES)}
        conc = s["central"] / s["v"]
        flows = {"central": -s["cl"] * conc}
        for periph, q, vp in (("periph1", "q", "v2"), ("periph2", "q2", "v3"))[: self.n_cmt - 1]:
            exchange = s[q] * (conc - s[periph] / s[vp])
            flows["central"] -= exchange
            flows[periph] = exchange
        if self.has_depot:
            flows["central"] += s["ka"] * s["depot"]
            flows["depot"] = -s["ka"] * s["depot"]
        return tuple((name, flows[name]) for name in self.states)


@dataclass(frozen=True)
class ModelIR:
    thetas: tuple[Theta, ...]
    random_effects: tuple[RandomEffect, ...]  # etas first, then kappas
    omega: tuple[OmegaBlock, ...]  # blocks for etas, then blocks for kappas
    covariates: tuple[str, ...]  # names as written in the model
    compartments: tuple[str, ...]  # states, in order (CMT numbering = index + 1)
    statements: tuple[Assignment, ...]  # in source order
    odes: tuple[tuple[str, sympy.Expr, int], ...]  # (compartment, rhs, line)
    initial: tuple[tuple[str, sympy.Expr, int], ...]  # (compartment, y0 expr, line)
    dose_modifiers: tuple[tuple[DoseModifier, str, sympy.Expr, int], ...]
    endpoints: tuple[Endpoint, ...]
    lincmt: LinCmt | None = None
    source: str = field(default="", compare=False)
    covariate_lines: tuple[int, ...] = field(default=(), compare=False)  # first use of each covariate
    #: where each covariate is first used (``source.Span``: line, col, end_col), for located errors
    covariate_spans: tuple = field(default=(), compare=False)

    @property
    def etas(self) -> tuple[RandomEffect, ...]:
        return tuple(r for r in self.random_effects if r.occasion is None)

    @property
    def kappas(self) -> tuple[RandomEffect, ...]:
        return tuple(r for r in self.random_effects if r.occasion is not None)

    def key(self) -> str:
        """A content hash of everything that affects generated code."""
        parts = [
            repr([(t.name,) for t in self.thetas]),
            repr([(r.name, r.occasion) for r in self.random_effects]),
            repr(self.covariates),
            repr(self.compartments),
            repr([(a.name, sympy.srepr(a.expr)) for a in self.statements]),
            repr([(c, sympy.srepr(e)) for c, e, _ in self.odes]),
            repr([(c, sympy.srepr(e)) for c, e, _ in self.initial]),
            repr([(m.value, c, sympy.srepr(e)) for m, c, e, _ in self.dose_modifiers]),
            repr([(e.variable, [(x.kind.value, x.param) for x in e.terms]) for e in self.endpoints]),
            repr(self.lincmt and (self.lincmt.n_cmt, self.lincmt.has_depot)),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
