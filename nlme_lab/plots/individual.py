"""Individual fits (observations, IPRED and PRED curves per subject, paged) and the spaghetti
plot of the observations.

Sources: ``indiv_<ID>_obs`` (ID, TIME, DV, IPRED, PRED at the observations),
``indiv_<ID>_curve`` (TIME, IPRED, PRED: the fine-grid curves of
``diagnostics.curves.prediction_curves`` when given, else the values at the observation times),
``spaghetti_lines`` (ID, TIME, DV: one list per subject).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import LINE, PALETTE, POINT, figure, hover, source


def individual_fits(table, curves=None, *, page: int = 0, per_page: int = 12, ncols: int = 4, endpoint=None,
                    log: bool = False):
    """Page ``page`` (0-based) of the individual fit panels, ``per_page`` subjects per page, for
    ``endpoint`` (default: the first endpoint of a model with several)."""
    from bokeh.layouts import gridplot

    rec, endpoint = _endpoint_records(table, endpoint)
    ids = list(dict.fromkeys(rec["ID"].tolist()))
    n_pages = max(1, -(-len(ids) // per_page))
    if not 0 <= page < n_pages:
        raise IndexError(f"page {page} out of range: {len(ids)} subjects make {n_pages} page(s) of {per_page}")
    figs = [_panel(rec, curves, sid, endpoint, log) for sid in ids[page * per_page:(page + 1) * per_page]]
    return gridplot(figs, ncols=ncols)


def _endpoint_records(table, endpoint):
    """The records of one endpoint: ``endpoint``, or the first when the model has several."""
    rec = table.records
    names = list(dict.fromkeys(rec["ENDPOINT"].tolist()))
    if endpoint is None and len(names) > 1:
        endpoint = names[0]
    if endpoint is not None:
        if endpoint not in names:
            raise KeyError(f"no endpoint {endpoint!r}; the table has {', '.join(map(str, names))}")
        rec = rec[rec["ENDPOINT"] == endpoint]
    return rec, endpoint


def _panel(rec, curves, sid, endpoint, log):
    sub = rec[rec["ID"] == sid]
    fig = figure(f"ID {sid}", "TIME", "DV", log=False, y_axis_type="log" if log else "linear", width=260, height=220)
    if curves is not None:
        c = curves[curves["ID"] == sid]
        c = c[c["ENDPOINT"] == (endpoint if endpoint is not None else sub["ENDPOINT"].iloc[0])]
        line = {"TIME": c["TIME"].to_numpy(float), "IPRED": c["IPRED"].to_numpy(float),
                "PRED": c["PRED"].to_numpy(float)}
    else:
        line = {"TIME": sub["TIME"].to_numpy(float), "IPRED": sub["IPRED"].to_numpy(float),
                "PRED": sub["PRED"].to_numpy(float)}
    cs = source(f"indiv_{sid}_curve", line)
    fig.line("TIME", "IPRED", source=cs, color=LINE, line_width=2, legend_label="IPRED")
    fig.line("TIME", "PRED", source=cs, color="#555555", line_dash="dashed", legend_label="PRED")
    obs = source(f"indiv_{sid}_obs", {"ID": sub["ID"].to_numpy(), "TIME": sub["TIME"].to_numpy(float),
                                      "DV": sub["DV"].to_numpy(float), "IPRED": sub["IPRED"].to_numpy(float),
                                      "PRED": sub["PRED"].to_numpy(float)})
    r = fig.scatter("TIME", "DV", source=obs, size=6, color=POINT)
    fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), ("DV", "DV"), ("IPRED", "IPRED"), ("PRED", "PRED")]))
    fig.legend.label_text_font_size = "8pt"
    fig.legend.location = "top_right"
    return fig


def spaghetti(table, *, endpoint=None, log: bool = False):
    """DV against TIME, one line per subject (source ``spaghetti_lines``)."""
    rec, endpoint = _endpoint_records(table, endpoint)
    ids = list(dict.fromkeys(rec["ID"].tolist()))
    xs, ys = [], []
    for sid in ids:
        sub = rec[rec["ID"] == sid]
        xs.append(sub["TIME"].to_numpy(float))
        ys.append(sub["DV"].to_numpy(float))
    fig = figure("Observations by subject", "TIME", "DV", y_axis_type="log" if log else "linear",
                 x_axis_type="linear", width=600, height=400)
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(ids))]
    src = source("spaghetti_lines", {"ID": np.array(ids, dtype=object), "TIME": xs, "DV": ys, "color": colors})
    r = fig.multi_line("TIME", "DV", source=src, color="color", alpha=0.7, line_width=1.5)
    fig.add_tools(hover([r], [("ID", "ID")]))
    return fig
