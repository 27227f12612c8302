"""Parameter traces over the outer iterations of a fit (``fit.history``).

Source ``convergence`` holds the table of ``diagnostics.gof.convergence_table``: ITERATION,
OFV and one column per reported parameter; one small figure per column.
"""

from __future__ import annotations

from nlme_lab.diagnostics.gof import convergence_table
from nlme_lab.plots.common import LINE, figure, flow, hover, source


def convergence_traces(fit):
    """One small trace per column, in a row that wraps to the page."""
    table = convergence_table(fit)
    src = source("convergence", {c: table[c].to_numpy() for c in table.columns})
    figs = []
    for col in [c for c in table.columns if c != "ITERATION"]:
        fig = figure(col, "iteration", col, width=260, height=200)
        r = fig.line("ITERATION", col, source=src, color=LINE, line_width=2)
        fig.scatter("ITERATION", col, source=src, size=4, color=LINE)
        fig.add_tools(hover([r], [("iteration", "ITERATION"), (col, col)]))
        figs.append(fig)
    return flow(figs)
