"""Target-mediated drug disposition (Mager & Jusko 2001) and its approximations (Gibiansky et
al. 2008): full binding, quasi-steady state (QSS), quasi-equilibrium / rapid binding (QE),
Wagner (rapid binding with a constant total target), irreversible binding, constant total
target (QSS with kint = kdeg) and the Michaelis-Menten approximation.

States are **amounts** in the central volume ``v``: drug (free drug in the full, irreversible
and Michaelis-Menten models; total drug, free + bound, in the others), target (free or total)
and complex. Concentrations are amounts over ``v``, so

* the target starts at its baseline **amount** ``target(0) = r0 * v`` (``r0`` is the baseline
  concentration; ``ksyn = kdeg * r0`` keeps it there without drug),
* linear elimination (``cl``) and distribution (``q``) act on the **free** drug only: in the
  total-drug models through the free concentration ``cfree`` solved from the total
  (``cfree = ((ctot - rtot - k) + sqrt((ctot - rtot - k)^2 + 4 k ctot)) / 2``, ``k`` = KSS or KD),
  never on the bound drug, which leaves by internalisation (``kint``).

The observed variable is the free drug concentration ``cp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nlme_lab.library.catalog import TemplateGroup, call_text, template
from nlme_lab.library.writer import ErrorModel, ErrorName, Param, Parts, TemplateError, check_random, render
from nlme_lab.model import Model

TMDDRoute = Literal["iv", "sc"]

_HELP = {
    "route": "iv: bolus or infusion into the central compartment; sc: first-order absorption from a depot",
    "compartments": "1, or 2 with a peripheral compartment (the free drug distributes)",
}

_UNITS = "concentrations nM, amounts nmol, volumes L, time day"


def _p(name: str) -> Param:
    return _PARAMS[name]


_PARAMS = {p.name: p for p in (
    Param("ka", 0.5, "absorption rate constant (1/day)"),
    Param("cl", 0.2, "linear clearance of free drug (L/day)"),
    Param("v", 3.0, "central volume (L)"),
    Param("q", 0.5, "intercompartmental clearance (L/day)"),
    Param("v2", 2.0, "peripheral volume (L)"),
    Param("kon", 0.5, "binding rate constant (1/nM/day)"),
    Param("koff", 0.1, "dissociation rate constant (1/day)"),
    Param("kint", 0.5, "internalisation rate of the complex (1/day)"),
    Param("kdeg", 1.0, "degradation rate of the free target (1/day)"),
    Param("r0", 5.0, "baseline target concentration (nM)"),
    Param("kss", 1.2, "quasi-steady-state constant (koff + kint) / kon (nM)"),
    Param("kd", 0.2, "dissociation constant koff / kon (nM)"),
    Param("vmax", 2.5, "maximal target-mediated elimination rate (nM/day)"),
    Param("km", 1.2, "concentration of half-maximal target-mediated elimination (nM)"),
)}


@dataclass(frozen=True)
class _Kind:
    name: str
    title: str
    params: tuple[str, ...]  # binding parameters (after cl, v)
    total: bool  # the drug state is total drug (free from the QSS/QE relation)


_KINDS = {k.name: k for k in (
    _Kind("tmdd_full", "full TMDD: binding, dissociation, internalisation, target turnover",
          ("kon", "koff", "kint", "kdeg", "r0"), False),
    _Kind("tmdd_qss", "quasi-steady-state TMDD (total drug and total target)", ("kss", "kint", "kdeg", "r0"), True),
    _Kind("tmdd_qe", "quasi-equilibrium (rapid binding) TMDD (total drug and total target)",
          ("kd", "kint", "kdeg", "r0"), True),
    _Kind("tmdd_wagner", "Wagner: rapid binding with a constant total target (kint = kdeg)", ("kd", "kint", "r0"),
          True),
    _Kind("tmdd_irreversible", "irreversible binding (koff = 0): free drug and free target", ("kon", "kdeg", "r0"),
          False),
    _Kind("tmdd_constant_target", "QSS TMDD with a constant total target (kint = kdeg)", ("kss", "kint", "r0"), True),
    _Kind("tmdd_mm", "Michaelis-Menten approximation: linear plus saturable elimination", ("vmax", "km"), False),
)}


def _distribution(conc: str, compartments: int) -> tuple[str, list[str]]:
    """The central compartment's exchange term and the peripheral ODE (free drug distributes)."""
    if compartments == 1:
        return "", []
    return f" - q * ({conc} - periph / v2)", [f"d/dt(periph) = q * ({conc} - periph / v2)"]


