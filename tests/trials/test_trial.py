"""Virtual trials: PTA against the normal CDF, steady-state metrics against closed forms, labels."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import nlme_lab as nl
from nlme_lab.errors import NlmeError
from nlme_lab.trials.population import Population, parameter_draws

ONE_CMT = """
[ini]
tcl = log(2)
tv = log(20)
eta_cl ~ 0.09
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl)
v = exp(tv)
cp = linCmt()
cp ~ add(add_sd)
"""

WEIGHT = """
[ini]
tcl = log(2)
tv = log(20)
eta_cl ~ 0.04
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl) * (WT / 70)^0.75
v = exp(tv) * WT / 70
cp = linCmt()
cp ~ add(add_sd)
"""


@pytest.fixture(scope="module")
def one_cmt():
    return nl.Model(ONE_CMT)


def test_pta_of_auc_is_the_normal_cdf(one_cmt):
    """AUC = Dose / CL with log CL ~ N(log 2, 0.09): P(40 <= AUC <= 60) in closed form."""
    res = nl.virtual_trial(one_cmt, {"100 mg q24h": {"dose": 100, "interval": 24}}, n_subjects=2000, n_trials=5,
                           scheduler="serial", seed=3)
    assert len(res.subjects) == 10000
    pta = res.target_attainment("auc", (40, 60))
    sd = 0.3
    exact = norm.cdf((np.log(100 / 40) - np.log(2)) / sd) - norm.cdf((np.log(100 / 60) - np.log(2)) / sd)
    se = np.sqrt(exact * (1 - exact) / 10000)
    assert abs(pta["pta"].iloc[0] - exact) < 4 * se
    assert pta["lower"].iloc[0] < pta["pta"].iloc[0] < pta["upper"].iloc[0]


def test_steady_state_metrics_match_closed_forms(one_cmt):
    """Typical subject (CL 2, V 20), 100 mg every 12 h: Cmax, Cmin, numeric AUC, time above."""
    from nlme_lab.trials.exposure import ExposureModel

    reg = nl.Regimen("q12h", 100, interval=12)
    b = ExposureModel(one_cmt).evaluate(reg, pd.DataFrame(index=[0]), None, threshold=5.0, n_grid=97)
    k, tau = 0.1, 12.0
    cmax = 100 / 20 / (1 - np.exp(-k * tau))
    m = b.metrics.iloc[0]
    assert m["cmax"] == pytest.approx(cmax, rel=1e-6)
    assert m["cmin"] == pytest.approx(cmax * np.exp(-k * tau), rel=1e-6)
    assert m["auc"] == pytest.approx(50.0, rel=1e-9)  # Dose / CL, exact for linCmt()
    from nlme_lab.trials.exposure import exposure_metrics
    numeric = exposure_metrics(b.times, b.conc, reg)["auc"].iloc[0]
    assert numeric == pytest.approx(50.0, rel=1e-6)  # log-down trapezoids are exact for a decline
    assert m["time_above"] == pytest.approx(np.log(cmax / 5.0) / k, rel=1e-3)


def test_subgroups_recommendation_and_label():
    model = nl.Model(WEIGHT)
    pop = {"WT": {"lognormal": [60, 0.35], "min": 30, "max": 150}}
    regs = {"50 mg": {"dose": 50, "interval": 24}, "100 mg": {"dose": 100, "interval": 24},
            "150 mg": {"dose": 150, "interval": 24}}
    res = nl.virtual_trial(model, regs, population=pop, n_subjects=400, n_trials=3, scheduler="serial")
    groups = {"weight": {"under 50 kg": "WT < 50", "50 kg or more": "WT >= 50"}}
    pta = res.target_attainment("auc", (40, 70), by=["regimen", "weight"], subgroups=groups)
    assert set(pta["weight"]) == {"under 50 kg", "50 kg or more"} and len(pta) == 6
    rec = nl.recommend_dose(res, nl.Target("auc", 40, 70), subgroups=groups, min_pta=0.6)
    # AUC = dose / (2 (WT/70)^0.75): light patients need less
    light = rec.by_subgroup.set_index("level").loc["under 50 kg", "regimen"]
    heavy = rec.by_subgroup.set_index("level").loc["50 kg or more", "regimen"]
    assert res.regimens[[r.name for r in res.regimens].index(light)].dose < \
        res.regimens[[r.name for r in res.regimens].index(heavy)].dose
    assert rec.label.startswith(f"Start with {rec.overall}") and "under 50 kg" in rec.label
    assert set(rec.table["subgroup"]) == {"all", "weight"}


def test_population_resampling_and_correlation():
    rng = np.random.default_rng(0)
    pop = Population.of({"WT": {"lognormal": [70, 0.2]}, "AGE": {"normal": [50, 10]},
                         "SEX": {"categorical": {0: 0.3, 1: 0.7}}, "correlation": [[1, 0.8], [0.8, 1]]})
    x = pop.sample(rng, 20000)
    assert np.corrcoef(np.log(x["WT"]), x["AGE"])[0, 1] == pytest.approx(0.8, abs=0.02)
    assert x["SEX"].mean() == pytest.approx(0.7, abs=0.02)
    table = pd.DataFrame({"ID": [1, 1, 2, 3], "WT": [50, 50, 60, 70], "AGE": [1, 1, 2, 3]})
    y = Population.of(table).sample(rng, 1000, ["WT", "AGE"])
    assert set(zip(y["WT"], y["AGE"])) <= {(50, 1), (60, 2), (70, 3)}  # jointly, as vectors
    with pytest.raises(NlmeError, match="no covariate WT"):
        Population.of({"AGE": 3}, ("WT",))


def test_covariance_uncertainty_keeps_omega_positive_definite(one_cmt):
    from nlme_lab.estimation.results import CovarianceResult

    table = one_cmt.parameters
    names = ("tcl", "tv", "eta_cl", "add_sd")
    cov = CovarianceResult(kind=None, names=names, covariance=np.diag([0.01, 0.01, 0.05 ** 2, 0.01 ** 2]),
                           r_matrix=None, s_matrix=None)
    draws = parameter_draws(table, {}, "covariance", 2000, np.random.default_rng(1), covariance=cov)
    w = np.array([d["eta_cl"] for d in draws])
    assert np.all(w > 0)
    assert w.mean() == pytest.approx(0.09, rel=0.05) and w.std() == pytest.approx(0.05, rel=0.15)
    assert np.std([d["tcl"] for d in draws]) == pytest.approx(0.1, rel=0.1)


def test_bad_input_is_named(one_cmt):
    with pytest.raises(NlmeError, match="dose must be a positive"):
        nl.virtual_trial(one_cmt, {"x": {"dose": -1}}, n_subjects=2, n_trials=1, scheduler="serial")
    res = nl.virtual_trial(one_cmt, {"a": {"dose": 10, "interval": 12}}, n_subjects=5, n_trials=1,
                           scheduler="serial")
    with pytest.raises(NlmeError, match="time_above"):
        res.target_attainment(nl.Target("time_above", 6, None, at=1.0))
    above = nl.virtual_trial(one_cmt, {"a": {"dose": 10, "interval": 12}}, n_subjects=5, n_trials=1,
                             scheduler="serial", threshold=0.2)
    assert above.target_attainment(nl.Target("time_above", 6, None, at=0.2))["pta"].between(0, 1).all()
    with pytest.raises(NlmeError, match="computed it at 0.2"):
        above.target_attainment(nl.Target("time_above", 6, None, at=0.3))
    with pytest.raises(NlmeError, match="by='WT'"):
        res.target_attainment("auc", (1, 2), by=["WT"])


def test_regimens_differing_in_dose_share_one_evaluation_of_a_linear_model(one_cmt):
    from nlme_lab.trials.exposure import ExposureModel

    em = ExposureModel(one_cmt)
    regs = [nl.Regimen("a", 50, interval=12, duration=1), nl.Regimen("b", 130, interval=12, duration=1)]
    cov = pd.DataFrame(index=range(4))
    etas = np.array([[-0.3], [0.0], [0.2], [0.5]])
    shared = em.evaluate_many(regs, cov, etas, threshold=3.0)
    direct = em.evaluate(regs[1], cov, etas, threshold=3.0)
    pd.testing.assert_frame_equal(shared[1].metrics, direct.metrics, rtol=1e-9)


def test_bootstrap_uncertainty_draws_whole_replicates(one_cmt):
    """A BootstrapResult: each trial takes one converged replicate's values, jointly."""
    from nlme_lab.validation.bootstrap import BootstrapResult

    reps = pd.DataFrame({"replicate": [1, 2, 3], "status": ["ok", "ok", "failed"], "tcl": [0.5, 0.9, 5.0],
                         "eta_cl": [0.05, 0.2, 9.0], "add_sd": [0.1, 0.1, 0.1]})
    boot = BootstrapResult(replicates=reps, parameters=("tcl", "eta_cl", "add_sd"), estimates={}, covariance_se={},
                           original_ofv=0.0, method="focei", n=3, seed=1)

    draws = parameter_draws(one_cmt.parameters, {}, boot, 50, np.random.default_rng(2))
    pairs = {(d["tcl"], d["eta_cl"]) for d in draws}
    assert pairs == {(0.5, 0.05), (0.9, 0.2)}  # jointly, never the failed replicate
    res = nl.virtual_trial(one_cmt, {"a": {"dose": 100, "interval": 24}}, n_subjects=50, n_trials=4,
                           uncertainty=boot, scheduler="serial")
    assert res.uncertainty == "bootstrap" and {p["tcl"] for p in res.params} <= {0.5, 0.9}


