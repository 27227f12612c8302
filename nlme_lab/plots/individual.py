"""Individual fits (observations, IPRED and PRED curves per subject, paged) and the spaghetti
plot of the observations.

Sources: ``indiv_<ID>_obs`` (ID, TIME, DV, IPRED, PRED at the observations),
``indiv_<ID>_curve`` (TIME, IPRED, PRED: the fine-grid curves of
``diagnostics.curves.prediction_curves`` when given, else the values at the observation times),
``spaghetti_lines`` (ID, TIME, DV: one list per subject).

A model with several endpoints gets a panel (and a spaghetti plot) per endpoint, each with its
own axes and scale; the names then end in the endpoint: ``indiv_<ID>_<endpoint>_obs``,
``spaghetti_lines_<endpoint>``. ``endpoint=`` draws one endpoint under the plain names.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import (LINE, PALETTE, POINT, endpoint_parts, figure, flow, hover, keyed, legend_below,
                                   source, titled)

PANEL_WIDTH, PANEL_HEIGHT = 260, 250


def individual_fits(table, curves=None, *, page: int = 0, per_page: int = 12, endpoint=None, log: bool = False):
    """Page ``page`` (0-based) of the individual fit panels, ``per_page`` subjects per page, one
    panel per subject and endpoint (``endpoint``: only that one), in rows that wrap to the page."""
    parts = endpoint_parts(table.records, endpoint, table.endpoint_names)
    ids = list(dict.fromkeys(table.records["ID"].tolist()))
    if endpoint is not None:
        ids = list(dict.fromkeys(parts[0].records["ID"].tolist()))
    n_pages = max(1, -(-len(ids) // per_page))
    if not 0 <= page < n_pages:
        raise IndexError(f"page {page} out of range: {len(ids)} subjects make {n_pages} page(s) of {per_page}")
    figs = []
    for sid in ids[page * per_page:(page + 1) * per_page]:
        for part in parts:
            sub = part.records[part.records["ID"] == sid]
            if len(sub):
                figs.append(_panel(sub, curves, sid, part, log))
    return flow(figs)


def _panel(sub, curves, sid, part, log):
    label = part.name if part.name is not None else "DV"
    fig = figure(f"ID {sid}" + (f" · {part.label}" if part.label else ""), "TIME", label, log=False,
                 y_axis_type="log" if log else "linear", width=PANEL_WIDTH, height=PANEL_HEIGHT)
    if curves is not None:
        c = curves[curves["ID"] == sid]
        c = c[c["ENDPOINT"] == (part.name if part.name is not None else sub["ENDPOINT"].iloc[0])]
        line = {"TIME": c["TIME"].to_numpy(float), "IPRED": c["IPRED"].to_numpy(float),
                "PRED": c["PRED"].to_numpy(float)}
    else:
        line = {"TIME": sub["TIME"].to_numpy(float), "IPRED": sub["IPRED"].to_numpy(float),
                "PRED": sub["PRED"].to_numpy(float)}
    key = keyed(f"indiv_{sid}", part.suffix)
    cs = source(f"{key}_curve", line)
    ri = fig.line("TIME", "IPRED", source=cs, color=LINE, line_width=2)
    rp = fig.line("TIME", "PRED", source=cs, color="#555555", line_dash="dashed")
    obs = source(f"{key}_obs", {"ID": sub["ID"].to_numpy(), "TIME": sub["TIME"].to_numpy(float),
                                "DV": sub["DV"].to_numpy(float), "IPRED": sub["IPRED"].to_numpy(float),
                                "PRED": sub["PRED"].to_numpy(float)})
    r = fig.scatter("TIME", "DV", source=obs, size=6, color=POINT)
    fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), ("DV", "DV"), ("IPRED", "IPRED"), ("PRED", "PRED")]))
    legend_below(fig, [("observed", [r]), ("IPRED", [ri]), ("PRED", [rp])])
    return fig


def spaghetti(table, *, endpoint=None, log: bool = False):
    """DV against TIME, one line per subject (source ``spaghetti_lines``); a plot per endpoint."""
    figs = [_spaghetti(part, log) for part in endpoint_parts(table.records, endpoint, table.endpoint_names)]
    return figs[0] if len(figs) == 1 else flow(figs)


def _spaghetti(part, log):
    rec = part.records
    ids = list(dict.fromkeys(rec["ID"].tolist()))
    xs, ys = [], []
    for sid in ids:
        sub = rec[rec["ID"] == sid]
        xs.append(sub["TIME"].to_numpy(float))
        ys.append(sub["DV"].to_numpy(float))
    fig = figure(titled("Observations by subject", part.label), "TIME", part.name or "DV",
                 y_axis_type="log" if log else "linear", x_axis_type="linear", width=560, height=380)
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(ids))]
    src = source(keyed("spaghetti_lines", part.suffix),
                 {"ID": np.array(ids, dtype=object), "TIME": xs, "DV": ys, "color": colors})
    r = fig.multi_line("TIME", "DV", source=src, color="color", alpha=0.7, line_width=1.5)
    fig.add_tools(hover([r], [("ID", "ID")]))
    return fig
