"""MAP estimation for one patient: mapbayr's README example, and an independent integration."""

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize
from scipy.stats import norm

import nlme_lab as nl
from nlme_lab.errors import DataError, NlmeError

OMEGA = np.diag([0.3, 0.3])


@pytest.fixture(scope="module")
def model():
    return nl.Model.from_file(nl.example_path("mapbayr_2cmt.nlm"))


@pytest.fixture(scope="module")
def patient():
    return pd.read_csv(nl.example_path("mapbayr_patient.csv"))


@pytest.fixture(scope="module")
def post(model, patient):
    return nl.map_estimate(model, patient, times=[24])


def two_cmt(eta, times, bw=90.0):
    """Concentrations of the 2-compartment infusion (100 mg at 20 mg/h), by solve_ivp."""
    cl = 0.9 * (bw / 70) ** 1.2 * np.exp(eta[0])
    v1, v2, q = 10 * np.exp(eta[1]), 10.0, 1.0

    def rhs(t, a):
        rate = 20.0 if t < 5.0 else 0.0
        return [rate - (cl + q) / v1 * a[0] + q / v2 * a[1], q / v1 * a[0] - q / v2 * a[1]]

    sol = solve_ivp(rhs, (0, 5), [0.0, 0.0], rtol=1e-10, atol=1e-12, dense_output=True)  # the infusion
    after = solve_ivp(rhs, (5, max(times)), sol.y[:, -1], rtol=1e-10, atol=1e-12, dense_output=True)
    return np.array([(sol.sol(t) if t <= 5 else after.sol(t))[0] / v1 for t in times])


def objective(eta, y=np.array([3.9, 1.1]), times=(6.0, 15.0)):
    f = two_cmt(eta, list(times))
    V = 0.05 * f ** 2 + 0.1
    return float(np.sum(np.log(V) + (y - f) ** 2 / V) + eta @ np.linalg.solve(OMEGA, eta))


def test_mapbayr_reference(post):
    """mapbayr's README: etas (0.3872104, 0.1569604), CL 1.79217; IPRED and PRED at 6/15/24 h."""
    assert post.eta["eta_cl"] == pytest.approx(0.3872104, abs=1e-4)
    assert post.eta["eta_v1"] == pytest.approx(0.1569604, abs=1e-4)
    assert post.individual["cl"] == pytest.approx(1.79217, abs=1e-4)
    p = post.predictions
    assert list(p["TIME"]) == [6.0, 15.0, 24.0]
    np.testing.assert_allclose(p["IPRED"], [4.162, 1.087, 0.556], atol=5e-4)
    np.testing.assert_allclose(p["PRED"], [5.174, 1.647, 0.959], atol=5e-4)
    assert not post.multimodal and "one mode" in post.message


