"""Round trip: ``from_nonmem(to_nonmem(model, data))`` is the same model: on every shared model
the objective at the initial values is equal to the last bit, simulations are equal, and a fit
of the round-tripped model gives the original's OFV."""

import warnings

import numpy as np
import pytest

import nlme_lab as nl

from tests.conftest import DATA, MODEL_DATA


def fixed(model):
    return model.fix(*(t.name for t in model.thetas), *(r.name for r in model.ir.random_effects))


def round_trip(model, data_file: str):
    text = nl.to_nonmem(model, data=str(DATA / data_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nl.from_nonmem(text)


@pytest.mark.parametrize("name", [n for n in MODEL_DATA if n != "nmtest"])
def test_objective_at_the_initial_values_is_unchanged(name, shared_models, shared_data):
    model, data = shared_models[name], shared_data[MODEL_DATA[name]]
    back, spec = round_trip(model, MODEL_DATA[name])
    assert back.initial_values().values().__len__() == len(model.initial_values())
    assert list(back.initial_values().values()) == pytest.approx(list(model.initial_values().values()), rel=1e-15)
    original = nl.fit(fixed(model), data, "focei", covariance=None).ofv
    again = nl.fit(fixed(back), spec, covariance=None).ofv
    print(f"{name}: {original!r} -> {again!r}")
    assert again == original


def test_nmtest_simulates_the_same_predictions(shared_models, shared_data):
    # no random effects: a simulation model (its dose modifiers F2, ALAG2, D2 come from data columns)
    model, data = shared_models["nmtest"], shared_data["nmtest.csv"]
    back, spec = round_trip(model, "nmtest.csv")
    a = nl.simulate(model, data, seed=3).table
    b = nl.simulate(back, spec.read(), seed=3).table
    np.testing.assert_array_equal(a["IPRED"].to_numpy(), b["IPRED"].to_numpy())
    np.testing.assert_array_equal(a["SIMDV"].to_numpy(), b["SIMDV"].to_numpy())


def test_a_fit_of_the_round_tripped_pheno_gives_the_original_ofv(shared_models, shared_data):
    model, data = shared_models["pheno"], shared_data["pheno.csv"]
    back, spec = round_trip(model, "pheno.csv")
    assert spec.method == "focei"
    original = nl.fit(model, data, "focei", covariance=None)
    again = nl.fit(back, spec, covariance=None)
    print(f"pheno fit: {original.ofv!r} -> {again.ofv!r}")
    assert again.ofv == original.ofv


def test_round_trip_keeps_kappas_and_occasions(tmp_path):
    from tests.nonmem.test_reference_fits import THEO_IOV
    from tests.nonmem.conftest import STREAMS

    model = nl.Model(THEO_IOV)
    data = nl.read_nonmem(STREAMS / "theo_occ.csv")
    text = nl.to_nonmem(model, data=str(STREAMS / "theo_occ.csv"))
    assert "IF (OCC.EQ.1.0) KAPPA_CL = ETA(4)" in text and "$OMEGA BLOCK(1) SAME" in text
    back, spec = nl.from_nonmem(text)
    assert [k.name for k in back.kappas] == ["kappa4"] and spec.occasions.values == (1, 2)
    assert nl.fit(fixed(back), spec, covariance=None).ofv == pytest.approx(
        nl.fit(fixed(model), data, "focei", covariance=None).ofv, abs=1e-9)


def test_an_imported_stream_exports_and_imports_again(shared_data):
    # the linCmt variable (f) is read by later $ERROR lines: its F line comes first
    model, spec = nl.from_nonmem(nl.example_path("pheno_run1.mod"))
    text = nl.to_nonmem(model, data=str(spec.data))
    assert text.index("F_2 = F") < text.index("IPRED_2 = F_2")
    assert "  IF (APGR.LT.5) THEN\n    TVV = TVV_1*(THETA(3) + 1)\n  ELSE\n    TVV = TVV_1\n  ENDIF" in text
    back, back_spec = nl.from_nonmem(text)
    data = shared_data["pheno.csv"]
    assert nl.fit(fixed(back), data, "focei", covariance=None).ofv == \
        nl.fit(fixed(model), data, "focei", covariance=None).ofv
