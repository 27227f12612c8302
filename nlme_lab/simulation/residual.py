"""Residual error: the SD of each observation and simulated observations.

``add(a) + prop(b)`` has variance a^2 + b^2 f^2 (nlmixr2's combined2, NONMEM's usual
``Y = F + F*EPS(1) + EPS(2)``). ``lnorm(s)`` is additive on the log scale:
log DV = log f + s * eps. The variance is the estimation's own (``kernels.error_model``).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.model.ir import ErrorKind


def _endpoint_sds(ir, values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per endpoint: the SD entering the variance as ``a`` (add or lnorm), as ``p`` (prop, 0
    when absent), and whether the error is log-normal."""
    theta = dict(zip(values.theta_names, values.theta))
    n = len(ir.endpoints)
    a, p, log = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    for k, ep in enumerate(ir.endpoints):
        for term in ep.terms:
            if term.kind is ErrorKind.PROP:
                p[k] = theta[term.param]
            else:
                a[k] = theta[term.param]
                log[k] = term.kind is ErrorKind.LNORM
    return a, p, log


def residual_sd(ir, values, prediction: np.ndarray, endpoint: np.ndarray) -> np.ndarray:
    """SD of each record's residual, on the scale where the error is normal."""
    from nlme_lab.kernels.error_model import residual_variance

    if not ir.endpoints:
        return np.zeros_like(prediction)
    a, p, log = _endpoint_sds(ir, values)
    x = np.where(log[endpoint], 0.0, prediction)
    return np.sqrt(residual_variance(a[endpoint], p[endpoint], x))


def is_log_scale(ir, endpoint: np.ndarray) -> np.ndarray:
    """Boolean per record: the endpoint's error is log-normal."""
    flags = np.array([any(t.kind is ErrorKind.LNORM for t in ep.terms) for ep in ir.endpoints])
    return flags[endpoint] if flags.size else np.zeros(endpoint.shape, bool)


def simulate_observations(ir, ipred, sd, endpoint, rng) -> np.ndarray:
    """IPRED plus residual error on every record (callers mask non-observation records)."""
    eps = rng.standard_normal(ipred.shape)
    log_scale = is_log_scale(ir, endpoint)
    with np.errstate(divide="ignore", invalid="ignore"):
        on_log = np.exp(np.log(ipred) + sd * eps)
    return np.where(log_scale, on_log, ipred + sd * eps)
