"""nl.compare: OFV, dOFV, AIC, BIC (three conventions) and the LRT, against hand computations and
scipy.stats.chi2.sf."""

import math

import numpy as np
import pytest
from scipy.stats import chi2

import nlme_lab as nl


@pytest.fixture(scope="module")
def fits():
    data = nl.read_nonmem(nl.example_path("pheno.csv"))
    base = nl.Model.from_file(nl.example_path("pheno_base.nlm"))
    cl = nl.add_covariate_effect(base, "cl", "WT", "linear", data=data)
    v = nl.add_covariate_effect(base, "v", "WT", "linear", data=data)
    both = nl.add_covariate_effect(cl, "v", "WT", "linear", data=data)
    return {name: nl.fit(m, data, "focei", parallel=False)
            for name, m in (("base", base), ("cl-WT", cl), ("v-WT", v), ("cl-WT+v-WT", both))}


def minus2ll(fit):
    return fit.ofv + fit.n_observations * math.log(2 * math.pi)  # pheno has no censored observations


def test_table_against_hand_computations(fits):
    table = nl.compare(fits)
    assert list(table["model"]) == ["base", "cl-WT", "v-WT", "cl-WT+v-WT"]
    assert list(table["n_parameters"]) == [5, 6, 6, 7]
    n_obs, n_sub = 155, 59
    for row, fit in zip(table.itertuples(), fits.values()):
        k = fit.n_parameters
        assert row.ofv == fit.ofv and row.dofv == pytest.approx(fit.ofv - fits["base"].ofv, abs=1e-12)
        assert row.aic == pytest.approx(minus2ll(fit) + 2 * k, abs=1e-8)
        assert row.bic == pytest.approx(minus2ll(fit) + (k - 2) * math.log(n_obs) + 2 * math.log(n_sub), abs=1e-8)
        assert row.condition_number == pytest.approx(fit.condition_number)
    for name in ("cl-WT", "v-WT", "cl-WT+v-WT"):
        row = table.set_index("model").loc[name]
        df = fits[name].n_parameters - 5
        assert row.lrt_df == df
        assert row.p_value == pytest.approx(chi2.sf(fits["base"].ofv - fits[name].ofv, df), rel=1e-12)
    assert table.loc[0, "note"] == "reference" and np.isnan(table.loc[0, "p_value"])


def test_bic_conventions_and_reference(fits):
    obs = nl.compare(fits, bic="observations")
    sub = nl.compare(fits, bic="subjects")
    for row_o, row_s, fit in zip(obs.itertuples(), sub.itertuples(), fits.values()):
        assert row_o.bic == pytest.approx(minus2ll(fit) + fit.n_parameters * math.log(155), abs=1e-8)
        assert row_o.bic == pytest.approx(fit.bic, abs=1e-8)  # nlmixr2's convention, as FitResult.bic
        assert row_s.bic == pytest.approx(minus2ll(fit) + fit.n_parameters * math.log(59), abs=1e-8)
    by_cl = nl.compare(fits, reference="cl-WT").set_index("model")
    assert "no likelihood-ratio test" in by_cl.loc["v-WT", "note"] and np.isnan(by_cl.loc["v-WT", "p_value"])
    assert by_cl.loc["cl-WT+v-WT", "lrt_df"] == 1
    with pytest.raises(ValueError, match="bic must be one of mixed, observations, subjects"):
        nl.compare(fits, bic="akaike")
    with pytest.raises(ValueError, match="reference 'x' is not one of the fits"):
        nl.compare(fits, reference="x")
