"""The estimation view of a model's ``[ini]``: ``ParameterSpace`` from the IR, and which
parameters are log-normal (for the median / mean / CV% columns of the tables).

* thetas: the structural ones (residual SDs are the thetas named in ``~`` lines), with their
  bounds and fixed flags;
* omega: one ``OmegaBlock`` per IR block, placed on the eta columns of its etas; a kappa block
  is placed once per occasion (column ``n_eta + occasion * n_kappa + k``, the layout of
  ``KernelProblem``), all copies sharing one set of values;
* residual: one ``ResidualSD`` per SD theta (lower bound at least 0) and one ``EndpointError``
  per ``~`` line, from ``CompiledModel.error_index``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.kernel_problem import residual_sd_names
from nlme_lab.estimation.parameters import OmegaBlock, ParameterSpace, Theta
from nlme_lab.estimation.problem import EndpointError, ResidualModel, ResidualSD

ERROR_ROLES = ("add", "prop", "lnorm")  # columns of CompiledModel.error_index


def parameter_space(ir, error_index: np.ndarray, n_occasions: int) -> ParameterSpace:
    """The ``ParameterSpace`` of a model whose kappas have ``n_occasions`` copies."""
    sd_names = residual_sd_names(ir)
    _check_sd_not_in_equations(ir, sd_names)
    thetas = tuple(Theta(t.name, float(t.init), float(t.lower), float(t.upper), bool(t.fixed))
                   for t in ir.thetas if t.name not in sd_names)
    by_name = {t.name: t for t in ir.thetas}
    sds = tuple(ResidualSD(n, float(by_name[n].init), bool(by_name[n].fixed), max(0.0, float(by_name[n].lower)),
                           float(by_name[n].upper)) for n in sd_names)
    endpoints = []
    for e, ep in enumerate(ir.endpoints):
        roles = {}
        for c, role in enumerate(ERROR_ROLES):
            k = int(error_index[e, c])
            if k >= 0:
                roles[role] = sd_names.index(ir.thetas[k].name)
        endpoints.append(EndpointError(**roles))
    residual = ResidualModel(sds, tuple(endpoints))
    eta_col = {r.name: k for k, r in enumerate(ir.etas)}
    kappa_col = {r.name: k for k, r in enumerate(ir.kappas)}
    n_eta, n_kappa = len(eta_col), len(kappa_col)
    n_occ = n_occasions if n_kappa else 0
    blocks = []
    for b in ir.omega:
        if b.names[0] in eta_col:
            places = (tuple(eta_col[n] for n in b.names),)
        else:
            places = tuple(tuple(n_eta + o * n_kappa + kappa_col[n] for n in b.names) for o in range(n_occ))
        blocks.append(OmegaBlock(tuple(b.names), tuple(float(v) for v in b.values), bool(b.fixed), places))
    return ParameterSpace(thetas, tuple(blocks), residual, n_eta + n_kappa * n_occ)


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
