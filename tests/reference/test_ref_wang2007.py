"""Wang (2007) objective-function check: every parameter is fixed, so ``nl.fit`` evaluates
the objective (no estimation). FO, FOCE and FOCEI must match the published values to 0.001;
the Laplacian with the true eta-Hessian gives 39.2268 / -1.9361 (refs README, section 4) to
0.002."""

import pytest
from tests.reference.refcheck import check_abs

from nlme_lab.estimation import Termination

WANG = {  # (error, method): OFV without constant
    ("prop", "fo"): 39.213, ("prop", "foce"): 39.207, ("prop", "focei"): 39.458,
    ("add", "fo"): 0.026, ("add", "foce"): -2.059, ("add", "focei"): -2.059,
}
LAPLACE = {"prop": 39.2268, "add": -1.9361}


@pytest.mark.parametrize("error, method", sorted(WANG))
def test_objective_matches_wang2007_table(fit_shared, error, method):
    r = fit_shared(f"wang2007_{error}", "wang2007.csv", method)
    assert r.termination is Termination.EVALUATED and r.n_parameters == 0
    assert r.n_subjects == 10 and r.n_observations == 20
    check_abs(f"wang2007 {error} {method} OFV", r.ofv, WANG[error, method], 0.001)


@pytest.mark.parametrize("error", ["prop", "add"])
def test_laplace_with_exact_eta_hessian_matches_reference(fit_shared, error):
    r = fit_shared(f"wang2007_{error}", "wang2007.csv", "laplace")
    assert r.termination is Termination.EVALUATED
    check_abs(f"wang2007 {error} laplace OFV", r.ofv, LAPLACE[error], 0.002)


def test_focei_with_constant_matches_reference(fit_shared):
    # with N log(2 pi) = 36.7575 added: prop FOCEI 76.2151 (refs README section 4)
    r = fit_shared("wang2007_prop", "wang2007.csv", "focei")
    check_abs("wang2007 prop FOCEI -2LL with constant", -2 * r.loglik, 76.2151, 0.001)
