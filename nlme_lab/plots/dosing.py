"""Figures of MAP dosing and virtual trials: a patient's posterior curve with its band and
levels, and the probability of target attainment as a regimen x subgroup heat map."""

from __future__ import annotations

import numpy as np

from nlme_lab.plots.common import LINE, POINT, figure, hover, source


def _curve_data(post) -> tuple[dict, dict]:
    p = post.predictions
    obs = p[p["MDV"] == 0]
    return ({"time": p["TIME"].to_numpy(float), "ipred": p["IPRED"].to_numpy(float),
             "pred": p["PRED"].to_numpy(float), "lower": p["LOWER"].to_numpy(float),
             "upper": p["UPPER"].to_numpy(float)},
            {"time": obs["TIME"].to_numpy(float), "dv": obs["DV"].to_numpy(float)})


def posterior_figure(post=None, *, width: int = 620, height: int = 340):
    """The patient's IPRED (MAP) with its posterior band, PRED and the levels."""
    curve, levels = _curve_data(post) if post is not None else (
        {k: np.zeros(0) for k in ("time", "ipred", "pred", "lower", "upper")}, {"time": np.zeros(0), "dv": np.zeros(0)})
    fig = figure("Posterior prediction (MAP) with its 90% band", "time", "concentration", width=width, height=height)
    cs, ls = source("posterior_curve", curve), source("patient_levels", levels)
    fig.varea("time", "lower", "upper", source=cs, fill_color=LINE, fill_alpha=0.15, legend_label="90% band")
    fig.line("time", "ipred", source=cs, line_color=LINE, line_width=2, legend_label="IPRED (MAP)")
    fig.line("time", "pred", source=cs, line_color="#555555", line_dash="dashed", legend_label="PRED")
    pts = fig.scatter("time", "dv", source=ls, size=9, color=POINT, legend_label="levels")
    fig.add_tools(hover([pts], [("time", "@time"), ("level", "@dv")]))
    fig.legend.location = "top_right"
    return fig


def update_posterior_figure(fig, post) -> None:
    curve, levels = _curve_data(post)
    fig.select_one({"name": "posterior_curve"}).data = {k: v.tolist() for k, v in curve.items()}
    fig.select_one({"name": "patient_levels"}).data = {k: v.tolist() for k, v in levels.items()}


def _heat_data(table, column: str | None) -> dict:
    """Cells of a PTA table (regimen x subgroup level)."""
    t = table.copy()
    t["group"] = t[column].astype(str) if column else "all"
    return {"regimen": t["regimen"].astype(str).tolist(), "group": t["group"].tolist(),
            "pta": t["pta"].to_numpy(float), "text": [f"{p:.0%}" for p in t["pta"]],
            "lower": t["lower"].to_numpy(float), "upper": t["upper"].to_numpy(float)}


def pta_heatmap(table, column: str | None = None, *, title: str = "Probability of target attainment",
                width: int = 560, height: int = 320):
    """The PTA of every regimen (x) and subgroup level (y: ``column`` of ``table``) as colour."""
    from bokeh.models import LinearColorMapper
    from bokeh.palettes import RdYlGn11

    data = _heat_data(table, column)
    regs = list(dict.fromkeys(data["regimen"]))
    groups = list(dict.fromkeys(data["group"]))
    fig = figure(title, "regimen", column or "", width=width, height=height, x_range=regs, y_range=groups,
                 x_axis_type="auto", y_axis_type="auto")  # factor ranges: categorical axes
    mapper = LinearColorMapper(palette=list(reversed(RdYlGn11)), low=0.0, high=1.0)
    src = source("pta_cells", data)
    rect = fig.rect("regimen", "group", 1, 1, source=src, fill_color={"field": "pta", "transform": mapper},
                    line_color="white")
    fig.text("regimen", "group", text="text", source=src, text_align="center", text_baseline="middle",
             text_font_size="12px")
    fig.add_tools(hover([rect], [("regimen", "@regimen"), ("group", "@group"), ("PTA", "@pta{0.0%}"),
                                 ("interval", "@lower{0%} - @upper{0%}")]))
    fig.grid.visible = False
    return fig
