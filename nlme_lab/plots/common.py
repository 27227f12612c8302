"""Shared pieces of the figures: named data sources, hover tools, figure defaults."""

from __future__ import annotations

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
POINT = "#1f77b4"
LINE = "#d62728"
IDENTITY = "#555555"


def source(name: str, data: dict):
    """A ``ColumnDataSource`` called ``name`` holding plain numpy/list columns."""
    from bokeh.models import ColumnDataSource

    return ColumnDataSource(data={k: _column(v) for k, v in data.items()}, name=name)


def _column(values):
    if isinstance(values, (list, tuple)) and values and isinstance(values[0], np.ndarray):
        return [np.asarray(v, dtype=float).tolist() for v in values]  # ragged: one list per glyph
    arr = np.asarray(values)
    if arr.dtype == object:
        return [str(v) for v in arr]
    return arr


def figure(title: str, x_label: str, y_label: str, *, log: bool = False, width: int = 400, height: int = 360, **kw):
    from bokeh.plotting import figure as bk_figure

    scale = "log" if log else "linear"
    fig = bk_figure(title=title, width=width, height=height, x_axis_type=kw.pop("x_axis_type", scale),
                    y_axis_type=kw.pop("y_axis_type", scale), tools="pan,wheel_zoom,box_zoom,reset,save", **kw)
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    return fig


def hover(renderers, fields: list[tuple[str, str]]):
    """A hover tool over ``renderers`` showing (label, @column) pairs."""
    from bokeh.models import HoverTool

    tips = [(label, f"@{{{col}}}" + ("{0.000}" if col not in ("ID", "STRATUM", "ENDPOINT") else ""))
            for label, col in fields]
    return HoverTool(renderers=list(renderers), tooltips=tips)


def positive(values) -> np.ndarray:
    """Mask of values a log axis can show."""
    v = np.asarray(values, dtype=float)
    return np.isfinite(v) & (v > 0)
