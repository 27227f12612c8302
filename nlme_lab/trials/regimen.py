"""Dosing regimens, exposure targets and the records that put a regimen in a dataset.

``Regimen``: a dose repeated every ``interval`` (steady state) or given once, as a bolus, an
infusion of ``duration`` or into a depot (``cmt``); ``Target``: an exposure metric and its
window, shared by ``recommend_dose`` (virtual trials) and ``individual_dose`` (MAP dosing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError

#: exposure metrics: what ``Target.metric`` and ``TrialResult.subjects`` columns name
METRICS = {
    "auc": "AUC over a dosing interval at steady state (AUC(0-inf) after a single dose)",
    "auc_inf": "AUC(0-inf) of one dose",
    "cmax": "peak concentration (over the steady-state interval, or after the single dose)",
    "cmin": "trough concentration (end of the steady-state interval, or of the horizon)",
    "time_above": "time (over the interval, or the horizon) above the concentration ``at``",
    "conc": "concentration at time ``at`` of the interval (or after the single dose)",
}


def is_variable_metric(metric: str) -> bool:
    """Whether ``metric`` names a model variable at a time (``"effect@24"``)."""
    name, sep, t = str(metric).rpartition("@")
    try:
        float(t)
    except ValueError:
        return False
    return bool(sep and name)


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: ``dose`` (amount) every ``interval`` at steady state, or once
    (``interval=None``, followed for ``horizon``); ``duration`` > 0 infuses it; ``cmt`` the
    dosing compartment (1: central for IV templates, depot for oral ones)."""

    name: str
    dose: float
    interval: float | None = None
    duration: float = 0.0
    cmt: int = 1
    horizon: float | None = None  # single dose: how long to follow (default 72)
    records: tuple = ()  # NONMEM dose records instead: dicts with TIME, AMT (RATE, CMT, ADDL, II)
    window: tuple | None = None  # with records: (start, end) of the metrics' window

    def __post_init__(self):
        if self.records:
            object.__setattr__(self, "records", tuple(dict(r) for r in self.records))
            for k, r in enumerate(self.records):
                missing = {"TIME", "AMT"} - set(r)
                unknown = set(r) - {"TIME", "AMT", "RATE", "CMT", "ADDL", "II"}
                if missing or unknown:
                    raise NlmeError(f"regimen {self.name!r}, dose record {k + 1}: "
                                    + (f"needs {sorted(missing)}" if missing else
                                       f"unknown columns {sorted(unknown)} (TIME, AMT, RATE, CMT, ADDL, II)"))
            if self.window is None or len(self.window) != 2 or not self.window[0] < self.window[1]:
                raise NlmeError(f"regimen {self.name!r}: dose records need window=(start, end) with start < end, "
                                "the time window of the exposure metrics")
        if not np.isfinite(self.dose) or self.dose <= 0:
            raise NlmeError(f"regimen {self.name!r}: dose must be a positive number, not {self.dose!r}")
        if self.interval is not None and not self.interval > 0:
            raise NlmeError(f"regimen {self.name!r}: interval must be > 0 (or None for one dose), not {self.interval!r}")
        if self.duration < 0 or (self.interval is not None and self.duration > self.interval):
            raise NlmeError(f"regimen {self.name!r}: infusion duration {self.duration!r} must be between 0 "
                            "and the interval")

    @property
    def span(self) -> float:
        """The length of the time window the metrics are taken over."""
        if self.records:
            return float(self.window[1] - self.window[0])
        return float(self.interval if self.interval is not None else (self.horizon or 72.0))

    @property
    def start(self) -> float:
        """Where the metrics' window starts (0 but for dose records)."""
        return float(self.window[0]) if self.records else 0.0

    def with_dose(self, dose: float) -> "Regimen":
        return replace(self, dose=float(dose))

    def describe(self) -> str:
        if self.records:
            return f"{len(self.records)} dose records, window {self.window[0]:g}-{self.window[1]:g}"
        how = f" infused over {self.duration:g} h" if self.duration > 0 else ""
        every = f" every {self.interval:g} h" if self.interval is not None else " once"
        return f"{self.dose:g}{how}{every}"

    @classmethod
    def of(cls, spec, name: str | None = None) -> "Regimen":
        """A ``Regimen`` from itself or a dict (``{"dose": 100, "interval": 24, ...}``)."""
        if isinstance(spec, Regimen):
            return spec if name is None else replace(spec, name=name)
        if isinstance(spec, dict):
            spec = dict(spec)
            nm = spec.pop("name", name)
            unknown = set(spec) - {"dose", "interval", "duration", "cmt", "horizon", "records", "window"}
            if unknown:
                raise NlmeError(f"regimen {nm!r}: unknown fields {sorted(unknown)} (dose, interval, duration, cmt, "
                                "horizon, records, window)")
            if spec.get("records") and "dose" not in spec:
                spec["dose"] = float(spec["records"][0].get("AMT", 0.0))
            if spec.get("window") is not None:
                spec["window"] = tuple(spec["window"])
            if "dose" not in spec:
                raise NlmeError(f"regimen {nm!r} has no dose")
            return cls(name=str(nm if nm is not None else f"{spec['dose']:g}"), **spec)
        raise NlmeError(f"a regimen is a Regimen or a dict with dose/interval/..., not {type(spec).__name__}")


