"""``DesignTab``: the Lab's Design tab: the current model, a design, its sampling times on the
typical predicted curve (drag them) and the expected RSE% of every parameter, live.

* ``group`` (Dropdown) chooses the group shown; ``times`` (Text) its sampling times of its first
  endpoint, comma separated (typing and dragging the markers on the curve do the same);
  ``size`` its number of subjects;
* ``approximation``, ``kind``, ``scale``: the FIM's options (``nl.fim``);
* ``rse`` bars (``design-rse``) and ``status`` (det, ln det, the null space in words) update at
  every change; ``timings["update_s"]`` is the last update's time;
* ``optimise_button`` runs ``nl.optimize_design`` on the group shown, in a background thread
  (``n_samples``, ``windows``); every improvement moves the markers and bars (the times are seen moving);
  ``stop_button`` ends it with the best design so far; ``last_optimum`` keeps the result.

The design starts as the Lab's dataset's (``Design.from_data``: identical subjects merged). The
numbers are ``nlme_lab.design``'s; this module only shows them.
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque

import ipywidgets as w
import numpy as np

from nlme_lab.design import Design, DesignInformation, optimize_design
from nlme_lab.design.fim import typical_curve
from nlme_lab.errors import NlmeError


def make_design_tab(lab) -> DesignTab:
    """The Lab's tool-tab factory (``TOOL_TABS``)."""
    return DesignTab(lab)


def _times_key(times) -> tuple[float, ...]:
    """Sorted times rounded to 1e-9 h: how a pushed set of markers is recognised in its echo."""
    return tuple(sorted(round(float(t), 9) for t in times))


