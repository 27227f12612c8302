"""WRES, CWRES, IWRES, EBEs and conditional SDs against independent numpy computations.

wang2007 (refs README section 4): f = 10 exp(-ke t), ke = 0.5 exp(eta), omega 0.04, residual
variance 0.1, at the fixed published values; the EBEs are found here with scipy's scalar
minimiser on the FOCEI individual objective, the derivatives are analytic, and the weighting
matrix root is scipy.linalg.sqrtm. theo_sd: after a FOCEI fit, predictions from the closed-form
one-compartment oral solution and eta-derivatives by central differences of it.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from scipy.optimize import minimize_scalar

from nlme_lab.diagnostics import residuals
from tests.conftest import DATA

OMEGA, VAR = 0.04, 0.1


def _wang_f(t, eta):
    return 10 * np.exp(-0.5 * np.exp(eta) * t)


def _wang_g(t, eta):
    ke = 0.5 * np.exp(eta)
    return -10 * t * ke * np.exp(-ke * t)


def _wang_var(f, error):
    return VAR * (f * f if error == "prop" else np.ones_like(f))


def _inv_sqrt(C):
    return np.linalg.inv(np.real(scipy.linalg.sqrtm(C)))


def _wang_expected(error):
    df = pd.read_csv(DATA / "wang2007.csv")
    df = df[df.EVID == 0]
    out = {"eta": [], "csd": [], "wres": [], "cwres": [], "iwres": []}
    for _, sub in df.groupby("ID", sort=False):
        t, y = sub.TIME.to_numpy(float), sub.DV.to_numpy(float)

        def inner(eta):
            f = _wang_f(t, eta)
            V = _wang_var(f, error)
            return np.sum(np.log(V) + (y - f) ** 2 / V) + eta * eta / OMEGA

        eta = minimize_scalar(inner, bounds=(-2, 2), method="bounded", options={"xatol": 1e-12}).x
        f0, g0, f, g = _wang_f(t, 0.0), _wang_g(t, 0.0), _wang_f(t, eta), _wang_g(t, eta)
        V0, V = _wang_var(f0, error), _wang_var(f, error)
        C0 = OMEGA * np.outer(g0, g0) + np.diag(V0)
        C = OMEGA * np.outer(g, g) + np.diag(V)
        out["wres"] += list(_inv_sqrt(C0) @ (y - f0))
        out["cwres"] += list(_inv_sqrt(C) @ (y - (f - g * eta)))
        out["iwres"] += list((y - f) / np.sqrt(V))
        dV = (2 * VAR * f * g) if error == "prop" else np.zeros_like(g)
        precision = np.sum(g * g / V + 0.5 * dV * dV / V**2) + 1 / OMEGA
        out["eta"].append(eta)
        out["csd"].append(1 / np.sqrt(precision))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("error", ["add", "prop"])
def test_wang2007_wres_cwres_iwres_match_an_independent_numpy_computation(error, shared_models, shared_data):
    r = residuals(shared_models[f"wang2007_{error}"], shared_data["wang2007.csv"], npde=False)
    exp = _wang_expected(error)
    rec = r.records
    assert len(rec) == 20
    np.testing.assert_allclose(r.subjects["eta_ke"], exp["eta"], atol=1e-7)
    np.testing.assert_allclose(r.subjects["eta_ke_csd"], exp["csd"], rtol=1e-6)
    np.testing.assert_allclose(rec["WRES"], exp["wres"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rec["CWRES"], exp["cwres"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rec["IWRES"], exp["iwres"], rtol=1e-6, atol=1e-6)
    t = rec["TIME"].to_numpy()
    np.testing.assert_allclose(rec["PRED"], _wang_f(t, 0.0), rtol=1e-12)
    np.testing.assert_allclose(rec["RES"], rec["DV"] - rec["PRED"], rtol=1e-12)
    eta = np.repeat(exp["eta"], 2)
    np.testing.assert_allclose(rec["IPRED"], _wang_f(t, eta), rtol=1e-7)


def test_cholesky_weighting_differs_from_symmetric_but_has_the_same_squared_norm(shared_models, shared_data):
    """Both roots whiten: per subject, sum(CWRES^2) = r' C^-1 r is the same (theo_sd: C is full;
    wang2007's t = 0 samples have df/deta = 0, so there C is diagonal and both roots agree)."""
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    sym = residuals(model, data, npde=False).records
    chol = residuals(model, data, npde=False, weighting="cholesky").records
    assert not np.allclose(sym["CWRES"], chol["CWRES"])
    ss = lambda rec: (rec["CWRES"] ** 2).groupby(rec["ID"]).sum().to_numpy()  # noqa: E731
    np.testing.assert_allclose(ss(sym), ss(chol), rtol=1e-10)


