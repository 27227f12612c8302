"""Figures of a design: the predicted curve with its sampling times (draggable), and the
expected RSE% of every parameter as bars. Named sources so a browser test can read them:
``design-curve``, ``design-times``, ``design-rse``."""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import LINE, POINT, figure, source

__all__ = ["design_curve_figure", "rse_figure", "rse_data"]


def design_curve_figure(t, y, times, y_at, *, title="Typical prediction and sampling times", y_label="prediction",
                        width=470, height=300):
    """(figure, curve source, times source, dragged source): the curve ``(t, y)`` and markers at
    ``times`` (``y_at`` their predictions) that the pointer can drag along time (bokeh's
    PointDrawTool). A drag edits the markers' arrays in place, which the kernel does not hear
    of; at its end a JS callback copies the times into ``design-dragged`` (a new object, so the
    change reaches the kernel): watch that source."""
    from bokeh.models import CustomJS, PointDrawTool

    fig = figure(title, "time", y_label, width=width, height=height)
    curve = source("design-curve", {"t": np.asarray(t, float), "y": np.asarray(y, float)})
    marks = source("design-times", {"t": np.asarray(times, float), "y": np.asarray(y_at, float)})
    fig.line("t", "y", source=curve, color=LINE, line_width=2)
    fig.segment(x0="t", y0=0, x1="t", y1="y", source=marks, color=POINT, line_dash="dotted")
    points = fig.scatter("t", "y", source=marks, size=12, color=POINT, line_color="black")
    tool = PointDrawTool(renderers=[points], add=False, drag=True)
    fig.add_tools(tool)
    fig.toolbar.active_tap = tool
    fig.toolbar.active_drag = tool
    fig.toolbar.autohide = False
    dragged = source("design-dragged", {"t": np.asarray(times, float)})
    marks.js_on_change("data", CustomJS(args={"src": marks, "out": dragged},
                                        code="out.data = {t: Array.from(src.data.t)};"))
    return fig, curve, marks, dragged


def rse_data(names, rse) -> dict:
    rse = np.asarray(rse, dtype=float)
    shown = np.where(np.isfinite(rse), rse, 0.0)
    label = [f"{v:.1f} %" if np.isfinite(v) else "not identifiable" for v in rse]
    color = ["#1f77b4" if np.isfinite(v) and v <= 30 else ("#ff7f0e" if np.isfinite(v) and v <= 50 else "#d62728")
             for v in rse]
    return {"name": list(names), "rse": shown, "label": label, "color": color}


def rse_figure(names, rse, *, width=360, height=300):
    """(figure, source): horizontal bars of the expected RSE% per parameter (orange above 30 %,
    red above 50 % or not identifiable)."""
    from bokeh.models import LabelSet, Range1d

    names = list(names)
    src = source("design-rse", rse_data(names, rse))
    fig = figure("Expected RSE (%)", "RSE %", "", width=width, height=height, y_range=list(reversed(names)),
                 y_axis_type="auto")
    fig.hbar(y="name", right="rse", height=0.7, source=src, color="color")
    fig.add_layout(LabelSet(x="rse", y="name", text="label", source=src, x_offset=4, y_offset=-6,
                            text_font_size="8pt"))
    top = float(np.nanmax(np.r_[np.asarray(rse, float)[np.isfinite(np.asarray(rse, float))], 10.0]))
    fig.x_range = Range1d(0, max(top * 1.35, 10.0))
    return fig, src
