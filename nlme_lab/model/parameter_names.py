"""Reported parameter names, built and parsed here only (no numpy, so ``Model`` stays light):

* a theta or a residual SD by its name; a variance by its eta or kappa name;
* a covariance of a block by the pair ``"eta_a,eta_b"``, the earlier-declared eta first (the
  block's lower triangle by rows). ``ParameterTable.canonical`` accepts the pair in either order.
"""

from __future__ import annotations


def element_name(row: str, col: str) -> str:
    """The reported name of a block entry: the variance ``row`` or the covariance ``"col,row"``."""
    return row if row == col else f"{col},{row}"


def element_names(names: tuple[str, ...]) -> list[str]:
    """Names of a block's values, lower triangle by rows: ``a``; ``a,b``, ``b``; ..."""
    return [element_name(names[i], names[j]) for i in range(len(names)) for j in range(i + 1)]


def split_name(name: str) -> tuple[str, ...]:
    """The random effects a reported name refers to: one for a variance, two for a covariance."""
    return tuple(part.strip() for part in str(name).split(","))
