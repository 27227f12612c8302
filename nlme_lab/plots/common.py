"""Shared pieces of the figures: named data sources, hover tools, figure defaults."""

from __future__ import annotations

from dataclasses import dataclass

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
    """A figure with the project's tools; a title too long for ``width`` is wrapped onto more
    lines (never cut), and the toolbar shows while the pointer is over the figure."""
    from bokeh.plotting import figure as bk_figure

    scale = "log" if log else "linear"
    fig = bk_figure(title=wrap_title(title, width), width=width, height=height,
                    x_axis_type=kw.pop("x_axis_type", scale), y_axis_type=kw.pop("y_axis_type", scale),
                    tools="pan,wheel_zoom,box_zoom,reset,save", **kw)
    fig.toolbar.autohide = True
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    return fig


def legend_below(fig, items, *, ncols: int | None = None) -> None:
    """A legend under the plotting area, in one row (or ``ncols`` columns): it never hides data."""
    from bokeh.models import Legend

    legend = Legend(items=items, orientation="horizontal", label_text_font_size="8pt", padding=2, spacing=6,
                    margin=2, glyph_width=16, label_standoff=3)
    if ncols is not None:
        legend.ncols = ncols
    fig.add_layout(legend, "below")


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


def flow(children, *, name: str | None = None):
    """Fixed-size figures side by side, wrapping onto the next line when the page (notebook
    output, report, Lab tab) is narrower than the row: nothing is cut at the right edge
    (a ``gridplot`` of fixed columns is)."""
    from bokeh.layouts import row

    return row(*children, sizing_mode="stretch_width", styles={"flex-wrap": "wrap", "gap": "4px"}, name=name)


TITLE_CHAR_PX = 6.8  # mean width of a character of bokeh's bold 13 px title font (measured 6.0), with room
TITLE_MARGIN_PX = 80  # a figure's width beside its plotting frame, over which the title runs: y axis, toolbar


def wrap_title(text: str, width: int) -> str:
    """``text`` broken into lines that fit the plotting frame of a figure ``width`` pixels wide
    (bokeh titles do not wrap by themselves: a long one is cut at the frame's edge)."""
    import textwrap

    chars = max(12, int((width - TITLE_MARGIN_PX) / TITLE_CHAR_PX))
    return "\n".join(textwrap.wrap(text, chars, break_long_words=False)) or text


@dataclass(frozen=True)
class EndpointPart:
    """The records of one endpoint for one figure (or of all, for a one-endpoint table).

    ``name``: the endpoint's variable (None for a one-endpoint table); ``label``: how titles
    and axes name it ("cp (DVID 1)", "" for a one-endpoint table); ``suffix``: what source
    names get appended (``keyed``), None unless the figures show several endpoints."""

    name: str | None
    label: str
    suffix: str | None
    records: object  # pandas DataFrame


def endpoint_label(name: str, order=()) -> str:
    """``"cp (DVID 1)"``: an endpoint's variable with its DVID (its place among the model's
    ``~`` lines), or the name alone when the order is not known."""
    order = list(order)
    return f"{name} (DVID {order.index(name) + 1})" if name in order else str(name)


def endpoint_names(records, order=()) -> list[str]:
    """The endpoints present in a table with an ENDPOINT column, in the model's order
    ``order`` when given, else in order of appearance."""
    present = list(dict.fromkeys(records["ENDPOINT"].tolist())) if "ENDPOINT" in records else []
    ordered = [e for e in order if e in present]
    return ordered + [e for e in present if e not in ordered]


def endpoint_parts(records, endpoint=None, order=()) -> list[EndpointPart]:
    """The one ``endpoint`` asked for, else every endpoint of the table, each apart (several
    endpoints are never pooled in one figure: each gets its own axes and scale). Unknown
    endpoints raise ``KeyError`` naming the ones there are."""
    names = endpoint_names(records, order)
    if endpoint is not None:
        if endpoint not in names:
            raise KeyError(f"no endpoint {endpoint!r}; the table has {', '.join(map(str, names))}")
        names = [endpoint]
    elif len(names) <= 1:
        return [EndpointPart(None, "", None, records)]
    several = len(names) > 1
    return [EndpointPart(n, endpoint_label(n, order), n if several else None, records[records["ENDPOINT"] == n])
            for n in names]


def keyed(key: str, suffix: str | None) -> str:
    """A source-name prefix: ``key`` for a figure of the only (or the chosen) endpoint,
    ``key_<endpoint>`` for one of several endpoints shown together."""
    return key if suffix is None else f"{key}_{suffix}"


def titled(title: str, label: str) -> str:
    """``"cp (DVID 1): DV vs PRED"``, or the title alone without an endpoint label."""
    return f"{label}: {title}" if label else title
