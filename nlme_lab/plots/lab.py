"""Figures of the Lab with named sources that the widgets update in place (no statistics here).

Sources:

* ``lab_obs_lines`` (ID, TIME, DV, color): observations, one list per subject (spaghetti);
* ``lab_ipred_lines`` (ID, TIME, IPRED) and ``lab_pred_lines`` (ID, TIME, PRED): the current
  predictions at the observation times, one list per subject (the live overlay);
* ``lab_indiv_<ID>`` (TIME, DV, IPRED, PRED): one individual panel;
* ``lab_timeline_doses`` (TIME, AMT, LABEL), ``lab_timeline_infusions`` (START, END, AMT),
  ``lab_timeline_obs`` (TIME, DV): the event timeline of one subject;
* ``lab_trace`` (ITERATION, OFV and one column per parameter): the streamed fit trace.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import LINE, PALETTE, POINT, figure, hover, source


def spaghetti_sources(ids, times, dv, ipred, pred) -> dict:
    """The three named sources of the spaghetti plot; lists hold one array per subject."""
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(ids))]
    ids = np.array([str(i) for i in ids], dtype=object)
    return {
        "obs": source("lab_obs_lines", {"ID": ids, "TIME": list(times), "DV": list(dv), "color": colors}),
        "ipred": source("lab_ipred_lines", {"ID": ids, "TIME": list(times), "IPRED": list(ipred), "color": colors}),
        "pred": source("lab_pred_lines", {"ID": ids, "TIME": list(times), "PRED": list(pred)}),
    }


def lab_spaghetti(sources: dict, *, log: bool = False, width: int = 620, height: int = 360):
    """Observations by subject with the PRED/IPRED overlay, drawn from ``spaghetti_sources``."""
    fig = figure("Observations by subject (thick: IPRED, dashed: PRED)", "TIME", "DV",
                 y_axis_type="log" if log else "linear", x_axis_type="linear", width=width, height=height)
    fig.multi_line("TIME", "DV", source=sources["obs"], color="color", alpha=0.35, line_width=1)
    r = fig.multi_line("TIME", "IPRED", source=sources["ipred"], color="color", alpha=0.9, line_width=2)
    fig.multi_line("TIME", "PRED", source=sources["pred"], color="#333333", alpha=0.6, line_dash="dashed",
                   line_width=1)
    fig.add_tools(hover([r], [("ID", "ID")]))
    return fig


def lab_individual(sid, time, dv, ipred, pred, *, width: int = 240, height: int = 200):
    """One subject's observations with IPRED (line) and PRED (dashed); source ``lab_indiv_<ID>``."""
    fig = figure(f"ID {sid}", "TIME", "DV", width=width, height=height)
    src = source(f"lab_indiv_{sid}", {"TIME": time, "DV": dv, "IPRED": ipred, "PRED": pred})
    fig.scatter("TIME", "DV", source=src, size=5, color=POINT)
    fig.line("TIME", "IPRED", source=src, color=LINE, line_width=2)
    fig.line("TIME", "PRED", source=src, color="#555555", line_dash="dashed")
    return fig


def event_timeline(sid, doses: dict, infusions: dict, observations: dict, *, width: int = 620, height: int = 220):
    """One subject's events: doses as stems labelled with amounts (SS doses marked "SS"),
    infusions as bars from start to end, observations as points."""
    from bokeh.models import LabelSet

    fig = figure(f"Events of ID {sid} (ADDL expanded)", "TIME", "amount / DV", width=width, height=height)
    d = source("lab_timeline_doses", doses)
    fig.segment("TIME", 0, "TIME", "AMT", source=d, color="#2ca02c", line_width=2)
    rd = fig.scatter("TIME", "AMT", source=d, size=7, color="#2ca02c", marker="triangle")
    fig.add_layout(LabelSet(x="TIME", y="AMT", text="LABEL", source=d, text_font_size="8pt", y_offset=4))
    inf = source("lab_timeline_infusions", infusions)
    fig.quad(left="START", right="END", bottom=0, top="AMT", source=inf, color="#ff7f0e", alpha=0.4)
    o = source("lab_timeline_obs", observations)
    fig.scatter("TIME", "DV", source=o, size=5, color=POINT)
    fig.add_tools(hover([rd], [("TIME", "TIME"), ("AMT", "AMT")]))
    return fig


def fit_trace(names, *, width: int = 300, height: int = 200, ncols: int = 3):
    """Empty OFV and parameter traces over iterations (source ``lab_trace``), filled by streaming."""
    from bokeh.layouts import gridplot

    src = source("lab_trace", {c: np.zeros(0) for c in ["ITERATION", "OFV", *names]})
    figs = []
    for col in ["OFV", *names]:
        fig = figure(col, "iteration", col, width=width, height=height)
        fig.line("ITERATION", col, source=src, color=LINE, line_width=2)
        fig.scatter("ITERATION", col, source=src, size=4, color=LINE, name="lab_trace_markers")
        figs.append(fig)
    figs[0].name = "lab_trace_objective"  # retitled when a method streams another objective (SAEM)
    layout = gridplot(figs, ncols=ncols)
    # Nothing of the trace needs to go back to the kernel, whose main thread must stay free for
    # the Stop click: auto-ranging moves every figure's ranges on each streamed flush.
    for model in layout.references():
        model.syncable = False
    return layout, src


def show_trace_markers(layout, visible: bool) -> None:
    """Markers on or off in a ``fit_trace`` layout (a long trace's markers are most of its drawing)."""
    for renderer in layout.select({"name": "lab_trace_markers"}):
        renderer.visible = visible


def label_objective_trace(layout, label: str) -> None:
    """Title and y-axis of the objective trace in a ``fit_trace`` layout."""
    for fig in layout.select({"name": "lab_trace_objective"}):
        fig.title.text = label
        fig.yaxis.axis_label = label
