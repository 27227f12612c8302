"""VPC numbers: observed percentiles, binning, prediction correction, stratification, BLQ,
time after dose, reproducibility, and coverage when the data come from the model itself."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.diagnostics import BinningKind, XAxis, prediction_correct, time_after_dose, variability_correct, vpc
from nlme_lab.errors import NlmeError
from tests.diagnostics.conftest import THEO, WARFARIN_PK


@pytest.fixture(scope="module")
def theo_vpc(shared_models, shared_data):
    return vpc(shared_models["theo_sd"], shared_data["theo_sd.csv"], params=THEO, n=200, seed=11, bins="quantile")


def _theo_obs():
    from tests.conftest import DATA

    df = pd.read_csv(DATA / "theo_sd.csv")
    return df[(df.EVID == 0) & (df.MDV == 0)]


def test_observed_percentiles_are_numpy_percentiles_of_each_bin(theo_vpc):
    obs = _theo_obs()
    edges = np.unique(np.quantile(obs.TIME, np.linspace(0, 1, 9)))
    np.testing.assert_allclose(theo_vpc.bins[["LOWER", "UPPER"]].to_numpy(), np.column_stack([edges[:-1], edges[1:]]))
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        last = b == len(edges) - 2
        in_bin = (obs.TIME >= lo) & ((obs.TIME <= hi) if last else (obs.TIME < hi))
        dv = obs.DV[in_bin].to_numpy()
        got = theo_vpc.percentiles[theo_vpc.percentiles.BIN == b].set_index("PERCENTILE")["OBSERVED"]
        np.testing.assert_allclose(got.loc[[5.0, 50.0, 95.0]], np.percentile(dv, [5, 50, 95]), rtol=1e-12)
        assert theo_vpc.bins.N_OBS[b] == in_bin.sum()
        assert theo_vpc.bins.X_MEDIAN[b] == pytest.approx(np.median(obs.TIME[in_bin]))
    assert theo_vpc.bins.N_OBS.sum() == 132 and theo_vpc.n_excluded == 0


def test_simulated_summaries_are_percentiles_over_replicates(theo_vpc, shared_models, shared_data):
    """Recomputed from an independent nl.simulate call with the same seed."""
    sim = nl.simulate(shared_models["theo_sd"], shared_data["theo_sd.csv"], n=200, seed=11, params=THEO).table
    sim = sim[(sim.EVID == 0) & (sim.MDV == 0)]
    b = 3
    row = theo_vpc.bins.iloc[b]
    in_bin = (sim.TIME >= row.LOWER) & (sim.TIME < row.UPPER)
    per_rep = sim[in_bin].groupby("REP")["SIMDV"].apply(lambda v: np.percentile(v, 95)).to_numpy()
    got = theo_vpc.percentiles[(theo_vpc.percentiles.BIN == b) & (theo_vpc.percentiles.PERCENTILE == 95)].iloc[0]
    assert got.SIM_MEDIAN == pytest.approx(np.median(per_rep), rel=1e-12)
    assert got.SIM_LOWER == pytest.approx(np.percentile(per_rep, 2.5), rel=1e-12)
    assert got.SIM_UPPER == pytest.approx(np.percentile(per_rep, 97.5), rel=1e-12)


def test_same_seed_same_vpc_and_a_fit_result_is_accepted(theo_vpc, theo_focei, shared_models, shared_data):
    again = vpc(shared_models["theo_sd"], shared_data["theo_sd.csv"], params=THEO, n=200, seed=11, bins="quantile")
    pd.testing.assert_frame_equal(again.percentiles, theo_vpc.percentiles)
    by_fit = vpc(theo_focei, shared_data["theo_sd.csv"], model=shared_models["theo_sd"], n=50, seed=2)
    by_params = vpc(shared_models["theo_sd"], shared_data["theo_sd.csv"], params=theo_focei.estimates, n=50, seed=2)
    pd.testing.assert_frame_equal(by_fit.percentiles, by_params.percentiles)
    from dataclasses import replace

    with pytest.raises(NlmeError, match="model="):
        vpc(replace(theo_focei, model=None), shared_data["theo_sd.csv"], n=5, seed=1)


def test_simulated_interval_covers_the_observed_median_for_data_from_the_model(shared_models, warfarin_simulated):
    r = vpc(shared_models["warfarin_pk"], warfarin_simulated, params=WARFARIN_PK, n=300, seed=5, bins="quantile",
            n_bins=8)
    med = r.percentiles[r.percentiles.PERCENTILE == 50]
    inside = (med.OBSERVED >= med.SIM_LOWER) & (med.OBSERVED <= med.SIM_UPPER)
    assert inside.sum() >= len(med) - 1, med


def test_equal_and_explicit_bins(shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    eq = vpc(model, data, params=THEO, n=20, seed=1, bins="equal", n_bins=4)
    edges = np.linspace(0, 24.65, 5)  # no sample between 12.3 h and 18.5 h: that bin is dropped
    np.testing.assert_allclose(eq.bins.LOWER, edges[[0, 1, 3]])
    np.testing.assert_allclose(eq.bins.UPPER, edges[[1, 2, 4]])
    assert eq.bins.BIN.tolist() == [0, 1, 3]
    assert eq.binning is BinningKind.EQUAL
    ex = vpc(model, data, params=THEO, n=20, seed=1, bins=[0.5, 3, 10])
    assert ex.bins.N_OBS.tolist() == [((_theo_obs().TIME >= 0.5) & (_theo_obs().TIME < 3)).sum(),
                                      ((_theo_obs().TIME >= 3) & (_theo_obs().TIME <= 10)).sum()]
    assert ex.n_excluded == 132 - ex.bins.N_OBS.sum() and "outside the bin edges" in ex.exclusions


def test_prediction_correction_formula_by_hand():
    y_obs = np.array([4.0, 6.0, 9.0])
    y_sim = np.array([[3.0, 5.0, 10.0]])
    pred = np.array([2.0, 4.0, 8.0])
    pred_bin = np.full(3, 4.0)  # median PRED of the bin
    o, s = prediction_correct(y_obs, y_sim, pred, pred_bin)
    np.testing.assert_allclose(o, [8.0, 6.0, 4.5])
    np.testing.assert_allclose(s, [[6.0, 5.0, 5.0]])
    o, _ = prediction_correct(y_obs, y_sim, pred, pred_bin, lb=1.0)  # lb + (Y - lb)(PREDbin - lb)/(PRED - lb)
    np.testing.assert_allclose(o, [1 + 3 * 3 / 1, 6.0, 1 + 8 * 3 / 7])
    # log-normal data: the proportional rule is additive on the log scale
    np.testing.assert_allclose(np.log(prediction_correct(y_obs, y_sim, pred, pred_bin)[0]),
                               np.log(y_obs) + np.log(pred_bin) - np.log(pred))


def test_variability_correction_by_hand():
    y_sim = np.array([[1.0, 2.0], [3.0, 6.0]])  # SDs over replicates: sqrt(2), 2 sqrt(2)
    y_obs = np.array([2.0, 5.0])
    pred_bin = np.array([2.0, 2.0])
    o, s = variability_correct(y_obs, y_sim, pred_bin, np.array([0, 0]))
    sd_bin = np.median([np.sqrt(2), 2 * np.sqrt(2)])
    np.testing.assert_allclose(o, [2.0, 2 + 3 * sd_bin / (2 * np.sqrt(2))])
    np.testing.assert_allclose(np.std(s, axis=0, ddof=1), [sd_bin, sd_bin])


def test_pcvpc_end_to_end_on_wang2007(shared_models, shared_data):
    """One bin holding t = 0 (PRED 10) and t = 1 (PRED 10 e^-0.5): pcDV = DV * PRED_bin / PRED."""
    data = shared_data["wang2007.csv"]
    r = vpc(shared_models["wang2007_add"], data, n=50, seed=1, bins=[0, 2], pred_corrected=True)
    pred = 10 * np.exp(-0.5 * data.time)
    pred_bin = np.median(pred)
    np.testing.assert_allclose(r.observations.DV, data.dv * pred_bin / pred, rtol=1e-9)
    assert r.bins.PRED_BIN[0] == pytest.approx(pred_bin)
    np.testing.assert_allclose(r.percentiles.OBSERVED, np.percentile(data.dv * pred_bin / pred, [5, 50, 95]))


def test_pcvpc_leaves_out_records_with_zero_pred(shared_models, shared_data):
    r = vpc(shared_models["theo_sd"], shared_data["theo_sd.csv"], params=THEO, n=20, seed=1, pred_corrected=True)
    assert r.n_excluded == 12 and "PRED <= 0" in r.exclusions  # the 12 samples at the dose time
    assert r.bins.N_OBS.sum() == 120 and r.pred_corrected


def test_stratification_by_dvid_gives_one_stratum_per_endpoint(shared_models, shared_data):
    r = vpc(shared_models["warfarin_pkpd"], shared_data["warfarin.csv"], n=10, seed=1, stratify_by="DVID")
    assert r.strata == ("DVID 1 (cp)", "DVID 2 (effect)")
    counts = r.bins.groupby("STRATUM").N_OBS.sum()
    assert counts["DVID 1 (cp)"] == 251 and counts["DVID 2 (effect)"] == 232
    assert r.stratum("DVID 2 (effect)").bins.N_OBS.sum() == 232
    # several endpoints are never pooled: without stratify_by the VPC is stratified by DVID
    default = vpc(shared_models["warfarin_pkpd"], shared_data["warfarin.csv"], n=10, seed=1)
    pd.testing.assert_frame_equal(default.percentiles, r.percentiles)


def test_stratification_by_a_covariate(shared_models, shared_data):
    data = shared_data["pheno.csv"]
    frame = data.table
    frame["LOWAPGR"] = (frame["APGR"] < 5).astype(int)
    d2 = nl.read_nonmem(frame)
    r = vpc(shared_models["pheno"], d2, n=10, seed=1, stratify_by="LOWAPGR", n_bins=4)
    assert set(r.strata) == {"LOWAPGR=0", "LOWAPGR=1"}
    low = frame[(frame.EVID == 0) & (frame.MDV == 0) & (frame.LOWAPGR == 1)]
    assert r.stratum("LOWAPGR=1").bins.N_OBS.sum() == len(low)
    with pytest.raises(NlmeError, match="WT.*distinct values"):
        vpc(shared_models["pheno"], data, n=2, seed=1, stratify_by="WT")


def test_blq_fraction_with_a_censored_dataset(shared_models, theo_censored):
    model = shared_models["theo_sd"]
    r = vpc(model, theo_censored, params=THEO, n=100, seed=3, n_bins=6)
    assert r.lloq == 2.0 and r.blq is not None
    obs = theo_censored.table
    obs = obs[(obs.EVID == 0) & (obs.MDV == 0)]
    sim = nl.simulate(model, theo_censored, n=100, seed=3, params=THEO).table
    sim = sim[(sim.EVID == 0) & (sim.MDV == 0)]
    for _, row in r.bins.iterrows():
        last = row.BIN == r.bins.BIN.max()
        sel = lambda t: (t >= row.LOWER) & ((t <= row.UPPER) if last else (t < row.UPPER))  # noqa: E731
        o = obs[sel(obs.TIME)]
        blq = r.blq[r.blq.BIN == row.BIN].iloc[0]
        assert blq.OBSERVED == pytest.approx(o.CENS.mean())
        frac = sim[sel(sim.TIME)].groupby("REP").SIMDV.apply(lambda v: np.mean(v < 2.0)).to_numpy()
        assert blq.SIM_MEDIAN == pytest.approx(np.median(frac))
        assert blq.SIM_UPPER == pytest.approx(np.percentile(frac, 97.5))
        p = r.percentiles[r.percentiles.BIN == row.BIN].set_index("PERCENTILE").OBSERVED
        # percentiles inside the BLQ part of the bin are unknown; the others use BLQ = LLOQ
        for level in (5.0, 50.0, 95.0):
            if 0 < blq.OBSERVED >= level / 100:
                assert np.isnan(p[level])
            else:
                assert p[level] == pytest.approx(np.percentile(o.DV, level))
    assert r.blq.OBSERVED.max() > 0.3


def test_lloq_argument_without_cens_column(shared_models, shared_data):
    r = vpc(shared_models["theo_sd"], shared_data["theo_sd.csv"], params=THEO, n=20, seed=3, lloq=1.0)
    obs = _theo_obs()
    assert r.blq.OBSERVED.mul(r.blq.N_OBS).sum() == pytest.approx((obs.DV < 1.0).sum())


def test_time_after_dose_expands_addl():
    frame = pd.DataFrame({
        "ID": [1, 1, 1, 1, 1, 2, 2, 2],
        "TIME": [0, 0, 5, 30, 49, 0, 1, 3],
        "AMT": [100, 0, 0, 0, 0, 0, 50, 0],
        "EVID": [1, 0, 0, 0, 0, 0, 1, 0],
        "MDV": [1, 0, 0, 0, 0, 0, 1, 0],
        "II": [12, 0, 0, 0, 0, 0, 0, 0],
        "ADDL": [3, 0, 0, 0, 0, 0, 0, 0],
        "DV": [0, 1, 1, 1, 1, 1, 0, 1],
    })
    tad = time_after_dose(nl.read_nonmem(frame))
    # doses of ID 1 at 0, 12, 24, 36; ID 2's first sample precedes its dose
    np.testing.assert_allclose(tad, [0, 0, 5, 6, 13, np.nan, 0, 2])


def test_vpc_on_time_after_dose(shared_models, shared_data):
    data = shared_data["pheno.csv"]
    r = vpc(shared_models["pheno"], data, n=20, seed=1, x="tad", n_bins=5)
    assert r.x is XAxis.TAD
    tad = time_after_dose(data)[data.observed]
    np.testing.assert_allclose(np.sort(r.observations.X), np.sort(tad))
    assert r.observations.X.max() < data.time.max()
    with pytest.raises(NlmeError, match="dose records"):
        vpc(shared_models["wang2007_add"], shared_data["wang2007.csv"], n=2, seed=1, x="tad")


def test_bad_arguments_are_explained(shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    with pytest.raises(NlmeError, match="percentiles"):
        vpc(model, data, n=2, seed=1, percentiles=(5, 150))
    with pytest.raises(NlmeError, match="increasing"):
        vpc(model, data, n=2, seed=1, bins=[3, 1])
    with pytest.raises(NlmeError, match="quantile"):
        vpc(model, data, n=2, seed=1, bins="weird")


def test_a_fit_result_carrying_its_model_and_data_needs_no_arguments(theo_focei, shared_models, shared_data):
    """A FitResult carries its model and dataset: diagnostics need no further arguments."""
    from nlme_lab.diagnostics import residuals

    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    assert theo_focei.model is model and theo_focei.data is data
    pd.testing.assert_frame_equal(vpc(theo_focei, n=20, seed=3).percentiles,
                                  vpc(theo_focei, data, model=model, n=20, seed=3).percentiles)
    pd.testing.assert_frame_equal(residuals(theo_focei, npde=False).records,
                                  residuals(theo_focei, data, model=model, npde=False).records)


def test_a_fit_with_another_dataset_is_refused(theo_focei, shared_models, shared_data):
    with pytest.raises(NlmeError, match="12 subjects but the dataset has 59"):
        vpc(theo_focei, shared_data["pheno.csv"], model=shared_models["theo_sd"], n=2, seed=1)


def test_results_export_to_json(theo_vpc, shared_models, theo_censored):
    import json

    from nlme_lab.diagnostics import residuals

    d = json.loads(json.dumps(theo_vpc.to_dict(), allow_nan=False))
    assert d["x"] == "time" and d["binning"] == "quantile" and d["n_replicates"] == 200
    np.testing.assert_allclose(d["percentiles"]["SIM_MEDIAN"], theo_vpc.percentiles["SIM_MEDIAN"])
    blq = vpc(shared_models["theo_sd"], theo_censored, params=THEO, n=20, seed=3).to_dict()
    assert None in json.loads(json.dumps(blq, allow_nan=False))["percentiles"]["OBSERVED"]  # hidden under LLOQ
    table = residuals(shared_models["theo_sd"], theo_censored, params=THEO, npde=False)
    r = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    assert r["records"]["CWRES"].count(None) == int((table.records["CENS"] != 0).sum())
    assert r["shrinkage"]["eta_sd"].keys() == table.shrinkage.eta_sd.keys()


# warfarin PK/PD's nominal sampling times, with the observations at each (tests/shared/data/warfarin.csv)
WARFARIN_CP_TIMES = {0.5: 4, 1: 4, 1.5: 3, 2: 5, 3: 13, 6: 14, 9: 11, 12: 9, 24: 32, 36: 32, 48: 32, 72: 32, 96: 31,
                     120: 29}
WARFARIN_PCA_TIMES = {0: 30, 24: 32, 36: 32, 48: 32, 72: 31, 96: 31, 120: 31, 144: 13}


def test_default_bins_follow_the_nominal_times_of_each_warfarin_endpoint(shared_models, shared_data):
    """Every nominal time is its own bin unless it has fewer than 10 observations (then it joins
    its nearer neighbour on the log-time scale); the last time point of each endpoint has its
    bin, drawn at the median time of its observations."""
    obs = pd.read_csv(__import__("tests.conftest", fromlist=["DATA"]).DATA / "warfarin.csv")
    obs = obs[(obs.EVID == 0) & (obs.MDV == 0)]
    for dvid, times in ((1, WARFARIN_CP_TIMES), (2, WARFARIN_PCA_TIMES)):  # the design, from the file itself
        assert obs[obs.DVID == dvid].TIME.value_counts().sort_index().to_dict() == times
    r = vpc(shared_models["warfarin_pkpd"], shared_data["warfarin.csv"], n=20, seed=1)
    cp = r.bins[r.bins.STRATUM == "DVID 1 (cp)"]
    # 0.5 h and 1 h (4 + 4) and 1.5 h and 2 h (3 + 5) are too thin alone, and so is their pair
    # (8 < 10): one bin 0.5-2 h (16); 12 h (9) joins 9 h, its nearer neighbour (log 12/9 < log 24/12)
    groups = [(0.5, 1, 1.5, 2), (3,), (6,), (9, 12), (24,), (36,), (48,), (72,), (96,), (120,)]
    assert cp.N_OBS.tolist() == [sum(WARFARIN_CP_TIMES[t] for t in g) for g in groups]
    assert cp.X_MEDIAN.tolist() == [1.25, 3, 6, 9, 24, 36, 48, 72, 96, 120]  # medians of the bins' times
    np.testing.assert_allclose(cp.LOWER, [0.5, 2.5, 4.5, 7.5, 18, 30, 42, 60, 84, 108])  # halfway between
    np.testing.assert_allclose(cp.UPPER, [2.5, 4.5, 7.5, 18, 30, 42, 60, 84, 108, 120])
    pca = r.bins[r.bins.STRATUM == "DVID 2 (effect)"]
    assert pca.N_OBS.tolist() == list(WARFARIN_PCA_TIMES.values())
    assert pca.X_MEDIAN.tolist() == list(WARFARIN_PCA_TIMES)  # 144 h (13 observations) included
    for label, last in (("DVID 1 (cp)", 120.0), ("DVID 2 (effect)", 144.0)):
        p = r.percentiles[r.percentiles.STRATUM == label]
        final = p[p.BIN == p.BIN.max()]
        assert r.bins[(r.bins.STRATUM == label) & (r.bins.BIN == p.BIN.max())].X_MEDIAN.item() == last
        assert np.isfinite(final[["OBSERVED", "SIM_MEDIAN", "SIM_LOWER", "SIM_UPPER"]].to_numpy()).all()
        # the observed percentiles of the last bin are those of the last time point alone
        o = obs[(obs.DVID == int(label[5])) & (obs.TIME == last)].DV.to_numpy()
        np.testing.assert_allclose(final.OBSERVED, np.percentile(o, [5, 50, 95]), rtol=1e-12)
    assert r.binning is BinningKind.AUTO


def test_auto_bins_of_theophylline_are_its_eleven_nominal_times(shared_models, shared_data):
    """Actual sampling times scattered around 0, 0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12 and 24 h, one
    sample of each subject at each: eleven bins, each holding every subject exactly once."""
    r = vpc(shared_models["theo_sd"], shared_data["theo_sd.csv"], params=THEO, n=10, seed=1)
    assert r.bins.N_OBS.tolist() == [12] * 11
    obs = r.observations
    for b in range(11):
        assert sorted(obs.ID[obs.BIN == b]) == list(range(1, 13))
    nominal = [0, 0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24]
    assert np.all(np.abs(np.log((r.bins.X_MEDIAN + 0.1) / (np.array(nominal) + 0.1))) < 0.1)


def test_auto_edges_on_designs_built_by_hand():
    from nlme_lab.diagnostics.binning import assign_bins, auto_edges

    rng = np.random.default_rng(3)
    nominal = np.array([0.5, 1, 2, 4, 8, 24])
    x = (nominal[None, :] * np.exp(rng.uniform(-0.05, 0.05, (20, nominal.size)))).ravel()  # 20 subjects, +-5 %
    k = assign_bins(x, auto_edges(x))
    np.testing.assert_array_equal(k, np.tile(np.arange(nominal.size), 20))  # one bin per nominal time
    # at most 3 bins: the narrowest gaps in log(x + c), c = half the smallest time (about 0.24), join first:
    # 0.5-1 (0.52), then 2 (0.59), then 4 (0.64), leaving 8 (0.66 from 4) and 24 (1.08 from 8) alone
    assert auto_edges(x, max_bins=3).size == 4
    np.testing.assert_array_equal(np.bincount(assign_bins(x, auto_edges(x, max_bins=3))), [80, 20, 20])
    # continuous sampling (no nominal times): cut into pieces of at least 2 x 10 observations
    u = np.sort(rng.uniform(0.0, 24.0, 200))
    counts = np.bincount(assign_bins(u, auto_edges(u)))
    assert counts.size >= 4 and counts.min() >= 10 and counts.sum() == 200
    # a thin cluster joins its nearer neighbour on the log scale: 3 h is nearer 2 h than 6 h
    x = np.repeat([1.0, 2.0, 3.0, 6.0], [12, 12, 3, 12])
    np.testing.assert_array_equal(np.bincount(assign_bins(x, auto_edges(x))), [12, 15, 12])