def test_a_regimen_of_nonmem_dose_records(one_cmt):
    """Three 100 mg boluses at 0, 12 and 24 h (as three records, or one with ADDL=2, II=12); the
    window 24-36 h against the sum of exponentials (CL 2, V 20)."""
    from nlme_lab.trials.exposure import ExposureModel

    k = 0.1
    cmax = 5.0 * (1 + np.exp(-1.2) + np.exp(-2.4))
    for records in ([{"TIME": t, "AMT": 100} for t in (0, 12, 24)], [{"TIME": 0, "AMT": 100, "ADDL": 2, "II": 12}]):
        reg = nl.Regimen.of({"records": records, "window": [24, 36]}, name="three doses")
        assert reg.dose == 100 and reg.span == 12
        m = ExposureModel(one_cmt).evaluate(reg, pd.DataFrame(index=[0]), None, conc_at=6.0).metrics.iloc[0]
        assert m["cmax"] == pytest.approx(cmax, rel=1e-6)
        assert m["cmin"] == pytest.approx(cmax * np.exp(-1.2), rel=1e-6)
        assert m["auc"] == pytest.approx(cmax * (1 - np.exp(-1.2)) / k, rel=1e-6)  # log-down is exact here
        assert m["conc"] == pytest.approx(cmax * np.exp(-0.6), rel=1e-6)  # 6 h into the window
    res = nl.virtual_trial(one_cmt, [reg, nl.Regimen("q12h", 100, interval=12)], n_subjects=20, n_trials=1,
                           scheduler="serial")
    assert set(res.subjects["regimen"]) == {"three doses", "q12h"}
    with pytest.raises(NlmeError, match="window"):
        nl.Regimen("x", 100, records=({"TIME": 0, "AMT": 100},))