def _input(route: str) -> tuple[str, list[str]]:
    if route == "sc":
        return "ka * depot ", ["d/dt(depot) = -ka * depot"]
    return "", []


def _free_concentration(k: str, rtot: str) -> list[str]:
    return ["ctot = central / v", *(["rtot = target / v"] if rtot == "rtot" else []),
            f"cfree = 0.5 * ((ctot - {rtot} - {k}) + sqrt((ctot - {rtot} - {k})**2 + 4 * {k} * ctot))"]


def _body(kind: str, route: str, compartments: int) -> list[str]:
    inflow, depot = _input(route)
    lead = f"{inflow}- " if inflow else "-"
    if kind in ("tmdd_full", "tmdd_irreversible", "tmdd_mm"):
        exchange, periph = _distribution("central / v", compartments)
        if kind == "tmdd_mm":
            return ["cp = central / v", *depot,
                    f"d/dt(central) = {lead}cl / v * central - vmax * cp / (km + cp) * v{exchange}", *periph]
        binding = "kon * central * target / v"
        release = " + koff * complex" if kind == "tmdd_full" else ""
        lines = ["ksyn = kdeg * r0", *depot,
                 f"d/dt(central) = {lead}cl / v * central - {binding}{release}{exchange}", *periph,
                 f"d/dt(target) = ksyn * v - kdeg * target - {binding}{release}"]
        if kind == "tmdd_full":
            lines.append(f"d/dt(complex) = {binding} - koff * complex - kint * complex")
        return [*lines, "target(0) = r0 * v", "cp = central / v"]
    k = "kd" if kind in ("tmdd_qe", "tmdd_wagner") else "kss"
    exchange, periph = _distribution("cfree", compartments)
    if kind in ("tmdd_wagner", "tmdd_constant_target"):  # total target constant at r0
        return [*_free_concentration(k, "r0"), *depot,
                f"d/dt(central) = {lead}cl * cfree - kint * r0 * cfree / ({k} + cfree) * v{exchange}", *periph,
                "cp = cfree"]
    return ["ksyn = kdeg * r0", *_free_concentration(k, "rtot"), *depot,
            f"d/dt(central) = {lead}cl * cfree - kint * rtot * cfree / ({k} + cfree) * v{exchange}", *periph,
            f"d/dt(target) = ksyn * v - kdeg * target - (kint - kdeg) * rtot * cfree / ({k} + cfree) * v",
            "target(0) = r0 * v", "cp = cfree"]


def _tmdd(kind: str, *, route, compartments, random, error, values) -> Model:
    if route not in ("iv", "sc"):
        raise TemplateError(f"route={route!r}: iv or sc")
    if compartments not in (1, 2):
        raise TemplateError(f"compartments={compartments!r}: 1 or 2")
    spec = _KINDS[kind]
    names = (["ka"] if route == "sc" else []) + ["cl", "v"] + (["q", "v2"] if compartments == 2 else [])
    params = tuple(_p(n) for n in [*names, *spec.params])
    drug = "total (free + bound) drug" if spec.total else "free drug"
    first = "depot" if route == "sc" else "central"
    notes = ((f"states are amounts ({_UNITS} as an example): central = {drug}; the dose (AMT) goes into CMT 1 "
              f"({first})"), "observations: cp, the free drug concentration (any CMT of the model)")
    chosen = check_random(random, params, ("cl", "v"))
    options = {"route": route, "compartments": compartments, "random": random, "error": error}
    parts = Parts(kind, spec.title, call_text(kind, options), params, tuple(_body(kind, route, compartments)), "cp",
                  notes)
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values), name=kind)


def _register(kind: str):
    summary = _KINDS[kind].title

    def build(*, route: TMDDRoute = "iv", compartments: Literal[1, 2] = 1, random: tuple[str, ...] | None = None,
              error: ErrorName = "prop", values: dict | None = None) -> Model:
        return _tmdd(kind, route=route, compartments=compartments, random=random, error=error, values=values)

    build.__name__ = build.__qualname__ = kind
    build.__doc__ = f"TMDD template: {summary} (module docstring: states, units, conventions)."
    return template(TemplateGroup.TMDD, summary, _HELP)(build)


tmdd_full = _register("tmdd_full")
tmdd_qss = _register("tmdd_qss")
tmdd_qe = _register("tmdd_qe")
tmdd_wagner = _register("tmdd_wagner")
tmdd_irreversible = _register("tmdd_irreversible")
tmdd_constant_target = _register("tmdd_constant_target")
tmdd_mm = _register("tmdd_mm")
