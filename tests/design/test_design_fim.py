"""The population FIM (issue 20): PopED's warfarin_basic reference values, an independent
finite-difference check on an infusion + two-endpoint model, and the null space in words."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.design import Design, Dose
from nlme_lab.errors import DataError, NlmeError

TIMES = [0.5, 1, 2, 6, 24, 36, 72, 120]


@pytest.fixture(scope="module")
def warfarin():
    return nl.Model.from_file(nl.example_path("warfarin_design.nlm"))


@pytest.fixture(scope="module")
def design():
    return Design.from_json(nl.example_path("warfarin_design.json"))


def test_design_round_trips(design):
    assert design.n_subjects == 32 and design.n_samples == 256
    assert Design.from_dict(design.to_dict()) == design
    frame = design.to_data()
    assert frame.ID.nunique() == 32 and (frame.EVID == 0).sum() == 256
    back = Design.from_data(frame)
    assert len(back.groups) == 1 and back.groups[0].size == 32
    assert back.groups[0].times == design.groups[0].times
    assert back.groups[0].doses[0].amt == 70


def test_design_errors_name_the_group():
    with pytest.raises(DataError, match="group 'A'.*size"):
        Design.single(doses=[Dose(70)], times=[1, 2], size=0, name="A")
    with pytest.raises(DataError, match="DVID 1.*>= 0"):
        Design.single(doses=[Dose(70)], times=[-1, 2])
    with pytest.raises(DataError, match="'amt'"):
        Design.from_groups([{"doses": [{"time": 0}], "times": [1]}])


def test_poped_warfarin_block_variance(warfarin, design):
    r = nl.fim(warfarin, design, scale="variance")
    assert r.parameters == ("tcl", "tv", "tka", "eta_cl", "eta_v", "eta_ka", "prop_sd")
    assert r.det == pytest.approx(5.996147e22, rel=1e-4)
    assert r.ln_det == pytest.approx(52.448, abs=1e-3)
    assert list(np.round(r.rse_percent.to_numpy(), 1)) == [4.7, 2.8, 13.9, 25.6, 30.3, 25.8, 11.2]
    assert r.values["prop_sd"] == pytest.approx(0.01)  # a variance, the name unchanged
    assert r.null_space == () and r.message == ""
    assert r.d_criterion == pytest.approx(r.det ** (1 / 7))


def test_poped_warfarin_block_sd(warfarin, design):
    r = nl.fim(warfarin, design)
    assert r.det == pytest.approx(2.398459e21, rel=1e-4)
    assert r.values["prop_sd"] == pytest.approx(0.1)
    # the RSE of an SD is half the RSE of its variance
    assert r.rse_percent["prop_sd"] == pytest.approx(11.17 / 2, abs=0.01)


def test_poped_warfarin_full(warfarin, design):
    r = nl.fim(warfarin, design, kind="full", scale="variance")
    assert r.det == pytest.approx(1.220371e24, rel=1e-4)
    rse = r.rse_percent.to_numpy()
    assert list(np.round(rse, 1)[[0, 1, 2, 3, 4, 6]]) == [3.6, 2.6, 4.8, 26.3, 30.9, 12.4]
    assert rse[5] == pytest.approx(26.50, abs=0.005)
    # the cross block is not zero in the full FIM
    assert abs(r.matrix.loc["tcl", "eta_cl"]) > 0


def test_from_data_matches_the_design(warfarin):
    frame = Design.single(doses=[Dose(70)], times=TIMES, size=4).to_data()
    a = nl.fim(warfarin, nl.read_nonmem(frame))
    b = nl.fim(warfarin, Design.single(doses=[Dose(70)], times=TIMES, size=4))
    np.testing.assert_allclose(a.matrix.to_numpy(), b.matrix.to_numpy(), rtol=1e-10)


def test_fit_params_and_bad_names(warfarin, design):
    r = nl.fim(warfarin, design, params={"tcl": 0.3})
    assert r.values["tcl"] == 0.3
    with pytest.raises(Exception, match="tcx"):
        nl.fim(warfarin, design, params={"tcx": 1})
    with pytest.raises(NlmeError, match="approximation 'fx'"):
        nl.fim(warfarin, design, approximation="fx")


def test_foce_is_close_to_fo_for_small_variability(warfarin, design):
    small = {"eta_cl": 1e-4, "eta_v": 1e-4, "eta_ka": 1e-4}
    fo = nl.fim(warfarin, design, params=small)
    foce = nl.fim(warfarin, design, params=small, approximation="foce", n_draws=5)
    np.testing.assert_allclose(foce.rse_percent[["tcl", "tv", "tka", "prop_sd"]],
                               fo.rse_percent[["tcl", "tv", "tka", "prop_sd"]], rtol=0.02)
    big = nl.fim(warfarin, design, approximation="foce", n_draws=5)
    assert np.all(np.isfinite(big.rse_percent)) and big.approximation == "foce"


def test_null_space_one_shared_time(warfarin):
    one = Design.single(doses=[Dose(70)], times=[6.0], size=50)
    r = nl.fim(warfarin, one)
    assert r.singular and r.covariance is None and r.se.isna().all()
    assert {"tcl", "tv", "tka"} <= set(r.null_space)
    assert "tcl" in r.message and "singular" in r.message


def test_null_space_ratio_in_words():
    model = nl.Model("""
