"""EBE figures from a ``ResidualTable``: histograms per random effect and EBEs against
covariates, with the SD-based eta shrinkage in every title.

Sources: ``eta_hist_<eta>`` (left, right, count: the histogram bins), ``eta_cov_<eta>_<cov>_points``
(ID, X, Y) with, for a continuous covariate, ``eta_cov_<eta>_<cov>_smooth`` (x, y: loess), and
for a categorical one ``eta_cov_<eta>_<cov>_boxes`` (level, q1, median, q3, lower, upper, n).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.diagnostics import gof
from nlme_lab.diagnostics.smooth import loess
from nlme_lab.plots.common import LINE, POINT, figure, flow, hover, source

SHRINKAGE_WARNING = 30.0  # percent; above it EBE-covariate plots may hide a real relation


def shrinkage_title(table, eta: str) -> str:
    shrink = getattr(table.shrinkage, "eta_sd", {}) if table.shrinkage is not None else {}
    value = shrink.get(eta)
    if value is None or not np.isfinite(value):
        return eta
    flag = " (high: relations may be hidden)" if value > SHRINKAGE_WARNING else ""
    return f"{eta}: shrinkage {value:.1f}%{flag}"


def eta_histograms(table, *, bins="auto"):
    """One histogram of the EBEs per random effect (sources ``eta_hist_<eta>``), in a row that
    wraps to the page."""
    figs = []
    for name in table.eta_names:
        h = gof.histogram(table.subjects[name].to_numpy(float), bins=bins)
        fig = figure(shrinkage_title(table, name), name, "subjects", width=320, height=280)
        src = source(f"eta_hist_{name}", {"left": h.edges[:-1], "right": h.edges[1:], "count": h.counts})
        r = fig.quad(left="left", right="right", top="count", bottom=0, source=src, color=POINT, alpha=0.6)
        fig.add_tools(hover([r], [("from", "left"), ("to", "right"), ("subjects", "count")]))
        figs.append(fig)
    return flow(figs)


def eta_covariates(table, covariates=None, *, max_levels: int = 5):
    """EBEs (rows) against covariates (columns): scatter + loess, or boxes when categorical.
    Each row wraps to the page; the titles (with the shrinkage caveat) wrap onto two lines."""
    from bokeh.layouts import column

    frame, kinds = gof.eta_covariates(table, max_levels=max_levels)
    names = list(covariates) if covariates is not None else list(kinds)
    rows = []
    for eta in table.eta_names:
        row = []
        for cov in names:
            if cov not in kinds:
                raise KeyError(f"no covariate {cov!r}; the table has {', '.join(kinds) or 'none'}")
            draw = _boxes if kinds[cov] else _scatter
            row.append(draw(frame, eta, cov, shrinkage_title(table, eta)))
        rows.append(flow(row))
    return column(*rows, sizing_mode="stretch_width")


def _scatter(frame, eta, cov, title):
    x, y = frame[cov].to_numpy(float), frame[eta].to_numpy(float)
    fig = figure(title, cov, eta, width=300, height=280)
    pts = source(f"eta_cov_{eta}_{cov}_points", {"ID": frame["ID"].to_numpy(), "X": x, "Y": y})
    r = fig.scatter("X", "Y", source=pts, size=6, alpha=0.7, color=POINT)
    fig.add_tools(hover([r], [("ID", "ID"), (cov, "X"), (eta, "Y")]))
    s = loess(x, y)
    fig.line("x", "y", source=source(f"eta_cov_{eta}_{cov}_smooth", {"x": s.x, "y": s.y}), color=LINE, line_width=2)
    return fig


def _boxes(frame, eta, cov, title):
    b = gof.box_stats(frame[cov].to_numpy(), frame[eta].to_numpy(float))
    levels = [f"{v:g}" if isinstance(v, float) else str(v) for v in b.levels]
    fig = figure(title, cov, eta, width=300, height=280, x_range=levels, x_axis_type="auto")
    src = source(f"eta_cov_{eta}_{cov}_boxes", {"level": levels, "q1": b.q1, "median": b.median, "q3": b.q3,
                                                "lower": b.lower, "upper": b.upper, "n": b.n})
    fig.segment("level", "lower", "level", "upper", source=src, color="black")
    r = fig.vbar("level", 0.6, "q1", "q3", source=src, fill_color=POINT, fill_alpha=0.4, line_color="black")
    fig.scatter("level", "median", source=src, marker="dash", size=20, color="black")
    fig.add_tools(hover([r], [("level", "level"), ("median", "median"), ("q1", "q1"), ("q3", "q3"), ("n", "n")]))
    pts = source(f"eta_cov_{eta}_{cov}_points", {"ID": frame["ID"].to_numpy(),
                                                 "X": [f"{v:g}" if isinstance(v, float) else str(v)
                                                       for v in frame[cov].tolist()],
                                                 "Y": frame[eta].to_numpy(float)})
    fig.scatter("X", "Y", source=pts, size=4, alpha=0.4, color="black")
    return fig