def regimens_of(regimens) -> list[Regimen]:
    """Named regimens from a dict ``{name: spec}`` or a list of ``Regimen``/dicts; names unique."""
    if isinstance(regimens, (Regimen, dict)) and not (isinstance(regimens, dict) and "dose" not in regimens):
        regimens = [regimens]
    out = ([Regimen.of(v, str(k)) for k, v in regimens.items()] if isinstance(regimens, dict)
           else [Regimen.of(v) for v in regimens])
    if not out:
        raise NlmeError("no regimens given")
    names = [r.name for r in out]
    if len(set(names)) != len(names):
        raise NlmeError(f"regimen names repeat: {names}")
    return out


@dataclass(frozen=True)
class Target:
    """An exposure window: ``low <= metric <= high`` (either end None: open); ``at``: the
    concentration threshold of ``time_above`` or the time of ``conc``."""

    metric: str
    low: float | None = None
    high: float | None = None
    at: float | None = None

    def __post_init__(self):
        if self.metric not in METRICS and not is_variable_metric(self.metric):
            raise NlmeError(f"target metric {self.metric!r}: one of {', '.join(METRICS)}, or a model variable at "
                            "a time, 'name@time' (virtual_trial's variables=)")
        if self.low is None and self.high is None:
            raise NlmeError(f"target on {self.metric}: give low, high or both")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise NlmeError(f"target on {self.metric}: low {self.low} must be below high {self.high}")
        if self.metric in ("time_above", "conc") and self.at is None:
            raise NlmeError(f"target on {self.metric} needs at= (the threshold of time_above, the time of conc)")

    def attained(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        ok = np.isfinite(x)
        if self.low is not None:
            ok &= x >= self.low
        if self.high is not None:
            ok &= x <= self.high
        return ok

    @property
    def center(self) -> float:
        """The value a dose search aims at: the geometric middle of a closed window."""
        if self.low is not None and self.high is not None:
            return float(np.sqrt(self.low * self.high)) if self.low > 0 else 0.5 * (self.low + self.high)
        return float(self.low * 1.25 if self.low is not None else self.high * 0.8)

    def describe(self) -> str:
        at = f" (at {self.at:g})" if self.at is not None else ""
        if self.low is not None and self.high is not None:
            return f"{self.low:g} <= {self.metric}{at} <= {self.high:g}"
        return f"{self.metric}{at} >= {self.low:g}" if self.low is not None else f"{self.metric}{at} <= {self.high:g}"

    @classmethod
    def of(cls, spec) -> "Target":
        if isinstance(spec, Target):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        raise NlmeError(f"a target is a Target or a dict (metric, low, high, at), not {type(spec).__name__}")


def regimen_records(regimen: Regimen, times: np.ndarray, covariates: pd.DataFrame, obs_cmt: int = 1,
                    doses: np.ndarray | None = None) -> pd.DataFrame:
    """One subject per row of ``covariates`` (IDs 1..n): the regimen's dose (``doses``: one per
    subject instead; steady state when it repeats) at time 0, then MDV=1 prediction records at
    ``times``."""
    n, m = len(covariates), len(times)
    if regimen.records:
        return _record_rows(regimen, times, covariates, obs_cmt)
    ss = 1 if regimen.interval is not None else 0
    amount = np.repeat(np.full(n, regimen.dose) if doses is None else np.asarray(doses, dtype=float), m + 1)
    rate = amount / regimen.duration if regimen.duration > 0 else 0.0
    ids = np.repeat(np.arange(1, n + 1), m + 1)
    k = np.tile(np.arange(m + 1), n)
    dose = k == 0
    frame = pd.DataFrame({
        "ID": ids, "TIME": np.where(dose, 0.0, np.tile(np.r_[0.0, times], n)),
        "DV": 0.0, "AMT": np.where(dose, amount, 0.0), "RATE": np.where(dose, rate, 0.0),
        "II": np.where(dose, regimen.interval or 0.0, 0.0), "SS": np.where(dose, ss, 0),
        "EVID": np.where(dose, 1, 0), "MDV": 1, "CMT": np.where(dose, regimen.cmt, obs_cmt),
    })
    for col in covariates.columns:
        frame[col] = np.repeat(np.asarray(covariates[col]), m + 1)
    return frame


def _record_rows(regimen: Regimen, times: np.ndarray, covariates: pd.DataFrame, obs_cmt: int) -> pd.DataFrame:
    """The dose records of ``regimen`` then MDV=1 records at ``times`` for every subject, in time
    order (a dose before an observation at the same time)."""
    n, m = len(covariates), len(times)
    recs = regimen.records
    one = pd.DataFrame({
        "TIME": np.r_[[float(r["TIME"]) for r in recs], times], "DV": 0.0,
        "AMT": np.r_[[float(r["AMT"]) for r in recs], np.zeros(m)],
        "RATE": np.r_[[float(r.get("RATE", 0.0)) for r in recs], np.zeros(m)],
        "II": np.r_[[float(r.get("II", 0.0)) for r in recs], np.zeros(m)],
        "ADDL": np.r_[[int(r.get("ADDL", 0)) for r in recs], np.zeros(m, dtype=int)],
        "EVID": np.r_[np.ones(len(recs), dtype=int), np.zeros(m, dtype=int)], "MDV": 1,
        "CMT": np.r_[[int(r.get("CMT", regimen.cmt)) for r in recs], np.full(m, obs_cmt)],
    })
    one = one.iloc[np.lexsort((1 - one["EVID"].to_numpy(), one["TIME"].to_numpy()))].reset_index(drop=True)
    obs_rows = np.flatnonzero(one["EVID"].to_numpy() == 0)
    k = len(one)
    frame = pd.DataFrame({c: np.tile(one[c].to_numpy(), n) for c in one.columns})
    frame.insert(0, "ID", np.repeat(np.arange(1, n + 1), k))
    for col in covariates.columns:
        frame[col] = np.repeat(np.asarray(covariates[col]), k)
    frame.attrs["obs_rows"] = obs_rows  # where the grid's predictions are in each subject's block
    return frame


def mvn_draws(rng: np.random.Generator, mean, cov, n: int) -> np.ndarray:
    """``n`` normal draws (rows) of mean ``mean`` and covariance ``cov`` (symmetrised; a
    semi-definite ``cov`` is fine: its square root is taken through its eigenvalues)."""
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    mean = np.broadcast_to(np.asarray(mean, dtype=float), (cov.shape[0],))
    w, V = np.linalg.eigh(0.5 * (cov + cov.T))
    L = V * np.sqrt(np.clip(w, 0.0, None))
    return mean[None, :] + rng.standard_normal((n, cov.shape[0])) @ L.T
