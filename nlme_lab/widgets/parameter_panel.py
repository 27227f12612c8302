"""``ParameterPanel``: a slider and a typed box for every theta, omega and residual parameter.

Bounds come from ``[ini]`` (a theta's ``(lower, init, upper)``); an unbounded side gets a
range around the initial value (log-scale thetas are usually near zero, so the span is at least
``MIN_SPAN``); variances are bounded below by zero. ``panel.values`` is the current value of
every parameter (the model's reported names), kept at full precision; the boxes show it to
``DIGITS`` significant digits (a typed value is taken as typed, clamped to the bounds; text
that is not a number puts the current value back). ``panel.on_change(callback)`` calls
``callback(values)`` after each change. Nothing here computes predictions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as w

MIN_SPAN = 2.0  # the slider span of an unbounded parameter is at least this (or 2 x |init|)
DIGITS = 6  # significant digits shown in a parameter's box


def shown(value: float) -> str:
    """A parameter value as its box shows it: ``DIGITS`` significant digits."""
    return f"{float(value):.{DIGITS}g}"


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
        self._rows: dict[str, tuple[w.FloatSlider, w.Text]] = {}
        self._values: dict[str, float] = {}
        self._bounds: dict[str, tuple[float, float]] = {}
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
        return dict(self._values)

    def on_change(self, callback: Callable[[dict], object]) -> None:
        self._callbacks.append(callback)

    def set_model(self, model) -> None:
        """Rebuild the rows for ``model`` (its initial values and bounds)."""
        self._model = model
        self._bounds = parameter_bounds(model)
        self._rows, self._values = {}, {}
        rows = []
        for name, value in model.initial_values().items():
            lo, hi = slider_range(float(value), *self._bounds[name])
            slider = w.FloatSlider(value=value, min=lo, max=hi, step=(hi - lo) / 500, readout=False,
                                   continuous_update=True, layout=w.Layout(width="220px"))
            box = w.Text(value=shown(value), continuous_update=False, layout=w.Layout(width="100px"))
            css = "nlme-param-" + "".join(c if c.isalnum() or c == "_" else "-" for c in name)
            slider.add_class(css + "-slider")
            box.add_class(css + "-box")  # for browser tests and styling
            slider.observe(self._slider_moved(name), "value")
            box.observe(self._box_typed(name), "value")
            self._rows[name] = (slider, box)
            self._values[name] = float(value)
            label = w.Label(name, layout=w.Layout(width="100px"))
            label.tooltip = name
            rows.append(w.HBox([label, slider, box]))
        self.children = [*rows, w.HBox([self.set_initial_button, self.reset_button],
                                       layout=w.Layout(flex_flow="row wrap"))]

    def set_values(self, values: dict[str, float]) -> None:
        """Set several values at once (one change notification)."""
        unknown = [n for n in values if n not in self._rows]
        if unknown:
            raise KeyError(f"no parameter {unknown[0]!r}; the model's parameters are {', '.join(self._rows)}")
        self._quiet = True
        try:
            for name, value in values.items():
                self._show(name, float(value))
        finally:
            self._quiet = False
        self._notify()

    def type_value(self, name: str, text: str) -> None:
        """Type ``text`` into a parameter's box, as a user does (then Enter)."""
        self._rows[name][1].value = str(text)

    def slider(self, name: str) -> w.FloatSlider:
        return self._rows[name][0]

    def box(self, name: str) -> w.Text:
        return self._rows[name][1]

    # ------------------------------------------------------------------ events
    def _show(self, name: str, value: float) -> None:
        """``value`` becomes the parameter's value; its slider and box follow (quietly)."""
        slider, box = self._rows[name]
        self._values[name] = value
        box.value = shown(value)
        slider.min, slider.max = min(slider.min, value), max(slider.max, value)
        slider.value = value

    def _slider_moved(self, name):
        def handler(change):
            if self._quiet:
                return
            slider = self._rows[name][0]
            if abs(change["new"] - self._values[name]) <= 0.5 * slider.step * (1 + 1e-9):
                return  # the browser snapping a typed value to the slider's grid: keep the typed one
            self._quiet = True
            try:
                self._values[name] = float(change["new"])
                self._rows[name][1].value = shown(change["new"])
            finally:
                self._quiet = False
            self._notify()
        return handler

    def _box_typed(self, name):
        def handler(change):
            if self._quiet:
                return
            value = self._parse(name, change["new"])
            self._quiet = True
            try:
                if value is None:  # not a number: the current value comes back
                    self._rows[name][1].value = shown(self._values[name])
                    return
                self._show(name, value)
            finally:
                self._quiet = False
            self._notify()
        return handler

    def _parse(self, name: str, text: str) -> float | None:
        """The typed number clamped to the parameter's bounds; None for anything else or for
        what the box shows already (an unchanged box keeps the full-precision value)."""
        if text.strip() == shown(self._values[name]):
            return None
        try:
            value = float(text)
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        lo, hi = self._bounds[name]
        return min(max(value, lo), hi)

    def _notify(self) -> None:
        values = self.values
        for callback in list(self._callbacks):
            callback(values)
