"""RunHistory rows (ΔOFV, AIC, BIC), side-by-side comparison and the likelihood-ratio test."""

import math

import numpy as np
import pytest
from scipy.stats import chi2

from nlme_lab.estimation.compare import likelihood_ratio
from nlme_lab.session.history import RunHistory, model_hash


@pytest.fixture()
def history(theo_fits):
    full, reduced, other = theo_fits
    h = RunHistory()
    h.add(full, "base")
    h.add(reduced, "tka fixed")
    h.add(other)
    return h


def test_table_has_a_row_per_run_with_delta_ofv_aic_bic(history, theo_fits):
    full, reduced, other = theo_fits
    table = history.table()
    assert list(table["label"]) == ["base", "tka fixed", "run 3"]
    assert list(table["n_parameters"]) == [7, 6, 6]
    np.testing.assert_allclose(table["ofv"], [full.ofv, reduced.ofv, other.ofv], rtol=0, atol=0)
    np.testing.assert_allclose(table["delta_ofv"], [0.0, reduced.ofv - full.ofv, other.ofv - full.ofv], atol=1e-12)
    for row, fit in zip(table.itertuples(), theo_fits):
        n_obs = fit.n_observations
        assert row.aic == pytest.approx(-2 * fit.loglik + 2 * row.n_parameters, abs=1e-9)
        assert row.bic == pytest.approx(-2 * fit.loglik + math.log(n_obs) * row.n_parameters, abs=1e-9)
        assert row.method == "focei" and row.converged
    history.reference = 1
    np.testing.assert_allclose(history.table()["delta_ofv"], [full.ofv - reduced.ofv, 0.0, other.ofv - reduced.ofv])


def test_model_hash_ignores_initial_values_but_not_structure_or_fixing(theo):
    _, model = theo
    assert model_hash(model) == model_hash(model.with_initial(tcl=0.1))
    assert model_hash(model) != model_hash(model, fixed=("tka",))
    changed = type(model)(model.text.replace("exp(tv + eta_v)", "exp(tv)").replace("eta_v  ~ 0.1\n", ""))
    assert model_hash(changed) != model_hash(model) and len(model_hash(model)) == 12


def test_compare_puts_estimates_and_se_side_by_side(history, theo_fits):
    full, reduced, other = theo_fits
    side = history.compare(0, 1)
    assert list(side.index) == list(full.estimates)
    assert side.loc["tcl", "estimate [0] base"] == full.estimates["tcl"]
    assert side.loc["tcl", "SE [1] tka fixed"] == reduced.se["tcl"]
    assert side.loc["tka", "estimate [1] tka fixed"] == 0.0
    assert math.isnan(side.loc["tka", "SE [1] tka fixed"])  # fixed: no SE
    assert side.loc["tv", "difference"] == pytest.approx(reduced.estimates["tv"] - full.estimates["tv"])
    mixed = history.compare(0, 2)
    assert "prop_sd" in mixed.index and math.isnan(mixed.loc["prop_sd", "estimate [0] base"])
    assert math.isnan(mixed.loc["eta_ka", "estimate [2] run 3"])


def test_likelihood_ratio_of_a_fixed_theta_matches_chi2(history, theo_fits):
    full, reduced, _ = theo_fits
    lrt = history.likelihood_ratio(1, 0)
    assert lrt == history.likelihood_ratio(0, 1)  # the reduced model is the one with fewer parameters
    assert lrt.nested and lrt.df == 1
    assert lrt.delta_ofv == pytest.approx(reduced.ofv - full.ofv, abs=1e-12) and lrt.delta_ofv > 1
    assert lrt.p_value == pytest.approx(chi2.sf(reduced.ofv - full.ofv, 1), rel=1e-12)
    assert lrt.note == ""


def test_non_nested_models_are_said_so(history):
    lrt = history.likelihood_ratio(0, 2)
    assert not lrt.nested and lrt.df == 1
    assert "not nested" in lrt.note and "prop_sd" in lrt.note


def test_dropped_eta_cannot_be_verified_and_equal_size_has_no_test(theo, theo_fits):
    import nlme_lab as nl

    data, model = theo
    full, _, other = theo_fits
    no_eta_v = nl.fit(nl.Model(model.text.replace("eta_v  ~ 0.1\n", "").replace("exp(tv + eta_v)", "exp(tv)")),
                      data, method="focei", seed=1)
    lrt = likelihood_ratio(no_eta_v, full)
    assert not lrt.nested and lrt.df == 1 and "cannot be verified" in lrt.note and "eta_v" in lrt.note
    assert lrt.p_value == pytest.approx(chi2.sf(no_eta_v.ofv - full.ofv, 1))
    same = likelihood_ratio(other, no_eta_v)
    assert same.df == 0 and math.isnan(same.p_value) and "no test" in same.note


def test_different_methods_or_data_are_not_nested(theo, theo_fits):
    import nlme_lab as nl

    data, model = theo
    full, _, _ = theo_fits
    fo = nl.fit(model.fix("tka"), data, method="fo")
    lrt = likelihood_ratio(fo, full)
    assert not lrt.nested and "different methods" in lrt.note
    import pandas as pd

    frame = pd.read_csv(nl.example_path("theo_sd.csv"))
    frame.loc[frame["EVID"] == 0, "DV"] *= 1.05
    other_data = nl.fit(model.fix("tka"), frame, method="focei")
    lrt = likelihood_ratio(other_data, full)
    assert not lrt.nested and "different data" in lrt.note


def test_bad_indices_say_how_many_runs_there_are(history):
    with pytest.raises(IndexError, match="3 run"):
        history.compare(0, 5)
    with pytest.raises(IndexError):
        history.reference = 7
    assert RunHistory().reference is None and "no fits" in RunHistory()._repr_html_()
    assert "tka fixed" in history._repr_html_()
