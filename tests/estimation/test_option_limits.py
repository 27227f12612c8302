"""Method options are checked where they are built: a value out of range or of the wrong type
is refused at once, naming the option and what it accepts (issue 16, item 8), and a method
refuses another method's options (item 6)."""

import pytest

from nlme_lab.errors import NlmeError
from nlme_lab.estimation import (FOCEIOptions, FOOptions, InnerOptions, LaplaceOptions, NUTSOptions, OuterOptions,
                                 SAEMOptions, get_method)
from nlme_lab.estimation.methods import resolve_options
from nlme_lab.estimation.option_limits import OptionsError


@pytest.mark.parametrize("build, words", [
    (lambda: OuterOptions(max_iterations=-5), "OuterOptions.max_iterations must be an integer >= 0, got -5"),
    (lambda: OuterOptions(max_iterations=2.5), "OuterOptions.max_iterations must be an integer >= 0, got 2.5"),
    (lambda: OuterOptions(ofv_tolerance=-1), "OuterOptions.ofv_tolerance must be a number > 0, got -1"),
    (lambda: OuterOptions(ofv_tolerance=float("nan")), "OuterOptions.ofv_tolerance must be a number > 0"),
    (lambda: InnerOptions(max_iterations=-1), "InnerOptions.max_iterations must be an integer >= 1"),
    (lambda: InnerOptions(max_iterations=True), "InnerOptions.max_iterations must be an integer >= 1 (Newton steps per subject), got True"),
    (lambda: FOCEIOptions(covariance_step=0), "FOCEIOptions.covariance_step must be a number in (0, 1)"),
    (lambda: FOCEIOptions(covariance="fim"), "FOCEIOptions.covariance must be a CovarianceKind (CovarianceKind.SANDWICH"),
    (lambda: FOCEIOptions(inner=5), "FOCEIOptions.inner must be an InnerOptions, got 5"),
    (lambda: LaplaceOptions(hessian_step=2.0), "LaplaceOptions.hessian_step must be a number in (0, 1)"),
    (lambda: SAEMOptions(n_chains=-3), "SAEMOptions.n_chains must be an integer >= 1 or None, got -3"),
    (lambda: SAEMOptions(n_chains="lots"), "SAEMOptions.n_chains must be an integer >= 1 or None, got 'lots'"),
    (lambda: SAEMOptions(n_burn=-10), "SAEMOptions.n_burn must be an integer >= 0, got -10"),
    (lambda: SAEMOptions(anneal=5.0), "SAEMOptions.anneal must be a number in (0, 1] (the factor by which a "
                                      "variance may shrink"),
    (lambda: SAEMOptions(anneal=0.0), "SAEMOptions.anneal must be a number in (0, 1]"),
    (lambda: SAEMOptions(ode_rtol=0), "SAEMOptions.ode_rtol must be a number in (0, 1), got 0"),
    (lambda: SAEMOptions(n_kernel=(0, 0, 0)), "SAEMOptions.n_kernel must be a tuple of 3 integers >= 0 (not all 0"),
    (lambda: SAEMOptions(n_kernel=(1, 2)), "SAEMOptions.n_kernel must be a tuple of 3 integers"),
    (lambda: SAEMOptions(mu_reference=(0, -2)), "SAEMOptions.mu_reference must be a tuple of integers >= -1 or None"),
    (lambda: NUTSOptions(chains=0), "NUTSOptions.chains must be an integer >= 1, got 0"),
    (lambda: NUTSOptions(draws=-5), "NUTSOptions.draws must be an integer >= 1, got -5"),
    (lambda: NUTSOptions(target_accept=1.0), "NUTSOptions.target_accept must be a number in (0, 1)"),
    (lambda: NUTSOptions(priors={"tcl": "Normal(0, 1)"}), "NUTSOptions.priors must be None or a dict of parameter "
                                                         "name -> Normal(...)"),
    (lambda: NUTSOptions(priors="Normal(0, 1)"), "NUTSOptions.priors must be None or a dict"),
])
def test_an_option_out_of_range_is_refused_where_it_is_built(build, words):
    with pytest.raises(OptionsError) as err:
        build()
    assert words in str(err.value)
    assert isinstance(err.value, NlmeError) and isinstance(err.value, ValueError)


def test_valid_options_are_accepted_as_before():
    from nlme_lab.estimation.bayes import HalfNormal, Normal

    assert SAEMOptions(n_burn=0, n_em=0, n_pure_mh=0).n_em == 0  # a run stopped before its first iteration
    assert SAEMOptions(anneal=1.0, n_chains=None, mu_reference=(0, -1), n_kernel=(0, 0, 1)).anneal == 1.0
    assert NUTSOptions(priors={"tcl": Normal(0.0, 1.0), "add_sd": HalfNormal(1.0)}, cores=None).chains == 4
    assert OuterOptions(max_iterations=0, ofv_tolerance=1).max_iterations == 0
    import numpy as np

    assert InnerOptions(max_iterations=np.int64(5)).max_iterations == 5


def test_a_method_refuses_another_methods_options():
    with pytest.raises(OptionsError, match=r"the options of method 'saem' must be SAEMOptions\(\.\.\.\) "
                                           r"\(from nlme_lab.estimation\), got FOCEIOptions"):
        resolve_options(get_method("saem"), FOCEIOptions())
    with pytest.raises(OptionsError, match="must be FOOptions"):
        resolve_options(get_method("fo"), SAEMOptions())
    assert resolve_options(get_method("focei"), None) == FOCEIOptions()
    assert isinstance(resolve_options(get_method("fo"), FOOptions()), FOOptions)


def test_fit_refuses_another_methods_options_before_any_work(tmp_path):
    import nlme_lab as nl
    from tests.conftest import DATA, MODELS

    with pytest.raises(OptionsError, match="the options of method 'saem' must be SAEMOptions"):
        nl.fit(MODELS / "theo_sd.nlm", DATA / "theo_sd.csv", method="saem", options=FOCEIOptions())