def test_objective_and_mode_match_an_independent_integration(post):
    eta = post.eta_vector
    assert post.ofv == pytest.approx(objective(eta), abs=1e-6)
    best = minimize(objective, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
    np.testing.assert_allclose(eta, best.x, atol=2e-5)
    # the posterior covariance is the inverse of half the Hessian of the objective (finite differences)
    h, H = 1e-4, np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            e = np.eye(2) * h
            H[i, j] = (objective(eta + e[i] + e[j]) - objective(eta + e[i] - e[j]) - objective(eta - e[i] + e[j])
                       + objective(eta - e[i] - e[j])) / (4 * h * h)
    np.testing.assert_allclose(post.eta_covariance, np.linalg.inv(H / 2), rtol=2e-3)


def test_band_brackets_ipred(post):
    p = post.predictions
    assert np.all(p["LOWER"] < p["IPRED"]) and np.all(p["IPRED"] < p["UPPER"])
    d = post.to_dict()
    assert set(d) >= {"eta", "individual", "ofv", "eta_covariance", "ipred", "pred"}
    assert d["ipred"][2] == {"time": 24.0, "value": pytest.approx(0.556, abs=5e-4)}


def test_censored_level_is_m3(model, patient):
    lloq = 1.5
    df = patient.assign(CENS=[0, 0, 1])
    df.loc[2, "DV"] = lloq
    post = nl.map_estimate(model, df)
    eta = post.eta_vector
    f = two_cmt(eta, [6.0, 15.0])
    V = 0.05 * f ** 2 + 0.1
    expected = (np.log(V[0]) + (3.9 - f[0]) ** 2 / V[0] - 2 * norm.logcdf((lloq - f[1]) / np.sqrt(V[1]))
                + eta @ np.linalg.solve(OMEGA, eta))
    assert post.ofv == pytest.approx(expected, abs=1e-5)


def test_individual_dose_puts_auc_in_the_window(post):
    target = nl.Target("auc", 40, 60)
    res = nl.individual_dose(post, target, nl.Regimen("q12h", 50, interval=12, duration=2))
    # AUC over a steady-state interval = dose / CL: the dose aims at the window's geometric middle
    assert res.regimen.dose == pytest.approx(np.sqrt(40 * 60) * post.individual["cl"], rel=1e-3)
    assert res.predicted == pytest.approx(np.sqrt(40 * 60), rel=1e-3)
    assert 0.3 < res.probability < 1.0
    assert res.interval[0] < res.predicted < res.interval[1]


def test_errors_name_the_problem(model, patient):
    with pytest.raises(DataError, match="2 IDs"):
        nl.map_estimate(model, pd.concat([patient, patient.assign(ID=2)]))
    with pytest.raises(DataError, match="no observed level"):
        nl.map_estimate(model, patient.iloc[:1])


def test_a_multimodal_objective_is_found_and_said():
    """ke = exp(tk + eta^2): data wanting a faster elimination have two symmetric modes."""
    model = nl.Model("[ini]\ntk = log(0.1)\neta_k ~ 0.5\nadd_sd = 0.2\n[model]\nke = exp(tk + eta_k * eta_k)\n"
                     "cp = 10 * exp(-ke * t)\ncp ~ add(add_sd)\n")
    df = pd.DataFrame({"ID": 1, "TIME": [2.0, 6.0], "DV": 10 * np.exp(-0.25 * np.array([2.0, 6.0])), "EVID": 0,
                       "MDV": 0})
    post = nl.map_estimate(model, df)
    assert post.multimodal and "multimodal" in post.message
    first, second = post.modes[0], post.modes[1]
    assert first[0][0] == pytest.approx(-second[0][0], abs=1e-4) and first[1] == pytest.approx(second[1], abs=1e-6)
    assert abs(post.eta["eta_k"]) == pytest.approx(np.sqrt(np.log(2.5)), abs=0.05)  # ke near 0.25



@pytest.fixture(scope="module")
def theo_fit():
    from tests.conftest import DATA, MODELS

    data = pd.read_csv(DATA / "theo_sd.csv")
    fit = nl.fit(nl.Model.from_file(MODELS / "theo_sd.nlm"), nl.read_nonmem(data), "focei", covariance=None)
    return fit, data[data["ID"] == fit.subject_ids[3]]


def test_map_of_a_fitted_subject_is_its_ebe(theo_fit):
    """With a fit's estimates as the prior, one subject's MAP etas are the fit's EBEs for it (the
    same inner problem)."""
    fit, one = theo_fit
    post = nl.map_estimate(fit, one)
    np.testing.assert_allclose(post.eta_vector, fit.etas[3], atol=1e-4)


def test_cli_map_with_a_saved_fit(theo_fit, tmp_path):
    import json

    from nlme_lab.cli.main import main
    from tests.conftest import MODELS

    fit, one = theo_fit
    (tmp_path / "fit.json").write_text(json.dumps(fit.to_dict()))
    one.to_csv(tmp_path / "patient.csv", index=False)
    out = tmp_path / "map.json"
    assert main(["map", str(MODELS / "theo_sd.nlm"), str(tmp_path / "patient.csv"), "--fit",
                 str(tmp_path / "fit.json"), "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    np.testing.assert_allclose(list(d["eta"].values()), fit.etas[3], atol=1e-4)



def test_individual_interval_puts_the_trough_in_the_window():
    """adjust="interval": 100 mg bolus at steady state, Cmin(tau) = D/V e^(-k tau) / (1 - e^(-k tau))
    with the patient's MAP CL (V = 20): only 12 h puts it in [0.8, 1.6]; the posterior probability
    is the share of the posterior draws (eta_cl ~ N(mode, posterior variance)) whose closed-form
    trough is in the window."""
    from nlme_lab.trials.regimen import mvn_draws
    from tests.trials.test_trial import ONE_CMT

    model = nl.Model(ONE_CMT)
    df = pd.DataFrame({"ID": 1, "TIME": [0.0, 4.0, 12.0], "DV": [0.0, 3.0, 1.2], "AMT": [100.0, 0, 0],
                       "EVID": [1, 0, 0], "MDV": [1, 0, 0]})
    post = nl.map_estimate(model, df)
    k = post.individual["cl"] / 20

    def cmin(tau, kk=k):
        return 5.0 * np.exp(-kk * tau) / (1 - np.exp(-kk * tau))

    assert [cmin(t) > 1.6 for t in (6, 8)] == [True, True] and 0.8 < cmin(12) < 1.6 and cmin(24) < 0.8
    res = nl.individual_dose(post, nl.Target("cmin", 0.8, 1.6), nl.Regimen("r", 100, interval=24),
                             adjust="interval")
    assert res.adjust == "interval" and res.regimen.interval == 12 and res.regimen.dose == 100
    assert res.predicted == pytest.approx(cmin(12), rel=1e-6)
    np.testing.assert_allclose(res.candidates["predicted"], [cmin(t) for t in (6, 8, 12, 24)], rtol=1e-6)
    draws = mvn_draws(np.random.default_rng(1), post.eta_vector, post.eta_covariance, 200)[:, 0]
    kd = np.exp(np.log(2) + draws) / 20
    expected = [float(np.mean((cmin(t, kd) >= 0.8) & (cmin(t, kd) <= 1.6))) for t in (6, 8, 12, 24)]
    np.testing.assert_allclose(res.candidates["probability"], expected, atol=1e-12)
    assert res.probability == max(expected) and 0.3 < res.probability < 1
    solved = nl.individual_dose(post, nl.Target("cmin", 0.8, 1.6), nl.Regimen("r", 100, interval=24),
                                adjust="interval", intervals=None, round_to=0.5)
    exact = np.log(1 + 5.0 / np.sqrt(0.8 * 1.6)) / k  # Cmin(tau) = sqrt(0.8 * 1.6)
    assert solved.regimen.interval == round(exact / 0.5) * 0.5 and abs(solved.regimen.interval - exact) <= 0.25
    assert solved.predicted == pytest.approx(cmin(solved.regimen.interval), rel=1e-6)
    with pytest.raises(NlmeError, match="adjust must be"):
        nl.individual_dose(post, nl.Target("cmin", 0.8, 1.6), nl.Regimen("r", 100, interval=24), adjust="both")