[ini]
tcl = 1
tv = 10
eta_cl ~ 0.1
add_sd = 0.1
[model]
cl = tcl * exp(eta_cl)
cp = 100 * cl / tv
cp ~ add(add_sd)
""")
    r = nl.fim(model, Design.single(doses=[], times=[1, 2, 4], size=20))
    assert set(r.null_space) == {"tcl", "tv"}
    assert "tcl and tv enter only as their ratio with this design" in r.message


def test_multiple_doses_addl_equal_explicit_doses_and_steady_state(warfarin):
    times = [0.5, 2, 12, 48.5, 50, 60]
    addl = Design.single(doses=[Dose(70, ii=24, addl=2)], times=times, size=10)
    explicit = Design.single(doses=[Dose(70, time=t) for t in (0, 24, 48)], times=times, size=10)
    a, b = nl.fim(warfarin, addl), nl.fim(warfarin, explicit)
    np.testing.assert_allclose(a.matrix.to_numpy(), b.matrix.to_numpy(), rtol=1e-8)
    ss = nl.fim(warfarin, Design.single(doses=[Dose(70, ii=24, ss=1)], times=[0.5, 2, 12, 23], size=10))
    assert np.all(np.isfinite(ss.rse_percent)) and ss.det != a.det
    back = Design.from_data(addl.to_data())
    assert back.groups[0].doses == addl.groups[0].doses and back.groups[0].size == 10


IOV_MODEL = """
[ini]
tcl = 0.15
tv = 8
tka = 1
eta_cl ~ 0.07
eta_v ~ 0.02
kappa_cl ~ 0.03 | OCC
prop_sd = 0.1
[model]
cl = tcl * exp(eta_cl + kappa_cl)
v = tv * exp(eta_v)
ka = tka
cp = linCmt()
cp ~ prop(prop_sd)
"""


def test_occasions_identify_the_between_occasion_variability():
    model = nl.Model(IOV_MODEL)
    times = [0.5, 2, 6, 24, 48.5, 50, 54, 72]
    two = Design.single(doses=[Dose(70), Dose(70, time=48)], times=times, size=40)
    two = Design((replace(two.groups[0], occasions=(0.0, 48.0)),))
    r = nl.fim(model, two)
    assert "kappa_cl" in r.parameters and r.null_space == ()
    assert 0 < r.rse_percent["kappa_cl"] < 100
    frame = two.to_data()
    assert set(frame.OCC) == {1, 2} and (frame.loc[frame.TIME >= 48, "OCC"] == 2).all()
    assert Design.from_data(frame).groups[0].occasions == (0.0, 48.0)
    one = nl.fim(model, Design.single(doses=[Dose(70), Dose(70, time=48)], times=times, size=40))
    assert {"eta_cl", "kappa_cl"} <= set(one.null_space)  # one occasion: the two variances add up


def test_a_prior_fim_adds_to_the_design(warfarin, design):
    r = nl.fim(warfarin, design)
    twice = nl.fim(warfarin, design, prior=r)
    assert twice.det == pytest.approx(r.det * 2 ** 7, rel=1e-10)
    one = Design.single(doses=[Dose(70)], times=[6.0], size=50)
    rescued = nl.fim(warfarin, one, prior=r)
    assert rescued.null_space == () and np.all(rescued.rse_percent < r.rse_percent)
    with pytest.raises(NlmeError, match="prior FIM.*tq"):
        nl.fim(warfarin, design, prior=pd.DataFrame([[1.0]], index=["tq"], columns=["tq"]))


def test_a_fit_gives_its_estimates(warfarin, design):
    small = Design.single(doses=[Dose(70)], times=TIMES, size=8)
    frame = small.to_data()
    frame["DV"] = np.where(frame.EVID == 0, nl.simulate(warfarin, frame, n=1, seed=2).table["SIMDV"].to_numpy(), 0)
    fit = nl.fit(warfarin, frame, "fo", covariance=None)
    r = nl.fim(fit, design)
    assert r.values.to_dict() == pytest.approx({k: fit.estimates[k] for k in r.parameters})
    assert nl.fim(fit, design, params={"tcl": 0.2}).values["tcl"] == 0.2
