"""VPC / pcVPC figures from a ``diagnostics.VPCResult``: per stratum, a shaded band for the
simulated interval of each percentile, the simulated medians (dashed), the observed
percentiles (solid) and the observations, with a legend under the plot naming each; and, when
the result has an LLOQ, a BLQ-fraction panel.

Sources (``<s>``: the stratum's index, 0-based; ``<p>``: the percentile as ``f"{p:g}"``):
``vpc_<s>_p<p>`` (X = the bin's median x, BIN, SIM_LOWER, SIM_MEDIAN, SIM_UPPER, OBSERVED per bin),
``vpc_<s>_observations`` (ID, TIME, X, DV), ``vpc_<s>_blq`` (X, OBSERVED, SIM_LOWER,
SIM_MEDIAN, SIM_UPPER).
"""

from __future__ import annotations

from nlme_lab.plots.common import POINT, figure, flow, hover, legend_below, source

BAND_COLORS = {"outer": "#1f77b4", "median": "#d62728"}


def vpc_plot(result, *, log: bool = False, show_observations: bool = True, width: int = 520, height: int = 540):
    """A column of figures per stratum (VPC, then BLQ fraction when present), side by side and
    wrapping to the page. The legend, under each plot, names the observed percentiles (solid),
    the median of each simulated percentile (dashed) and its interval (band)."""
    from bokeh.layouts import column

    cols = []
    for s, label in enumerate(result.strata):
        figs = [_main(result, s, label, log, show_observations, width, height)]
        if result.blq is not None:
            figs.append(_blq(result, s, label, width))
        cols.append(column(*figs))
    return flow(cols) if len(cols) > 1 else cols[0]


def _title(result, label) -> str:
    kind = "pvcVPC" if result.variability_corrected else "pcVPC" if result.pred_corrected else "VPC"
    strat = "" if label == "all" else f" — {label}"
    return f"{kind}{strat} ({result.n_replicates} replicates, {result.ci:g}% intervals)"


def _y_label(result, label) -> str:
    name = label.split("(")[-1].rstrip(")") if result.stratify_by == "DVID" and "(" in label else "DV"
    return f"prediction-corrected {name}" if result.pred_corrected else name


def _main(result, s, label, log, show_observations, width, height):
    p = result.percentiles[result.percentiles["STRATUM"] == label]
    bins = result.bins[result.bins["STRATUM"] == label].set_index("BIN")
    x_label = "time after dose" if result.x.value == "tad" else "time"
    fig = figure(_title(result, label), x_label, _y_label(result, label), log=False,
                 y_axis_type="log" if log else "linear", width=width, height=height)
    items = []
    if show_observations:
        o = result.observations[result.observations["STRATUM"] == label]
        obs = source(f"vpc_{s}_observations", {"ID": o["ID"].to_numpy(), "TIME": o["TIME"].to_numpy(float),
                                               "X": o["X"].to_numpy(float), "DV": o["DV"].to_numpy(float)})
        r = fig.scatter("X", "DV", source=obs, size=4, alpha=0.35, color=POINT)
        fig.add_tools(hover([r], [("ID", "ID"), ("TIME", "TIME"), ("x", "X"), ("DV", "DV")]))
        items.append(("observations", [r]))
    for levels in _groups(p):
        renderers = [_draw_level(fig, s, level, p[p["PERCENTILE"] == level], bins) for level in levels]
        name = _level_names(levels)
        items += [(f"observed {name}", [r["observed"] for r in renderers]),
                  (f"simulated {name} (median of replicates)", [r["simulated"] for r in renderers]),
                  (f"{result.ci:g}% interval of the simulated {name}", [r["interval"] for r in renderers])]
    legend_below(fig, items, ncols=1)
    return fig


def _groups(p) -> list[list[float]]:
    """The percentile levels drawn in the median's colour, then those in the outer colour."""
    levels = sorted(set(p["PERCENTILE"].tolist()))
    return [group for group in ([v for v in levels if v == 50], [v for v in levels if v != 50]) if group]


def _level_names(levels) -> str:
    if levels == [50]:
        return "median"
    words = [f"{v:g}th" for v in levels]
    return (", ".join(words[:-1]) + " & " + words[-1] if len(words) > 1 else words[0]) + " percentile" + \
        ("s" if len(words) > 1 else "")


def _draw_level(fig, s, level, p, bins) -> dict:
    color = BAND_COLORS["median"] if level == 50 else BAND_COLORS["outer"]
    x = bins.loc[p["BIN"].to_numpy(), "X_MEDIAN"].to_numpy(float)
    src = source(f"vpc_{s}_p{level:g}", {"X": x, "BIN": p["BIN"].to_numpy(),
                                        "SIM_LOWER": p["SIM_LOWER"].to_numpy(float),
                                        "SIM_MEDIAN": p["SIM_MEDIAN"].to_numpy(float),
                                        "SIM_UPPER": p["SIM_UPPER"].to_numpy(float),
                                        "OBSERVED": p["OBSERVED"].to_numpy(float)})
    band = fig.varea("X", "SIM_LOWER", "SIM_UPPER", source=src, fill_color=color, fill_alpha=0.2)
    sim = fig.line("X", "SIM_MEDIAN", source=src, color=color, line_dash="dashed")
    r = fig.line("X", "OBSERVED", source=src, color=color, line_width=2)
    fig.scatter("X", "OBSERVED", source=src, color=color, size=4)  # a bin alone on its side still shows
    fig.add_tools(hover([r], [("observed", "OBSERVED"), ("simulated median", "SIM_MEDIAN"),
                              ("lower", "SIM_LOWER"), ("upper", "SIM_UPPER")]))
    return {"observed": r, "simulated": sim, "interval": band}


def _blq(result, s, label, width):
    b = result.blq[result.blq["STRATUM"] == label]
    bins = result.bins[result.bins["STRATUM"] == label].set_index("BIN")
    x = bins.loc[b["BIN"].to_numpy(), "X_MEDIAN"].to_numpy(float)
    fig = figure(f"fraction below LLOQ{'' if label == 'all' else ' — ' + label}", "time", "fraction BLQ",
                 width=width, height=240)
    src = source(f"vpc_{s}_blq", {"X": x, "OBSERVED": b["OBSERVED"].to_numpy(float),
                                  "SIM_LOWER": b["SIM_LOWER"].to_numpy(float),
                                  "SIM_MEDIAN": b["SIM_MEDIAN"].to_numpy(float),
                                  "SIM_UPPER": b["SIM_UPPER"].to_numpy(float)})
    band = fig.varea("X", "SIM_LOWER", "SIM_UPPER", source=src, fill_color=BAND_COLORS["outer"], fill_alpha=0.2)
    sim = fig.line("X", "SIM_MEDIAN", source=src, color=BAND_COLORS["outer"], line_dash="dashed")
    r = fig.line("X", "OBSERVED", source=src, color="black", line_width=2)
    fig.add_tools(hover([r], [("observed", "OBSERVED"), ("simulated median", "SIM_MEDIAN")]))
    legend_below(fig, [("observed", [r]), ("simulated (median)", [sim]), (f"{result.ci:g}% interval", [band])])
    return fig
