"""Validation figures: the bootstrap forest plot (bootstrap vs covariance-step intervals)."""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import LINE, POINT, figure, source


def forest_plot(summary, *, width: int = 560, title: str = "Bootstrap and covariance-step 95% intervals"):
    """One row per parameter of a bootstrap ``summary()`` (DataFrame): the bootstrap interval
    and median (blue) and the covariance-step interval estimate +- 1.96 SE (red) below it, each
    relative to the original estimate (1 = the estimate) so that parameters on different scales
    share an axis; the hover shows the values themselves. Parameters without a bootstrap
    interval show their median only."""
    from bokeh.models import HoverTool, Range1d, Span

    names = [str(p) for p in summary["parameter"]]
    est = summary["estimate"].to_numpy(dtype=float)
    scale = np.where(est != 0, np.abs(est), 1.0)
    y = np.arange(len(names), dtype=float)[::-1]
    boot_lo, boot_hi = summary["ci_low"].to_numpy(dtype=float), summary["ci_high"].to_numpy(dtype=float)
    med = summary["median"].to_numpy(dtype=float)
    cse = summary["covariance_se"].to_numpy(dtype=float)
    cov_lo, cov_hi = est - 1.96 * cse, est + 1.96 * cse
    height = 130 + 36 * len(names)
    fig = figure(title, "value / original estimate", "", width=width, height=height)
    boot = source("bootstrap_intervals", {"y": y + 0.12, "lo": boot_lo / scale, "hi": boot_hi / scale,
                                          "mid": med / scale, "parameter": names, "low": boot_lo, "high": boot_hi,
                                          "center": med, "kind": ["bootstrap"] * len(names)})
    cov = source("covariance_intervals", {"y": y - 0.12, "lo": cov_lo / scale, "hi": cov_hi / scale,
                                          "mid": est / scale, "parameter": names, "low": cov_lo, "high": cov_hi,
                                          "center": est, "kind": ["covariance step"] * len(names)})
    for src, color, label in ((boot, POINT, "bootstrap (median, percentile CI)"),
                              (cov, LINE, "covariance step (estimate +- 1.96 SE)")):
        fig.segment("lo", "y", "hi", "y", source=src, line_width=3, color=color, legend_label=label)
        fig.scatter("mid", "y", source=src, size=8, color=color, legend_label=label)
    fig.add_layout(Span(location=1.0, dimension="height", line_dash="dashed", line_color="#555555"))
    fig.yaxis.ticker = list(y)
    fig.yaxis.major_label_overrides = {float(v): n for v, n in zip(y, names)}
    fig.y_range = Range1d(-0.8, len(names) - 0.2)
    fig.add_tools(HoverTool(tooltips=[("parameter", "@parameter"), ("", "@kind"), ("center", "@center{0.[0000]}"),
                                      ("interval", "@low{0.[0000]} to @high{0.[0000]}")]))
    legend = fig.legend[0]
    legend.label_text_font_size = "9pt"
    legend.orientation = "horizontal"
    fig.add_layout(legend, "below")
    fig.name = "forest_plot"
    return fig


def prediction_ofv_plot(folds, *, width: int = 420):
    """Per-fold prediction OFV (bars) of a cross-validation's ``folds`` table."""
    labels = [str(f) for f in folds["fold"]]
    fig = figure("Prediction OFV per fold", "fold", "prediction OFV", width=width, height=300, x_range=labels,
                 x_axis_type="auto")
    src = source("fold_ofv", {"fold": labels, "ofv": folds["prediction_ofv"].to_numpy(dtype=float)})
    fig.vbar(x="fold", top="ofv", width=0.7, source=src, color=POINT)
    fig.name = "fold_ofv_plot"
    return fig
