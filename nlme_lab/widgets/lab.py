"""``Lab``: the live modelling environment (``nl.Lab(model, data)``, as ``nl.fit(model, data)``).

A thin container: the state is the dataset, the working model (the last that compiled in the
editor), the parameter values of the sliders and the fits. Numbers come from the engine's
``Predictor`` (bound once per working model, so a slider move is one kernel call), ``nl.fit``
(in a background thread, streaming its ``IterationEvent``s) and the diagnostics layer.

Constructing a Lab works in a plain Python process; nothing renders until it is displayed.

Live predictions: PRED uses etas = 0; IPRED uses the last fit's EBEs (zeros before the first
fit, so IPRED = PRED then), both at the current slider values.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import ipywidgets as w
import numpy as np

from nlme_lab.widgets.data_view import DataView
from nlme_lab.widgets.diagnostics_panel import DiagnosticsPanel
from nlme_lab.widgets.editor import ModelEditor
from nlme_lab.widgets.fit_panel import FitPanel
from nlme_lab.widgets.parameter_panel import ParameterPanel

log = logging.getLogger(__name__)

# The tabs of the tools built on a fitted model (covariate search, validation, design, trials,
# ...): (title, "module:factory"), the factory called with the Lab the first time the tab opens.
# A new capability adds its entry here and keeps its widget in a module of its own.
TOOL_TABS: tuple[tuple[str, str], ...] = (
    ("Library", "nlme_lab.widgets.library_tab:make_library_tab"),
    ("Validation", "nlme_lab.widgets.validation_tab:make_validation_tab"),
    ("Design", "nlme_lab.widgets.design_tab:make_design_tab"),
    ("Covariates", "nlme_lab.widgets.covariates_tab:make_covariates_tab"),
    ("Patient", "nlme_lab.widgets.patient_tab:make_patient_tab"),
    ("Trial", "nlme_lab.widgets.trial_tab:make_trial_tab"),
)

# Eleven tab titles do not fit a 1280 px notebook at ipywidgets' fixed tab width (they were cut to
# "Model & p", "Covariate"): each tab takes its title's width and the bar wraps to a second row.
TAB_CSS = """<style>
.nlme-lab-tabs > .lm-TabBar, .nlme-lab-tabs > .p-TabBar { min-height: fit-content; height: auto; overflow: visible; }
.nlme-lab-tabs > .lm-TabBar .lm-TabBar-content, .nlme-lab-tabs > .p-TabBar .p-TabBar-content { flex-wrap: wrap; }
.nlme-lab-tabs > .lm-TabBar .lm-TabBar-tab, .nlme-lab-tabs > .p-TabBar .p-TabBar-tab {
  flex: 0 0 auto; max-width: none; min-width: 0; }
.nlme-lab-tabs > .lm-TabBar .lm-TabBar-tabLabel { overflow: visible; text-overflow: clip; }
</style>"""

N_PANELS = 12  # individual panels drawn live (the first subjects; one per subject and endpoint)


def _data_path(data) -> str:
    """Where the session finds the data again: a dataset's source, or the path resolved."""
    from nlme_lab.data import Dataset

    return str(data.source) if isinstance(data, Dataset) else str(Path(data).expanduser().resolve())


