"""``DiagnosticsPanel``: GOF, individual fits, EBEs/shrinkage, CWRES/NPDE and VPC tabs.

``refresh(fit)`` recomputes them in a background thread (``nl.residuals``, ``nl.vpc``,
``prediction_curves``; figures from ``nlme_lab.plots``) and swaps the tabs' contents when done;
the VPC tab's controls (n, bins, pcVPC, stratification) recompute only the VPC.
"""

from __future__ import annotations

import html
import logging
import threading

import ipywidgets as w

log = logging.getLogger(__name__)

TABS = ("GOF", "Individual fits", "EBEs & shrinkage", "CWRES / NPDE", "VPC")


def _bokeh(fig):
    from jupyter_bokeh import BokehModel

    return BokehModel(fig)


def _box(children) -> w.VBox:
    """A tab's content, scrolling sideways when the figures are wider than the page."""
    return w.VBox(children, layout=w.Layout(overflow="auto"))


class DiagnosticsPanel(w.VBox):
    def __init__(self, covariates=(), *, n_sim: int = 200):
        self.n_sim = n_sim
        self.fit = None
        self.table = None
        self.vpc_result = None
        self.status = w.HTML("<i>the diagnostics appear when a fit finishes</i>")
        self.status.add_class("nlme-diagnostics-status")
        self.tabs = w.Tab(children=[w.VBox() for _ in TABS])
        for k, title in enumerate(TABS):
            self.tabs.set_title(k, title)
        narrow = w.Layout(width="180px")
        self.vpc_n = w.IntText(value=200, description="n", layout=narrow)
        self.vpc_bins = w.Dropdown(options=["auto", "quantile", "equal"], value="auto", description="bins",
                                   layout=narrow)
        self.vpc_pc = w.Checkbox(value=False, description="pcVPC", indent=False, layout=w.Layout(width="90px"))
        self.vpc_strat = w.Dropdown(options=[("none", None)] + [(c, c) for c in covariates], description="stratify",
                                    layout=w.Layout(width="220px"))
        self.vpc_button = w.Button(description="Recompute VPC", icon="refresh")
        self.vpc_button.on_click(lambda _b: self.refresh_vpc())
        self._threads: list[threading.Thread] = []
        super().__init__([self.status, self.tabs])

    def vpc_options(self) -> dict:
        return {"n": int(self.vpc_n.value), "seed": 1, "bins": self.vpc_bins.value,
                "pred_corrected": bool(self.vpc_pc.value), "stratify_by": self.vpc_strat.value}

    def refresh(self, fit, *, wait: bool = False) -> None:
        """Recompute every tab for ``fit`` in the background (``wait``: join the thread)."""
        self.fit = fit
        self._start(self._compute_all, wait)

    def refresh_vpc(self, *, wait: bool = False) -> None:
        if self.fit is not None:
            self._start(self._compute_vpc, wait)

    def wait(self) -> None:
        for thread in list(self._threads):
            thread.join()

    # ------------------------------------------------------------------ background work
    def _start(self, target, wait: bool) -> None:
        thread = threading.Thread(target=self._guarded(target), daemon=True, name="nlme_lab-diagnostics")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        if wait:
            thread.join()

    def _guarded(self, target):
        def run():
            try:
                target()
            except Exception as err:  # shown, not raised into a thread nobody joins
                log.exception("diagnostics failed")
                self.status.value = f"<span style='color:#b00'>✗ diagnostics failed: {html.escape(str(err))}</span>"
        return run

    def _compute_all(self) -> None:
        from nlme_lab import plots
        from nlme_lab.diagnostics import residuals
        from nlme_lab.diagnostics.curves import prediction_curves

        fit = self.fit
        self.status.value = "<i>computing residuals and NPDE…</i>"
        table = residuals(fit, n_sim=self.n_sim, seed=1)
        curves = prediction_curves(fit)
        self.table = table
        eta_children = [_bokeh(plots.eta_histograms(table))]
        if table.covariate_names:
            eta_children.append(_bokeh(plots.eta_covariates(table)))
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes) if hasattr(table, "notes") else ""
        eta_children.append(w.HTML(f"<ul>{notes}</ul>" if notes else ""))
        children = list(self.tabs.children)
        children[0] = _box([_bokeh(plots.gof_panel(table))])
        children[1] = _box([_bokeh(plots.individual_fits(table, curves, per_page=12))])
        children[2] = _box(eta_children)
        children[3] = _box([_bokeh(plots.qq_plot(table, "CWRES")), _bokeh(plots.qq_plot(table, "NPDE"))])
        self.tabs.children = children
        self._compute_vpc()

    def _compute_vpc(self) -> None:
        from nlme_lab import plots
        from nlme_lab.diagnostics import vpc

        self.status.value = "<i>computing the VPC…</i>"
        self.vpc_result = result = vpc(self.fit, **self.vpc_options())
        controls = w.HBox([self.vpc_n, self.vpc_bins, self.vpc_pc, self.vpc_strat, self.vpc_button],
                          layout=w.Layout(flex_flow="row wrap"))
        children = list(self.tabs.children)
        children[4] = _box([controls, _bokeh(plots.vpc_plot(result))])
        self.tabs.children = children
        self.status.value = f"diagnostics of the fit with OFV {self.fit.ofv:.4f}"
