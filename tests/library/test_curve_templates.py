"""Growth, decay and dose-response templates against their closed forms, in time or in a data
column (then without TIME or doses); controls at x = 0 in dose-response data."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from tests.library.conftest import engine, relative

X = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0])


def _column_frame(name, x, etas_rows):
    return pd.DataFrame({"ID": np.repeat(np.arange(1, etas_rows + 1), len(x)), name: np.tile(x, etas_rows),
                         "DV": 1.0})


def _time_frame(x, n):
    return pd.DataFrame({"ID": np.repeat(np.arange(1, n + 1), len(x)), "TIME": np.tile(x, n), "DV": 1.0})


CURVES = {
    # name: (options, natural values, random parameter, log-normal?, formula of x and the values)
    "decay_to_plateau": ({}, {"base": 120.0, "plateau": 15.0, "k": 0.2}, "base", True,
                         lambda x, p: p["plateau"] + (p["base"] - p["plateau"]) * np.exp(-p["k"] * x)),
    "asymptotic": ({}, {"asym": 60.0, "r0": -5.0, "lrc": -2.0}, "asym", False,
                   lambda x, p: p["asym"] + (p["r0"] - p["asym"]) * np.exp(-np.exp(p["lrc"]) * x)),
    "asymptotic offset": ({"offset": True}, {"asym": 40.0, "lrc": -1.5, "c0": 0.3}, "asym", False,
                          lambda x, p: p["asym"] * (1 - np.exp(-np.exp(p["lrc"]) * (x - p["c0"])))),
    "logistic": ({}, {"asym": 80.0, "xmid": 6.0, "scal": 2.5}, "asym", False,
                 lambda x, p: p["asym"] / (1 + np.exp((p["xmid"] - x) / p["scal"]))),
    "gompertz": ({}, {"asym": 90.0, "xmid": 5.0, "k": 0.4}, "asym", False,
                 lambda x, p: p["asym"] * np.exp(-np.exp(-p["k"] * (x - p["xmid"])))),
    "von_bertalanffy": ({"exponent": 3}, {"linf": 50.0, "k": 0.15, "x0": -0.5}, "linf", False,
                        lambda x, p: p["linf"] * (1 - np.exp(-p["k"] * (x - p["x0"]))) ** 3),
    "log_logistic": ({}, {"b": 1.8, "c": 3.0, "d": 95.0, "e": 4.0}, "e", True,
                     lambda x, p: p["c"] + (p["d"] - p["c"]) / (1 + (x / p["e"]) ** p["b"])),
    "weibull": ({}, {"b": 1.2, "c": 2.0, "d": 100.0, "e": 5.0}, "e", True,
                lambda x, p: p["c"] + (p["d"] - p["c"]) * np.exp(-(x / p["e"]) ** p["b"])),
    "weibull type 2": ({"type": 2}, {"b": 1.2, "c": 2.0, "d": 100.0, "e": 5.0}, "e", True,
                       lambda x, p: p["c"] + (p["d"] - p["c"]) * (1 - np.exp(-(x / p["e"]) ** p["b"]))),
    "brain_cousens": ({}, {"b": 2.5, "c": 1.0, "d": 80.0, "e": 6.0, "f": 4.0}, "e", True,
                      lambda x, p: p["c"] + (p["d"] - p["c"] + p["f"] * x) / (1 + (x / p["e"]) ** p["b"])),
}


@pytest.mark.parametrize("case", list(CURVES))
@pytest.mark.parametrize("column", [None, "AGE"])
def test_curve_template_matches_its_formula_in_time_or_in_a_column(case, column):
    options, p, random, lognormal, formula = CURVES[case]
    name = case.split(" ")[0]
    x_name = column or ("t" if nl.library.info(name).option("x").default == "t" else "CONC")
    frame = (_column_frame(x_name, X, 2) if x_name != "t" else _time_frame(X, 2))
    model = nl.library.get(name, **options, x=x_name, random=(random,), values=p)
    eta = 0.3 if lognormal else 0.1 * p[random]
    got = engine(model, frame, etas=[[0.0], [eta]]).reshape(2, -1)
    assert relative(got[0], formula(X, p)) < 1e-12
    shifted = {**p, random: p[random] * np.exp(eta) if lognormal else p[random] + eta}
    assert relative(got[1], formula(X, shifted)) < 1e-12


def test_dose_response_with_controls_fits_with_finite_derivatives():
    """LL.4 of 8 jars with controls (x = 0) in each: the x > 0 guard keeps the derivatives
    finite, so FOCE converges near the simulating values."""
    model = nl.library.log_logistic(values={"b": 2.0, "c": 5.0, "d": 100.0, "e": 8.0, "eta_e": 0.05, "add_sd": 2.0})
    conc = np.array([0, 0, 1, 2, 4, 8, 16, 32, 64.0])
    frame = pd.DataFrame({"ID": np.repeat(np.arange(1, 9), conc.size), "CONC": np.tile(conc, 8), "DV": 0.0})
    data = nl.read_nonmem(frame)
    sim = nl.simulate(model, data, n=1, seed=7)
    frame["DV"] = sim.table["SIMDV"].to_numpy()
    fit = nl.fit(model.with_initial(tb=1.5, td=90.0, te=np.log(6.0)), nl.read_nonmem(frame), method="focei",
                 covariance=None)
    est = fit.estimates
    assert np.isfinite(fit.ofv)
    assert abs(est["td"] - 100.0) < 5 and abs(np.exp(est["te"]) - 8.0) < 1.5 and abs(est["tb"] - 2.0) < 0.5