class LivePredictions:
    """PRED and IPRED of every record for given parameter values, through one bound Predictor."""

    def __init__(self, model, dataset):
        from nlme_lab.problem import bind
        from nlme_lab.problem.predict import Predictor

        self.model = model
        self.bound = bind(model, dataset)
        self.predictor = Predictor(self.bound)
        self.base = model.parameters.values()
        self.zero = self.predictor.zero_effects()
        self.n_kappa = len(self.base.kappa_names)
        self.set_etas(None)

    def set_etas(self, etas) -> None:
        """The subjects' etas for IPRED (n_subjects, n_eta); None for zeros."""
        ds = self.bound.dataset
        n_eta = len(self.base.eta_names)
        etas = np.zeros((ds.n_subjects, n_eta)) if etas is None else np.asarray(etas, dtype=float)
        kappas = np.zeros((ds.n_subjects, max(self.bound.n_occasions, 1), self.n_kappa))
        self.eta_rec = self.predictor.record_effects(etas, kappas)

    def theta(self, values: dict) -> np.ndarray:
        return self.base.with_values(values).theta

    def __call__(self, values: dict) -> tuple[np.ndarray, np.ndarray]:
        """(PRED, IPRED), each (n_records,), each record's own endpoint."""
        theta = self.theta(values)
        return self.predictor.predict(theta, self.zero), self.predictor.predict(theta, self.eta_rec)


