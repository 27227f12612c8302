"""External validation on the fit's own data reproduces the fit; case deletion."""

import numpy as np
import pytest

import nlme_lab as nl


@pytest.fixture(scope="module")
def own(theo_fit):
    return nl.validate(theo_fit, theo_fit.data, n_sim=200, seed=3)


def test_prediction_ofv_on_own_data_is_the_fits_ofv(own, theo_fit):
    assert own.prediction_ofv == pytest.approx(theo_fit.ofv, abs=1e-6)
    assert own.subjects["prediction_ofv"].sum() == pytest.approx(own.prediction_ofv)


def test_errors_are_those_computed_by_hand_from_residuals(own, theo_fit):
    rec = nl.residuals(theo_fit, npde=False).records
    rec = rec[rec["CENS"] == 0]
    for kind, col in (("pred", "PRED"), ("ipred", "IPRED")):
        pe = rec[col].to_numpy() - rec["DV"].to_numpy()
        pos = rec["DV"].to_numpy() > 0
        rpe = 100 * pe[pos] / rec["DV"].to_numpy()[pos]
        got = getattr(own, kind)
        assert got.mpe == pytest.approx(pe.mean(), rel=1e-6, abs=1e-9)
        assert got.mape == pytest.approx(np.abs(pe).mean(), rel=1e-6)
        assert got.rmse == pytest.approx(np.sqrt((pe ** 2).mean()), rel=1e-6)
        assert got.mpe_percent == pytest.approx(rpe.mean(), rel=1e-6)
        assert got.rmse_percent == pytest.approx(np.sqrt((rpe ** 2).mean()), rel=1e-6)
        lo, hi = got.ci["mpe"]
        assert lo < got.mpe < hi


def test_npde_summary_and_global_test(own):
    from scipy import stats

    x = own.records["NPDE"].to_numpy()
    x = x[np.isfinite(x)]
    assert own.npde.mean == pytest.approx(x.mean()) and own.npde.variance == pytest.approx(x.var(ddof=1))
    ps = [stats.ttest_1samp(x, 0).pvalue, own.npde.p_variance, stats.shapiro(x).pvalue]
    assert own.npde.p_value == pytest.approx(min(1.0, 3 * min(ps)))
    d = own.to_dict()
    assert set(d["pred"]) >= {"mpe", "mape", "rmse", "mpe_percent", "rmse_percent"}
    assert set(d["npde"]) >= {"mean", "variance", "p_value"}


def test_cdd_leaves_out_each_subject(theo_fit):
    res = nl.cdd(theo_fit, scheduler="serial")
    t = res.table
    assert len(t) == 12 and sorted(t["ids"], key=float) == [str(i) for i in theo_fit.subject_ids]
    cook = t["cook_score"].to_numpy()
    assert np.all(np.diff(cook[np.isfinite(cook)]) <= 0)  # most influential first
    assert (t["dofv"] > -1e-2).all()  # reduced data fit their own estimates at least as well
    # Cook's score by hand for the first row
    names = list(res.estimates.columns)
    cov = theo_fit.covariance
    idx = [list(cov.names).index(n) for n in names]
    C = np.asarray(cov.covariance)[np.ix_(idx, idx)]
    d = res.estimates.iloc[0].to_numpy() - np.array([theo_fit.estimates[n] for n in names])
    assert t["cook_score"].iloc[0] == pytest.approx(np.sqrt(d @ np.linalg.solve(C, d)))


def test_cdd_groups_by_a_mapping(theo_fit):
    groups = {sid: ("a" if int(sid) <= 6 else "b") for sid in theo_fit.subject_ids}
    res = nl.cdd(theo_fit, groups=groups, scheduler="serial")
    assert sorted(res.table["group"]) == ["a", "b"] and sorted(res.table["n_left_out"]) == [6, 6]


def test_validate_adds_a_vpc_of_the_new_data(theo_fit):
    half = theo_fit.data.table
    half = half[half["ID"] > 6]
    res = nl.validate(theo_fit, half, npde=False, n_vpc=20, seed=2)
    assert res.npde is None and res.vpc is not None and res.n_subjects == 6
