"""Model text from a template's parts: the one place where library templates become text.

A template describes its structural parameters (``Param``: the variable's name in ``[model]``,
its typical value on the natural scale, a label, and whether it lives on the log scale), the
``[model]`` lines that use them, and the observed variable. ``render`` writes the text the user
reads and edits, in the conventions of the shared models (``tests/shared/models``):

* a log-scale parameter ``cl`` is the theta ``tcl = log(2.7)`` and, with a random effect,
  ``cl = exp(tcl + eta_cl)`` (log-normal between units);
* a natural-scale parameter ``asym`` (R's self-starting models, nlme's additive random
  effects) is ``tasym = 100`` and ``asym = tasym + eta_asym`` (normal between units);
* the residual error is ``add_sd`` and/or ``prop_sd`` (standard deviations) or ``lnorm_sd``.

Initial values can be replaced by name (``values={"cl": 3, "eta_cl": 0.2, "add_sd": 0.5}``);
a name that is no parameter of the template is an error with a "did you mean".
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Literal

from nlme_lab.errors import NlmeError
from nlme_lab.model.source import suggest


class TemplateError(NlmeError, ValueError):
    """A template asked for with options or values it does not have (names the option)."""


class ErrorModel(enum.Enum):
    """The residual error of a template's observed variable."""

    ADD = "add"
    PROP = "prop"
    COMBINED = "combined"  # add + prop: variance add_sd^2 + prop_sd^2 * f^2
    LNORM = "lnorm"  # on the log scale

    @classmethod
    def parse(cls, value) -> ErrorModel:
        if isinstance(value, cls):
            return value
        for kind in cls:
            if isinstance(value, str) and value.strip().lower() == kind.value:
                return kind
        raise TemplateError(f"error={value!r}: the residual error is one of {', '.join(k.value for k in cls)}")


#: the ``error=`` option of every template
ErrorName = Literal["add", "prop", "combined", "lnorm"]

#: the residual SDs of each error model, with their default initial values and labels
_RESIDUALS = {
    ErrorModel.ADD: (("add_sd", "additive residual SD"),),
    ErrorModel.PROP: (("prop_sd", "proportional residual SD (fraction)"),),
    ErrorModel.COMBINED: (("add_sd", "additive residual SD"), ("prop_sd", "proportional residual SD (fraction)")),
    ErrorModel.LNORM: (("lnorm_sd", "residual SD on the log scale"),),
}
_DEFAULT_SD = {"add_sd": 1.0, "prop_sd": 0.1, "lnorm_sd": 0.1}


@dataclass(frozen=True)
class Param:
    """A structural parameter of a template: ``name`` is its variable in ``[model]``."""

    name: str
    value: float  # typical value, natural scale
    label: str  # what it is, with units
    log: bool = True  # theta on the log scale (positive parameter, log-normal random effect)
    omega: float | None = None  # initial variance of its random effect (default: 0.1 on the log scale)
    lower: float | None = None  # bounds of a natural-scale theta
    upper: float | None = None
    fixed: bool = False  # held fixed (known from an earlier fit, e.g. the PK of a PK/PD template)

    @property
    def theta(self) -> str:
        return f"t{self.name}"

    @property
    def eta(self) -> str:
        return f"eta_{self.name}"

    def default_omega(self) -> float:
        if self.omega is not None:
            return self.omega
        return 0.1 if self.log else max((0.1 * abs(self.value)) ** 2, 1e-4)


@dataclass(frozen=True)
class Parts:
    """What a template writes, before its values and choices are applied."""

    name: str  # the template's name
    title: str  # one line: what the model is
    call: str  # the call that made it, e.g. ``one_compartment(route='oral')``
    params: tuple[Param, ...]
    body: tuple[str, ...]  # [model] lines after the parameter lines
    observed: str  # the variable of the ``~`` line
    notes: tuple[str, ...] = ()  # comment lines: how the data should look
    derived: tuple[str, ...] = field(default=())  # [model] lines between the parameters and the body


def number(value: float) -> str:
    """A float as short text that reads back exactly (12 significant digits)."""
    text = format(float(value), ".12g")
    return text


