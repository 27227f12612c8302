"""The catalog of templates: each template function registers itself with ``@template``, and
``catalog()`` lists them with a one-line summary and their options (read from the function's
signature, so a default lives in one place: the signature).
"""

from __future__ import annotations

import enum
import html
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nlme_lab.library.writer import TemplateError
from nlme_lab.model.source import suggest


class TemplateGroup(enum.Enum):
    """What a template models."""

    PK = "pharmacokinetics"
    TMDD = "target-mediated drug disposition"
    PD = "pharmacodynamics"
    GROWTH = "growth and decay"
    DOSE_RESPONSE = "dose-response"


@dataclass(frozen=True)
class OptionInfo:
    """One keyword option of a template: its default, its allowed values (``choices``, or
    ``None`` for any value of ``kind``) and what it does."""

    name: str
    default: Any
    kind: str  # "choice", "bool", "int", "str", "names" (parameter names), "values" (a dict)
    help: str
    choices: tuple = ()

    def parse(self, text: str):
        """The option's value from text (the CLI's ``--set name=value``), checked."""
        text = text.strip()
        if self.kind == "bool":
            lowered = text.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise TemplateError(f"option {self.name}={text!r}: give true or false")
        if self.kind == "int":
            try:
                return int(text)
            except ValueError:
                raise TemplateError(f"option {self.name}={text!r}: give a whole number") from None
        if self.kind == "choice" and text not in [str(c) for c in self.choices]:
            raise TemplateError(f"option {self.name}={text!r}: one of {', '.join(map(str, self.choices))}"
                                f"{suggest(text, [str(c) for c in self.choices])}")
        if self.kind == "choice":
            return next(c for c in self.choices if str(c) == text)
        if self.kind == "names":
            return tuple(n.strip() for n in text.split(",") if n.strip())
        return text

    def to_dict(self) -> dict:
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        return {"name": self.name, "default": default, "kind": self.kind, "help": self.help,
                "choices": list(self.choices)}


@dataclass(frozen=True)
class TemplateInfo:
    """A template of the library: ``info.model(route="oral")`` builds its ``Model``."""

    name: str
    group: TemplateGroup
    summary: str  # one line
    options: tuple[OptionInfo, ...]
    builder: Callable = field(repr=False, compare=False)

    def model(self, **options):
        """The template's ``Model`` with these options (the defaults for the others)."""
        self.check_options(options)
        return self.builder(**options)

    def text(self, **options) -> str:
        """The model text (as ``model(**options).text``)."""
        return self.model(**options).text

    def check_options(self, options: dict) -> None:
        names = [o.name for o in self.options]
        for key in options:
            if key not in names:
                raise TemplateError(f"{self.name} has no option {key!r} (options: {', '.join(names)})"
                                    f"{suggest(key, names)}")

    def option(self, name: str) -> OptionInfo:
        self.check_options({name: None})
        return next(o for o in self.options if o.name == name)

    def to_dict(self) -> dict:
        return {"name": self.name, "group": self.group.value, "summary": self.summary,
                "options": [o.to_dict() for o in self.options]}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(o.name)}</code></td><td><code>{html.escape(repr(o.default))}"
                       f"</code></td><td style='text-align:left'>{html.escape(o.help)}</td></tr>" for o in self.options)
        return (f"<div><b>{html.escape(self.name)}</b> ({html.escape(self.group.value)}): "
                f"{html.escape(self.summary)}<table><tr><th>option</th><th>default</th><th>meaning</th></tr>"
                f"{rows}</table><pre>{html.escape(self.text())}</pre></div>")


