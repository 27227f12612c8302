"""Power of the Wald test of one parameter (a covariate effect) from a design's FIM, and the
number of subjects that reaches a target power.

With ``N0`` subjects the expected SE is ``se``; with ``N`` subjects in the same proportions it
is ``se * sqrt(N0 / N)`` (the FIM is a sum over subjects). The two-sided Wald test of
``parameter = null`` at level ``alpha`` has power

    Phi(d / se - z) + Phi(-d / se - z),    d = |value - null|,  z = Phi^-1(1 - alpha / 2),

and the target power ``1 - beta`` needs ``N = N0 (se (z + z_beta) / d)^2`` subjects (rounded
up; the second, tiny tail term left out, as is usual).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nlme_lab.design.fim import FIMResult
from nlme_lab.errors import NlmeError

__all__ = ["PowerResult", "wald_power"]


@dataclass(frozen=True)
class PowerResult:
    parameter: str
    value: float
    null: float
    se: float
    alpha: float
    n_subjects: int
    power: float  # with n_subjects
    target_power: float
    n_for_target: int  # subjects (same group proportions) for target_power


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _phi_inv(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def wald_power(result: FIMResult, parameter: str, *, null: float = 0.0, alpha: float = 0.05,
               target_power: float = 0.8) -> PowerResult:
    """The power of the design behind ``result`` (``nl.fim``) to show ``parameter != null``."""
    if parameter not in result.parameters:
        raise NlmeError(f"power: {parameter!r} is not an estimated parameter ({', '.join(result.parameters)})")
    if result.singular:
        raise NlmeError(f"power: the FIM is singular, no SE for {parameter}: {result.message}")
    if not (0 < alpha < 1 and 0 < target_power < 1):
        raise NlmeError(f"power: alpha and target_power must be in (0, 1), got {alpha}, {target_power}")
    value, se = float(result.values[parameter]), float(result.se[parameter])
    d = abs(value - null)
    z = _phi_inv(1 - alpha / 2)
    power = _phi(d / se - z) + _phi(-d / se - z)
    n0 = result.n_subjects
    n_target = math.ceil(n0 * (se * (z + _phi_inv(target_power)) / d) ** 2) if d > 0 else 0
    return PowerResult(parameter, value, null, se, alpha, n0, power, target_power, n_target)