def _theo_conc(t, amt, ka, cl, v):
    k = cl / v
    return amt * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


def _theo_expected(fit):
    df = pd.read_csv(DATA / "theo_sd.csv")
    est = fit.estimates
    theta = np.array([est["tka"], est["tcl"], est["tv"]])
    omega = np.diag([est["eta_ka"], est["eta_cl"], est["eta_v"]])
    var = est["add_sd"] ** 2
    wres, cwres = [], []
    for i, (_, sub) in enumerate(df.groupby("ID", sort=False)):
        amt = sub.AMT[sub.EVID == 1].iloc[0]
        obs = sub[sub.EVID == 0]
        t, y = obs.TIME.to_numpy(float), obs.DV.to_numpy(float)

        def f(eta):
            ka, cl, v = np.exp(theta + eta)
            return _theo_conc(t, amt, ka, cl, v)

        def grad(eta, h=1e-6):
            return np.column_stack([(f(eta + h * e) - f(eta - h * e)) / (2 * h) for e in np.eye(3)])

        eta = np.asarray(fit.etas[i])
        g0, g = grad(np.zeros(3)), grad(eta)
        C0 = g0 @ omega @ g0.T + var * np.eye(len(t))
        C = g @ omega @ g.T + var * np.eye(len(t))
        wres += list(_inv_sqrt(C0) @ (y - f(np.zeros(3))))
        cwres += list(_inv_sqrt(C) @ (y - f(eta) + g @ eta))
    return np.array(wres), np.array(cwres)


def test_theo_sd_cwres_after_focei_fit_matches_closed_form_numpy(theo_focei, shared_models, shared_data):
    r = residuals(theo_focei, shared_data["theo_sd.csv"], model=shared_models["theo_sd"], npde=False)
    wres, cwres = _theo_expected(theo_focei)
    np.testing.assert_allclose(r.records["WRES"], wres, atol=1e-5)
    np.testing.assert_allclose(r.records["CWRES"], cwres, atol=1e-5)
    # the fit's own IWRES and the EBEs it reported
    fit_obs = theo_focei.predictions[theo_focei.predictions["EVID"] == 0]
    np.testing.assert_allclose(r.records["IWRES"], fit_obs["IWRES"], rtol=1e-10)
    np.testing.assert_allclose(r.subjects[["eta_ka", "eta_cl", "eta_v"]], theo_focei.etas, rtol=0, atol=0)
    assert r.shrinkage == theo_focei.shrinkage
    # a well-specified fit: CWRES roughly standard normal
    assert abs(r.records["CWRES"].mean()) < 0.2 and 0.7 < r.records["CWRES"].std() < 1.3


