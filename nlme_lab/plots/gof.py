"""Goodness-of-fit scatter plots and QQ plots from a ``ResidualTable``.

Sources (``name``), per figure, prefixed by the figure's key (``dv_pred``, ``dv_ipred``,
``cwres_time``, ``cwres_pred``, ``iwres_ipred``, ``qq_cwres``, ``qq_npde``):

* ``<key>_points``: ID, TIME, X, Y (the plotted record values);
* ``<key>_smooth``: x, y of the loess (or moving-average) smoother from ``diagnostics.smooth``;
* ``<key>_reference``: x, y of the identity or zero line (QQ: the identity line).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.diagnostics import gof
from nlme_lab.diagnostics.smooth import loess, moving_average
from nlme_lab.plots.common import IDENTITY, LINE, POINT, figure, hover, positive, source


def _smooth(x, y, smoother):
    if smoother in (None, False, "none"):
        return None
    return moving_average(x, y) if smoother == "moving_average" else loess(x, y)


def _scatter(table, key, xcol, ycol, title, reference, *, log=False, smoother="loess", censored=False):
    rec = table.records
    x, y = rec[xcol].to_numpy(float), rec[ycol].to_numpy(float)
    keep = np.isfinite(x) & np.isfinite(y)
    if not censored and "CENS" in rec:
        keep &= rec["CENS"].to_numpy() == 0
    if log:
        keep &= positive(x) & positive(y)
    fig = figure(title, xcol, ycol, log=log)
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


def dv_vs_pred(table, *, log: bool = False, smoother="loess"):
    """DV against PRED with the identity line and a smoother (sources ``dv_pred_*``)."""
    return _scatter(table, "dv_pred", "PRED", "DV", "DV vs PRED", "identity", log=log, smoother=smoother)


def dv_vs_ipred(table, *, log: bool = False, smoother="loess"):
    """DV against IPRED (sources ``dv_ipred_*``)."""
    return _scatter(table, "dv_ipred", "IPRED", "DV", "DV vs IPRED", "identity", log=log, smoother=smoother)


def cwres_vs_time(table, *, smoother="loess"):
    """CWRES against TIME with the zero line (sources ``cwres_time_*``)."""
    return _scatter(table, "cwres_time", "TIME", "CWRES", "CWRES vs TIME", "zero", smoother=smoother)


def cwres_vs_pred(table, *, smoother="loess"):
    """CWRES against PRED (sources ``cwres_pred_*``)."""
    return _scatter(table, "cwres_pred", "PRED", "CWRES", "CWRES vs PRED", "zero", smoother=smoother)


def iwres_vs_ipred(table, *, smoother="loess"):
    """IWRES against IPRED (sources ``iwres_ipred_*``)."""
    return _scatter(table, "iwres_ipred", "IPRED", "IWRES", "IWRES vs IPRED", "zero", smoother=smoother)


def qq_plot(table, column: str = "CWRES"):
    """Normal QQ plot of a residual column (sources ``qq_<column>_points`` with ID, TIME, X
    (theoretical quantile), Y (sorted value); ``qq_<column>_reference``: the identity line)."""
    rec = table.records
    q = gof.qq_points(rec[column].to_numpy(float), rec["ID"].to_numpy(), rec["TIME"].to_numpy(float))
    key = f"qq_{column.lower()}"
    fig = figure(f"QQ plot of {column}", "standard normal quantile", column)
    pts = source(f"{key}_points", {"ID": q.ids, "TIME": q.times, "X": q.theoretical, "Y": q.sample})
    r = fig.scatter("X", "Y", source=pts, size=6, alpha=0.6, color=POINT)
    fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), ("quantile", "X"), (column, "Y")]))
    ref = _reference(q.theoretical, q.theoretical, "identity")
    fig.line("x", "y", source=source(f"{key}_reference", ref), color=IDENTITY, line_dash="dashed")
    return fig


def gof_panel(table, *, log: bool = False, ncols: int = 3):
    """The standard set in a grid: DV vs PRED/IPRED, CWRES vs TIME/PRED, IWRES vs IPRED, QQ of
    CWRES (and of NPDE when the table has them)."""
    from bokeh.layouts import gridplot

    figs = [dv_vs_pred(table, log=log), dv_vs_ipred(table, log=log), cwres_vs_time(table), cwres_vs_pred(table),
            iwres_vs_ipred(table), qq_plot(table, "CWRES")]
    if np.isfinite(table.records["NPDE"].to_numpy(float)).any():
        figs.append(qq_plot(table, "NPDE"))
    return gridplot(figs, ncols=ncols)
