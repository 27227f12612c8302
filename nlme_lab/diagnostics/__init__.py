"""Diagnostics as numbers: residuals (WRES, CWRES, NPDE, ...), EBEs and their conditional SDs,
VPCs, and the summaries the goodness-of-fit figures draw (smoothers, QQ points, eta tables).

No plotting here: ``nlme_lab.plots`` draws these numbers. The functions ``vpc`` and
``residuals`` share their names with their modules; the package attribute is the function.
"""

from nlme_lab.diagnostics.binning import BinningKind, assign_bins, bin_edges
from nlme_lab.diagnostics.npde import Decorrelation, Discrepancies, discrepancies
from nlme_lab.diagnostics.timing import time_after_dose
from nlme_lab.diagnostics.vpc import VPCResult, XAxis, prediction_correct, variability_correct
from nlme_lab.diagnostics.vpc import vpc
from nlme_lab.diagnostics.residuals import ResidualTable, Weighting
from nlme_lab.diagnostics.residuals import residuals
from nlme_lab.diagnostics.approximations import ApproximationProblem

__all__ = ["ApproximationProblem", "BinningKind", "Decorrelation", "Discrepancies", "ResidualTable", "VPCResult", "Weighting", "XAxis",
           "assign_bins", "bin_edges", "discrepancies", "prediction_correct", "residuals", "time_after_dose",
           "variability_correct", "vpc"]
