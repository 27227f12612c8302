"""The estimation view of a model's ``[ini]``: ``ParameterSpace`` from the IR, and which
parameters are log-normal (for the median / mean / CV% columns of the tables).

* the table: ``ParameterTable.from_ir`` (residual SDs are the thetas named in ``~`` lines);
* endpoints: one ``EndpointError`` per ``~`` line, indices into the residual SDs;
* placements: each block on the eta columns of its etas; a kappa block once per occasion
  (column ``n_eta + occasion * n_kappa + k``, the layout of ``KernelProblem``), all copies
  sharing one set of values.
"""

from __future__ import annotations

from dataclasses import dataclass

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.parameters import ParameterSpace
from nlme_lab.estimation.problem import EndpointError
from nlme_lab.model.parameter_table import ParameterTable


def parameter_space(ir, n_occasions: int) -> ParameterSpace:
    """The ``ParameterSpace`` of a model whose kappas have ``n_occasions`` copies."""
    table = ParameterTable.from_ir(ir)
    _check_sd_not_in_equations(ir, table.residuals)
    endpoints = tuple(EndpointError(**{term.kind.value: table.residuals.index(term.param) for term in ep.terms})
                      for ep in ir.endpoints)
    eta_col = {r.name: k for k, r in enumerate(ir.etas)}
    kappa_col = {r.name: k for k, r in enumerate(ir.kappas)}
    n_eta, n_kappa = len(eta_col), len(kappa_col)
    n_occ = n_occasions if n_kappa else 0
    placements = []
    for b in table.blocks:
        if b.names[0] in eta_col:
            placements.append((tuple(eta_col[n] for n in b.names),))
        else:
            placements.append(tuple(tuple(n_eta + o * n_kappa + kappa_col[n] for n in b.names) for o in range(n_occ)))
    return ParameterSpace(table, endpoints, n_eta + n_kappa * n_occ, tuple(placements))


def _check_sd_not_in_equations(ir, sd_names) -> None:
    import sympy

    used = set()
    exprs = [s.expr for s in ir.statements] + [e for _, e, _ in ir.odes] + [e for _, e, _ in ir.initial]
    exprs += [e for _, _, e, _ in ir.dose_modifiers]
    for expr in exprs:
        if isinstance(expr, sympy.Basic):
            used |= {str(s) for s in expr.free_symbols}
    both = [n for n in sd_names if n in used]
    if both:
        raise NlmeError(f"residual SD {both[0]} is also used in the model equations; a residual SD may only "
                        "appear in '~' lines (declare a separate parameter for the equations)")


@dataclass(frozen=True)
class LognormalPair:
    """An ``exp(... + eta ...)`` parameter: ``theta`` is the log-scale typical value inside the
    same exponential (None when the typical value is outside, as in ``tvcl * exp(eta_cl)``)."""

    parameter: str  # the assigned model variable
    eta: str
    theta: str | None


def lognormal_pairs(ir) -> tuple[LognormalPair, ...]:
    """Random effects entering an assignment as ``exp(theta + eta + ...)`` or ``... * exp(eta)``
    (each random effect once, at its first such use; every eta and kappa of one exponential
    shares its theta)."""
    import sympy

    etas = {r.name for r in ir.random_effects}
    thetas = {t.name for t in ir.thetas}
    out, seen = [], set()
    for stmt in ir.statements:
        for ex in stmt.expr.atoms(sympy.exp):
            terms = sympy.Add.make_args(ex.args[0])
            theta_terms = [str(t) for t in terms if t.is_Symbol and str(t) in thetas]
            for eta in (str(t) for t in terms if t.is_Symbol and str(t) in etas and str(t) not in seen):
                seen.add(eta)
                out.append(LognormalPair(stmt.name, eta, theta_terms[0] if len(theta_terms) == 1 else None))
    return tuple(out)
