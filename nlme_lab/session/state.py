"""``SessionState``: what reproduces a working session (data file, model text with the initial
estimates in force, the last fit's call and the last VPC), as versioned JSON.

No widget imports: the Lab (``nlme_lab.widgets.lab``) builds one with ``Lab.state()``.

A session file is input like any other: ``from_dict`` / ``from_json`` refuse, naming the field,
an unknown kind, version or field, a method, covariance kind, options text or VPC binning that
``nl.fit`` / ``nl.vpc`` would not take, a negative seed, and JSON nested too deep to read; a
refused value is quoted at most ``SHOWN`` characters long.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from nlme_lab.errors import NlmeError

VERSION = 1
_KIND = "nlme_lab.session"
SHOWN = 80  # characters of a refused value quoted in an error


class SessionError(NlmeError):
    """A session file or JSON text that cannot be read (names the file or field)."""


@dataclass(frozen=True)
class FitSpec:
    method: str  # "focei", "saem", ...
    seed: int | None = None
    covariance: str | None = "default"  # as ``nl.fit``: the method's own kind
    options: str = ""  # the method's non-default options as text (``estimation.option_text``)


@dataclass(frozen=True)
class VPCSpec:
    n: int = 200
    seed: int = 1
    bins: str = "quantile"
    pred_corrected: bool = False
    stratify_by: str | None = None


@dataclass(frozen=True)
class SessionState:
    data_path: str  # the dataset's file path (absolute if possible)
    model_text: str  # the working model's text, with the initial estimates in force
    fit: FitSpec | None = None  # the last fit's call
    vpc: VPCSpec | None = None  # the last VPC computed
    version: int = VERSION

    def to_dict(self) -> dict:
        return {"kind": _KIND, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, raw, *, where: str = "session") -> SessionState:
        if not isinstance(raw, dict):
            raise SessionError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        version = raw.get("version")
        if version != VERSION or isinstance(version, bool):
            raise SessionError(f"{where}: unsupported session version {_shown(version)} (this nlme_lab reads "
                               f"version {VERSION})")
        if "kind" in raw and raw["kind"] != _KIND:
            raise SessionError(f"{where}: field 'kind' is {_shown(raw['kind'])}, not an nlme_lab session "
                               f"({_KIND!r})")
        known = ("kind", "version", *(f.name for f in fields(cls) if f.name != "version"))
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise SessionError(f"{where}: unknown field(s) {_clip(', '.join(unknown))} (known: {', '.join(known)})")
        for key in ("data_path", "model_text"):
            if not isinstance(raw.get(key), str):
                raise SessionError(f"{where}: field {key!r} must be a string, got {_shown(raw.get(key))}")
        fit = _sub(FitSpec, raw.get("fit"), f"{where}: field 'fit'")
        vpc = _sub(VPCSpec, raw.get("vpc"), f"{where}: field 'vpc'")
        if fit is not None:
            fit = _checked_fit(fit, f"{where}: field 'fit'")
        if vpc is not None:
            _check_vpc(vpc, f"{where}: field 'vpc'")
        return cls(data_path=raw["data_path"], model_text=raw["model_text"], fit=fit, vpc=vpc, version=version)

    @classmethod
    def from_json(cls, text: str, *, where: str = "session JSON") -> SessionState:
        return cls.from_dict(parse_json(text, where), where=where)


def parse_json(text: str, where: str):
    """JSON text as Python values; invalid or too deeply nested JSON is a ``SessionError``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SessionError(f"{where}: not valid JSON ({err})") from err
    except RecursionError:
        raise SessionError(f"{where}: the JSON is nested too deeply to read (a session is a few levels "
                           "deep)") from None


def _shown(value) -> str:
    """``repr(value)``, at most ``SHOWN`` characters (the rest is counted, not echoed)."""
    try:
        return _clip(repr(value))
    except RecursionError:  # a structure nested too deeply to print
        return f"a {type(value).__name__} nested too deeply to show"


