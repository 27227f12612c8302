"""``ValidationTab``: the Lab's Validation tab, a bootstrap or a cross-validation of the last fit.

An ipywidgets composite (no front end of its own). Start runs ``nl.bootstrap`` or
``nl.crossvalidate`` (``nlme_lab.validation``) in a background thread; each finished replicate
or fold advances the progress bar and, for a bootstrap, the running medians of the converged
replicates so far. Stop cancels what has not finished and keeps the finished replicates (the
result is built from them). Then: the bootstrap summary and its forest plot (bootstrap beside
covariance-step intervals, ``plots.validation.forest_plot``), or the per-fold table and the
prediction OFV per fold. ``where`` picks the scheduler: the embedded Dask cluster or this process.
External validation: ``nl.validate`` of the last fit on another dataset (a path) with a VPC of it;
the errors table, the VPC and a button writing the page (``nl.validation_report``).
"""

from __future__ import annotations

import html
import logging
import threading

import ipywidgets as w
import numpy as np

log = logging.getLogger(__name__)

KINDS = ("Bootstrap", "Cross-validation", "External validation")
WHERE = (("this process", "serial"), ("local Dask cluster", None))


def make_validation_tab(lab) -> ValidationTab:
    """The Lab's tool-tab factory (``TOOL_TABS``)."""
    return ValidationTab(lab)


CSS = """<style>
.nlme-validation table.nlme-validation-table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
.nlme-validation table.nlme-validation-table th, .nlme-validation table.nlme-validation-table td {
  padding: 2px 8px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--jp-border-color2, #ddd); }
.nlme-validation .nlme-validation-note { font-size: 12px; color: var(--jp-ui-font-color2, #555); }
</style>"""


def _table(frame, float_format="{:.4g}") -> str:
    return CSS + frame.to_html(index=False, na_rep="", float_format=lambda v: float_format.format(v), border=0,
                               classes="nlme-validation-table")


