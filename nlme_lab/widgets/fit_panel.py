"""``FitPanel``: method, Start/Stop, the streamed OFV and parameter traces, the results.

The panel only shows things: the Lab runs ``nl.fit`` in a background thread, calls
``starting(method)`` (which says when the engine will first compile, and for how long), feeds
``add_iteration(event)`` from the fit's callback (each outer iteration streams one row into
the ``lab_trace`` source), calls ``show_stopping()`` when Stop is pressed, then
``show_result(fit)`` or ``show_error(message)``. The status line says what happened in plain
words: a fit that ended early shows its best estimates so far as such, a failure says whether
there were earlier results to keep and shows the last estimates the run reached.
"""

from __future__ import annotations

import enum
import html
import time

import ipywidgets as w
import numpy as np

from nlme_lab.plots.lab import fit_trace, show_trace_markers, label_objective_trace

# The trace is sent to the browser at most every FLUSH_S seconds, and drawn as lines only past
# MARKER_LIMIT points: every flush redraws all trace figures, and at 10 flushes a second with
# markers a 2-core machine under load left the page too busy to take the click on Stop.
FLUSH_S = 0.25
MARKER_LIMIT = 200
# Past every TRACE_STEP points the trace keeps only every 2nd (4th, ...) iteration: a long SAEM
# run streams thousands of iterations, and redrawing them all every flush froze the page (clicks
# on Stop timed out). Points are only ever appended (a replaced data source raced the streamed
# rows in the browser and drew lines back in time), so 20,000 iterations make ~2,000 points.
TRACE_STEP = 300


