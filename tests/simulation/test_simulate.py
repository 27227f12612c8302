"""simulate(): predictions, variability and reproducibility, on the shared models and data."""

import numpy as np
import pytest

import nlme_lab as nl
from tests.conftest import MODEL_DATA


@pytest.mark.parametrize("name", sorted(MODEL_DATA))
def test_every_shared_model_simulates_on_its_dataset(name, shared_models, shared_data):
    data = shared_data[MODEL_DATA[name]]
    sim = nl.simulate(shared_models[name], data, n=2, seed=3)
    table = sim.table
    assert len(table) == 2 * data.n_records
    assert list(table["REP"].unique()) == [1, 2]
    obs = table[(table["EVID"] == 0) & (table["REP"] == 1)]
    assert np.isfinite(obs["PRED"]).all() and np.isfinite(obs["IPRED"]).all()
    assert np.isfinite(obs["SIMDV"]).all()
    # input columns come back unchanged and in input order
    np.testing.assert_array_equal(table["TIME"].to_numpy()[: data.n_records], data.time)


def test_theo_closed_form_and_ode_give_the_same_predictions(shared_models, shared_data):
    data = shared_data["theo_sd.csv"]
    a = nl.simulate(shared_models["theo_sd"], data, n=3, seed=11).table
    b = nl.simulate(shared_models["theo_sd_ode"].with_solver("ode"), data, n=3, seed=11).table
    for col in ("PRED", "IPRED"):
        x, y = a[col].to_numpy(), b[col].to_numpy()
        np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-9 * np.abs(x).max())


def test_theo_pred_matches_the_one_compartment_oral_formula(shared_models, shared_data):
    data = shared_data["theo_sd.csv"]
    table = nl.simulate(shared_models["theo_sd"], data, n=1, seed=1).table
    ka, cl, v = 1.57, 2.72, 31.5
    k = cl / v
    for sid in (1, 5, 12):
        rows = table[table["ID"] == sid]
        dose = rows["AMT"].iloc[0]
        obs = rows[rows["EVID"] == 0]
        t = obs["TIME"].to_numpy()
        expected = dose * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))
        np.testing.assert_allclose(obs["PRED"].to_numpy(), expected, rtol=1e-9, atol=1e-12)


def test_same_seed_same_numbers_other_seed_other_numbers(shared_models, shared_data):
    model, data = shared_models["pheno"], shared_data["pheno.csv"]
    a = nl.simulate(model, data, n=2, seed=5).table
    b = nl.simulate(model, data, n=2, seed=5).table
    c = nl.simulate(model, data, n=2, seed=6).table
    np.testing.assert_array_equal(a["SIMDV"].to_numpy(), b["SIMDV"].to_numpy())
    obs = a["EVID"].to_numpy() == 0
    assert not np.allclose(a["SIMDV"].to_numpy()[obs], c["SIMDV"].to_numpy()[obs])


def test_simulated_etas_and_residuals_have_the_declared_variances(shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    sim = nl.simulate(model, data, n=400, seed=2024)
    etas = sim.etas.reshape(-1, sim.etas.shape[-1])  # 4800 draws of (eta_ka, eta_cl, eta_v)
    np.testing.assert_allclose(etas.var(axis=0), [0.6, 0.3, 0.1], rtol=0.06)
    assert np.abs(np.corrcoef(etas.T)[np.triu_indices(3, 1)]).max() < 0.05
    obs = sim.table[sim.table["EVID"] == 0]
    z = (obs["SIMDV"] - obs["IPRED"]) / 0.7
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02


def test_params_replace_initial_estimates(shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    base = nl.simulate(model, data, seed=1).table
    doubled_v = nl.simulate(model, data, seed=1, params={"tv": np.log(63.0)}).table
    obs = base["EVID"] == 0
    # with V doubled and CL unchanged, k halves: the late concentrations are not simply halved
    assert (doubled_v["PRED"][obs] < base["PRED"][obs]).sum() > 0.5 * obs.sum()
    from nlme_lab.errors import NlmeError

    with pytest.raises(NlmeError, match="unknown parameter .tvv."):
        nl.simulate(model, data, params={"tvv": 1.0})


def test_block_omega_draws_are_correlated():
    text = """
[ini]
tcl = log(2)
tv = log(30)
eta_cl + eta_v ~ [0.2, 0.15, 0.2]
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl)
v = exp(tv + eta_v)
cp = linCmt()
cp ~ add(add_sd)
"""
    from tests.conftest import DATA

    data = nl.read_nonmem(DATA / "pheno.csv")
    sim = nl.simulate(nl.Model(text), data, n=40, seed=9)
    etas = sim.etas.reshape(-1, 2)
    assert abs(np.corrcoef(etas.T)[0, 1] - 0.75) < 0.05
