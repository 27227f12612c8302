"""Figures of the Lab with named sources that the widgets update in place (no statistics here).

Sources (``<e>``: the endpoint's variable; with a one-endpoint model the ``_<e>`` is left out):

* ``lab_obs_lines_<e>`` (ID, TIME, DV, color): observations, one list per subject (spaghetti),
  and ``lab_obs_points_<e>`` (ID, TIME, DV): the same observations as points, drawn on top;
* ``lab_ipred_lines_<e>`` (ID, TIME, IPRED) and ``lab_pred_lines_<e>`` (ID, TIME, PRED): the
  current predictions at the observation times, one list per subject (the live overlay);
* ``lab_indiv_<ID>_<e>`` (TIME, DV, IPRED, PRED): one individual panel;
* ``lab_timeline_doses`` (TIME, AMT, LABEL), ``lab_timeline_infusions`` (START, END, AMT),
  ``lab_timeline_obs_<e>`` (TIME, DV): the event timeline of one subject, doses on an amount
  axis and each endpoint's observations on an axis of their own, all on one time axis;
* ``lab_trace`` (ITERATION, OFV and one column per parameter): the streamed fit trace.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import LINE, PALETTE, POINT, figure, flow, hover, keyed, legend_below, source


def spaghetti_sources(ids, times, dv, ipred, pred, suffix: str | None = None) -> dict:
    """The named sources of one endpoint's spaghetti plot; lists hold one array per subject
    (``suffix``: the endpoint, when the model has several)."""
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(ids))]
    ids = np.array([str(i) for i in ids], dtype=object)
    flat_ids = np.concatenate([np.full(len(t), i, dtype=object) for i, t in zip(ids, times)]) if len(ids) else ids
    return {
        "obs": source(keyed("lab_obs_lines", suffix), {"ID": ids, "TIME": list(times), "DV": list(dv),
                                                       "color": colors}),
        "points": source(keyed("lab_obs_points", suffix), {
            "ID": flat_ids, "TIME": np.concatenate(times) if len(times) else np.zeros(0),
            "DV": np.concatenate(dv) if len(dv) else np.zeros(0)}),
        "ipred": source(keyed("lab_ipred_lines", suffix), {"ID": ids, "TIME": list(times), "IPRED": list(ipred),
                                                           "color": colors}),
        "pred": source(keyed("lab_pred_lines", suffix), {"ID": ids, "TIME": list(times), "PRED": list(pred)}),
    }


def lab_spaghetti(sources: dict, *, label: str = "DV", log: bool = False, width: int = 560, height: int = 380):
    """One endpoint's observations by subject (points and thin lines, on top) with the current
    IPRED (thin, coloured) and PRED (dashed) under them, drawn from ``spaghetti_sources``."""
    title = "Observations by subject" + (f" · {label}" if label != "DV" else "")
    fig = figure(title, "TIME", label, y_axis_type="log" if log else "linear", x_axis_type="linear",
                 width=width, height=height)
    ri = fig.multi_line("TIME", "IPRED", source=sources["ipred"], color="color", alpha=0.45, line_width=1.5)
    rp = fig.multi_line("TIME", "PRED", source=sources["pred"], color="#333333", alpha=0.5, line_dash="dashed",
                        line_width=1)
    fig.multi_line("TIME", "DV", source=sources["obs"], color="color", alpha=0.35, line_width=0.8)
    ro = fig.scatter("TIME", "DV", source=sources["points"], size=4, color="#222222", alpha=0.75)
    fig.add_tools(hover([ro], [("ID", "ID"), ("TIME", "TIME"), ("DV", "DV")]))
    legend_below(fig, [("observed", [ro]), ("IPRED (one colour per subject)", [ri]), ("PRED", [rp])])
    return fig


def lab_individual(sid, time, dv, ipred, pred, *, endpoint: str | None = None, suffix: str | None = None,
                   width: int = 240, height: int = 220):
    """One subject's observations of one endpoint with IPRED (line) and PRED (dashed); source
    ``lab_indiv_<ID>`` (``_<suffix>`` appended with several endpoints)."""
    fig = figure(f"ID {sid}" + (f" · {endpoint}" if endpoint else ""), "TIME", endpoint or "DV", width=width,
                 height=height)
    src = source(keyed(f"lab_indiv_{sid}", suffix), {"TIME": time, "DV": dv, "IPRED": ipred, "PRED": pred})
    ro = fig.scatter("TIME", "DV", source=src, size=5, color=POINT)
    ri = fig.line("TIME", "IPRED", source=src, color=LINE, line_width=2)
    rp = fig.line("TIME", "PRED", source=src, color="#555555", line_dash="dashed")
    legend_below(fig, [("observed", [ro]), ("IPRED", [ri]), ("PRED", [rp])])
    return fig


def event_timeline(sid, doses: dict, infusions: dict, observations: dict, *, width: int = 560):
    """One subject's events on one time axis: doses as stems labelled with their amounts (SS
    doses marked "SS") and infusions as bars, on an amount axis; under them the observations
    of each endpoint (``observations``: endpoint -> {TIME, DV}; a one-endpoint model's key is
    None) on an axis of their own."""
    from bokeh.layouts import column
    from bokeh.models import DataRange1d, LabelSet

    # room above the tallest stem for its label: the amount axis reaches 1.4 x the largest dose
    top = figure(f"Events of ID {sid} (ADDL expanded)", "", "amount", width=width, height=180,
                 y_range=DataRange1d(start=0, range_padding=0.8), x_range=DataRange1d(range_padding=0.06))
    d = source("lab_timeline_doses", doses)
    top.segment("TIME", 0, "TIME", "AMT", source=d, color="#2ca02c", line_width=2)
    rd = top.scatter("TIME", "AMT", source=d, size=7, color="#2ca02c", marker="triangle")
    top.add_layout(LabelSet(x="TIME", y="AMT", text="LABEL", source=d, text_font_size="8pt", y_offset=6,
                            text_align="center"))
    inf = source("lab_timeline_infusions", infusions)
    top.quad(left="START", right="END", bottom=0, top="AMT", source=inf, color="#ff7f0e", alpha=0.4)
    top.add_tools(hover([rd], [("TIME", "TIME"), ("AMT", "AMT")]))
    figs = [top]
    for endpoint, obs in observations.items():
        fig = figure("", "", endpoint or "DV", width=width, height=150, x_range=top.x_range)
        o = source(keyed("lab_timeline_obs", endpoint if len(observations) > 1 else None), obs)
        r = fig.scatter("TIME", "DV", source=o, size=5, color=POINT)
        fig.add_tools(hover([r], [("TIME", "TIME"), ("DV", "DV")]))
        figs.append(fig)
    figs[-1].xaxis.axis_label = "TIME"
    return column(*figs)


def fit_trace(names, *, width: int = 300, height: int = 200):
    """Empty OFV and parameter traces over iterations (source ``lab_trace``), filled by streaming,
    in a row that wraps to the page."""
    src = source("lab_trace", {c: np.zeros(0) for c in ["ITERATION", "OFV", *names]})
    figs = []
    for col in ["OFV", *names]:
        fig = figure(col, "iteration", col, width=width, height=height)
        fig.line("ITERATION", col, source=src, color=LINE, line_width=2)
        fig.scatter("ITERATION", col, source=src, size=4, color=LINE, name="lab_trace_markers")
        figs.append(fig)
    figs[0].name = "lab_trace_objective"  # retitled when a method streams another objective (SAEM)
    layout = flow(figs)
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
