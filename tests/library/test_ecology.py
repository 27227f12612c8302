"""One-stage population fits of R's Loblolly (height vs age) and CO2 (uptake vs concentration)
data with the library's asymptotic-regression templates, against R nlme's ML fits (the
references and their sources: ``tests/shared/refs/README.md`` sections 5 and 6) and against the
exact marginal likelihood.

R's nlme maximises the Lindstrom-Bates approximation by alternating penalised least squares and
an LME step; FOCE maximises its own approximation directly. Loblolly's random effect (on Asym)
enters the model linearly, so both approximations are the exact likelihood there: at R's
estimates the exact -2LL computed here equals -2 logLik that R prints, and the FOCE optimum is
0.09 lower (R's alternation stops short of the maximum). The fixed effects agree within 1%.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import nlme_lab as nl
from nlme_lab.diagnostics.approximations import ApproximationProblem
from tests.conftest import DATA, SHARED

REFS = {r["id"]: r for r in json.loads((SHARED / "refs" / "references.json").read_text())["references"]}
LOB = REFS["loblolly.nlme.ml"]
CO2 = REFS["co2.nlme.ml"]
N_LOG_2PI = 84 * np.log(2 * np.pi)


def loblolly_model():
    return nl.library.asymptotic(x="AGE", values={"asym": 103, "r0": -8.5, "lrc": -3.3, "eta_asym": 10.0})


def co2_model():
    """SSasympOff with correlated random effects on Asym and lrc (nlme's default general
    covariance): the template's two diagonal eta lines edited into one block line."""
    text = nl.library.asymptotic(offset=True, x="CONC", random=("asym", "lrc"),
                                 values={"asym": 32, "lrc": -4.5, "c0": 50, "add_sd": 2}).text
    lines = [line for line in text.splitlines() if not line.startswith(("eta_asym ~", "eta_lrc ~"))]
    at = lines.index("[ini]") + 4
    return nl.Model("\n".join(lines[:at] + ["eta_asym + eta_lrc ~ [50, 0, 0.05]"] + lines[at:]) + "\n")


@pytest.fixture(scope="module")
def loblolly():
    return nl.read_nonmem(DATA / "loblolly.csv")


@pytest.fixture(scope="module")
def loblolly_fit(loblolly):
    return nl.fit(loblolly_model(), loblolly, method="foce", covariance=None)


@pytest.fixture(scope="module")
def co2_fit():
    return nl.fit(co2_model(), nl.read_nonmem(DATA / "co2.csv"), method="foce", covariance=None)


def _natural(fit, names):
    return {n: fit.estimates[f"t{n}"] for n in names}


def test_loblolly_fixed_effects_match_r_nlme_within_one_percent(loblolly_fit):
    est = _natural(loblolly_fit, ["asym", "r0", "lrc"])
    for name, ref in (("asym", "Asym"), ("r0", "R0"), ("lrc", "lrc")):
        want = LOB["fixed"][ref]
        assert abs(est[name] - want) < 0.01 * abs(want), (name, est[name], want)


def test_loblolly_reaches_the_exact_likelihood_which_r_stops_short_of(loblolly, loblolly_fit):
    ap = ApproximationProblem(loblolly_model(), loblolly)
    ours = ap.population(loblolly_fit.estimates)
    assert abs(ours.total("foce") - ours.total()) < 1e-6  # the random effect enters linearly
    assert abs(loblolly_fit.ofv - ours.total()) < 1e-6
    r = LOB["fixed"]
    at_r = ap.population({"tasym": r["Asym"], "tr0": r["R0"], "tlrc": r["lrc"],
                          "eta_asym": LOB["random_sd"]["Asym"] ** 2, "add_sd": LOB["residual_sd"]})
    assert abs(at_r.total() + N_LOG_2PI - (-2 * LOB["loglik"])) < 2e-3  # R's logLik is exact here
    assert -0.2 < loblolly_fit.ofv - at_r.total() < -0.05  # and FOCE's maximum is higher


def _closed_form_m2ll(z, frame):
    """-2LL of y_i ~ N(g_i, s^2 I + psi u_i u_i'), written out: asym + b enters linearly."""
    asym, r0, lrc, log_psi, log_s = z
    total = 0.0
    for _, unit in frame.groupby("ID"):
        e = np.exp(-np.exp(lrc) * unit["AGE"].to_numpy())
        g, u = asym * (1 - e) + r0 * e, 1 - e
        cov = np.exp(2 * log_s) * np.eye(len(e)) + np.exp(log_psi) * np.outer(u, u)
        r = unit["DV"].to_numpy() - g
        _, logdet = np.linalg.slogdet(cov)
        total += logdet + r @ np.linalg.solve(cov, r)
    return total


def test_loblolly_focei_is_the_maximum_of_an_independent_closed_form_likelihood(loblolly_fit):
    frame = pd.read_csv(DATA / "loblolly.csv")
    est = loblolly_fit.estimates
    start = [est["tasym"], est["tr0"], est["tlrc"], np.log(est["eta_asym"]), np.log(est["add_sd"])]
    best = minimize(_closed_form_m2ll, np.array(start) + [1.0, 0.2, 0.05, 0.3, 0.1], args=(frame,),
                    method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 20000, "maxfev": 20000})
    assert abs(best.fun - loblolly_fit.ofv) < 1e-5
    np.testing.assert_allclose(best.x[:3], start[:3], rtol=2e-4)


def test_loblolly_without_time_column_fits_the_same(loblolly_fit):
    """The same data with only ID, AGE and DV (no TIME, no event columns)."""
    frame = pd.read_csv(DATA / "loblolly.csv")[["ID", "AGE", "DV"]]
    data = nl.read_nonmem(frame)
    assert not data.has_time
    fit = nl.fit(loblolly_model(), data, method="foce", covariance=None)
    assert abs(fit.ofv - loblolly_fit.ofv) < 1e-8


def test_co2_fixed_effects_match_r_nlme_within_one_percent(co2_fit):
    est = _natural(co2_fit, ["asym", "lrc", "c0"])
    for name, ref in (("asym", "Asym"), ("lrc", "lrc"), ("c0", "c0")):
        want = CO2["fixed"][ref]
        assert abs(est[name] - want) < 0.01 * abs(want), (name, est[name], want)
    assert abs(np.sqrt(co2_fit.estimates["eta_asym"]) - CO2["random_sd"]["Asym"]) < 0.05 * CO2["random_sd"]["Asym"]
    assert abs(co2_fit.estimates["add_sd"] - CO2["residual_sd"]) < 0.02 * CO2["residual_sd"]


def test_co2_focei_is_within_a_tenth_of_the_exact_likelihood(co2_fit):
    """Two random effects, lrc inside an exponential: FOCE approximates; adaptive cubature of the
    exact integral at the same estimates differs by about 0.1 on the -2LL scale."""
    ap = ApproximationProblem(co2_model(), nl.read_nonmem(DATA / "co2.csv"))
    at = ap.population(co2_fit.estimates)
    assert abs(at.total("foce") - co2_fit.ofv) < 1e-6
    assert abs(co2_fit.ofv - at.total()) < 0.2
