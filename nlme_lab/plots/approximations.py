"""One subject's likelihood integrand with the Gaussian each estimation method puts in its
place (numbers from ``nlme_lab.diagnostics.approximations``; nothing is computed here).

Sources: ``approx_exact`` (ETA, Y): the integrand ``exp(-(L_i - L_min) / 2)``;
``approx_<method>`` (ETA, Y) for fo, foce, focei and laplace: that method's Gaussian.
The legend shows each curve's log-likelihood (no N log 2 pi constant); ``update_approximation_plot``
redraws a figure in place (for a live widget), ``approximation_plot`` makes one.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import figure, source

EXACT_COLOR = "#222222"
METHOD_STYLE = {  # method value -> (colour, dash)
    "fo": ("#1f77b4", "dashed"),
    "foce": ("#2ca02c", "dotdash"),
    "focei": ("#d62728", "dashed"),
    "laplace": ("#9467bd", "dotted"),
}


def _labels(approx) -> dict[str, str]:
    labels = {"exact": f"exact (quadrature): log L = {approx.exact_loglik:.4f}"}
    for kind, m in approx.methods.items():
        labels[kind.value] = f"{kind.value.upper() if kind.value != 'laplace' else 'Laplace'}: log L = {m.loglik:.4f}"
    return labels


def _title(approx) -> str:
    return f"Subject {approx.subject_id}: the integrand over {', '.join(approx.eta_names)} and each method's Gaussian"


def approximation_plot(profile, approx, *, width: int = 700, height: int = 380):
    """The integrand of ``approx`` (a ``SubjectApproximations``) along ``profile`` (its
    ``IntegrandProfile``) with each method's Gaussian; legend: the log-likelihoods."""
    from bokeh.models import Legend, LegendItem

    y_label = "exp(-(L - L_min) / 2)" + ("" if len(approx.eta_names) == 1 else ", other eta integrated out")
    fig = figure(_title(approx), profile.eta_name, y_label, width=width, height=height)
    labels = _labels(approx)
    exact = source("approx_exact", {"ETA": profile.eta, "Y": profile.exact})
    items = [LegendItem(label=labels["exact"], renderers=[fig.line("ETA", "Y", source=exact, color=EXACT_COLOR,
                                                                     line_width=3, alpha=0.8)], name="exact")]
    for kind, y in profile.gaussians.items():
        color, dash = METHOD_STYLE[kind.value]
        src = source(f"approx_{kind.value}", {"ETA": profile.eta, "Y": y})
        r = fig.line("ETA", "Y", source=src, color=color, line_dash=dash, line_width=2)
        items.append(LegendItem(label=labels[kind.value], renderers=[r], name=kind.value))
    fig.add_layout(Legend(items=items, location="top_right", click_policy="hide"), "right")
    return fig


def update_approximation_plot(fig, profile, approx) -> None:
    """Redraw ``fig`` (from ``approximation_plot``) with new numbers: sources, legend, title."""
    from bokeh.core.properties import value

    labels = _labels(approx)
    fig.select_one({"name": "approx_exact"}).data = {"ETA": np.asarray(profile.eta), "Y": np.asarray(profile.exact)}
    for kind, y in profile.gaussians.items():
        fig.select_one({"name": f"approx_{kind.value}"}).data = {"ETA": np.asarray(profile.eta), "Y": np.asarray(y)}
    for item in fig.legend[0].items:
        item.label = value(labels[item.name])
    fig.title.text = _title(approx)
    fig.xaxis.axis_label = profile.eta_name
