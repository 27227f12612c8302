"""Pharmacodynamics: Emax and sigmoid Emax of a concentration column (exposure-response, no
doses needed), the effect-compartment model and the four indirect-response (turnover) models
driven by a one-compartment PK model.

The PK/PD templates are sequential by default (``pk_fixed=True``): the PK parameters are held
fixed at the values given (``values={"cl": ..., "v": ...}``, e.g. a PK fit's estimates) and only
the PD is estimated from effect observations; ``pk_fixed=False`` estimates them too.

A sigmoid term is written ``ratio = (c / ec50)**hill if c > 0 else 0`` so that a concentration
of 0 (placebo, pre-dose) gives the baseline without a logarithm of 0 in the derivatives.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from nlme_lab.library.catalog import TemplateGroup, call_text, template
from nlme_lab.library.pk import pk_part
from nlme_lab.library.writer import ErrorModel, ErrorName, Param, Parts, TemplateError, check_random, check_x, render
from nlme_lab.model import Model

PKRoute = Literal["iv", "oral"]
IndirectKind = Literal["I", "II", "III", "IV"]

_PK_HELP = {
    "route": "PK: iv (bolus or infusion into the central compartment) or oral (first-order absorption)",
    "pk_fixed": "hold the PK parameters fixed at their values (sequential PK/PD) rather than estimate them",
}
_SIGMOID = {"sigmoid": "a Hill coefficient (sigmoid Emax) instead of the hyperbolic Emax"}

E0 = Param("e0", 10.0, "baseline effect", log=False)
EMAX = Param("emax", 50.0, "maximal effect (negative for a decrease)", log=False)
EC50 = Param("ec50", 1.0, "concentration of half-maximal effect")
HILL = Param("hill", 1.5, "Hill coefficient (steepness)")


def emax_lines(c: str, sigmoid: bool, out: str = "effect") -> list[str]:
    """``out`` = e0 + emax * f(c) with the hyperbolic or sigmoid f."""
    if not sigmoid:
        return [f"{out} = e0 + emax * {c} / (ec50 + {c})"]
    return [f"ratio = ({c} / ec50)**hill if {c} > 0 else 0", f"{out} = e0 + emax * ratio / (1 + ratio)"]


def _pk(route: str, pk_fixed: bool):
    pk = pk_part(1, "iv" if route == "iv" else "oral", form="ode")
    params = tuple(dataclasses.replace(p, fixed=bool(pk_fixed)) for p in pk.params)
    return pk, params


def _pk_note(pk, route: str) -> str:
    cmt, name = pk.dose_cmt
    return f"data: doses (AMT) into CMT {cmt} ({name}, {'IV' if route == 'iv' else 'oral'}); observations of the effect"


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise TemplateError(f"{name}={value!r}: one of {', '.join(map(repr, allowed))}")


@template(TemplateGroup.PD, "Emax or sigmoid Emax of a concentration column (exposure-response, no doses needed)",
          {**_SIGMOID, "x": "the data column of the concentration (or exposure), e.g. CONC"})
def emax(*, sigmoid: bool = False, x: str = "CONC", random: tuple[str, ...] | None = None, error: ErrorName = "add",
         values: dict | None = None) -> Model:
    """effect = e0 + emax * x / (ec50 + x), or with x**hill (sigmoid)."""
    params = (E0, EMAX, EC50, *((HILL,) if sigmoid else ()))
    check_x(x, {p.name for p in params} | {"ratio", "effect"})
    chosen = check_random(random, params, ("e0",))
    title = ("sigmoid " if sigmoid else "") + f"Emax model of {x}"
    notes = (f"data: observations of the effect with the concentration in column {x} (no doses, no time needed)",)
    options = {"sigmoid": sigmoid, "x": x, "random": random, "error": error}
    parts = Parts("emax", title, call_text("emax", options), params,
                  tuple(emax_lines(x, sigmoid)), "effect", notes)
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values), name="emax")


@template(TemplateGroup.PD, "effect compartment (ke0) with an Emax or sigmoid Emax effect, driven by 1-cmt PK",
          {**_PK_HELP, **_SIGMOID})
def effect_compartment(*, route: PKRoute = "iv", sigmoid: bool = False, pk_fixed: bool = True,
                       random: tuple[str, ...] | None = None, error: ErrorName = "add",
                       values: dict | None = None) -> Model:
    """d/dt(effect_site) = ke0 * (cp - effect_site); effect = Emax of the effect-site concentration."""
    _check_choice("route", route, ("iv", "oral"))
    pk, pk_params = _pk(route, pk_fixed)
    params = (*pk_params, Param("ke0", 0.5, "effect-site equilibration rate constant (1/h)"), E0, EMAX, EC50,
              *((HILL,) if sigmoid else ()))
    body = (*pk.lines, "d/dt(effect_site) = ke0 * (cp - effect_site)", "ce = effect_site",
            *emax_lines("ce", sigmoid))
    chosen = check_random(random, params, ("ke0", "e0"))
    options = {"route": route, "sigmoid": sigmoid, "pk_fixed": pk_fixed, "random": random, "error": error}
    parts = Parts("effect_compartment", "effect compartment model" + (" (sigmoid Emax)" if sigmoid else " (Emax)"),
                  call_text("effect_compartment", options), params, body, "effect",
                  (_pk_note(pk, route) + " (DV = effect)",))
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values),
                 name="effect_compartment")


_INDIRECT = {
    "I": ("inhibition of the production kin", "kin * (1 - drug) - kout * response", True),
    "II": ("inhibition of the loss kout", "kin - kout * (1 - drug) * response", True),
    "III": ("stimulation of the production kin", "kin * (1 + drug) - kout * response", False),
    "IV": ("stimulation of the loss kout", "kin - kout * (1 + drug) * response", False),
}


@template(TemplateGroup.PD, "indirect response (turnover) models I-IV driven by 1-cmt PK",
          {**_PK_HELP, "kind": "I: inhibit kin; II: inhibit kout; III: stimulate kin; IV: stimulate kout"})
def indirect_response(*, kind: IndirectKind = "I", route: PKRoute = "iv", pk_fixed: bool = True,
                      random: tuple[str, ...] | None = None, error: ErrorName = "add",
                      values: dict | None = None) -> Model:
    """d/dt(response) = kin * (...) - kout * (...) * response; response(0) = base, kin = base * kout."""
    _check_choice("kind", kind, tuple(_INDIRECT))
    _check_choice("route", route, ("iv", "oral"))
    what, ode, inhibits = _INDIRECT[kind]
    pk, pk_params = _pk(route, pk_fixed)
    if inhibits:
        drug = [Param("imax", 0.8, "maximal inhibition (fraction)", log=False, lower=0.0, upper=1.0),
                Param("ic50", 1.0, "concentration of half-maximal inhibition")]
        effect = "drug = imax * cp / (ic50 + cp)"
    else:
        drug = [Param("emax", 2.0, "maximal stimulation (fold increase)"),
                Param("ec50", 1.0, "concentration of half-maximal stimulation")]
        effect = "drug = emax * cp / (ec50 + cp)"
    params = (*pk_params, Param("base", 100.0, "baseline response"), Param("kout", 0.1, "loss rate constant (1/h)"),
              *drug)
    body = (*pk.lines, "kin = base * kout", effect, f"d/dt(response) = {ode}", "response(0) = base")
    chosen = check_random(random, params, ("base", "kout"))
    options = {"kind": kind, "route": route, "pk_fixed": pk_fixed, "random": random, "error": error}
    parts = Parts("indirect_response", f"indirect response model {kind}: {what}",
                  call_text("indirect_response", options), params, body, "response",
                  (_pk_note(pk, route) + " (DV = response)",))
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values),
                 name="indirect_response")