class ValidationTab(w.VBox):
    def __init__(self, lab=None):
        self.lab = lab
        self.kind = w.ToggleButtons(options=KINDS, value=KINDS[0])
        self.n = w.BoundedIntText(value=50, min=1, max=10000, description="replicates", style={"description_width": "auto"},
                                  layout=w.Layout(width="170px"))
        self.folds = w.BoundedIntText(value=5, min=2, max=1000, description="folds", style={"description_width": "auto"},
                                      layout=w.Layout(width="130px"))
        self.seed = w.BoundedIntText(value=1, min=0, max=2 ** 31 - 1, description="seed",
                                     style={"description_width": "auto"}, layout=w.Layout(width="150px"))
        self.new_data = w.Text(placeholder="new data (path to a NONMEM csv)", layout=w.Layout(width="280px"))
        self.n_vpc = w.BoundedIntText(value=100, min=1, max=100000, description="VPC replicates",
                                      style={"description_width": "auto"}, layout=w.Layout(width="200px"))
        self.report_path = w.Text(value="validation.html", description="page", style={"description_width": "auto"},
                                  layout=w.Layout(width="260px"))
        self.report_button = w.Button(description="Write page", icon="file", tooltip="nl.validation_report(result, page)")
        self.report_button.on_click(lambda _b: self.write_report())
        self.where = w.Dropdown(options=WHERE, value="serial", description="run on", style={"description_width": "auto"},
                                layout=w.Layout(width="260px"))
        self.start_button = w.Button(description="Start", icon="play", button_style="primary")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True,
                                    tooltip="Cancel the rest; the finished replicates are kept")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="260px"))
        self.status = w.HTML("<i>fit the model (Fit tab), then start a bootstrap or a cross-validation</i>")
        self.live = w.HTML()
        self.results = w.VBox(layout=w.Layout(overflow="auto", max_width="100%"))
        for widget, name in ((self.start_button, "start"), (self.stop_button, "stop"), (self.status, "status"),
                             (self.live, "live"), (self.results, "results"), (self.progress, "progress")):
            widget.add_class(f"nlme-validation-{name}")
        self.start_button.on_click(lambda _b: self.start(wait=False))
        self.stop_button.on_click(lambda _b: self.stop())
        self.kind.observe(lambda _c: self._show_count(), names="value")
        self.count = w.HBox([self.n])
        self.result = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rows: list[dict] = []
        controls = w.HBox([self.kind, self.count, self.seed, self.where, self.start_button, self.stop_button],
                          layout=w.Layout(flex_flow="row wrap", align_items="center"))
        super().__init__([controls, w.HBox([self.progress, self.status]), self.live, self.results])
        self.add_class("nlme-validation")

    def _show_count(self) -> None:
        self.count.children = {KINDS[0]: [self.n], KINDS[1]: [self.folds]}.get(self.kind.value,
                                                                               [self.new_data, self.n_vpc])

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ run
    def start(self, wait: bool = True):
        """Start the chosen run on the Lab's last fit (in a thread; ``wait`` joins it and
        returns the result)."""
        if self.running:
            raise RuntimeError("a validation run is going already: stop it or wait for it")
        fit = getattr(self.lab, "last_fit", None) if self.lab is not None else None
        if fit is None:
            self.status.value = "<b>no fit yet</b>: fit the model in the Fit tab first"
            return None
        self._stop = threading.Event()
        self._rows = []
        self.result, self.error = None, None
        kind = self.kind.value
        bootstrap = kind == KINDS[0]
        if kind == KINDS[2] and not self.new_data.value.strip():
            self.status.value = "<b>no new data</b>: give the path of the dataset to predict"
            return None
        total = (int(self.n.value) if bootstrap else min(int(self.folds.value), fit.n_subjects) if kind == KINDS[1]
                 else 1)
        self.progress.max, self.progress.value = max(total, 1), 0
        self.progress.bar_style = ""
        self.results.children = []
        self.live.value = ""
        self.status.value = f"{kind.lower()}: starting ({total} tasks)"
        self.start_button.disabled, self.stop_button.disabled = True, False
        self._thread = threading.Thread(target=self._run, args=(fit, kind), daemon=True,
                                        name="nlme_lab-validation")
        self._thread.start()
        if wait:
            self._thread.join()
            return self.result
        return None

    def stop(self) -> None:
        """Cancel the replicates not yet finished (the finished ones are kept)."""
        self._stop.set()
        self.status.value = "stopping: the finished replicates are kept"

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, fit, kind: str) -> None:
        import nlme_lab as nl
        from nlme_lab.errors import NlmeError

        try:
            if kind == KINDS[2]:
                self.result = nl.validate(fit, self.new_data.value.strip(), seed=int(self.seed.value),
                                          n_vpc=int(self.n_vpc.value))
                self._show_external(self.result)
            elif kind == KINDS[0]:
                self.result = nl.bootstrap(fit, n=int(self.n.value), seed=int(self.seed.value),
                                           scheduler=self.where.value, on_result=self._replicate_done, stop=self._stop)
                self._show_bootstrap(self.result)
            else:
                self.result = nl.crossvalidate(fit, folds=int(self.folds.value), seed=int(self.seed.value),
                                               scheduler=self.where.value, on_result=self._fold_done, stop=self._stop)
                self._show_crossval(self.result)
        except NlmeError as err:
            self.error = str(err)
            self.status.value = f"<b>failed</b>: {html.escape(self.error)}"
            self.progress.bar_style = "danger"
        except Exception as err:  # a bug: shown in the tab, logged with its traceback
            log.exception("validation run failed")
            self.error = f"{type(err).__name__}: {err}"
            self.status.value = f"<b>failed</b>: {html.escape(self.error)}"
            self.progress.bar_style = "danger"
        finally:
            self.start_button.disabled, self.stop_button.disabled = False, True

    # ------------------------------------------------------------------ live
    def _replicate_done(self, row: dict) -> None:
        self._rows.append(row)
        self.progress.value = len(self._rows)
        ok = [r for r in self._rows if r["status"] == "ok"]
        self.status.value = (f"bootstrap: {len(self._rows)} of {self.progress.max} replicates done, "
                             f"{len(ok)} converged")
        if ok and self.lab is not None and self.lab.last_fit is not None:
            est = self.lab.last_fit.estimates
            names = [n for n in est if n in ok[0]]
            cells = "".join(f"<tr><td>{html.escape(n)}</td><td>{est[n]:.4g}</td>"
                            f"<td>{np.median([r[n] for r in ok]):.4g}</td></tr>" for n in names)
            self.live.value = (CSS + "<table class='nlme-validation-table nlme-validation-medians'><tr><th>parameter</th>"
                               f"<th>estimate</th><th>running median ({len(ok)})</th></tr>{cells}</table>")

    def _fold_done(self, row: dict) -> None:
        self._rows.append(row)
        self.progress.value = len(self._rows)
        done = [r for r in self._rows if r["status"] != "failed"]
        self.status.value = f"cross-validation: {len(self._rows)} of {self.progress.max} folds done"
        if done:
            cells = "".join(f"<tr><td>{html.escape(str(r['fold']))}</td><td>{r['prediction_ofv']:.4f}</td></tr>"
                            for r in done)
            self.live.value = (CSS + "<table class='nlme-validation-table'><tr><th>fold</th><th>prediction OFV</th>"
                               f"</tr>{cells}</table>")

    # ------------------------------------------------------------------ results
    def code(self) -> str:
        """The call that repeats the last run on the Lab's fit (``fit``: ``lab.last_fit``), shown
        under the results to copy into a cell: the same seed gives the same table."""
        if self.result is None:
            return ""
        where = self.where.value
        sched = "" if where is None else f", scheduler={where!r}"
        if self.kind.value == KINDS[2]:
            return (f"val = nl.validate(fit, {self.new_data.value.strip()!r}, seed={int(self.seed.value)}, "
                    f"n_vpc={int(self.n_vpc.value)})")
        if self.kind.value == KINDS[0]:
            return f"boot = nl.bootstrap(fit, n={int(self.n.value)}, seed={int(self.seed.value)}{sched})"
        return f"cv = nl.crossvalidate(fit, folds={int(self.folds.value)}, seed={int(self.seed.value)}{sched})"

    def to_cells(self) -> list[str]:
        """The Lab's export: the call that repeats the last run and its table (none before a run)."""
        code = self.code()
        if not code:
            return []
        return [code + {"boot": "\nboot.summary()", "cv": "\ncv.folds", "val": "\nval.summary()"}[code.split(" ")[0]]]

    def _code_box(self) -> w.HTML:
        return w.HTML(f"<pre class='nlme-validation-code'>{html.escape(self.code())}</pre>")

    def _show_bootstrap(self, res) -> None:
        from jupyter_bokeh import BokehModel

        from nlme_lab.plots.validation import forest_plot

        summary = res.summary()
        stopped = " (stopped: the finished replicates are kept)" if self._stop.is_set() else ""
        self.status.value = f"bootstrap: {res.n_successful} of {res.n} replicates converged{stopped}"
        shown = summary[["parameter", "estimate", "median", "se", "covariance_se", "rse_percent", "bias_percent",
                         "ci_low", "ci_high"]]
        notes = "".join(f"<div class='nlme-validation-note'>{html.escape(n)}</div>"
                        for n in dict.fromkeys(summary["ci_note"]) if n)
        self.results.children = [w.HTML(_table(shown) + notes), BokehModel(forest_plot(summary)), self._code_box()]
        self.progress.bar_style = "success"

    def _show_crossval(self, res) -> None:
        from jupyter_bokeh import BokehModel

        from nlme_lab.plots.validation import prediction_ofv_plot

        self.live.value = ""  # the per-fold table below replaces the running one
        cols = ["fold", "ids", "n_test", "status", "estimation_ofv", "prediction_ofv", "pred_rmse", "ipred_rmse"]
        self.status.value = (f"cross-validation: {len(res.folds)} folds, summed prediction OFV "
                             f"{res.sum_prediction_ofv:.4f}")
        self.results.children = [w.HTML(_table(res.folds[cols])), BokehModel(prediction_ofv_plot(res.folds)),
                                 self._code_box()]
        self.progress.bar_style = "success"

    def _show_external(self, res) -> None:
        from jupyter_bokeh import BokehModel

        from nlme_lab.plots.vpc import vpc_plot

        self.progress.value = 1
        npde = "" if res.npde is None else (f"; NPDE mean {res.npde.mean:.3g}, variance {res.npde.variance:.3g}, "
                                            f"global p {res.npde.p_value:.3g}")
        self.status.value = (f"external validation: prediction OFV {res.prediction_ofv:.4f} on {res.n_subjects} "
                             f"subjects{npde}")
        errors = res.summary().reset_index().rename(columns={"index": "error"})
        children = [w.HTML(_table(errors))]
        if res.vpc is not None:
            children.append(BokehModel(vpc_plot(res.vpc)))
        children += [w.HBox([self.report_path, self.report_button]), self._code_box()]
        self.results.children = children
        self.progress.bar_style = "success"

    def write_report(self):
        """Write the last external validation's page (``nl.validation_report``) to the page path."""
        import nlme_lab as nl

        if self.result is None or not hasattr(self.result, "prediction_ofv"):
            self.status.value = "<b>no external validation yet</b>: run one first"
            return None
        try:
            path = nl.validation_report(self.result, self.report_path.value.strip() or "validation.html",
                                        data_name=self.new_data.value.strip())
        except OSError as err:
            self.status.value = f"<b>page not written</b>: {html.escape(str(err))}"
            return None
        self.status.value = f"page written to <code>{html.escape(str(path))}</code>"
        return path
