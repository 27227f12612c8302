"""Fits of the bundled theophylline model shared by the session tests (compiled once)."""

import pytest


@pytest.fixture(scope="session")
def theo():
    import nlme_lab as nl

    data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
    model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
    return data, model


@pytest.fixture(scope="session")
def theo_fits(theo):
    """full FOCEI fit, the same model with tka fixed at log(1) = 0, and a non-nested variant
    (combined error, no eta_v and no eta_ka)."""
    import nlme_lab as nl

    data, model = theo
    full = nl.fit(model, data, method="focei", seed=1)
    reduced = nl.fit(model.with_initial(tka=0.0).fix("tka"), data, method="focei", seed=1)
    text = (model.text.replace("add_sd = 0.7", "add_sd = 0.7\nprop_sd = 0.1").replace("add(add_sd)", "add(add_sd) + prop(prop_sd)")
            .replace("eta_v  ~ 0.1\n", "").replace("exp(tv + eta_v)", "exp(tv)")
            .replace("eta_ka ~ 0.6\n", "").replace("exp(tka + eta_ka)", "exp(tka)"))
    other = nl.fit(nl.Model(text), data, method="focei", seed=1)
    return full, reduced, other
