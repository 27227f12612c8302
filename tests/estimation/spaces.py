"""Parameter spaces of the hand-written test problems, and the digits-of-agreement helper."""

import numpy as np

from nlme_lab.estimation import EndpointError, ParameterSpace, ResidualModel
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.model.parameter_table import ParameterTable


def make_space(thetas, omega, residual: ResidualModel, n_eta: int, placements=()) -> ParameterSpace:
    """The ``ParameterSpace`` of a bare problem: structural ``thetas``, ``omega`` blocks and the
    residual SDs and endpoints of ``residual`` (the SDs are thetas of the table)."""
    sds = tuple(residual.sds)
    table = ParameterTable(tuple(thetas) + sds, tuple(omega), residuals=tuple(s.name for s in sds))
    return ParameterSpace(table, tuple(residual.endpoints), n_eta, placements)


def wang_space(error: str, fixed: bool = True, omega: float = 0.04) -> ParameterSpace:
    ep = EndpointError(prop=0) if error == "prop" else EndpointError(add=0)
    res = ResidualModel((Theta("sd", float(np.sqrt(0.1)), fixed=fixed),), (ep,))
    return make_space((Theta("tke", 0.5, lower=0.0, fixed=fixed),),
                      (OmegaBlock(("eta_ke",), (omega,), fixed=fixed),), res, 1)


def theo_space(block: bool = False, **init) -> ParameterSpace:
    v = {"tka": 0.45, "tcl": 1.0, "tv": 3.45, "eta_ka": 0.6, "eta_cl": 0.3, "eta_v": 0.1, "add_sd": 0.7}
    v.update(init)
    res = ResidualModel((Theta("add_sd", v["add_sd"]),), (EndpointError(add=0),))
    thetas = (Theta("tka", v["tka"]), Theta("tcl", v["tcl"]), Theta("tv", v["tv"]))
    if block:
        omega = (OmegaBlock(("eta_ka",), (v["eta_ka"],)),
                 OmegaBlock(("eta_cl", "eta_v"), (v["eta_cl"], 0.05, v["eta_v"])))
    else:
        omega = tuple(OmegaBlock((n,), (v[n],)) for n in ("eta_ka", "eta_cl", "eta_v"))
    return make_space(thetas, omega, res, 3)


def pheno_space() -> ParameterSpace:
    res = ResidualModel((Theta("prop_sd", 0.114396),), (EndpointError(prop=0),))
    return make_space(
        (Theta("tvcl", 0.00469307, lower=0), Theta("tvv", 1.00916, lower=0), Theta("apgr_v", 0.1, lower=-0.99)),
        (OmegaBlock(("eta_cl",), (0.0309626,)), OmegaBlock(("eta_v",), (0.031128,))), res, 2)


def digits(value: float, reference: float) -> float:
    """Number of agreeing significant digits, -log10 of the relative difference."""
    if value == reference:
        return 16.0
    return float(-np.log10(abs(value - reference) / abs(reference)))
