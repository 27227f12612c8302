"""``FitResult`` to JSON-ready values and back (``FitResult.to_dict`` / ``FitResult.from_dict``).

Every field is kept. The keys are the field names, plus ``format`` / ``version`` and the
read-only ``converged``. Encodings:

* floats: finite ones as numbers, others as ``{"float": "nan"}`` (``"inf"``, ``"-inf"``), so
  null stays None;
* arrays: ``{"array": nested lists, "dtype": ...}`` (in a float array NaN is null and the
  infinities are ``"inf"`` / ``"-inf"``); tuples ``{"tuple": [...]}`` (they come back as tuples);
* enums by value, ``termination`` by its lower-case name (``"converged"``);
* DataFrames (``individual``, ``predictions``): ``{"columns", "dtypes", "data"}`` by column;
* ``model``: its text and name (rebuilt as a ``Model``); ``data``: not stored, its fingerprint
  (``data_fingerprint``, from ``compare.data_fingerprint``) is.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.methods import CovarianceKind, MethodKind
from nlme_lab.estimation.results import (
    CovarianceResult,
    FitResult,
    HistoryEntry,
    OFVKind,
    Posterior,
    SAEMDetails,
    Shrinkage,
    Termination,
)
from nlme_lab.model.parameter_table import ParameterTable

FORMAT, VERSION = "nlme_lab.FitResult", 1


# --- values ----------------------------------------------------------------------------------
def encode(x):
    """A JSON-ready copy of ``x`` (see the module docstring)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, enum.Enum):
        return x.value
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else {"float": str(x)}
    if isinstance(x, np.ndarray):
        return {"array": _nested(x), "dtype": str(x.dtype)}
    if isinstance(x, dict):
        return {str(k): encode(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return {"tuple": [encode(v) for v in x]}
    if isinstance(x, list):
        return [encode(v) for v in x]
    raise NlmeError(f"cannot save a value of type {type(x).__name__} in a FitResult")


def decode(x):
    """The value ``encode`` wrote."""
    if isinstance(x, dict):
        if set(x) == {"array", "dtype"}:
            return _array(x)
        if set(x) == {"tuple"}:
            return tuple(decode(v) for v in x["tuple"])
        if set(x) == {"float"}:
            return float(x["float"])
        return {k: decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [decode(v) for v in x]
    return x


def _in_array(v: float):
    if math.isfinite(v):
        return v
    return None if math.isnan(v) else str(v)


def _nested(a: np.ndarray):
    if a.dtype.kind == "f":
        return np.vectorize(_in_array, otypes=[object])(a).tolist() if a.size else a.tolist()
    if a.dtype.kind == "O":
        return [encode(v) for v in a.ravel().tolist()]
    return a.tolist()


def _array(d: dict) -> np.ndarray:
    dtype = np.dtype(d["dtype"])
    if dtype.kind == "f":
        return np.array(_floats(d["array"]), dtype=dtype)
    if dtype.kind == "O":
        return np.array([decode(v) for v in d["array"]], dtype=object)
    return np.array(d["array"], dtype=dtype)


def _floats(x):
    if isinstance(x, list):
        return [_floats(v) for v in x]
    return math.nan if x is None else float(x)


def _frame(df):
    if df is None:
        return None
    return {"columns": [str(c) for c in df.columns], "dtypes": [str(t) for t in df.dtypes],
            "data": [encode(np.asarray(df[c].to_numpy())) for c in df.columns]}


def _unframe(d):
    if d is None:
        return None
    import pandas as pd

    cols = {c: pd.Series(decode(v), dtype=t) for c, t, v in zip(d["columns"], d["dtypes"], d["data"])}
    return pd.DataFrame(cols, columns=d["columns"])


# --- fields with a type of their own ----------------------------------------------------------
def _covariance(cov):
    if cov is None:
        return None
    return {"kind": cov.kind.value, "names": list(cov.names), "covariance": encode(cov.covariance),
            "r_matrix": encode(cov.r_matrix), "s_matrix": encode(cov.s_matrix), "message": cov.message}


def _uncovariance(d):
    if d is None:
        return None
    return CovarianceResult(CovarianceKind(d["kind"]), tuple(d["names"]), decode(d["covariance"]),
                            decode(d["r_matrix"]), decode(d["s_matrix"]), d["message"])


def _shrinkage(s):
    return None if s is None else {"eta_sd": encode(s.eta_sd), "eta_variance": encode(s.eta_variance),
                                   "epsilon_sd": encode(s.epsilon_sd)}


def _unshrinkage(d):
    if d is None:
        return None
    return Shrinkage(decode(d["eta_sd"]), decode(d["eta_variance"]), decode(d["epsilon_sd"]))


def _details(obj):
    return None if obj is None else {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _undetails(cls, d):
    return None if d is None else cls(**{k: decode(v) for k, v in d.items()})


def _model(model):
    if model is None:
        return None
    out = {"text": model.text, "name": model.name}
    if getattr(model, "solver", "auto") != "auto":  # Model(..., solver="ode"); older files have none
        out["solver"] = model.solver
    return out


def _unmodel(d):
    if d is None:
        return None
    from nlme_lab.model import Model

    return Model(d["text"], name=d["name"], solver=d.get("solver", "auto"))


# --- the result ---------------------------------------------------------------------------------
def fit_to_dict(fit: FitResult) -> dict:
    out = {"format": FORMAT, "version": VERSION, "converged": bool(fit.converged)}
    for f in dataclasses.fields(fit):
        out[f.name] = _ENCODE.get(f.name, encode)(getattr(fit, f.name))
    return out


def fit_from_dict(d: dict) -> FitResult:
    if d.get("format") != FORMAT:
        raise NlmeError(f"not a saved FitResult (format {d.get('format')!r}, expected {FORMAT!r})")
    if d.get("version") != VERSION:
        raise NlmeError(f"a saved FitResult of version {d.get('version')!r}; this nlme_lab reads version {VERSION}")
    names = {f.name for f in dataclasses.fields(FitResult)}
    missing = sorted(names - set(d))
    if missing:
        raise NlmeError(f"the saved FitResult lacks {', '.join(missing)}")
    return FitResult(**{n: _DECODE.get(n, decode)(d[n]) for n in names})


def _ci_in(d):
    return {k: (decode(a), decode(b)) for k, (a, b) in d.items()}


_ENCODE = {
    "ci": lambda ci: {k: [encode(a), encode(b)] for k, (a, b) in ci.items()},
    "fixed": list, "eta_names": list, "warnings": list, "subject_ids": lambda ids: [encode(i) for i in ids],
    "termination": lambda t: t.name.lower(),
    "covariance": _covariance, "shrinkage": _shrinkage,
    "history": lambda h: [{"iteration": e.iteration, "ofv": encode(e.ofv), "estimates": encode(e.estimates)}
                          for e in h],
    "lognormal": lambda rows: [encode(r) for r in rows],
    "parameters": lambda t: None if t is None else t.to_dict(),
    "saem": _details, "posterior": _details,
    "individual": _frame, "predictions": _frame, "model": _model, "data": lambda _d: None,
}

_DECODE = {
    "method": MethodKind, "termination": lambda t: Termination[t.upper()],
    "ofv_kind": lambda k: None if k is None else OFVKind(k),
    "ci": _ci_in, "fixed": tuple, "eta_names": tuple, "warnings": tuple,
    "subject_ids": lambda ids: tuple(decode(ids)),
    "covariance": _uncovariance, "shrinkage": _unshrinkage,
    "history": lambda h: tuple(HistoryEntry(e["iteration"], decode(e["ofv"]), decode(e["estimates"])) for e in h),
    "lognormal": lambda rows: tuple(decode(r) for r in rows),
    "parameters": lambda t: None if t is None else ParameterTable.from_dict(t),
    "saem": lambda d: _undetails(SAEMDetails, d), "posterior": lambda d: _undetails(Posterior, d),
    "individual": _unframe, "predictions": _unframe, "model": _unmodel, "data": lambda _d: None,
}
