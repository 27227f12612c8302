"""Wang (2007) objective-function checks: exact values of every method's formula."""

import numpy as np
import pytest
from tests.estimation.spaces import digits, wang_space

from nlme_lab.estimation import Termination, fit_problem

# (method, error) -> (reference, tolerance); refs README section 4
REFERENCE = {
    ("fo", "prop"): (39.213, 1e-3), ("fo", "add"): (0.026, 1e-3),
    ("foce", "prop"): (39.207, 1e-3), ("foce", "add"): (-2.059, 1e-3),
    ("focei", "prop"): (39.458, 1e-3), ("focei", "add"): (-2.059, 1e-3),
    ("laplace", "prop"): (39.2268, 2e-3), ("laplace", "add"): (-1.9361, 2e-3),
}


@pytest.mark.parametrize("method,error", list(REFERENCE))
def test_objective_matches_wang2007_table(wang, method, error):
    ref, tol = REFERENCE[(method, error)]
    result = fit_problem(wang, wang_space(error), method)
    assert result.termination is Termination.EVALUATED
    print(f"{method} {error}: {result.ofv:.6f} vs {ref} ({digits(result.ofv, ref):.1f} digits)")
    assert abs(result.ofv - ref) < tol


@pytest.mark.parametrize("error", ["prop", "add"])
def test_focei_with_constant_matches_reference(wang, error):
    ref = {"prop": 76.2151, "add": 34.6987}[error]
    result = fit_problem(wang, wang_space(error), "focei")
    assert abs(-2 * result.loglik - ref) < 1e-3
    assert result.n_parameters == 0 and result.aic == pytest.approx(-2 * result.loglik)


def _naive_nonmem(wang, error, method):
    """NONMEM's FO/FOCE objective, subject by subject with full matrices: log det C + r' C^-1 r."""
    from scipy.optimize import minimize_scalar

    omega, var = 0.04, 0.1
    total = 0.0
    for i in range(wang.n_subjects):
        rows = wang.obs_subject == i
        t, y = wang.time[rows], wang.dv[rows]

        def pred(eta):
            return 10 * np.exp(-0.5 * np.exp(eta) * t)

        f0 = pred(0.0)
        V = var * f0**2 if error == "prop" else np.full(len(t), var)
        eta = 0.0
        if method == "foce":
            eta = minimize_scalar(lambda e: np.sum((y - pred(e)) ** 2 / V) + e * e / omega,
                                  bracket=(-1, 1), tol=1e-12).x
        f = pred(eta)
        G = -f * 0.5 * np.exp(eta) * t
        r = y - f + G * eta
        C = omega * np.outer(G, G) + np.diag(V)
        total += np.linalg.slogdet(C)[1] + r @ np.linalg.solve(C, r)
    return total


@pytest.mark.parametrize("method", ["fo", "foce"])
@pytest.mark.parametrize("error", ["prop", "add"])
def test_fo_foce_equal_naive_full_matrix_formula(wang, method, error):
    result = fit_problem(wang, wang_space(error), method)
    assert result.ofv == pytest.approx(_naive_nonmem(wang, error, method), abs=1e-7)