def test_model_variables_at_given_times_match_the_closed_form(one_cmt):
    """``variables={"cp": [6, 24], "cl": [24]}`` after one 100 mg bolus: cp@t = 100 / V exp(-CL/V t)
    per subject from its own CL and V; the PTA of cp@24 is the share of those closed-form values."""
    res = nl.virtual_trial(one_cmt, {"100 mg": {"dose": 100}}, n_subjects=300, n_trials=2, scheduler="serial",
                           seed=5, variables={"cp": [6, 24], "cl": 24})
    s = res.subjects
    assert {"cp@6", "cp@24", "cl@24"} <= set(res.metrics)
    for t in (6, 24):
        exact = 100 / s["v"] * np.exp(-s["cl"] / s["v"] * t)
        np.testing.assert_allclose(s[f"cp@{t}"], exact, rtol=1e-8)
    np.testing.assert_allclose(s["cl@24"], s["cl"], rtol=1e-12)
    assert s["cl"].std() > 0.1  # the subjects differ
    exact24 = 100 / s["v"] * np.exp(-s["cl"] / s["v"] * 24)
    pta = res.target_attainment("cp@24", (0.5, 2.0))
    assert pta["pta"].iloc[0] == pytest.approx(float(((exact24 >= 0.5) & (exact24 <= 2.0)).mean()), abs=1e-12)
    assert 0.05 < pta["pta"].iloc[0] < 0.95
    rec = nl.recommend_dose(res, nl.Target("cp@24", 0.5, 2.0), min_pta=0.1)
    assert rec.overall == "100 mg"
    with pytest.raises(NlmeError, match="'effect' is not a variable"):
        nl.virtual_trial(one_cmt, {"a": {"dose": 1}}, n_subjects=2, n_trials=1, scheduler="serial",
                         variables={"effect": [1]})
    with pytest.raises(NlmeError, match="needs variables="):
        res.target_attainment("cp@12", (1, 2))
