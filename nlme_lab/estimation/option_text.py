"""Method options as short text, ``"n_burn=400, n_em=300"`` or ``"outer.max_iterations=50"``, for
the Lab's options box and session files, and back to the Python call that builds them.

Values are read with ``ast.literal_eval`` (numbers, booleans, None, tuples): the text can never
run code. Every name is checked against the method's options dataclass, and an unknown name or a
value of the wrong type is reported with the options that exist; a value out of the option's
range (``estimation.option_limits``) is reported with the range. The covariance step has its own
argument (``nl.fit(..., covariance=...)``), so it is not accepted here.
"""

from __future__ import annotations

import ast
import dataclasses

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.methods import MethodOptions, get_method
from nlme_lab.estimation.option_limits import OptionsError

_NOT_TEXT = {"covariance"}  # set by nl.fit's own argument


class OptionsTextError(NlmeError):
    """Option text that names an unknown option or gives a value of the wrong type."""


def options_from_text(method, text: str) -> MethodOptions:
    """The method's options dataclass with the ``name=value`` pairs of ``text`` applied."""
    spec = get_method(method)
    options = spec.options_type()
    for position, item in enumerate(_items(text), start=1):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OptionsTextError(f"option {position} ({item.strip()!r}): write name=value, e.g. "
                                   f"{_example(options)}")
        options = _apply(options, name.split("."), _literal(name, raw), spec.kind.value, "")
    return options


def options_to_text(options: MethodOptions) -> str:
    """The ``name=value`` pairs where ``options`` differ from its class defaults ('' for none)."""
    return ", ".join(f"{name}={value!r}" for name, value in _changes(options, type(options)()))


def options_code(options: MethodOptions) -> tuple[str, list[str]] | None:
    """Python that builds ``options`` (only the non-default fields) and the option classes it
    names (to import from ``nlme_lab.estimation``), or None when all are defaults."""
    if not list(_changes(options, type(options)())):
        return None
    names: list[str] = []
    return _constructor(options, type(options)(), names), names


def _items(text: str):
    """Split on commas that are not inside parentheses (tuple values)."""
    depth, start = 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            if text[start:i].strip():
                yield text[start:i]
            start = i + 1
    if text[start:].strip():
        yield text[start:]


def _literal(name: str, raw: str):
    try:
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        raise OptionsTextError(f"option {name}: {raw.strip()!r} is not a number, True/False, None "
                               "or a tuple of numbers") from None


def _apply(options, path: list[str], value, method: str, prefix: str):
    known = {f.name: f for f in dataclasses.fields(options) if f.name not in _NOT_TEXT}
    head = path[0]
    if head not in known:
        hint = " (set it with the covariance control / argument)" if head in _NOT_TEXT else ""
        raise OptionsTextError(f"{method} has no option {prefix + '.'.join(path)!r}{hint}; options: "
                               f"{', '.join(_names(options, prefix))}")
    current = getattr(options, head)
    if dataclasses.is_dataclass(current):
        if len(path) == 1:
            raise OptionsTextError(f"option {head} is a group: name one of its fields, e.g. "
                                   f"{head}.{dataclasses.fields(current)[0].name}=...")
        return dataclasses.replace(options, **{head: _apply(current, path[1:], value, method,
                                                            f"{prefix}{head}.")})
    if len(path) > 1:
        raise OptionsTextError(f"option {head} has no fields ({'.'.join(path)!r})")
    try:
        return dataclasses.replace(options, **{head: _coerce(head, current, value)})
    except OptionsError as err:  # out of range: name the option as it was written
        raise OptionsTextError(f"option {prefix}{head} must be {err.requirement}, got {value!r}") from None


def _coerce(name: str, default, value):
    """``value`` as the type of the field's default (an int where a float goes is fine)."""
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, tuple):
        if isinstance(value, (tuple, list)) and len(value) == len(default):
            return tuple(_coerce(name, d, v) for d, v in zip(default, value))
    raise OptionsTextError(f"option {name}: expected a value like {default!r}, got {value!r}")


def _names(options, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(options):
        if f.name in _NOT_TEXT:
            continue
        value = getattr(options, f.name)
        out += _names(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return out


def _example(options) -> str:
    return f"{_names(options)[0]}=..."


def _changes(options, default, prefix: str = ""):
    for f in dataclasses.fields(options):
        value, base = getattr(options, f.name), getattr(default, f.name)
        if f.name in _NOT_TEXT or value == base:
            continue
        if dataclasses.is_dataclass(value):
            yield from _changes(value, base, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, value


def _constructor(options, default, names: list[str]) -> str:
    if type(options).__name__ not in names:
        names.append(type(options).__name__)
    parts = []
    for f in dataclasses.fields(options):
        value, base = getattr(options, f.name), getattr(default, f.name)
        if f.name in _NOT_TEXT or value == base:
            continue
        code = _constructor(value, base, names) if dataclasses.is_dataclass(value) else repr(value)
        parts.append(f"{f.name}={code}")
    return f"{type(options).__name__}({', '.join(parts)})"
