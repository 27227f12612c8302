"""Fits whose numbers mean little say so in plain words, naming the parameters (issue 16, item 8):
a residual SD driven to zero, every observation censored, parameters that enter only as a sum,
a covariate on a wildly wrong scale, a variance that vanished (and not mere high shrinkage), and
data without observations refused."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.errors import NlmeError
from nlme_lab.estimation import EndpointError, ResidualModel, Termination
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.estimation.report import _boundary_warnings
from nlme_lab.estimation.results import Shrinkage
from tests.conftest import DATA, MODELS
from tests.estimation.spaces import make_space

THEO = MODELS / "theo_sd.nlm"


@pytest.fixture(scope="module")
def theo_frame():
    return pd.read_csv(DATA / "theo_sd.csv")


def test_one_observation_drives_the_residual_sd_to_zero_and_says_so(theo_frame):
    one = theo_frame[theo_frame.ID == 1]
    one = pd.concat([one[one.EVID == 1], one[one.EVID == 0].iloc[[3]]])
    fit = nl.fit(THEO, one, "focei", covariance=None)
    assert fit.estimates["add_sd"] < 1e-3 * 0.7
    assert any(w.startswith("the residual SD add_sd went to zero") and "the predictions pass through the observations"
               in w for w in fit.warnings), fit.warnings


def test_every_observation_censored_is_named(theo_frame):
    frame = theo_frame.copy()
    obs = frame.EVID == 0
    frame["CENS"] = np.where(obs, 1, 0)
    frame.loc[obs, "DV"] = 5.0
    fit = nl.fit(THEO, frame, "focei", covariance=None)
    assert fit.ofv < 1e-3  # the M3 likelihood's supremum: every prediction far below the limit
    assert any("every observation is censored" in w and "do not determine the estimates" in w for w in fit.warnings)


def test_thetas_entering_only_as_a_sum_are_named_without_a_covariance_step(tmp_path):
    text = THEO.read_text().replace("tcl = log(2.72)", "tcl2 = 0.5\ntcl = log(2.72)").replace(
        "exp(tcl + eta_cl)", "exp(tcl + tcl2 + eta_cl)")
    path = tmp_path / "theo_sum.nlm"
    path.write_text(text)
    fit = nl.fit(path, DATA / "theo_sd.csv", "focei", covariance=None)
    flat = [w for w in fit.warnings if w.startswith("the data cannot tell apart")]
    assert len(flat) == 1 and "tcl (" in flat[0] and "tcl2 (" in flat[0] and "sum or a product" in flat[0]
    plain = nl.fit(THEO, DATA / "theo_sd.csv", "focei", covariance=None)
    assert not any("cannot tell apart" in w for w in plain.warnings)


def test_a_covariate_on_a_huge_scale_is_not_reported_as_converged():
    frame = pd.read_csv(DATA / "pheno.csv")
    frame["WT"] = frame["WT"] * 1e12
    fit = nl.fit(MODELS / "pheno.nlm", frame, "focei")
    assert fit.termination is not Termination.CONVERGED
    assert any(w.startswith("no parameter moved from its initial value") for w in fit.warnings), fit.warnings
    assert any("covariates on a very large scale: WT (values up to 3.6e+12)" in w for w in fit.warnings)


@pytest.mark.filterwarnings("ignore::nlme_lab.errors.DataWarning")  # each subject without observations
def test_data_without_observations_are_refused(theo_frame):
    frame = theo_frame.copy()
    frame["MDV"] = 1
    with pytest.raises(NlmeError, match="the data have no observation records .* so there is nothing to fit"):
        nl.fit(THEO, frame, "focei")


def _space(**sds):
    res = ResidualModel(tuple(Theta(n, 0.3, lower=0.0) for n in sds), (EndpointError(add=0, prop=1),))
    return make_space((Theta("tke", 0.5, lower=0.0),), (OmegaBlock(("eta_ke",), (0.04,)),), res, 1)


def test_a_vanishing_variance_and_high_shrinkage_are_told_apart():
    space = _space(add=0, prop=1)
    base = {"tke": 0.5, "eta_ke": 0.03, "add": 0.3, "prop": 0.3}
    high = _boundary_warnings(space, base, Shrinkage({"eta_ke": 97.0}, {"eta_ke": 99.0}, 5.0))
    assert len(high) == 1 and "eta shrinkage of eta_ke is 97% (variance 0.03)" in high[0]
    assert "went to zero" not in high[0]
    gone = _boundary_warnings(space, base | {"eta_ke": 2e-5}, Shrinkage({"eta_ke": 20.0}, {"eta_ke": 30.0}, 5.0))
    assert len(gone) == 1 and "the variance of eta_ke went to zero (2e-05, from 0.04)" in gone[0]


def test_one_term_of_a_combined_error_at_zero_is_not_needed():
    space = _space(add=0, prop=1)
    est = {"tke": 0.5, "eta_ke": 0.03, "add": 0.3, "prop": 1e-7}
    (text,) = _boundary_warnings(space, est, None)
    assert text.startswith("the residual SD prop went to zero (1e-07, from 0.3): this term of the error model is not")


@pytest.mark.parametrize("method, extra", [("focei", ""), ("laplace", "; a singular or non-finite matrix (LinAlgError")])
def test_an_absurd_dv_is_named_at_its_own_row(theo_frame, method, extra):
    frame = theo_frame.copy()
    frame.loc[17, "DV"] = 1e308  # the 18th row of the frame: ID 2 at 1.92 h
    with pytest.raises(NlmeError) as err:
        nl.fit(THEO, frame, method)
    text = str(err.value)
    assert text.startswith("the objective is not finite at the initial estimates: the likelihood of data row 18 "
                           "(ID 2, time 1.92) is not finite (DV 1e+308, prediction 8.54146, residual SD 0.7)")
    assert extra in text and text.count("data row") == 1
