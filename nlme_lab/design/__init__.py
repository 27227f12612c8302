"""Optimal design: designs, their population Fisher information and optimal sampling times
(issue 20). ``nl.Design``, ``nl.fim``, ``nl.optimize_design``."""

from nlme_lab.design.design import Design, Dose, Group
from nlme_lab.design.fim import DesignInformation, FIMResult, fim
from nlme_lab.design.optimize import OptimalDesign, optimize_design, optimize_samples
from nlme_lab.design.power import PowerResult, wald_power

__all__ = ["Design", "DesignInformation", "Dose", "FIMResult", "Group", "OptimalDesign", "PowerResult", "fim",
           "optimize_design", "optimize_samples", "wald_power"]