class FitStatus(str, enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"
    FAILED = "failed"


def available_methods() -> list[str]:
    """The estimation methods the registry has right now (names for ``nl.fit``)."""
    from nlme_lab.estimation.methods import METHODS

    return [kind.value for kind in METHODS]


def objective_label(event) -> str:
    """What an iteration's ``ofv`` is: "OFV", or for SAEM the complete-data -2 log-likelihood
    (another scale than the final importance-sampling OFV, so it is named)."""
    from nlme_lab.estimation.results import ObjectiveKind

    kind = getattr(event, "objective", ObjectiveKind.OFV)
    return "OFV" if kind is ObjectiveKind.OFV else kind.value


class FitPanel(w.VBox):
    def __init__(self, parameter_names, method: str = "focei"):
        from jupyter_bokeh import BokehModel

        methods = available_methods()
        self.method = w.Dropdown(options=methods, value=method if method in methods else methods[0],
                                 description="method")
        self.seed = w.IntText(value=1, description="seed", layout=w.Layout(width="160px"))
        self.covariance = w.Dropdown(options=["default", "sandwich", "r", "s", "fim", "none"], value="default",
                                     description="covariance")
        self.options = w.Text(value="", description="options", placeholder="e.g. n_burn=400, n_em=300",
                              layout=w.Layout(width="320px"))
        self.start_button = w.Button(description="Start", icon="play", button_style="success")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        for widget, css in ((self.method, "nlme-fit-method"), (self.options, "nlme-fit-options"),
                            (self.start_button, "nlme-fit-start"),
                            (self.stop_button, "nlme-fit-stop")):
            widget.add_class(css)
        self.status = w.HTML("<i>no fit yet</i>")
        self.status.add_class("nlme-fit-status")
        self.status_kind = FitStatus.IDLE
        self.names = tuple(parameter_names)
        self._trace_layout, self.trace_source = fit_trace(self.names)
        self._objective_label = "OFV"
        self.trace = BokehModel(self._trace_layout)
        self.results = w.HTML("")
        self._pending: list[dict] = []
        self._flushed_at = 0.0
        self._last_event = None
        self._n_events, self._n_kept, self._stride = 0, 0, 1
        self._markers = True
        self._compile_notice = ""  # set by ``starting`` when the run will compile first
        controls = w.HBox([self.method, self.seed, self.covariance, self.options, self.start_button,
                           self.stop_button], layout=w.Layout(flex_flow="row wrap"))
        super().__init__([controls, self.status, self.trace, self.results])

    def reset_trace(self, parameter_names=None) -> None:
        self._pending, self._flushed_at = [], 0.0
        self._n_events, self._n_kept, self._stride, self._last_event = 0, 0, 1, None
        self._markers = True
        if parameter_names is not None and tuple(parameter_names) != self.names:
            from jupyter_bokeh import BokehModel

            self.names = tuple(parameter_names)  # another model: new trace figures, one per parameter
            self._trace_layout, self.trace_source = fit_trace(self.names)
            self._objective_label = "OFV"
            self.trace = BokehModel(self._trace_layout)
            self.children = [self.children[0], self.status, self.trace, self.results]
            return
        self.trace_source.data = {c: [] for c in ["ITERATION", "OFV", *self.names]}
        show_trace_markers(self._trace_layout, True)

    def set_running(self, running: bool, message: str = "") -> None:
        self.start_button.disabled = running
        self.stop_button.disabled = not running
        self.status_kind = FitStatus.RUNNING if running else self.status_kind
        if message:
            self.status.value = message

    def starting(self, method: str) -> None:
        """Running, before the first iteration: says what will compile first (numba, once per
        machine), so a long silent start and a slow Stop are explained."""
        from nlme_lab.problem.compiling import notice

        self._compile_notice = notice(method)
        extra = f"<br><i>{html.escape(self._compile_notice)}</i>" if self._compile_notice else ""
        self.set_running(True, f"<i>starting {html.escape(str(method))}…</i>{extra}")

    def show_stopping(self) -> None:
        """Stop pressed: acknowledged at once. Before the first iteration of a run that compiles,
        it says the stop waits for the compile (numba cannot be interrupted)."""
        self.status_kind = FitStatus.STOPPING
        wait = ""
        if self._last_event is None and self._compile_notice:
            wait = (" (the engine is compiling, which cannot be interrupted: the fit stops as soon as the "
                    "compile ends)")
        self.status.value = f"<i>stopping…{wait}</i>"

    def add_iteration(self, event) -> None:
        """Stream one iteration (an ``IterationEvent``) into the traces; rows are sent at most
        every ``FLUSH_S`` seconds (hundreds of tiny messages a second leave the browser behind),
        and thinned past ``TRACE_STEP`` points."""
        keep = self._n_events % self._stride == 0
        self._n_events += 1
        self._last_event = event
        if keep:
            row = {"ITERATION": event.iteration, "OFV": event.ofv}
            for name in self.names:
                row[name] = float(event.estimates.get(name, np.nan))
            self._pending.append(row)
            self._n_kept += 1
            if self._n_kept % TRACE_STEP == 0:
                self._stride *= 2
        if time.monotonic() - self._flushed_at >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Send the buffered iterations to the trace source and the status line."""
        rows, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        if self._markers and self._n_kept > MARKER_LIMIT:
            show_trace_markers(self._trace_layout, False)
            self._markers = False
        if rows:
            self.trace_source.stream({c: [r.get(c, np.nan) for r in rows] for c in self.trace_source.data})
        event = self._last_event
        if event is None:
            return
        label = objective_label(event)
        if label != self._objective_label:
            label_objective_trace(self._trace_layout, label)
            self._objective_label = label
        stopping = " — <i>stopping…</i>" if self.status_kind is FitStatus.STOPPING else ""
        self.status.value = (f"<b>{html.escape(event.method.value)}</b> iteration {event.iteration}: "
                             f"{label} {event.ofv:.4f}, {event.elapsed_s:.1f} s{stopping}")

    def show_result(self, fit) -> None:
        """The result (its table lists the fit's warnings, once). A fit that did not converge
        says its estimates are the best reached so far."""
        self.flush()
        self.status_kind = FitStatus.DONE
        what = html.escape(fit.termination.value)
        if not fit.converged:
            what += (f" after {fit.iterations} iteration(s): {html.escape(fit.message)}; the estimates are the best "
                     "so far")
        self.set_running(False, f"<b>done</b>: {what}, OFV {fit.ofv:.4f} in {fit.elapsed_s:.1f} s")
        self.results.value = fit._repr_html_()

    def show_error(self, message: str) -> None:
        """A fit that raised: the message, whether earlier results are kept, and the last
        estimates the run reached (from its trace; nothing is lost that was streamed)."""
        self.flush()
        self.status_kind = FitStatus.FAILED
        kept = "the previous results are kept" if self.results.value else "there are no previous results"
        self.set_running(False, f"<span style='color:#b00'>✗ the fit failed: {html.escape(message)}; "
                                f"{kept}</span>{self._last_estimates()}")

    def _last_estimates(self) -> str:
        event = self._last_event
        if event is None:
            return ""
        cells = "".join(f"<tr><td>{html.escape(name)}</td><td>{value:.6g}</td></tr>"
                        for name, value in event.estimates.items())
        return (f"<br>the last estimates it reached (iteration {event.iteration}, {objective_label(event)} "
                f"{event.ofv:.4f}):<table>{cells}</table>")