class Lab(w.VBox):
    """Data view, model editor, parameter sliders, fit, diagnostics, history and export.

    >>> lab = nl.Lab("theo_sd.nlm", "theo_sd.csv")  # model, data: the order of nl.fit
    >>> lab                      # in a notebook: renders the environment
    >>> lab.fit("focei")         # as the Start button; lab.last_fit, lab.history
    """

    def __init__(self, model, data, *, method: str = "focei"):
        from nlme_lab.problem import as_dataset, as_model

        self.dataset, self.data_path = as_dataset(data), _data_path(data)
        model = as_model(model)
        model.compiled.compile_all()
        self.model = model
        self.last_fit = None
        self.last_fit_spec = None
        self._stop_reproduced = False
        self.history = _new_history()
        self._stop_token = None
        self._thread: threading.Thread | None = None
        self.timings: dict[str, float] = {}
        self.live = LivePredictions(model, self.dataset)
        self.editor = ModelEditor(model, check=self._check_fits_data)
        self.editor.on_model(self._on_new_model)
        self.parameter_panel = ParameterPanel(model)
        self.parameter_panel.on_change(self._on_values)
        self.parameter_panel.set_initial_button.on_click(lambda _b: self.set_as_initial())
        pred, ipred = self.live(self.parameters)
        self.data_view = self._data_view(pred, ipred)
        self.individual = w.GridBox(layout=w.Layout(grid_template_columns="repeat(auto-fill, 250px)"))
        self._build_individual(pred, ipred)
        self.fit_panel = FitPanel(model.parameter_names(), method)
        self.fit_panel.start_button.on_click(lambda _b: self.fit(wait=False))
        self.fit_panel.stop_button.on_click(lambda _b: self.stop())
        self.diagnostics = DiagnosticsPanel(self.dataset.covariate_names)
        self.history_view = self._history_view()
        self.export_button = self._export_button()
        super().__init__([self._layout()])

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        _ensure_bokehjs()
        return super()._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ layout
    def _layout(self):
        # side by side when there is room, the parameters under the editor when there is not
        editor = w.VBox([w.HTML("<b>Model</b>"), self.editor], layout=w.Layout(flex="1 1 420px", min_width="0",
                                                                                margin="0 12px 0 0"))
        model_tab = w.HBox([editor, w.VBox([w.HTML("<b>Parameters</b>"), self.parameter_panel],
                                           layout=w.Layout(flex="0 1 auto"))],
                           layout=w.Layout(flex_flow="row wrap", width="100%"))
        core = [self.data_view, w.VBox([model_tab, self.individual]), self.fit_panel, self.diagnostics,
                self.history_view]
        self.tools = {title: None for title, _ in TOOL_TABS}  # built when first opened
        tabs = w.Tab(children=core + [w.VBox() for _ in TOOL_TABS])
        for k, title in enumerate(["Data", "Model & parameters", "Fit", "Diagnostics", "History",
                                   *(title for title, _ in TOOL_TABS)]):
            tabs.set_title(k, title)
        tabs.observe(self._open_tool, names="selected_index")
        tabs.add_class("nlme-lab-tabs")
        self.tabs = tabs
        header = w.HBox([w.HTML(f"<b>nlme_lab Lab</b>: {self.dataset.n_subjects} subjects, "
                                f"{self.dataset.n_observations} observations"), self.export_button])
        return w.VBox([w.HTML(TAB_CSS), header, tabs])

    def _open_tool(self, change) -> None:
        """Build a tool's tab (``TOOL_TABS``) the first time it is selected."""
        if change["new"] is None:
            return
        k = change["new"] - (len(self.tabs.children) - len(TOOL_TABS))
        if k >= 0:
            self.tool(TOOL_TABS[k][0])

    def tool(self, title: str):
        """The widget of the tool tab ``title`` (built on first use: ``factory(lab)``)."""
        if title not in self.tools:
            raise KeyError(f"no tool tab {title!r}; the Lab has {', '.join(self.tools)}")
        if self.tools[title] is None:
            from importlib import import_module

            target = dict(TOOL_TABS)[title]
            module, _, name = target.partition(":")
            widget = getattr(import_module(module), name)(self)
            self.tools[title] = widget
            k = len(self.tabs.children) - len(TOOL_TABS) + [t for t, _ in TOOL_TABS].index(title)
            self.tabs.children[k].children = [widget]
        return self.tools[title]

    def _history_view(self):
        """The History tab: every fit a row, two compared (``HistoryView``); refreshed by
        ``_fit_done``."""
        from nlme_lab.widgets.history_view import HistoryView

        return HistoryView(self.history)

    def _export_button(self):
        """Export: the cells of ``to_cells()`` below the Lab's cell, else a session notebook of
        ``state()``; it warns when the last fit was stopped (its call would not reproduce it)."""
        try:
            from nlme_lab.widgets.export import ExportButton
        except ImportError as err:  # the front end is not built (`make js`): say so where the button goes
            import html

            return w.HTML(f"<i>export unavailable: {html.escape(str(err))}</i>")
        # the export warns about a stopped fit unless its call was rewritten to reproduce it
        return ExportButton(self.to_cells, self.state,
                            last_fit=lambda: None if self._stop_reproduced else self.last_fit)

    # ------------------------------------------------------------------ live predictions
    @property
    def parameters(self) -> dict[str, float]:
        """The current slider values, by reported parameter name."""
        return self.parameter_panel.values

    def endpoints(self) -> list[tuple[int, str]]:
        """(index, variable) of the working model's endpoints that have observations in the data."""
        bound = self.live.bound
        present = set(np.unique(bound.endpoint[bound.observed]).tolist())
        return [(k, e.variable) for k, e in enumerate(self.live.model.ir.endpoints) if k in present]

    def _per_endpoint(self, *columns) -> list[dict]:
        """For each column: endpoint variable -> one array per subject, at that endpoint's
        observations."""
        ds, bound = self.dataset, self.live.bound
        masks = {name: bound.observed & (bound.endpoint == k) for k, name in self.endpoints()}
        bounds = list(zip(ds.offsets[:-1], ds.offsets[1:]))
        return [{name: [np.asarray(col, dtype=float)[s:e][m[s:e]] for s, e in bounds] for name, m in masks.items()}
                for col in columns]

    def _data_view(self, pred, ipred) -> DataView:
        observed = self._per_endpoint(self.dataset.time, self.dataset.dv)
        ip, pr = self._per_endpoint(ipred, pred)
        return DataView(self.dataset, {name: (observed[0][name], observed[1][name]) for name in ip}, ip, pr,
                        record_endpoint=self.live.bound.endpoint)

    def _build_individual(self, pred, ipred) -> None:
        """The first subjects' live panels: one per subject and endpoint (N_PANELS in all)."""
        from jupyter_bokeh import BokehModel

        from nlme_lab.plots.common import keyed
        from nlme_lab.plots.lab import lab_individual

        times, dv, ip, pr = self._per_endpoint(self.dataset.time, self.dataset.dv, ipred, pred)
        names = list(ip)
        several = len(names) > 1
        self._individual = []  # (subject index, endpoint, source), looked up once
        self.individual_figures = []
        for i in range(min(max(1, N_PANELS // max(1, len(names))), self.dataset.n_subjects)):
            for name in names:
                if not len(times[name][i]):
                    continue
                sid, suffix = self.dataset.ids[i], name if several else None
                fig = lab_individual(sid, times[name][i], dv[name][i], ip[name][i], pr[name][i],
                                     endpoint=suffix, suffix=suffix)
                self._individual.append((i, name, fig.select_one({"name": keyed(f"lab_indiv_{sid}", suffix)})))
                self.individual_figures.append(fig)
        self.individual.children = [BokehModel(f) for f in self.individual_figures]

    def individual_sources(self) -> list:
        """The ``lab_indiv_<ID>`` sources of the live individual panels, in panel order."""
        return [src for _i, _name, src in self._individual]

    def refresh_predictions(self, values: dict | None = None) -> None:
        """Recompute PRED/IPRED at ``values`` (default: the sliders') and update every plot."""
        pred, ipred = self.live(self.parameters if values is None else values)
        ip, pr = self._per_endpoint(ipred, pred)
        self.data_view.set_predictions(ip, pr)
        for i, name, src in self._individual:
            src.data = {**src.data, "IPRED": ip[name][i].tolist(), "PRED": pr[name][i].tolist()}

    def _on_values(self, values: dict) -> None:
        t0 = time.perf_counter()
        self.refresh_predictions(values)
        self.timings["slider_to_data_s"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ model changes
    def _check_fits_data(self, model) -> None:
        """The editor's check: the model binds to the Lab's dataset (raises what bind raises)."""
        from nlme_lab.problem import bind

        bind(model, self.dataset)

    def _on_new_model(self, model) -> None:
        """A model compiled in the editor: it becomes the working model (rebind once)."""
        t0 = time.perf_counter()
        live = LivePredictions(model, self.dataset)  # raises (e.g. a covariate missing) before anything changes
        self.model, self.live = model, live
        if self.last_fit is not None and tuple(self.last_fit.eta_names) == live.base.eta_names:
            live.set_etas(self.last_fit.etas)
        self.parameter_panel.set_model(model)
        self.fit_panel.reset_trace(model.parameter_names())
        pred, ipred = live(self.parameters)
        self._build_individual(pred, ipred)
        if [name for _k, name in self.endpoints()] == self.data_view.endpoints:
            self.data_view.set_predictions(*self._per_endpoint(ipred, pred))
        else:  # other endpoints: a new view
            self.data_view = self._data_view(pred, ipred)
            self.tabs.children = [self.data_view, *self.tabs.children[1:]]
        self.timings["model_to_prediction_s"] = time.perf_counter() - t0

    def clear_etas(self) -> None:
        """IPRED back to etas = 0 (= PRED) at the current slider values, and an empty trace; the
        last fit and the history are kept."""
        self.live.set_etas(None)
        self.refresh_predictions()
        self.fit_panel.reset_trace()

    def set_as_initial(self) -> None:
        """Write the slider values into the model text's ``[ini]`` and make it the working model."""
        values = self.parameters
        model = self.model.with_initial(**values)
        self.editor.compile(model.text)
        self.parameter_panel.set_values(values)

    # ------------------------------------------------------------------ fitting
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def fit(self, method: str | None = None, *, seed: int | None = None, options: str | None = None,
            wait: bool = True):
        """Fit the working model from the current slider values, as the Start button does.

        ``options``: the method's options as text (``"n_burn=400, n_em=300"``, see
        ``estimation.option_text``); None takes the panel's options box. The fit runs in a
        background thread, streaming each iteration into the traces; with ``wait`` this call
        joins it and returns the ``FitResult`` (None if it failed: the error is shown and
        ``last_fit`` is unchanged). Without ``wait`` it returns None."""
        from nlme_lab.errors import NlmeError
        from nlme_lab.estimation.option_text import options_from_text
        from nlme_lab.estimation.results import StopToken
        from nlme_lab.session.state import FitSpec

        if self.running:
            raise RuntimeError("a fit is running already: stop it (lab.stop()) or wait for it")
        panel = self.fit_panel
        method = method or panel.method.value
        seed = int(panel.seed.value) if seed is None else int(seed)
        covariance = None if panel.covariance.value == "none" else panel.covariance.value
        options = panel.options.value.strip() if options is None else options.strip()
        self.fit_error: str | None = None
        try:
            parsed = options_from_text(method, options)
        except NlmeError as err:  # nothing starts; the previous results stay
            self.fit_error = str(err)
            panel.show_error(self.fit_error)
            return None
        model = self.model.with_initial(**self.parameters)
        self._stop_token = StopToken()
        panel.reset_trace()
        panel.starting(method)
        spec = FitSpec(method=method, seed=seed, covariance=covariance, options=options)
        self._fit_started = time.perf_counter()
        self.timings.pop("fit_start_to_first_iteration_s", None)
        self._thread = threading.Thread(target=self._run_fit, args=(model, spec, parsed), daemon=True,
                                        name="nlme_lab-fit")
        self._thread.start()
        if wait:
            self._thread.join()
            return self.last_fit if self.fit_error is None else None
        return None

    def wait(self, timeout: float | None = None) -> None:
        """Join a running fit (and nothing else)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """End a running fit cleanly; it keeps the best estimates so far."""
        if self._stop_token is not None and self.running:
            self._stop_token.stop()
            self.fit_panel.show_stopping()

    def _on_iteration(self, event) -> None:
        self.timings.setdefault("fit_start_to_first_iteration_s", time.perf_counter() - self._fit_started)
        self.fit_panel.add_iteration(event)

    def _run_fit(self, model, spec, options) -> None:
        from nlme_lab.estimation import fit

        try:
            result = fit(model, self.dataset, spec.method, options=options, callback=self._on_iteration,
                         stop=self._stop_token, seed=spec.seed, covariance=spec.covariance)
        except Exception as err:  # shown in the panel; the previous results stay
            log.exception("the fit failed")
            self.fit_error = f"{type(err).__name__}: {err}"
            self.fit_panel.show_error(self.fit_error)
            return
        if _nothing_estimated(result, model):  # stopped at its start: no row, nothing replaced
            self._show_nothing_estimated()
            return
        try:
            self._fit_done(result, *_reproducing_spec(result, spec, options))
        except Exception as err:
            log.exception("showing the fit failed")
            self.fit_error = f"{type(err).__name__}: {err}"
            self.fit_panel.show_error(self.fit_error)

    def _show_nothing_estimated(self) -> None:
        from nlme_lab.widgets.fit_panel import FitStatus

        panel = self.fit_panel
        panel.flush()
        panel.status_kind = FitStatus.DONE
        panel.set_running(False, "<b>done</b>: stopped by the user before the estimates moved from their start: "
                                 "nothing was estimated, no History row; the previous results are kept")

    def _fit_done(self, result, spec, reproduced: bool = False) -> None:
        self._stop_reproduced = reproduced
        self.last_fit = result
        self.last_fit_spec = spec
        self.history.add(result)
        self.history_view.refresh()
        self.fit_panel.show_result(result)
        self.live.set_etas(result.etas)
        self.parameter_panel.set_values({k: v for k, v in result.estimates.items() if k in self.parameters})
        self.diagnostics.refresh(result)

    # ------------------------------------------------------------------ sessions
    def state(self):
        """The ``SessionState`` that reproduces this Lab: data path, model text with the
        current slider values as initial estimates, the last fit's call and VPC."""
        from nlme_lab.session.state import SessionState, VPCSpec

        text = self.model.with_initial(**self.parameters).text if self.last_fit is None else \
            self.last_fit.model.text
        fit_spec = self.last_fit_spec
        vpc_spec = VPCSpec(**self.diagnostics.vpc_options()) if self.diagnostics.vpc_result is not None else None
        return SessionState(data_path=self.data_path, model_text=text, fit=fit_spec, vpc=vpc_spec)

    def to_cells(self) -> list[str]:
        """The code cells that reproduce the current state (``session_cells(self.state())``), then
        those of every tool tab opened that has a result to repeat (a tab's ``to_cells()``, written
        against the session's ``data``, ``model`` and ``fit``)."""
        from nlme_lab.session.cells import session_cells

        cells = session_cells(self.state())
        for tab in self.tools.values():
            if tab is not None and hasattr(tab, "to_cells"):
                cells.extend(tab.to_cells())
        return cells

    def export(self, path=None) -> Path:
        """Write the session notebook (``write_session_notebook``) and return its path."""
        from nlme_lab.session.cells import write_session_notebook

        return write_session_notebook(self.state(), path)

    @classmethod
    def from_session(cls, path) -> "Lab":
        """A Lab reopened from a session ``.ipynb`` or ``.json`` (``read_session``)."""
        from nlme_lab.session.cells import read_session
        from nlme_lab.model import Model
        from nlme_lab.session.state import covariance_name

        state = read_session(path)
        # the model text as text (a one-line text ending in .nlm is never taken for a file name)
        lab = cls(data=state.data_path, model=Model(state.model_text),
                  method=state.fit.method if state.fit is not None else "focei")
        if state.fit is not None:  # the fit controls as the session left them
            panel = lab.fit_panel
            panel.seed.value = 1 if state.fit.seed is None else state.fit.seed
            panel.covariance.value = covariance_name(state.fit.covariance)
            panel.options.value = state.fit.options
        return lab


def _nothing_estimated(result, model) -> bool:
    """A fit stopped before its estimates moved from ``model``'s initial values: before its first
    iteration, or within SAEM's first iterations (which only sample the etas). It returns its
    starting point (for SAEM the FOCEI objective there, a copy of the previous fit's row when the
    sliders hold that fit's estimates), so it adds no History row and replaces no results."""
    import math

    from nlme_lab.estimation.results import Termination

    if result.termination is not Termination.STOPPED:
        return False
    start = model.initial_values()
    return result.iterations == 0 or all(
        math.isclose(value, start.get(name, math.nan), rel_tol=1e-9, abs_tol=1e-12)
        for name, value in result.estimates.items())


def _reproducing_spec(result, spec, options):
    """``(spec, reproduced)``: a SAEM fit stopped after k iterations is reproduced by the same
    call with its later phases shortened to k iterations (``saem.run.options_for_iterations``),
    without importance sampling and covariance step (a stopped run skips both), so the exported
    cells give its OFV; other stopped fits keep their call (and the export warns)."""
    from dataclasses import replace

    from nlme_lab.estimation.results import Termination

    if result.termination is not Termination.STOPPED or spec.method.lower() != "saem":
        return spec, False
    from nlme_lab.estimation.option_text import options_to_text
    from nlme_lab.estimation.saem.run import options_for_iterations

    shortened = options_for_iterations(options, len(result.history))
    return replace(spec, options=options_to_text(shortened), covariance=None), True


_BOKEHJS_LOADED = False


def _ensure_bokehjs() -> None:
    """Put BokehJS on the page once per kernel (inline: works offline), before the first Lab."""
    global _BOKEHJS_LOADED
    if _BOKEHJS_LOADED:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(resources=INLINE, hide_banner=True)
    _BOKEHJS_LOADED = True


def _new_history():
    from nlme_lab.session.history import RunHistory

    return RunHistory()
