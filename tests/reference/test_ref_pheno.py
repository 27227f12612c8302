"""pheno (refs README section 2a): NONMEM 7.4.2 FOCEI, $COV UNCONDITIONAL (R^-1 S R^-1).

Tolerances from the issue: OFV +-0.01, thetas 0.2 %, omegas 1 %, SEs 5 %, shrinkage 1 point.
NONMEM estimates the residual as a variance sigma^2 (with SE(sigma^2)); the model declares
``prop_sd`` = sigma, so sigma = sqrt(sigma^2) is compared within 1 % and
SE(sigma) = SE(sigma^2) / (2 sigma) (delta method) within 5 %.
"""

import numpy as np
import pytest

from nlme_lab.estimation import Termination
from tests.reference.refcheck import check_abs, check_rel, reference

REF = reference("pheno.nonmem.focei.pheno_real")
THETAS = {"tvcl": "TH1_CL_per_kg", "tvv": "TH2_V_per_kg", "apgr_v": "TH3_APGR_lt5_V_fraction"}
OMEGAS = {"eta_cl": "ETA1_CL", "eta_v": "ETA2_V"}


@pytest.fixture(scope="module")
def pheno(fit_shared):
    return fit_shared("pheno", "pheno.csv", "focei")


def test_focei_objective_matches_nonmem(pheno):
    assert pheno.termination is Termination.CONVERGED, pheno.message
    assert pheno.n_subjects == 59 and pheno.n_observations == 155
    check_abs("pheno OFV", pheno.ofv, REF["objective"]["value"], 0.01)
    check_abs("pheno -2LL with constant", -2 * pheno.loglik, REF["nonmem_reported"]["ofv_with_constant"], 0.01)


def test_estimates_match_nonmem(pheno):
    for name, key in THETAS.items():
        check_rel(f"pheno {name}", pheno.estimates[name], REF["theta"][key]["value"], 0.002)
    for name, key in OMEGAS.items():
        check_rel(f"pheno omega^2 {name}", pheno.estimates[name], REF["omega2"][key]["value"], 0.01)
    sigma = float(np.sqrt(REF["sigma2"]["EPS1_prop"]["value"]))
    check_rel("pheno prop_sd = sqrt(sigma^2)", pheno.estimates["prop_sd"], sigma, 0.01)


def test_sandwich_standard_errors_match_nonmem(pheno):
    for name, key in THETAS.items():
        check_rel(f"pheno SE {name}", pheno.se[name], REF["theta"][key]["se"], 0.05)
    for name, key in OMEGAS.items():
        check_rel(f"pheno SE omega^2 {name}", pheno.se[name], REF["omega2"][key]["se"], 0.05)
    sigma2 = REF["sigma2"]["EPS1_prop"]
    se_sigma = sigma2["se"] / (2 * np.sqrt(sigma2["value"]))
    check_rel("pheno SE prop_sd = SE(sigma^2)/(2 sigma)", pheno.se["prop_sd"], se_sigma, 0.05)


def test_shrinkage_matches_nonmem(pheno):
    eta_ref = REF["diagnostics"]["eta_shrinkage_sd_percent"]
    for name, ref in zip(("eta_cl", "eta_v"), eta_ref):
        check_abs(f"pheno eta shrinkage {name} (points)", pheno.shrinkage.eta_sd[name], ref, 1.0)
    check_abs("pheno eps shrinkage (points)", pheno.shrinkage.epsilon_sd,
              REF["diagnostics"]["eps_shrinkage_sd_percent"], 1.0)
