"""``np.linalg.solve`` for stacks of small matrices, without its Python wrapper.

The inner solve and the gradient solve stacks of n_eta x n_eta systems (one per subject) many
times per fit; for 12 3x3 systems the wrapper's checks cost more than the solves. The gufunc
called here is the one ``np.linalg.solve`` calls, under the same error state: the numbers, and
the LinAlgError of a singular matrix, are ``np.linalg.solve``'s.
"""

from __future__ import annotations

import numpy as np

try:  # the gufunc behind np.linalg.solve (its Python wrapper costs more than 12 3x3 solves)
    from numpy.linalg import _umath_linalg
    _GUFUNC_SOLVE = _umath_linalg.solve
except (ImportError, AttributeError):  # pragma: no cover (another numpy layout)
    _GUFUNC_SOLVE = None


def _singular(err, flag):
    raise np.linalg.LinAlgError("Singular matrix")


def solve_stacked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b)`` for stacks of float64 matrices (a (..., M, M), b (..., M, K)):
    the same gufunc under the same error state, without the wrapper's checks (the numbers,
    and the LinAlgError of a singular matrix, are np.linalg.solve's)."""
    if (_GUFUNC_SOLVE is None or a.dtype != np.float64 or b.dtype != np.float64 or a.ndim != b.ndim or a.ndim < 3
            or a.shape[-1] != a.shape[-2] or type(a) is not np.ndarray or type(b) is not np.ndarray):
        return np.linalg.solve(a, b)
    with np.errstate(call=_singular, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return _GUFUNC_SOLVE(a, b, signature="dd->d")


def solve_vectors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b[..., None])[..., 0]``: a (..., M, M), b (..., M)."""
    return solve_stacked(a, b[..., None])[..., 0]
