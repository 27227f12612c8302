"""Resolution of the ``[ini]`` section: thetas, random effects (etas, kappas) and omega blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

from nlme_lab.model import ast, checks
from nlme_lab.model.consteval import ConstError, evaluate
from nlme_lab.model.ir import OmegaBlock, RandomEffect, Theta
from nlme_lab.model.source import Problems, Span

THETA, ETA, KAPPA = "theta", "eta", "kappa"


@dataclass
class Parameters:
    thetas: list[Theta] = field(default_factory=list)
    etas: list[RandomEffect] = field(default_factory=list)
    kappas: list[RandomEffect] = field(default_factory=list)
    eta_blocks: list[OmegaBlock] = field(default_factory=list)
    kappa_blocks: list[OmegaBlock] = field(default_factory=list)
    declared: dict[str, tuple[str, Span]] = field(default_factory=dict)  # name -> (kind, span)

    def kind(self, name: str) -> str | None:
        entry = self.declared.get(name)
        return entry[0] if entry else None

    def kinds(self) -> dict[str, str]:
        return {name: kind for name, (kind, _) in self.declared.items()}


def declare_parameters(ini: tuple[ast.IniStatement, ...], problems: Problems) -> Parameters:
    params = Parameters()
    occasion: tuple[str, int] | None = None
    for decl in ini:
        if isinstance(decl, ast.ThetaDecl):
            if _declare(params, decl.name, THETA, decl.name_span, problems):
                theta = _theta(decl, problems)
                if theta is not None:
                    params.thetas.append(theta)
            continue
        kind = KAPPA if decl.occasion else ETA
        fresh = [_declare(params, n, kind, s, problems) for n, s in zip(decl.names, decl.name_spans)]
        if decl.occasion:
            if occasion is None:
                occasion = (decl.occasion, decl.span.line)
            elif decl.occasion != occasion[0]:
                problems.error(
                    f"all kappas must use the same occasion column: '{occasion[0]}' at line {occasion[1]}, "
                    f"'{decl.occasion}' here",
                    decl.occasion_span,
                )
        if all(fresh):
            _random(decl, params, problems)
    return params


def _declare(params: Parameters, name: str, kind: str, span: Span, problems: Problems) -> bool:
    if not checks.check_name(name, span, problems, "a parameter name"):
        return False
    if name in params.declared:
        first = params.declared[name][1].line
        problems.error(f"parameter '{name}' is declared twice (first at line {first})", span)
        return False
    params.declared[name] = (kind, span)
    return True


def _theta(decl: ast.ThetaDecl, problems: Problems) -> Theta | None:
    try:
        init = evaluate(decl.init)
        lower = evaluate(decl.lower) if decl.lower is not None else float("-inf")
        upper = evaluate(decl.upper) if decl.upper is not None else float("inf")
    except ConstError as err:
        problems.error(err.message, err.span)
        return None
    checks.check_bounds(decl, lower, init, upper, problems)
    return Theta(decl.name, init, lower, upper, decl.fixed, decl.label, decl.span.line)


def _random(decl: ast.RandomDecl, params: Parameters, problems: Problems) -> None:
    try:
        values = [evaluate(v) for v in decl.values]
    except ConstError as err:
        problems.error(err.message, err.span)
        return
    if not checks.check_omega(decl, values, problems):
        return
    line = decl.span.line
    effects = [RandomEffect(n, decl.label, line, decl.occasion) for n in decl.names]
    block = OmegaBlock(decl.names, tuple(values), decl.fixed, line)
    if decl.occasion:
        params.kappas.extend(effects)
        params.kappa_blocks.append(block)
    else:
        params.etas.extend(effects)
        params.eta_blocks.append(block)