def test_model_with_params_gives_the_same_residuals_as_the_fit(theo_focei, shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    from_fit = residuals(theo_focei, data, model=model, npde=False)
    from_params = residuals(model, data, params=theo_focei.estimates, npde=False)
    np.testing.assert_allclose(from_params.subjects[["eta_ka", "eta_cl", "eta_v"]], theo_focei.etas, atol=2e-5)
    np.testing.assert_allclose(from_params.records["CWRES"], from_fit.records["CWRES"], atol=1e-4)
    for name in ("eta_ka", "eta_cl", "eta_v"):
        assert from_params.shrinkage.eta_sd[name] == pytest.approx(theo_focei.shrinkage.eta_sd[name], abs=0.01)


def test_pheno_shrinkage_matches_nonmem(shared_models, shared_data):
    """refs README 2a: eta shrinkage (SD) 47.1 % / 12.8 %, epsilon 21.2 %, at NONMEM's estimates."""
    params = {"tvcl": 0.00469555, "tvv": 0.984258, "apgr_v": 0.158920, "eta_cl": 0.0293508,
              "eta_v": 0.0279060, "prop_sd": float(np.sqrt(0.0132410))}
    r = residuals(shared_models["pheno"], shared_data["pheno.csv"], params=params, npde=False)
    assert r.shrinkage.eta_sd["eta_cl"] == pytest.approx(47.1, abs=1.0)
    assert r.shrinkage.eta_sd["eta_v"] == pytest.approx(12.8, abs=1.0)
    assert r.shrinkage.epsilon_sd == pytest.approx(21.2, abs=1.0)
    # eta_cl's 47 % is above 30 %: the table says its EBE-covariate plots may hide a relation
    assert len(r.notes) == 1 and r.notes[0].startswith("eta_cl: eta shrinkage 47.1%")


def test_censored_records_have_no_weighted_residuals(theo_censored, shared_models):
    r = residuals(shared_models["theo_sd"], theo_censored, npde=False)
    cens = r.records["CENS"].to_numpy() != 0
    assert cens.sum() > 10
    assert r.records.loc[cens, ["WRES", "CWRES", "IWRES"]].isna().all().all()
    assert r.records.loc[~cens, ["WRES", "CWRES", "IWRES"]].notna().all().all()


def test_wrong_arguments_are_explained(shared_models, shared_data):
    from nlme_lab.errors import NlmeError

    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    with pytest.raises(NlmeError, match="eta_ka, eta_cl, eta_v"):
        residuals(model, data, etas=np.zeros((12, 2)), npde=False)
    with pytest.raises(NlmeError, match="'symmetric', 'cholesky'"):
        residuals(model, data, weighting="qr", npde=False)
    with pytest.raises(NlmeError, match="unknown parameter 'tk'"):
        residuals(model, data, params={"tk": 1.0}, npde=False)
    with pytest.raises(NlmeError, match="needs its dataset"):
        residuals(model, npde=False)


PHENO_LNORM = """
[ini]
tvcl = (0, 0.0047)
tvv = (0, 1.0)
apgr_v = (-0.99, 0.16)
eta_cl ~ 0.03
eta_v ~ 0.028
ln_sd = (0, 0.11)
[model]
cl = tvcl * WT * exp(eta_cl)
v = tvv * WT * (1 + apgr_v * (APGR < 5)) * exp(eta_v)
cp = linCmt()
cp ~ lnorm(ln_sd)
"""


def test_lnorm_residuals_live_on_the_log_scale(shared_data):
    """pheno with log-normal error: EBEs, CWRES and IWRES from an independent superposition of
    IV boluses, on log DV (EBEs by scipy BFGS, log f derivatives by central differences)."""
    import nlme_lab as nl
    from scipy.optimize import minimize

    model = nl.Model(PHENO_LNORM, name="pheno_lnorm")
    r = residuals(model, shared_data["pheno.csv"], npde=False)
    df = pd.read_csv(DATA / "pheno.csv")
    omega_inv, s2 = np.diag([1 / 0.03, 1 / 0.028]), 0.11**2
    cwres, iwres, etas = [], [], []
    for _, sub in df.groupby("ID", sort=False):
        assert sub.WT.nunique() == 1 and sub.APGR.nunique() == 1
        wt, low = sub.WT.iloc[0], float(sub.APGR.iloc[0] < 5)
        doses = sub[sub.EVID == 1]
        obs = sub[sub.EVID == 0]
        t, y = obs.TIME.to_numpy(float), np.log(obs.DV.to_numpy(float))

        def logf(eta):
            cl = 0.0047 * wt * np.exp(eta[0])
            v = 1.0 * wt * (1 + 0.16 * low) * np.exp(eta[1])
            dt = t[:, None] - doses.TIME.to_numpy(float)[None, :]
            return np.log(np.sum(np.where(dt >= 0, doses.AMT.to_numpy(float) / v * np.exp(-cl / v * dt), 0), 1))

        eta = minimize(lambda e: np.sum((y - logf(e)) ** 2) / s2 + e @ omega_inv @ e, np.zeros(2), method="BFGS",
                       options={"gtol": 1e-10}).x
        g = np.column_stack([(logf(eta + 1e-6 * e) - logf(eta - 1e-6 * e)) / 2e-6 for e in np.eye(2)])
        C = g @ np.linalg.inv(omega_inv) @ g.T + s2 * np.eye(len(t))
        cwres += list(_inv_sqrt(C) @ (y - logf(eta) + g @ eta))
        iwres += list((y - logf(eta)) / np.sqrt(s2))
        etas.append(eta)
    np.testing.assert_allclose(r.subjects[["eta_cl", "eta_v"]], np.array(etas), atol=1e-5)
    np.testing.assert_allclose(r.records["CWRES"], cwres, atol=1e-5)
    np.testing.assert_allclose(r.records["IWRES"], iwres, atol=1e-5)
    assert (r.records["IPRED"] > 0).all()  # IPRED is reported on DV's natural scale
    np.testing.assert_allclose(r.records["IRES"], r.records["DV"] - r.records["IPRED"], rtol=1e-12)
