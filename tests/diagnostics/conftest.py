"""Fixtures of the diagnostics tests: fits and simulated datasets shared per session."""

import numpy as np
import pandas as pd
import pytest

# NONMEM FOCEI estimates of warfarin_pk (refs README 3a), used to simulate "observed" data
WARFARIN_PK = {"tka": -0.569395, "tcl": -2.00723, "tv": 2.05853, "prop_sd": 0.117047, "add_sd": 0.722484,
               "eta_ka": 0.474983, "eta_cl": 0.0790298, "eta_v": 0.0482784}
# nlmixr2 FOCEi estimates of theo_sd (refs README 1a), omega^2 derived from the CV%
THEO = {"tka": 0.4663, "tcl": 1.012, "tv": 3.460, "add_sd": 0.6947, "eta_ka": 0.3988, "eta_cl": 0.06936,
        "eta_v": 0.01908}


_FITS = {}


@pytest.fixture(scope="session")
def theo_focei(shared_models, shared_data):
    """A FOCEI fit of theo_sd (computed once even when tests/plots imports this fixture too)."""
    import nlme_lab as nl

    if "theo" not in _FITS:
        _FITS["theo"] = nl.fit(shared_models["theo_sd"], shared_data["theo_sd.csv"], "focei", covariance=None)
    return _FITS["theo"]


def simulated_dataset(model, data, params, seed):
    """``data`` with DV replaced by one simulated replicate of ``model`` (observation records)."""
    import nlme_lab as nl

    sim = nl.simulate(model, data, n=1, seed=seed, params=params)
    frame = data.table
    obs = (frame["EVID"] == 0) & (frame["MDV"] == 0)
    frame.loc[obs, "DV"] = sim.table["SIMDV"].to_numpy()[obs.to_numpy()]
    return nl.read_nonmem(frame)


@pytest.fixture(scope="session")
def warfarin_simulated(shared_models, shared_data):
    """warfarin_pk's design with observations simulated from the model at the NONMEM estimates."""
    return simulated_dataset(shared_models["warfarin_pk"], shared_data["warfarin_pk.csv"], WARFARIN_PK, seed=20240)


@pytest.fixture(scope="session")
def theo_censored():
    """theo_sd with every concentration below 2 mg/L censored (CENS 1, DV = 2: M3 convention)."""
    import nlme_lab as nl
    from tests.conftest import DATA

    frame = pd.read_csv(DATA / "theo_sd.csv")
    below = (frame["EVID"] == 0) & (frame["DV"] < 2.0)
    frame["CENS"] = below.astype(int)
    frame.loc[below, "DV"] = 2.0
    assert 10 < below.sum() < 40
    return nl.read_nonmem(frame)


def rows_of(frame, ids):
    return np.flatnonzero(np.isin(frame["ID"].to_numpy(), ids))
