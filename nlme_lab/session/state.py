"""``SessionState``: what reproduces a working session (data file, model text with the initial
estimates in force, the last fit's call and the last VPC), as versioned JSON.

No widget imports: the Lab (``nlme_lab.widgets.lab``) builds one with ``Lab.state()``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from nlme_lab.errors import NlmeError

VERSION = 1
_KIND = "nlme_lab.session"


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
        if version != VERSION:
            raise SessionError(f"{where}: unsupported session version {version!r} (this nlme_lab reads "
                               f"version {VERSION})")
        for key in ("data_path", "model_text"):
            if not isinstance(raw.get(key), str):
                raise SessionError(f"{where}: field {key!r} must be a string, got {raw.get(key)!r}")
        return cls(data_path=raw["data_path"], model_text=raw["model_text"],
                   fit=_sub(FitSpec, raw.get("fit"), f"{where}: field 'fit'"),
                   vpc=_sub(VPCSpec, raw.get("vpc"), f"{where}: field 'vpc'"), version=version)

    @classmethod
    def from_json(cls, text: str, *, where: str = "session JSON") -> SessionState:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise SessionError(f"{where}: not valid JSON ({err})") from err
        return cls.from_dict(raw, where=where)


def _sub(cls, raw, where: str):
    """A FitSpec / VPCSpec from its dict (None stays None); unknown or mistyped fields name themselves."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SessionError(f"{where}: expected an object or null, got {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SessionError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(known)})")
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
    raise SessionError(f"{where}: expected {annotation}, got {value!r}")
