"""``ParameterPanel``: a slider and a typed box for every theta, omega and residual parameter.

Bounds come from ``[ini]`` (a theta's ``(lower, init, upper)``); an unbounded side gets a
range around the initial value (log-scale thetas are usually near zero, so the span is at least
``MIN_SPAN``); variances are bounded below by zero. ``panel.values`` is the current value of
every parameter (the model's reported names); ``panel.on_change(callback)`` calls
``callback(values)`` after each change. Nothing here computes predictions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as w

MIN_SPAN = 2.0  # the slider span of an unbounded parameter is at least this (or 2 x |init|)


def slider_range(init: float, lower: float, upper: float) -> tuple[float, float]:
    """The slider's (min, max): the declared bounds, else ``init`` +- max(2 |init|, MIN_SPAN)."""
    span = max(2.0 * abs(init), MIN_SPAN)
    lo = lower if math.isfinite(lower) else init - span
    hi = upper if math.isfinite(upper) else init + span
    return float(lo), float(hi)


def parameter_bounds(model) -> dict[str, tuple[float, float]]:
    """(lower, upper) of every reported parameter: thetas from ``[ini]``, variances >= 0."""
    bounds = {t.name: (t.lower, t.upper) for t in model.thetas}
    for name in model.initial_values():
        if name not in bounds:
            is_cov = "," in name
            bounds[name] = (float("-inf") if is_cov else 0.0, float("inf"))
    return bounds


class ParameterPanel(w.VBox):
    """One row per parameter: name, slider, typed box (synced both ways)."""

    def __init__(self, model):
        self._callbacks: list[Callable[[dict], object]] = []
        self._rows: dict[str, tuple[w.FloatSlider, w.FloatText]] = {}
        self._quiet = False
        self.set_initial_button = w.Button(description="Set as initial estimates", icon="pencil",
                                           layout=w.Layout(width="220px"))
        self.reset_button = w.Button(description="Reset to model", icon="undo", layout=w.Layout(width="160px"))
        self.reset_button.on_click(lambda _b: self.set_values(self._model.initial_values()))
        super().__init__()
        self.set_model(model)

    # ------------------------------------------------------------------ public API
    @property
    def values(self) -> dict[str, float]:
        return {name: float(box.value) for name, (_slider, box) in self._rows.items()}

    def on_change(self, callback: Callable[[dict], object]) -> None:
        self._callbacks.append(callback)

    def set_model(self, model) -> None:
        """Rebuild the rows for ``model`` (its initial values and bounds)."""
        self._model = model
        bounds = parameter_bounds(model)
        self._rows = {}
        rows = []
        for name, value in model.initial_values().items():
            lo, hi = slider_range(float(value), *bounds[name])
            slider = w.FloatSlider(value=value, min=lo, max=hi, step=(hi - lo) / 500, readout=False,
                                   continuous_update=True, layout=w.Layout(width="260px"))
            box = w.BoundedFloatText(value=value, min=bounds[name][0] if math.isfinite(bounds[name][0]) else -1e300,
                                     max=bounds[name][1] if math.isfinite(bounds[name][1]) else 1e300,
                                     layout=w.Layout(width="110px"))
            css = "nlme-param-" + "".join(c if c.isalnum() or c == "_" else "-" for c in name)
            slider.add_class(css + "-slider")
            box.add_class(css + "-box")  # for browser tests and styling
            slider.observe(self._slider_moved(name), "value")
            box.observe(self._box_typed(name), "value")
            self._rows[name] = (slider, box)
            rows.append(w.HBox([w.Label(name, layout=w.Layout(width="110px")), slider, box]))
        self.children = [*rows, w.HBox([self.set_initial_button, self.reset_button])]

    def set_values(self, values: dict[str, float]) -> None:
        """Set several values at once (one change notification)."""
        unknown = [n for n in values if n not in self._rows]
        if unknown:
            raise KeyError(f"no parameter {unknown[0]!r}; the model's parameters are {', '.join(self._rows)}")
        self._quiet = True
        try:
            for name, value in values.items():
                slider, box = self._rows[name]
                box.value = float(value)
                slider.min, slider.max = min(slider.min, box.value), max(slider.max, box.value)
                slider.value = box.value
        finally:
            self._quiet = False
        self._notify()

    def slider(self, name: str) -> w.FloatSlider:
        return self._rows[name][0]

    def box(self, name: str) -> w.FloatText:
        return self._rows[name][1]

    # ------------------------------------------------------------------ events
    def _slider_moved(self, name):
        def handler(change):
            if self._quiet:
                return
            slider, box = self._rows[name]
            if abs(change["new"] - box.value) <= 0.5 * slider.step * (1 + 1e-9):
                return  # the browser snapping a typed value to the slider's grid: keep the typed one
            self._quiet = True
            try:
                box.value = change["new"]
            finally:
                self._quiet = False
            self._notify()
        return handler

    def _box_typed(self, name):
        def handler(change):
            if self._quiet:
                return
            slider = self._rows[name][0]
            self._quiet = True
            try:
                slider.min, slider.max = min(slider.min, change["new"]), max(slider.max, change["new"])
                slider.value = change["new"]
            finally:
                self._quiet = False
            self._notify()
        return handler

    def _notify(self) -> None:
        values = self.values
        for callback in list(self._callbacks):
            callback(values)
