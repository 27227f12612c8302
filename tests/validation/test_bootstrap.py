"""Real bootstraps (small n): the table, its reproducibility, stratification, intervals from it."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.errors import NlmeError


@pytest.fixture(scope="module")
def theo_boot(theo_fit):
    return nl.bootstrap(theo_fit, n=40, seed=11, scheduler="serial")


def test_table_has_a_row_per_replicate_with_every_parameter(theo_boot, theo_fit):
    table = theo_boot.replicates
    assert list(table.columns[:7]) == ["replicate", "seed", "subjects", "status", "termination", "ofv", "error"]
    n = len(theo_fit.estimates)
    assert list(table.columns[7:7 + n]) == list(theo_boot.parameters) == list(theo_fit.estimates)
    # random effects also on the scales a reader reads: SD and CV% of the log-normal parameters
    assert list(table.columns[7 + n:]) == list(theo_boot.derived)
    assert {"sd(eta_cl)", "cv%(eta_cl)"} <= set(theo_boot.derived)
    assert np.allclose(table["sd(eta_cl)"], np.sqrt(table["eta_cl"]), equal_nan=True)
    assert np.allclose(table["cv%(eta_cl)"], 100 * np.sqrt(np.expm1(table["eta_cl"])), equal_nan=True)
    s = theo_boot.summary().set_index("parameter")
    assert s.loc["sd(eta_cl)", "estimate"] == pytest.approx(np.sqrt(theo_fit.estimates["eta_cl"]))
    assert len(table) == 40 and table["replicate"].tolist() == list(range(1, 41))
    assert all(len(s.split()) == 12 for s in table["subjects"])  # 12 subjects drawn, repeats allowed
    assert any(len(set(s.split())) < 12 for s in table["subjects"])
    assert theo_boot.n_successful == int((table["status"] == "ok").sum()) >= 30
    ok = table[table["status"] == "ok"]
    assert np.all(np.isfinite(ok["ofv"]))


def test_summary_intervals_are_the_weibull_quantiles_of_the_table(theo_boot, theo_fit):
    s = theo_boot.summary().set_index("parameter")
    used = theo_boot.replicates[theo_boot.replicates["status"] == "ok"]
    for name in theo_boot.parameters:
        x = used[name].to_numpy()
        if x.size >= 39:
            assert s.loc[name, "ci_low"] == pytest.approx(np.quantile(x, 0.025, method="weibull"), rel=1e-12)
            assert s.loc[name, "ci_high"] == pytest.approx(np.quantile(x, 0.975, method="weibull"), rel=1e-12)
        else:
            assert np.isnan(s.loc[name, "ci_low"]) and "needs at least 39" in s.loc[name, "ci_note"]
        assert s.loc[name, "estimate"] == theo_fit.estimates[name]
        assert s.loc[name, "covariance_se"] == pytest.approx(theo_fit.se[name])
        assert s.loc[name, "se"] == pytest.approx(np.std(x, ddof=1))
        assert s.loc[name, "median"] == pytest.approx(np.median(x))
    # the bootstrap SE of the clearance is of the covariance step's size
    assert 0.3 < s.loc["tcl", "se"] / s.loc["tcl", "covariance_se"] < 3


def test_same_seed_same_table_and_a_replicate_redrawn_alone(theo_fit, theo_boot):
    again = nl.bootstrap(theo_fit, n=3, seed=11, scheduler="serial")
    pd.testing.assert_frame_equal(again.replicates, theo_boot.replicates.iloc[:3])
    other = nl.bootstrap(theo_fit, n=3, seed=12, scheduler="serial")
    assert other.replicates["subjects"].tolist() != again.replicates["subjects"].tolist()


def test_stratified_resampling_keeps_each_stratum_size(pheno_fit):
    frame = pheno_fit.data.table
    apgr = frame.groupby("ID")["APGR"].first()
    low = (apgr < 5)
    strata = frame.assign(LOWAPGR=frame["APGR"].lt(5).astype(int))
    boot = nl.bootstrap(pheno_fit.model, strata, n=4, seed=3, stratify_by="LOWAPGR", scheduler="serial",
                        method="fo")
    for subjects in boot.replicates["subjects"]:
        drawn = [int(s) for s in subjects.split()]
        assert len(drawn) == 59
        assert sum(low.loc[i] for i in drawn) == int(low.sum())  # 14 low-Apgar subjects in every replicate
    assert boot.replicates["subjects"].nunique() == 4


def test_bad_stratification_column_is_named(pheno_fit):
    with pytest.raises(NlmeError, match="TIME must be constant within a subject"):
        nl.bootstrap(pheno_fit, n=2, stratify_by="TIME", scheduler="serial")
    with pytest.raises(NlmeError, match="no column NOPE"):
        nl.bootstrap(pheno_fit, n=2, stratify_by="NOPE", scheduler="serial")


def test_bca_runs_the_jackknife_over_subjects(theo_fit):
    boot = nl.bootstrap(theo_fit, n=3, seed=1, ci="bca", scheduler="serial")
    assert len(boot.jackknife) == 12 and np.isfinite(boot.jackknife["tcl"]).all()
    row = boot.summary().set_index("parameter").loc["tcl"]
    assert np.isnan(row["ci_low"]) and "BCa interval needs at least 39" in row["ci_note"]
