"""Compartmental pharmacokinetics: 1-, 2- and 3-compartment models, IV bolus, infusion or
first-order absorption, with a lag time and a chain of transit compartments.

Closed form (``linCmt()``, the engine's exact linear-system solution) unless the model needs
ODEs (transit compartments) or ``form="ode"`` asks for them; both forms describe the same
system (the tests check one against the other and against ``scipy.integrate.solve_ivp``).

Transit absorption (Savic et al. 2007): the dose enters ``transit1``, passes ``n`` transit
compartments and the absorption compartment ``depot`` with the rate constant
``ktr = (n + 1) / mtt``, so ``mtt`` is the mean time from the dose to the depot's outflow start;
the depot empties into the central compartment with ``ka``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nlme_lab.library.catalog import TemplateGroup, call_text, template
from nlme_lab.library.writer import ErrorModel, ErrorName, Param, Parts, TemplateError, check_random, render
from nlme_lab.model import Model

Route = Literal["iv", "oral", "infusion"]
Form = Literal["auto", "closed", "ode"]
Infusion = Literal["data", "modeled"]
MAX_TRANSIT = 20

_PK_HELP = {
    "route": "iv: bolus into the central compartment; oral: first-order absorption from a depot; "
             "infusion: into the central compartment at the data's RATE (or a modeled duration)",
    "lag": "a lag time on the dose (alag)",
    "transit": "number of transit compartments before the depot (oral only; needs ODEs)",
    "infusion": "infusion only: 'data' (RATE > 0 in the data) or 'modeled' (a duration parameter; RATE = -2)",
    "form": "auto (closed form unless transit compartments need ODEs), closed (linCmt()) or ode (d/dt lines)",
}


@dataclass(frozen=True)
class PKPart:
    """The PK lines of a model (for PK templates, and under PD templates)."""

    params: tuple[Param, ...]
    lines: tuple[str, ...]  # [model] lines: dose modifiers, ODEs or linCmt(), cp
    dose_cmt: tuple[int, str]  # (CMT, name) of the compartment that receives doses
    n_state: int
    closed: bool


def pk_part(n: int, route: str, *, lag: bool = False, transit: int = 0, infusion: str = "data",
            form: str = "auto") -> PKPart:
    """The PK part with ``n`` compartments (checked options)."""
    _check(n, route, lag, transit, infusion, form)
    closed = form == "closed" or (form == "auto" and transit == 0)
    params = list(_pk_params(n, route, transit))
    if lag:
        params.append(Param("lag", 0.5, "lag time (h)"))
    if route == "infusion" and infusion == "modeled":
        params.append(Param("duration", 2.0, "infusion duration (h); data RATE = -2"))
    states = (["depot"] if route == "oral" else []) + ["central", "periph1", "periph2"][:n]
    if not closed:
        states = [f"transit{k}" for k in range(1, transit + 1)] + states
    first = states[0]
    modifiers = []
    if lag:
        modifiers.append(f"alag({first}) = lag")
    if route == "infusion" and infusion == "modeled":
        modifiers.append("dur(central) = duration")
    if closed:
        lines = (*modifiers, "cp = linCmt()")
    else:
        lines = (*modifiers, *_odes(n, route, transit), "cp = central / v")
    return PKPart(tuple(params), tuple(lines), (1, first), len(states), closed)


def _check(n, route, lag, transit, infusion, form) -> None:
    if route not in ("iv", "oral", "infusion"):
        raise TemplateError(f"route={route!r}: one of iv, oral, infusion")
    if form not in ("auto", "closed", "ode"):
        raise TemplateError(f"form={form!r}: one of auto, closed, ode")
    if infusion not in ("data", "modeled"):
        raise TemplateError(f"infusion={infusion!r}: one of data, modeled")
    if not isinstance(transit, int) or isinstance(transit, bool) or not 0 <= transit <= MAX_TRANSIT:
        raise TemplateError(f"transit={transit!r}: a whole number of transit compartments, 0 to {MAX_TRANSIT}")
    if transit and route != "oral":
        raise TemplateError(f"transit={transit}: transit compartments come before a depot; use route='oral'")
    if transit and form == "closed":
        raise TemplateError("transit compartments need ODEs: use form='ode' (or 'auto')")
    if infusion == "modeled" and route != "infusion":
        raise TemplateError("infusion='modeled' is for route='infusion'")
    if not isinstance(lag, bool):
        raise TemplateError(f"lag={lag!r}: True or False")


def _pk_params(n: int, route: str, transit: int):
    if transit:
        yield Param("mtt", 1.0, "mean transit time to the depot's outflow (h)")
    if route == "oral":
        yield Param("ka", 1.0, "absorption rate constant (1/h)")
    yield Param("cl", 2.0, "clearance (L/h)")
    yield Param("v", 20.0, "central volume (L)")
    if n >= 2:
        yield Param("q", 2.0, "intercompartmental clearance (L/h)")
        yield Param("v2", 40.0, "peripheral volume (L)")
    if n == 3:
        yield Param("q2", 0.5, "second intercompartmental clearance (L/h)")
        yield Param("v3", 100.0, "second peripheral volume (L)")


def _odes(n: int, route: str, transit: int) -> list[str]:
    lines = []
    if transit:
        lines.append("ktr = (" + str(transit) + " + 1) / mtt")
        lines.append("d/dt(transit1) = -ktr * transit1")
        lines += [f"d/dt(transit{k}) = ktr * transit{k - 1} - ktr * transit{k}" for k in range(2, transit + 1)]
        lines.append(f"d/dt(depot) = ktr * transit{transit} - ka * depot")
    elif route == "oral":
        lines.append("d/dt(depot) = -ka * depot")
    central = "ka * depot - cl / v * central" if route == "oral" else "-cl / v * central"
    exchanges = [("q", "periph1", "v2"), ("q2", "periph2", "v3")][: n - 1]
    for q, periph, vp in exchanges:
        central += f" - {q} * (central / v - {periph} / {vp})"
    lines.append(f"d/dt(central) = {central}")
    lines += [f"d/dt({periph}) = {q} * (central / v - {periph} / {vp})" for q, periph, vp in exchanges]
    return lines


def _compartmental(n: int, name: str, *, route, lag, transit, infusion, form, random, error, values) -> Model:
    pk = pk_part(n, route, lag=lag, transit=transit, infusion=infusion, form=form)
    options = {"route": route, "lag": lag, "transit": transit, "infusion": infusion, "form": form, "random": random,
               "error": error}
    words = {1: "one", 2: "two", 3: "three"}[n]
    how = {"iv": "IV bolus", "oral": "first-order absorption", "infusion": "IV infusion"}[route]
    title = f"{words}-compartment PK, {how}" + (", lag time" if lag else "") + \
        (f", {transit} transit compartments" if transit else "") + (" (closed form)" if pk.closed else " (ODEs)")
    cmt, cmt_name = pk.dose_cmt
    rate = "; RATE > 0 gives the infusion rate" if route == "infusion" and infusion == "data" else \
        ("; RATE = -2 (the duration is modeled)" if route == "infusion" else "")
    notes = ((f"data: doses (AMT) into CMT {cmt} ({cmt_name}){rate}; observations of cp = central amount / v "
              f"(any CMT 1-{pk.n_state})"),)
    default_random = ("ka", "cl", "v") if route == "oral" else ("cl", "v")
    chosen = check_random(random, pk.params, tuple(n for n in default_random if n in [p.name for p in pk.params]))
    parts = Parts(name, title, call_text(name, options), pk.params, pk.lines, "cp", notes)
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values), name=name)


@template(TemplateGroup.PK, "one-compartment PK: IV bolus, infusion or oral, with lag and transit absorption", _PK_HELP)
def one_compartment(*, route: Route = "iv", lag: bool = False, transit: int = 0, infusion: Infusion = "data",
                    form: Form = "auto", random: tuple[str, ...] | None = None, error: ErrorName = "prop",
                    values: dict | None = None) -> Model:
    """One-compartment PK (CL, V; KA for oral)."""
    return _compartmental(1, "one_compartment", route=route, lag=lag, transit=transit, infusion=infusion,
                          form=form, random=random, error=error, values=values)


@template(TemplateGroup.PK, "two-compartment PK: IV bolus, infusion or oral, with lag and transit absorption", _PK_HELP)
def two_compartment(*, route: Route = "iv", lag: bool = False, transit: int = 0, infusion: Infusion = "data",
                    form: Form = "auto", random: tuple[str, ...] | None = None, error: ErrorName = "prop",
                    values: dict | None = None) -> Model:
    """Two-compartment PK (CL, V, Q, V2; KA for oral)."""
    return _compartmental(2, "two_compartment", route=route, lag=lag, transit=transit, infusion=infusion,
                          form=form, random=random, error=error, values=values)


@template(TemplateGroup.PK, "three-compartment PK: IV bolus, infusion or oral, with lag and transit absorption",
          _PK_HELP)
def three_compartment(*, route: Route = "iv", lag: bool = False, transit: int = 0, infusion: Infusion = "data",
                      form: Form = "auto", random: tuple[str, ...] | None = None, error: ErrorName = "prop",
                      values: dict | None = None) -> Model:
    """Three-compartment PK (CL, V, Q, V2, Q2, V3; KA for oral)."""
    return _compartmental(3, "three_compartment", route=route, lag=lag, transit=transit, infusion=infusion,
                          form=form, random=random, error=error, values=values)
