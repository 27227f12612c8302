"""Bokeh figures drawn from the numbers of ``nlme_lab.diagnostics`` (no statistics here).

Every function returns a bokeh figure or layout; bokeh is imported on first use. Every data
source is a ``ColumnDataSource`` with a ``name`` (listed in each function's docstring) so that
tests and browser checks can find it.
"""

from nlme_lab.plots.gof import (
    cwres_vs_pred,
    cwres_vs_time,
    dv_vs_ipred,
    dv_vs_pred,
    gof_panel,
    iwres_vs_ipred,
    qq_plot,
)
from nlme_lab.plots.etas import eta_covariates, eta_histograms
from nlme_lab.plots.individual import individual_fits, spaghetti
from nlme_lab.plots.convergence import convergence_traces
from nlme_lab.plots.vpc import vpc_plot
from nlme_lab.plots.approximations import approximation_plot, update_approximation_plot

__all__ = ["approximation_plot", "update_approximation_plot", "convergence_traces", "cwres_vs_pred", "cwres_vs_time", "dv_vs_ipred", "dv_vs_pred", "eta_covariates",
           "eta_histograms", "gof_panel", "individual_fits", "iwres_vs_ipred", "qq_plot", "spaghetti", "vpc_plot"]
