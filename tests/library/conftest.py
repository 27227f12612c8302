"""Helpers of the library tests: datasets of a few doses and observation times, the engine's
predictions of a template, and an independent ``scipy.integrate.solve_ivp`` integration of the
same system written out by hand (the twin every template is checked against)."""

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp


@dataclass(frozen=True)
class Dose:
    time: float
    amount: float
    cmt: int = 1  # 1-based, as in the data
    rate: float = 0.0  # > 0: infusion at this rate; -2: the model's duration (``duration`` given to the twin)
    duration: float | None = None  # the twin's infusion duration for rate -2


def design(doses, times, subjects=1, **columns) -> pd.DataFrame:
    """A NONMEM frame: each subject gets ``doses`` and observations at ``times`` (DV 0,
    predictions only matter), dose rows before observations at the same time."""
    rows = []
    for sid in range(1, subjects + 1):
        events = [(d.time, 0, d) for d in doses] + [(float(t), 1, None) for t in times]
        for t, kind, dose in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == 0:
                rows.append({"ID": sid, "TIME": t, "DV": 0.0, "AMT": dose.amount, "EVID": 1, "MDV": 1,
                             "CMT": dose.cmt, "RATE": dose.rate})
            else:
                rows.append({"ID": sid, "TIME": t, "DV": 0.0, "AMT": 0.0, "EVID": 0, "MDV": 0, "CMT": 1,
                             "RATE": 0.0})
    frame = pd.DataFrame(rows)
    for name, value in columns.items():
        frame[name] = value
    return frame


def engine(model, frame, etas=None, params=None) -> np.ndarray:
    """The engine's prediction of the first endpoint on every observation record (n_obs,), at the
    model's [ini] values (``params`` replace some) and per-subject ``etas`` (default 0)."""
    import nlme_lab as nl
    from nlme_lab.estimation.evaluation import prepare

    data = nl.read_nonmem(frame)
    ev = prepare(model, data)
    values = ev.values(params)
    etas = ev.zero_etas() if etas is None else np.atleast_2d(np.asarray(etas, dtype=float))
    return ev.record_predictions(values, etas).ipred[data.observed, 0]


def integrate(rhs, y0, doses, times, *, method="LSODA", rtol=1e-11, atol=1e-13) -> np.ndarray:
    """States at ``times`` of ``dy/dt = rhs(t, y) + inputs``: boluses added at their times
    (before an observation at the same time), infusions as constant inputs over their windows.
    ``rhs`` takes (t, y); returns (len(times), n_state)."""
    y = np.asarray(y0, dtype=float).copy()
    infusions = [(d.time, d.time + _duration(d), d.amount / _duration(d), d.cmt - 1)
                 for d in doses if d.rate != 0]
    edges = sorted({0.0, *(d.time for d in doses), *(end for _, end, _, _ in infusions), float(max(times))})
    out = np.full((len(times), y.size), np.nan)
    times = np.asarray(times, dtype=float)
    for a, b in itertools.pairwise(edges):
        for d in doses:
            if d.rate == 0 and d.time == a:
                y[d.cmt - 1] += d.amount
        u = np.zeros_like(y)
        for start, end, rate, k in infusions:
            if start <= a < end:
                u[k] += rate
        sol = solve_ivp(lambda t, s, u=u: rhs(t, s) + u, (a, b), y, method=method, rtol=rtol, atol=atol,
                        dense_output=True)
        assert sol.success, sol.message
        inside = (times >= a) & (times < b)
        if inside.any():
            out[inside] = sol.sol(times[inside]).T
        y = sol.y[:, -1]
    last = times == edges[-1]
    for d in doses:
        if d.rate == 0 and d.time == edges[-1]:
            y[d.cmt - 1] += d.amount
    out[last] = y
    return out


def _duration(d: Dose) -> float:
    return d.duration if d.rate < 0 else d.amount / d.rate


def relative(a, b) -> float:
    """The largest relative difference of two arrays (relative to the largest |b|)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
