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


def _saem(model, data, text, seed=1, stop_after=None):
    import nlme_lab as nl
    from nlme_lab.estimation.option_text import options_from_text
    from nlme_lab.estimation.results import StopToken

    token = StopToken()

    def callback(event):
        if stop_after is not None and event.iteration >= stop_after:
            token.stop()

    return nl.fit(model, data, "saem", seed=seed, options=options_from_text("saem", text), callback=callback,
                  stop=token)


@pytest.fixture(scope="session")
def theo_saem(theo):
    """Short SAEM runs of the theophylline model: finished with importance sampling (two seeds),
    finished without it (``is_samples=0``: the linearised OFV), and stopped after 3 iterations."""
    data, model = theo
    short = "n_burn=40, n_em=40, is_samples=300"
    return {"is": _saem(model, data, short), "is_seed2": _saem(model, data, short, seed=2),
            "linearized": _saem(model, data, "n_burn=40, n_em=40, is_samples=0"),
            "stopped": _saem(model, data, short, stop_after=3)}