@dataclass(frozen=True)
class Catalog:
    """Every template, in the order of the library's groups (``nl.library.list()``)."""

    templates: tuple[TemplateInfo, ...]

    def __iter__(self):
        return iter(self.templates)

    def __len__(self) -> int:
        return len(self.templates)

    def __getitem__(self, name: str) -> TemplateInfo:
        for info in self.templates:
            if info.name == name:
                return info
        raise TemplateError(f"no template {name!r} in the library{suggest(str(name), self.names)} "
                            f"(nl.library.list() shows all {len(self.templates)})")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.templates)

    def to_frame(self):
        """One row per template: name, group, summary, options."""
        import pandas as pd

        return pd.DataFrame([{"name": t.name, "group": t.group.value, "summary": t.summary,
                              "options": ", ".join(o.name for o in t.options)} for t in self.templates])

    def to_dict(self) -> dict:
        return {"templates": [t.to_dict() for t in self.templates]}

    def __repr__(self) -> str:
        width = max((len(t.name) for t in self.templates), default=0)
        return "\n".join(f"{t.name:<{width}}  {t.summary}" for t in self.templates)

    def _repr_html_(self) -> str:
        rows = []
        for group in TemplateGroup:
            members = [t for t in self.templates if t.group is group]
            if members:
                rows.append(f"<tr><th colspan='3' style='text-align:left'>{html.escape(group.value)}</th></tr>")
            rows += [f"<tr><td style='text-align:left'><code>{html.escape(t.name)}</code></td>"
                     f"<td style='text-align:left'>{html.escape(t.summary)}</td><td style='text-align:left'>"
                     f"{html.escape(', '.join(o.name for o in t.options))}</td></tr>" for t in members]
        return ("<div><b>nl.library</b>: model templates (<code>nl.library.get(name, **options)</code> "
                "builds one; its <code>.text</code> is yours to edit)<table><tr><th>template</th>"
                f"<th>what it models</th><th>options</th></tr>{''.join(rows)}</table></div>")


_REGISTRY: dict[str, TemplateInfo] = {}

#: what the options every template shares mean
COMMON_HELP = {
    "random": "parameters with a random effect between units (IDs), as names",
    "error": "residual error: add, prop, combined (add + prop) or lnorm",
    "values": "initial values by name: parameters on their natural scale, eta_<name> variances, residual SDs",
}


def template(group: TemplateGroup, summary: str, help: dict[str, str]):
    """Register a template function under its own name (decorator)."""

    def register(function):
        options = _options(function, {**COMMON_HELP, **help})
        _REGISTRY[function.__name__] = TemplateInfo(function.__name__, group, summary, options, function)
        return function

    return register


def _options(function, help: dict[str, str]) -> tuple[OptionInfo, ...]:
    hints = typing.get_type_hints(function)
    out = []
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"template {function.__name__}: option {name} must be keyword-only")
        if name not in help:
            raise TypeError(f"template {function.__name__}: option {name} has no help text")
        kind, choices = _kind(hints.get(name))
        out.append(OptionInfo(name, parameter.default, kind, help[name], choices))
    extra = set(help) - {o.name for o in out} - set(COMMON_HELP)
    if extra:
        raise TypeError(f"template {function.__name__}: help for options it does not have: {sorted(extra)}")
    return tuple(out)


def _kind(hint) -> tuple[str, tuple]:
    if typing.get_origin(hint) is typing.Literal:
        return "choice", typing.get_args(hint)
    if hint is bool:
        return "bool", ()
    if hint is int:
        return "int", ()
    if hint is str:
        return "str", ()
    text = str(hint)
    if "dict" in text:
        return "values", ()
    return "names", ()


def call_text(name: str, given: dict) -> str:
    """``name(a=1, b='x')``: the options of a call that differ from the template's defaults
    (its text's header says how it was made; initial ``values`` show in ``[ini]``)."""
    defaults = {o.name: o.default for o in _REGISTRY[name].options}
    shown = ", ".join(f"{k}={v!r}" for k, v in given.items()
                      if k != "values" and k in defaults and v != defaults[k])
    return f"{name}({shown})"


def catalog() -> Catalog:
    """Every registered template, grouped in the order of ``TemplateGroup``."""
    order = list(TemplateGroup)
    return Catalog(tuple(sorted(_REGISTRY.values(), key=lambda t: order.index(t.group))))
