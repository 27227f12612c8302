"""Goodness-of-fit scatter plots and QQ plots from a ``ResidualTable``.

Sources (``name``), per figure, prefixed by the figure's key (``dv_pred``, ``dv_ipred``,
``cwres_time``, ``cwres_pred``, ``iwres_ipred``, ``qq_cwres``, ``qq_npde``):

* ``<key>_points``: ID, TIME, X, Y (the plotted record values);
* ``<key>_smooth``: x, y of the loess (or moving-average) smoother from ``diagnostics.smooth``;
* ``<key>_reference``: x, y of the identity or zero line (QQ: the identity line).

A model with several endpoints gets every figure once per endpoint, each with its own axes,
scale and smoother (mg/L and % never share a plot), and the key becomes ``<key>_<endpoint>``
(``dv_pred_cp_points``); ``endpoint=`` draws one of them under the plain key.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.diagnostics import gof
from nlme_lab.diagnostics.smooth import loess, moving_average
from nlme_lab.plots.common import (IDENTITY, LINE, POINT, endpoint_parts, figure, flow, hover, keyed, positive, source,
                                   titled)

WIDTH, HEIGHT = 360, 320


def _smooth(x, y, smoother):
    if smoother in (None, False, "none"):
        return None
    return moving_average(x, y) if smoother == "moving_average" else loess(x, y)


def _per_endpoint(table, endpoint, draw):
    """``draw(part)`` for each endpoint part: one figure, or a wrapping row of them."""
    parts = endpoint_parts(table.records, endpoint, table.endpoint_names)
    figs = [draw(part) for part in parts]
    return figs[0] if len(figs) == 1 else flow(figs)


def _axis(col: str, part) -> str:
    """DV-scale columns name their endpoint (each endpoint has its own units)."""
    return f"{col} ({part.name})" if part.name is not None and col in ("DV", "PRED", "IPRED") else col


# key -> (x column, y column, title, reference line, on a log scale when asked)
SCATTERS = {
    "dv_pred": ("PRED", "DV", "DV vs PRED", "identity", True),
    "dv_ipred": ("IPRED", "DV", "DV vs IPRED", "identity", True),
    "cwres_time": ("TIME", "CWRES", "CWRES vs TIME", "zero", False),
    "cwres_pred": ("PRED", "CWRES", "CWRES vs PRED", "zero", False),
    "iwres_ipred": ("IPRED", "IWRES", "IWRES vs IPRED", "zero", False),
}


def _scatter(part, key, *, log=False, smoother="loess", censored=False):
    xcol, ycol, title, reference, loggable = SCATTERS[key]
    log = log and loggable
    rec = part.records
    x, y = rec[xcol].to_numpy(float), rec[ycol].to_numpy(float)
    keep = np.isfinite(x) & np.isfinite(y)
    if not censored and "CENS" in rec:
        keep &= rec["CENS"].to_numpy() == 0
    if log:
        keep &= positive(x) & positive(y)
    key = keyed(key, part.suffix)
    fig = figure(titled(title, part.label), _axis(xcol, part), _axis(ycol, part), log=log, width=WIDTH,
                 height=HEIGHT)
    pts = source(f"{key}_points", {"ID": rec["ID"].to_numpy()[keep], "TIME": rec["TIME"].to_numpy(float)[keep],
                                   "X": x[keep], "Y": y[keep]})
    r = fig.scatter("X", "Y", source=pts, size=6, alpha=0.6, color=POINT)
    fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), (xcol, "X"), (ycol, "Y")]))
    ref = _reference(x[keep], y[keep], reference)
    fig.line("x", "y", source=source(f"{key}_reference", ref), color=IDENTITY, line_dash="dashed")
    s = _smooth(x[keep], y[keep], smoother)
    if s is not None:
        fig.line("x", "y", source=source(f"{key}_smooth", {"x": s.x, "y": s.y}), color=LINE, line_width=2)
    return fig


def _reference(x, y, kind):
    if x.size == 0:
        return {"x": np.array([]), "y": np.array([])}
    if kind == "identity":
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        return {"x": np.array([lo, hi]), "y": np.array([lo, hi])}
    return {"x": np.array([float(x.min()), float(x.max())]), "y": np.zeros(2)}


def dv_vs_pred(table, *, endpoint=None, log: bool = False, smoother="loess"):
    """DV against PRED with the identity line (sources ``dv_pred_*``)."""
    return _per_endpoint(table, endpoint, lambda part: _scatter(part, "dv_pred", log=log, smoother=smoother))


def dv_vs_ipred(table, *, endpoint=None, log: bool = False, smoother="loess"):
    """DV against IPRED (sources ``dv_ipred_*``)."""
    return _per_endpoint(table, endpoint, lambda part: _scatter(part, "dv_ipred", log=log, smoother=smoother))


def cwres_vs_time(table, *, endpoint=None, smoother="loess"):
    """CWRES against TIME with the zero line (sources ``cwres_time_*``)."""
    return _per_endpoint(table, endpoint, lambda part: _scatter(part, "cwres_time", smoother=smoother))


def cwres_vs_pred(table, *, endpoint=None, smoother="loess"):
    """CWRES against PRED (sources ``cwres_pred_*``)."""
    return _per_endpoint(table, endpoint, lambda part: _scatter(part, "cwres_pred", smoother=smoother))


def iwres_vs_ipred(table, *, endpoint=None, smoother="loess"):
    """IWRES against IPRED (sources ``iwres_ipred_*``)."""
    return _per_endpoint(table, endpoint, lambda part: _scatter(part, "iwres_ipred", smoother=smoother))


def qq_plot(table, column: str = "CWRES", *, endpoint=None):
    """Normal QQ plot of a residual column (sources ``qq_<column>_points`` with ID, TIME, X
    (theoretical quantile), Y (sorted value); ``qq_<column>_reference``: the identity line)."""
    return _per_endpoint(table, endpoint, lambda part: _qq(part, column))


def _qq(part, column: str):
    rec = part.records
    q = gof.qq_points(rec[column].to_numpy(float), rec["ID"].to_numpy(), rec["TIME"].to_numpy(float))
    key = keyed(f"qq_{column.lower()}", part.suffix)
    fig = figure(titled(f"QQ plot of {column}", part.label), "standard normal quantile", column, width=WIDTH,
                 height=HEIGHT)
    pts = source(f"{key}_points", {"ID": q.ids, "TIME": q.times, "X": q.theoretical, "Y": q.sample})
    r = fig.scatter("X", "Y", source=pts, size=6, alpha=0.6, color=POINT)
    fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), ("quantile", "X"), (column, "Y")]))
    ref = _reference(q.theoretical, q.theoretical, "identity")
    fig.line("x", "y", source=source(f"{key}_reference", ref), color=IDENTITY, line_dash="dashed")
    return fig


def gof_panel(table, *, log: bool = False):
    """The standard set: DV vs PRED/IPRED, CWRES vs TIME/PRED, IWRES vs IPRED, QQ of CWRES (and
    of NPDE when the table has them), in rows that wrap to the width of the page; with several
    endpoints one such set per endpoint, one under the other."""
    from bokeh.layouts import column

    sets = []
    for part in endpoint_parts(table.records, None, table.endpoint_names):
        figs = [_scatter(part, key, log=log) for key in SCATTERS] + [_qq(part, "CWRES")]
        if np.isfinite(part.records["NPDE"].to_numpy(float)).any():
            figs.append(_qq(part, "NPDE"))
        sets.append(flow(figs))
    return sets[0] if len(sets) == 1 else column(*sets, sizing_mode="stretch_width")
