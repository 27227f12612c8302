"""Shrinkage of the empirical Bayes estimates and of the individual weighted residuals.

* eta, SD-based (NONMEM's ETASHRINKSD): 100 (1 - SD(eta-hat_k) / sqrt(omega_kk));
* eta, variance-based: 100 (1 - Var(eta-hat_k) / omega_kk);
* epsilon (NONMEM's EPSSHRINKSD): 100 (1 - SD(IWRES)), IWRES = (DV - IPRED) / sqrt(V(IPRED)) on
  the error model's scale, uncensored observations only.

SDs use the n - 1 denominator; subjects without observations are left out of eta shrinkage.
"""

from __future__ import annotations

import numpy as np

from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.results import Shrinkage


def shrinkage(etas: np.ndarray, omega: np.ndarray, eta_labels, has_obs: np.ndarray,
              layout: ResidualLayout, ipred: np.ndarray, sd: np.ndarray) -> Shrinkage:
    e = etas[has_obs]
    var = np.diag(omega)
    ddof = 1 if len(e) > 1 else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_based = 100 * (1 - np.std(e, axis=0, ddof=ddof) / np.sqrt(var))
        var_based = 100 * (1 - np.var(e, axis=0, ddof=ddof) / var)
    V, _ = layout.variance(sd, ipred)
    ok = ~layout.censored
    iwres = (layout.y[ok] - ipred[ok]) / np.sqrt(V[ok])
    eps = float(100 * (1 - np.std(iwres, ddof=1))) if iwres.size > 1 else float("nan")
    return Shrinkage({n: float(s) for n, s in zip(eta_labels, sd_based)},
                     {n: float(s) for n, s in zip(eta_labels, var_based)}, eps)