def check_random(random, params: tuple[Param, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    """The parameters with a random effect: ``random`` (names, in any order) or ``default``."""
    if random is None:
        return default
    if isinstance(random, str):
        random = tuple(n.strip() for n in random.split(",") if n.strip())
    names = [p.name for p in params]
    chosen = []
    for name in random:
        if not isinstance(name, str) or name not in names:
            raise TemplateError(f"random={tuple(random)!r}: {name!r} is not a parameter of this template "
                                f"({', '.join(names)}){suggest(str(name), names)}")
        chosen.append(name)
    return tuple(n for n in names if n in chosen)  # in the template's order


def check_x(x: str, taken) -> str:
    """The independent variable: ``t`` or a data column (an identifier that no parameter uses)."""
    if not isinstance(x, str) or not x.isidentifier():
        raise TemplateError(f"x={x!r}: the independent variable is t (time) or the name of a data column")
    if x in taken:
        raise TemplateError(f"x={x!r} is the name of a parameter or variable of this template; name another column")
    return x


def render(parts: Parts, *, random: tuple[str, ...], error: ErrorModel, values: dict | None) -> str:
    """The model text of ``parts`` with random effects on ``random`` and the error model."""
    residuals = _RESIDUALS[error]
    given = _checked_values(values, parts.params, random, [n for n, _ in residuals])
    ini = []
    for p in parts.params:
        value = given.get(p.name, p.value)
        if p.log and not value > 0:
            raise TemplateError(f"values: {p.name} = {value!r} must be positive (its theta is on the log scale)")
        ini.append((f"{p.theta} = {_theta_spec(p, value)}", f"{'log ' if p.log else ''}{p.label}"))
    for p in parts.params:
        if p.name in random:
            omega = given.get(p.eta, p.default_omega())
            ini.append((f"{p.eta} ~ {number(_non_negative(p.eta, omega))}",
                        f"variance of {p.name} between units ({'log scale' if p.log else 'additive'})"))
    for name, label in residuals:
        sd = given.get(name, _DEFAULT_SD[name])
        if not sd > 0:
            raise TemplateError(f"values: {name} = {sd!r} must be positive (a residual standard deviation)")
        ini.append((f"{name} = {number(sd)}", label))
    model = [_individual(p, p.name in random) for p in parts.params]
    lines = [f"# {parts.name}: {parts.title}", f"# from nl.library.{parts.call}; edit freely"]
    lines += [f"# {note}" for note in parts.notes]
    lines += ["[ini]", *_aligned(ini), "", "[model]", *model, *parts.derived, *parts.body,
              f"{parts.observed} ~ {_error_text(error)}"]
    return "\n".join(lines) + "\n"


def _theta_spec(p: Param, value: float) -> str:
    """``log(2.7)``, ``-8.5``, ``(0, 0.8, 1)`` or ``fix(...)`` of these."""
    init = f"log({number(value)})" if p.log else number(value)
    if not p.log and (p.lower is not None or p.upper is not None):
        if not ((p.lower is None or value > p.lower) and (p.upper is None or value < p.upper)):
            raise TemplateError(f"values: {p.name} = {value!r} must lie between {p.lower} and {p.upper}")
        low = number(p.lower) if p.lower is not None else "-inf"
        init = f"({low}, {init}, {number(p.upper)})" if p.upper is not None else f"({low}, {init})"
    return f"fix({init})" if p.fixed else init


def _non_negative(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise TemplateError(f"values: {name} = {value!r} must be a variance (a finite number >= 0)")
    return float(value)


def _checked_values(values, params, random, residual_names) -> dict:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise TemplateError(f"values= takes a dict of initial values by name, got {type(values).__name__}")
    known = [p.name for p in params] + [f"eta_{n}" for n in random] + list(residual_names)
    out = {}
    for key, value in values.items():
        if key not in known:
            raise TemplateError(f"values: {key!r} is not a parameter of this model "
                                f"({', '.join(known)}){suggest(str(key), known)}")
        try:
            number_value = float(value)
        except (TypeError, ValueError):
            raise TemplateError(f"values: {key} = {value!r} is not a number") from None
        if not math.isfinite(number_value):
            raise TemplateError(f"values: {key} = {value!r} must be finite")
        out[key] = number_value
    return out


def _individual(p: Param, random: bool) -> str:
    if p.log:
        return f"{p.name} = exp({p.theta} + {p.eta})" if random else f"{p.name} = exp({p.theta})"
    return f"{p.name} = {p.theta} + {p.eta}" if random else f"{p.name} = {p.theta}"


def _error_text(error: ErrorModel) -> str:
    return {ErrorModel.ADD: "add(add_sd)", ErrorModel.PROP: "prop(prop_sd)",
            ErrorModel.COMBINED: "add(add_sd) + prop(prop_sd)", ErrorModel.LNORM: "lnorm(lnorm_sd)"}[error]


def _aligned(pairs: list[tuple[str, str]]) -> list[str]:
    """``[ini]`` lines with their labels (comments) in one column."""
    width = max((len(code) for code, _ in pairs), default=0)
    return [f"{code:<{width}}  # {label}" if label else code for code, label in pairs]
