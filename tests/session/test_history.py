"""RunHistory.comparison: the parameters side by side and whether the likelihood-ratio test
applies (LRTStatus), said in words, for real theophylline fits."""

import math

import pytest
from scipy.stats import chi2

from nlme_lab.session.history import LRTStatus, RunHistory


@pytest.fixture(scope="module")
def no_eta_v(theo):
    import nlme_lab as nl

    data, model = theo
    text = model.text.replace("eta_v  ~ 0.1\n", "").replace("exp(tv + eta_v)", "exp(tv)")
    return nl.fit(nl.Model(text), data, method="focei", seed=1)


@pytest.fixture()
def history(theo_fits, no_eta_v):
    full, reduced, other = theo_fits
    h = RunHistory()
    for fit, label in ((full, "base"), (reduced, "tka fixed"), (other, "combined error"), (no_eta_v, "no eta_v")):
        h.add(fit, label)
    return h


def test_a_fixed_theta_is_nested_and_the_p_value_is_chi2(history, theo_fits):
    full, reduced, _ = theo_fits
    both = [history.comparison(0, 1), history.comparison(1, 0)]
    for c in both:
        assert c.status is LRTStatus.NESTED and c.applies
        assert c.lrt.df == 1
        assert c.lrt.p_value == pytest.approx(chi2.sf(reduced.ofv - full.ofv, 1), rel=1e-12)
        assert c.summary.startswith("nested ([1] tka fixed within [0] base)")
        assert f"ΔOFV = {reduced.ofv - full.ofv:.4f}" in c.summary and f"p = {c.lrt.p_value:.4g}" in c.summary
    assert (both[0].first, both[0].second, both[1].first, both[1].second) == (0, 1, 1, 0)
    assert both[0].parameters.loc["tcl", "estimate [0] base"] == full.estimates["tcl"]
    assert both[1].parameters.loc["tcl", "estimate [0] base"] == full.estimates["tcl"]
    assert list(both[1].parameters.columns)[0] == "estimate [1] tka fixed"  # the first run first


def test_a_removed_eta_gives_the_p_value_but_says_nesting_is_not_verified(history, theo_fits, no_eta_v):
    full = theo_fits[0]
    c = history.comparison(3, 0)
    assert c.status is LRTStatus.UNVERIFIED and not c.applies
    assert c.lrt.p_value == pytest.approx(chi2.sf(no_eta_v.ofv - full.ofv, 1), rel=1e-12)
    assert c.summary.startswith("nesting not verified ([3] no eta_v within [0] base)")
    assert "if nested" in c.summary and "eta_v" in c.summary
    assert math.isnan(c.parameters.loc["eta_v", "estimate [3] no eta_v"])


def test_models_that_do_not_nest_have_no_test_in_words(history):
    c = history.comparison(0, 2)  # the combined-error model has prop_sd, which the base lacks
    assert c.status is LRTStatus.NOT_NESTED and not c.applies
    assert c.summary.startswith("not nested: no likelihood-ratio test") and "prop_sd" in c.summary
    assert "p =" not in c.summary and c.lrt is not None and c.lrt.df == 1


def test_same_number_of_parameters_or_the_same_run_has_no_test(history):
    same = history.comparison(1, 2)
    assert same.status is LRTStatus.SAME_SIZE and same.lrt is None
    assert same.summary.startswith("same number of parameters (6): no likelihood-ratio test")
    assert set(same.parameters.index) >= {"tka", "prop_sd", "eta_v"}  # the union of names
    itself = history.comparison(2, -2)
    assert itself.status is LRTStatus.SAME_RUN and itself.parameters is None and "same run" in itself.summary
    with pytest.raises(IndexError, match="4 run"):
        history.comparison(0, 4)
