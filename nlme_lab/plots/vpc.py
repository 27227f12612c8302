"""VPC / pcVPC figures from a ``diagnostics.VPCResult``: per stratum, a shaded band for the
simulated interval of each percentile, the simulated medians (dashed), the observed
percentiles (solid) and the observations; and, when the result has an LLOQ, a BLQ-fraction
panel.

Sources (``<s>``: the stratum's index, 0-based; ``<p>``: the percentile as ``f"{p:g}"``):
``vpc_<s>_p<p>`` (X = the bin's median x, BIN, SIM_LOWER, SIM_MEDIAN, SIM_UPPER, OBSERVED per bin),
``vpc_<s>_observations`` (ID, TIME, X, DV), ``vpc_<s>_blq`` (X, OBSERVED, SIM_LOWER,
SIM_MEDIAN, SIM_UPPER).
"""

from __future__ import annotations

from nlme_lab.plots.common import POINT, figure, hover, source

BAND_COLORS = {"outer": "#1f77b4", "median": "#d62728"}


def vpc_plot(result, *, log: bool = False, show_observations: bool = True, width: int = 520, height: int = 380):
    """A column of figures per stratum (VPC, then BLQ fraction when present), side by side."""
    from bokeh.layouts import column, row

    cols = []
    for s, label in enumerate(result.strata):
        figs = [_main(result, s, label, log, show_observations, width, height)]
        if result.blq is not None:
            figs.append(_blq(result, s, label, width))
        cols.append(column(*figs))
    return row(*cols) if len(cols) > 1 else cols[0]


def _title(result, label) -> str:
    kind = "pvcVPC" if result.variability_corrected else "pcVPC" if result.pred_corrected else "VPC"
    strat = "" if label == "all" else f" — {label}"
    return f"{kind}{strat} ({result.n_replicates} replicates, {result.ci:g}% intervals)"


def _main(result, s, label, log, show_observations, width, height):
    p = result.percentiles[result.percentiles["STRATUM"] == label]
    bins = result.bins[result.bins["STRATUM"] == label].set_index("BIN")
    x_label = "time after dose" if result.x.value == "tad" else "time"
    y_label = "prediction-corrected DV" if result.pred_corrected else "DV"
    fig = figure(_title(result, label), x_label, y_label, log=False, y_axis_type="log" if log else "linear",
                 width=width, height=height)
    if show_observations:
        o = result.observations[result.observations["STRATUM"] == label]
        obs = source(f"vpc_{s}_observations", {"ID": o["ID"].to_numpy(), "TIME": o["TIME"].to_numpy(float),
                                               "X": o["X"].to_numpy(float), "DV": o["DV"].to_numpy(float)})
        r = fig.scatter("X", "DV", source=obs, size=4, alpha=0.35, color=POINT)
        fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), ("x", "X"), ("DV", "DV")]))
    for level in sorted(set(p["PERCENTILE"].tolist())):
        _draw_level(fig, s, level, p[p["PERCENTILE"] == level], bins)
    fig.legend.location = "top_right"
    fig.legend.label_text_font_size = "8pt"
    return fig


def _draw_level(fig, s, level, p, bins):
    color = BAND_COLORS["median"] if level == 50 else BAND_COLORS["outer"]
    x = bins.loc[p["BIN"].to_numpy(), "X_MEDIAN"].to_numpy(float)
    src = source(f"vpc_{s}_p{level:g}", {"X": x, "BIN": p["BIN"].to_numpy(),
                                        "SIM_LOWER": p["SIM_LOWER"].to_numpy(float),
                                        "SIM_MEDIAN": p["SIM_MEDIAN"].to_numpy(float),
                                        "SIM_UPPER": p["SIM_UPPER"].to_numpy(float),
                                        "OBSERVED": p["OBSERVED"].to_numpy(float)})
    fig.varea("X", "SIM_LOWER", "SIM_UPPER", source=src, fill_color=color, fill_alpha=0.2)
    fig.line("X", "SIM_MEDIAN", source=src, color=color, line_dash="dashed")
    r = fig.line("X", "OBSERVED", source=src, color=color, line_width=2, legend_label=f"observed {level:g}th")
    fig.add_tools(hover([r], [("observed", "OBSERVED"), ("simulated median", "SIM_MEDIAN"),
                              ("lower", "SIM_LOWER"), ("upper", "SIM_UPPER")]))


def _blq(result, s, label, width):
    b = result.blq[result.blq["STRATUM"] == label]
    bins = result.bins[result.bins["STRATUM"] == label].set_index("BIN")
    x = bins.loc[b["BIN"].to_numpy(), "X_MEDIAN"].to_numpy(float)
    fig = figure(f"fraction below LLOQ{'' if label == 'all' else ' — ' + label}", "time", "fraction BLQ",
                 width=width, height=220)
    src = source(f"vpc_{s}_blq", {"X": x, "OBSERVED": b["OBSERVED"].to_numpy(float),
                                  "SIM_LOWER": b["SIM_LOWER"].to_numpy(float),
                                  "SIM_MEDIAN": b["SIM_MEDIAN"].to_numpy(float),
                                  "SIM_UPPER": b["SIM_UPPER"].to_numpy(float)})
    fig.varea("X", "SIM_LOWER", "SIM_UPPER", source=src, fill_color=BAND_COLORS["outer"], fill_alpha=0.2)
    fig.line("X", "SIM_MEDIAN", source=src, color=BAND_COLORS["outer"], line_dash="dashed")
    r = fig.line("X", "OBSERVED", source=src, color="black", line_width=2)
    fig.add_tools(hover([r], [("observed", "OBSERVED"), ("simulated median", "SIM_MEDIAN")]))
    return fig