class DesignTab(w.VBox):
    def __init__(self, lab=None, *, model=None, design: Design | None = None, params: dict | None = None):
        self.lab = lab
        self.model = model if model is not None else lab.model
        self.params = dict(params if params is not None else (lab.parameters if lab is not None else {}))
        self.design = design if design is not None else Design.from_data(lab.dataset)
        self.timings: dict[str, float] = {}
        self.last_optimum = None
        self.last_result = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._busy = False
        # marker times the kernel pushed to the page: the page echoes each push back through
        # ``design-dragged`` (a JS callback on the markers), late when pushes come fast (the
        # optimiser's animation); an echo is not a drag and must not reset the design
        self._pushed: deque[tuple[float, ...]] = deque(maxlen=256)
        names = [g.name for g in self.design.groups]
        self.group = w.Dropdown(options=names, value=names[0], description="group",
                                layout=w.Layout(width="220px"))
        self.size = w.BoundedIntText(value=self.design.groups[0].size, min=1, max=100000, description="subjects",
                                     layout=w.Layout(width="180px"))
        self.times = w.Text(description="times", continuous_update=False, layout=w.Layout(width="420px"))
        self.approximation = w.Dropdown(options=["fo", "foce"], value="fo", description="approx.",
                                        layout=w.Layout(width="160px"))
        self.kind = w.Dropdown(options=["block", "full"], value="block", description="FIM", layout=w.Layout(width="160px"))
        self.scale = w.Dropdown(options=["declared", "variance"], value="declared", description="residual",
                                layout=w.Layout(width="190px"))
        self.n_samples = w.BoundedIntText(value=0, min=0, max=50, description="samples",
                                          tooltip="samples per subject for the optimisation (0: as now)",
                                          layout=w.Layout(width="160px"))
        self.windows = w.Text(value="", placeholder="0:120", description="window", layout=w.Layout(width="200px"))
        self.optimise_button = w.Button(description="Optimise", icon="magic", button_style="primary",
                                        tooltip="D-optimal sampling times (runs in the background)")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.status = w.HTML()
        self.table = w.HTML()
        for widget, name in ((self.times, "times"), (self.optimise_button, "optimise"), (self.status, "status"),
                             (self.n_samples, "n-samples"), (self.windows, "windows")):
            widget.add_class(f"nlme-design-{name}")
        self._build_plot()
        self._show_group()
        self.times.observe(self._on_times_text, names="value")
        self.size.observe(self._on_size, names="value")
        self.group.observe(lambda _c: self._show_group(), names="value")
        for dd in (self.approximation, self.kind, self.scale):
            dd.observe(lambda _c: self.update(), names="value")
        self.optimise_button.on_click(lambda _b: self.optimise(wait=False))
        self.stop_button.on_click(lambda _b: self._stop.set())
        controls = w.HBox([self.group, self.size, self.times], layout=w.Layout(flex_flow="row wrap"))
        options = w.HBox([self.approximation, self.kind, self.scale], layout=w.Layout(flex_flow="row wrap"))
        opt = w.HBox([self.n_samples, self.windows, self.optimise_button, self.stop_button],
                     layout=w.Layout(flex_flow="row wrap"))
        super().__init__([w.HTML("<b>Design</b>: drag the sampling times on the curve or type them; the bars are "
                                 "the expected RSE% of every parameter (population FIM)"),
                          controls, options, self.plot, self.status, opt, self.table])
        self.add_class("nlme-design")
        self.update()
        self._show_plot()

    # ------------------------------------------------------------------ plot
    def _build_plot(self):
        from bokeh.layouts import row

        from nlme_lab.plots.design import design_curve_figure, rse_figure

        self.info = self._information()
        names = list(self.info(self.design).parameters)
        self.curve_figure, self.curve_source, self.times_source, self.dragged_source = \
            design_curve_figure([0, 1], [0, 0], [], [])
        self.rse_figure, self.rse_source = rse_figure(names, [np.nan] * len(names))
        self.times_source.on_change("data", self._on_drag)  # a kernel-side edit of the markers
        self.dragged_source.on_change("data", self._on_drag)  # a drag in the browser
        self._plot_layout = row(self.curve_figure, self.rse_figure)
        self.plot = w.VBox()  # the BokehModel is made once the sources hold the first design's numbers

    def _show_plot(self) -> None:
        from jupyter_bokeh import BokehModel

        self.plot.children = [BokehModel(self._plot_layout)]

    def _information(self) -> DesignInformation:
        return DesignInformation(self.model, params=self.params, approximation=getattr(self, "approximation").value
                                 if hasattr(self, "approximation") else "fo",
                                 kind=self.kind.value if hasattr(self, "kind") else "block",
                                 scale=self.scale.value if hasattr(self, "scale") else "declared")

    @property
    def group_index(self) -> int:
        return [g.name for g in self.design.groups].index(self.group.value)

    def _show_group(self) -> None:
        g = self.design.groups[self.group_index]
        t, y = typical_curve(self.model, self.design, self.group_index, params=self.params,
                             t_max=max(1.05 * max(g.times[0][1] or (1.0,)), 1.0))
        self.curve_source.data = {"t": t, "y": y}
        self._busy = True
        try:
            self.size.value = g.size
        finally:
            self._busy = False
        self._show_times()

    def _show_times(self) -> None:
        g = self.design.groups[self.group_index]
        ts = np.asarray(g.times[0][1], dtype=float)
        c = self.curve_source.data
        self._busy = True
        self._pushed.append(_times_key(ts))
        try:
            self.times_source.data = {"t": ts, "y": np.interp(ts, np.asarray(c["t"]), np.asarray(c["y"]))}
            self.times.value = ", ".join(f"{t:.4g}" for t in ts)
        finally:
            self._busy = False

    # ------------------------------------------------------------------ edits
    def set_times(self, times, group: int | None = None) -> None:
        """New sampling times (first endpoint) for ``group`` (default the one shown), then update."""
        k = self.group_index if group is None else int(group)
        g = self.design.groups[k]
        new = [dict(x.times) for x in self.design.groups]
        new[k] = {**dict(g.times), g.times[0][0]: [max(0.0, float(t)) for t in times]}
        self.design = self.design.with_times(new)
        if k == self.group_index:
            self._show_times()
        self.update()

    def _on_drag(self, attr, old, new) -> None:
        if self._busy or self.running:  # no drags while the optimiser moves the markers
            return
        ts = list(new.get("t", []))
        if _times_key(ts) in self._pushed:
            return  # the page's echo of a push by the kernel (the animation), not a drag
        g = self.design.groups[self.group_index]
        if len(ts) != len(g.times[0][1]):  # points are not added or removed here
            self._show_times()
            return
        if np.allclose(np.sort(np.asarray(ts, float)), g.times[0][1]):
            return  # the echo of the kernel's own update
        self.set_times(ts)

    def _on_times_text(self, change) -> None:
        if self._busy:
            return
        try:
            ts = [float(x) for x in change["new"].replace(";", ",").split(",") if x.strip()]
        except ValueError:
            self.status.value = f"<span style='color:#c62828'>times: numbers separated by commas, got " \
                                f"{html.escape(change['new'])!r}</span>"
            return
        if not ts:
            return
        self.set_times(ts)

    def _on_size(self, change) -> None:
        if self._busy:
            return
        from dataclasses import replace

        k = self.group_index
        groups = list(self.design.groups)
        groups[k] = replace(groups[k], size=int(change["new"]))
        self.design = Design(tuple(groups))
        self.update()

    # ------------------------------------------------------------------ numbers
    def update(self, result=None) -> None:
        """Recompute (or show ``result``) the FIM of the current design: bars, status, table."""
        from nlme_lab.plots.design import rse_data

        t0 = time.perf_counter()
        if result is None:
            opts = (self.approximation.value, self.kind.value, self.scale.value)
            if (self.info.approximation, self.info.kind, self.info.scale) != opts:
                self.info = self._information()
            try:
                result = self.info(self.design)
            except NlmeError as err:
                self.status.value = f"<span style='color:#c62828'>{html.escape(str(err))}</span>"
                return
        self.last_result = result
        rse = result.rse_percent.to_numpy()
        self.rse_source.data = rse_data(result.parameters, rse)
        finite = rse[np.isfinite(rse)]
        self.rse_figure.x_range.end = max(10.0, 1.35 * float(finite.max())) if len(finite) else 10.0
        msg = (f"<span style='color:#c62828'>{html.escape(result.message)}</span>" if result.message else "")
        self.status.value = (f"<span class='nlme-design-det'>{self.design.n_subjects} subjects, "
                             f"{self.design.n_samples} samples: ln det {result.ln_det:.4g}, D-criterion "
                             f"{result.d_criterion:.4g}</span> {msg}")
        self.table.value = self.design.table().to_html(index=False)
        self.timings["update_s"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ export
    def to_cells(self, model_name: str = "model") -> list[str]:
        """Code cells that rebuild the current design and its FIM (``model_name``: the variable
        holding the model in the exported session; the parameter values are written out)."""
        from pprint import pformat

        design = pformat(self.design.to_dict(), sort_dicts=False)
        params = {k: float(v) for k, v in self.params.items()}
        return [f"design = nl.Design.from_dict({design})",
                f"design_fim = nl.fim({model_name}, design, params={params!r}, approximation={self.approximation.value!r}, "
                f"kind={self.kind.value!r}, scale={self.scale.value!r})\n"
                "design_fim.summary()"]

    # ------------------------------------------------------------------ optimisation
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def optimise(self, *, wait: bool = True, **kwargs):
        """D-optimal times for the groups (``nl.optimize_design``), in a background thread that
        animates the markers; ``wait``: join it and return the result."""
        if self.running:
            return None
        windows = None
        if self.windows.value.strip():
            parts = [p.split(":") for p in self.windows.value.split(",")]
            try:
                windows = [(float(a), float(b)) for a, b in parts]
            except ValueError:
                self.status.value = "<span style='color:#c62828'>window: LOW:HIGH, e.g. 0:120</span>"
                return None
            windows = windows[0] if len(windows) == 1 else windows
        n = self.n_samples.value or None
        self._stop.clear()
        self.optimise_button.disabled, self.stop_button.disabled = True, False
        start = self.design
        group = self.group.value  # the group shown is the one optimised

        def step(design, result):
            self.design = design
            self._show_times()
            self.update(result)

        def run():
            try:
                opt = optimize_design(self.model, start, times=[group], windows=windows, n_samples=n, params=self.params,
                                      approximation=self.approximation.value, kind=self.kind.value,
                                      scale=self.scale.value, on_step=step, stop=self._stop, **kwargs)
                self.last_optimum = opt
                self.design = opt.design
                self._show_times()
                self.update(opt.fim)
                self.status.value += (f"; <span class='nlme-design-efficiency'>optimised: efficiency "
                                      f"{opt.efficiency:.4f} relative to the start</span>")
            except Exception as err:  # noqa: BLE001 - shown, not raised, in a background thread
                self.status.value = f"<span style='color:#c62828'>optimisation failed: {html.escape(str(err))}</span>"
            finally:
                self.optimise_button.disabled, self.stop_button.disabled = False, True

        self._thread = threading.Thread(target=run, daemon=True, name="nlme-design-optimise")
        self._thread.start()
        if wait:
            self._thread.join()
            return self.last_optimum
        return None