def _clip(text: str, limit: int = SHOWN) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _checked_fit(fit: FitSpec, where: str) -> FitSpec:
    """The method, covariance kind, options text and seed as ``nl.fit`` takes them, or a
    ``SessionError`` naming the field. The method is kept as its registry name."""
    from nlme_lab.estimation.api import COVARIANCE_ALIASES
    from nlme_lab.estimation.methods import covariance_kind, get_method
    from nlme_lab.estimation.option_text import options_from_text

    try:
        method = get_method(fit.method).kind.value
    except NlmeError as err:
        raise SessionError(f"{where}.method: {_short(err)}") from None
    if fit.covariance is not None and fit.covariance.lower() not in COVARIANCE_ALIASES:
        try:
            covariance_kind(fit.covariance)
        except NlmeError as err:
            raise SessionError(f"{where}.covariance: {_short(err)} (or 'default', 'sandwich', null)") from None
    try:
        options_from_text(method, fit.options)
    except NlmeError as err:
        raise SessionError(f"{where}.options: {_short(err)}") from None
    if fit.seed is not None and fit.seed < 0:
        raise SessionError(f"{where}.seed: expected a seed >= 0 or null, got {fit.seed}")
    return fit if method == fit.method else FitSpec(method, fit.seed, fit.covariance, fit.options)


def _check_vpc(vpc: VPCSpec, where: str) -> None:
    from nlme_lab.diagnostics.binning import BinningKind, binning_kind

    try:
        kind = binning_kind(vpc.bins)
    except NlmeError as err:
        raise SessionError(f"{where}.bins: {_short(err)}") from None
    if kind is BinningKind.EDGES:  # text can name a binning, not hold edges
        raise SessionError(f"{where}.bins: {_shown(vpc.bins)} is not a binning name")
    if vpc.n < 1:
        raise SessionError(f"{where}.n: expected at least 1 simulated replicate, got {vpc.n}")
    if vpc.seed < 0:
        raise SessionError(f"{where}.seed: expected a seed >= 0, got {vpc.seed}")


def _short(err: Exception) -> str:
    """An error's message, its quote of the refused value kept short (a session may hold anything)."""
    return _clip(str(err), 4 * SHOWN)


def covariance_name(value: str | None) -> str:
    """A session's covariance as the name the Lab's fit panel shows: "default", "sandwich", "r",
    "s", "fim" or "none" (``nl.fit`` also takes "r,s" for the sandwich, in any case)."""
    from nlme_lab.estimation.api import COVARIANCE_ALIASES
    from nlme_lab.estimation.methods import CovarianceKind, covariance_kind

    if value is None:
        return "none"
    if value.lower() in COVARIANCE_ALIASES:
        return value.lower()
    kind = covariance_kind(value)
    return "sandwich" if kind is CovarianceKind.SANDWICH else kind.value


def _sub(cls, raw, where: str):
    """A FitSpec / VPCSpec from its dict (None stays None); unknown or mistyped fields name themselves."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SessionError(f"{where}: expected an object or null, got {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SessionError(f"{where}: unknown field(s) {_clip(', '.join(map(str, unknown)))} "
                           f"(known: {', '.join(known)})")
    try:
        value = cls(**raw)
    except TypeError as err:
        raise SessionError(f"{where}: {err}") from err
    for name, f in known.items():
        _check_type(getattr(value, name), f.type, f"{where}.{name}")
    return value


def _check_type(value, annotation: str, where: str) -> None:
    allowed = tuple(a.strip() for a in str(annotation).split("|"))
    if value is None and "None" in allowed:
        return
    py = {"int": int, "str": str, "bool": bool}
    for name in allowed:
        kind = py.get(name)
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if kind is not None and kind is not int and isinstance(value, kind):
            return
    raise SessionError(f"{where}: expected {annotation}, got {_shown(value)}")
