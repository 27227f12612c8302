"""Binding a model to a dataset: every mismatch is an error naming both sides."""

import warnings

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.errors import BindError, DataError, DataWarning

ONE_CMT = """
[ini]
tcl = log(2)
tv = log(30)
eta_cl ~ 0.1
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl) * (WT / 70)
v = exp(tv)
cp = linCmt()
cp ~ add(add_sd)
"""


def _frame(**extra):
    base = {"ID": [1, 1, 1, 2, 2, 2], "TIME": [0, 1, 2, 0, 1, 2], "DV": [0, 3, 2, 0, 2.5, 1.5],
            "AMT": [100, 0, 0, 100, 0, 0], "EVID": [1, 0, 0, 1, 0, 0], "CMT": [1, 1, 1, 1, 1, 1],
            "WT": [70, 70, 70, 80, 80, 80]}
    base.update(extra)
    return pd.DataFrame(base)


def test_covariates_come_from_columns_case_insensitively():
    data = nl.read_nonmem(_frame().rename(columns={"WT": "wt"}))
    bound = nl.bind(nl.Model(ONE_CMT), data)
    np.testing.assert_array_equal(bound.covariates[:, 0], [70, 70, 70, 80, 80, 80])


def test_missing_covariate_names_the_model_line_and_suggests_a_column():
    data = nl.read_nonmem(_frame().rename(columns={"WT": "WGT"}))
    with pytest.raises(BindError, match=r"covariate WT \(line 8\) is not a column.*did you mean WGT"):
        nl.bind(nl.Model(ONE_CMT), data)


def test_dose_into_a_compartment_the_model_lacks_names_row_subject_column():
    data = nl.read_nonmem(_frame(CMT=[1, 1, 1, 3, 1, 1]))
    with pytest.raises(DataError) as err:
        nl.bind(nl.Model(ONE_CMT), data)
    assert (err.value.row, err.value.subject, err.value.column) == (4, 2, "CMT")  # DataFrame rows are 1-based positions
    assert "compartment 3" in str(err.value) and "1 = central" in str(err.value)


def test_observation_cmt_is_informational():
    data = nl.read_nonmem(_frame(CMT=[1, 7, 7, 1, 9, 9]))
    nl.bind(nl.Model(ONE_CMT), data)  # no error: '~' lines define what is observed


def test_two_endpoints_need_dvid_and_accept_numbers_or_names(shared_models, shared_data):
    model = shared_models["warfarin_pkpd"]
    bound = nl.bind(model, shared_data["warfarin.csv"])
    obs = bound.observed
    dvid = np.asarray(shared_data["warfarin.csv"].dvid, dtype=float)
    np.testing.assert_array_equal(bound.endpoint[obs], dvid[obs] - 1)
    frame = shared_data["warfarin.csv"].table.drop(columns=["DVID"])
    with pytest.raises(BindError, match="needs a DVID column"):
        nl.bind(model, nl.read_nonmem(frame))
    named = shared_data["warfarin.csv"].table
    named["DVID"] = np.where(named["DVID"] == 1, "cp", "effect")
    bound_named = nl.bind(model, nl.read_nonmem(named))
    np.testing.assert_array_equal(bound_named.endpoint, bound.endpoint)


def test_one_endpoint_with_several_dvids_warns(shared_models, shared_data):
    with pytest.warns(DataWarning, match="one endpoint"):
        nl.bind(shared_models["warfarin_pk"], shared_data["warfarin.csv"])


def test_algebraic_model_rejects_dose_rows(shared_models):
    from tests.conftest import DATA

    data = nl.read_nonmem(DATA / "wang2007_dosed.csv")
    with pytest.raises(DataError, match="no compartments"):
        nl.bind(shared_models["wang2007_prop"], data)


IOV = """
[ini]
tcl = log(2)
tv = log(30)
eta_cl ~ 0.1
kappa_cl ~ 0.2 | OCC
add_sd = 0.01
[model]
cl = exp(tcl + eta_cl + kappa_cl)
v = exp(tv)
cp = linCmt()
cp ~ add(add_sd)
"""


def test_kappas_need_an_occasion_column():
    with pytest.raises(BindError, match="OCC"):
        nl.bind(nl.Model(IOV), nl.read_nonmem(_frame()))


def test_between_occasion_variability_changes_clearance_per_occasion():
    # one subject, two occasions: a dose and samples in each; CL differs between occasions
    times = [0, 1, 2, 100, 101, 102]
    frame = pd.DataFrame({"ID": 1, "TIME": times, "DV": 0.0, "AMT": [100, 0, 0, 100, 0, 0],
                          "EVID": [1, 0, 0, 4, 0, 0], "CMT": 1, "OCC": [1, 1, 1, 2, 2, 2]})
    data = nl.read_nonmem(frame)
    sim = nl.simulate(nl.Model(IOV), data, n=300, seed=4)
    t = sim.table
    ipred = t["IPRED"].to_numpy().reshape(300, 6)
    pred = t["PRED"].to_numpy().reshape(300, 6)
    # log(IPRED/PRED) at matching times differs between occasions because kappas differ
    ratio1 = np.log(ipred[:, 2] / pred[:, 2])
    ratio2 = np.log(ipred[:, 5] / pred[:, 5])
    assert np.corrcoef(ratio1, ratio2)[0, 1] < 0.6  # shared eta_cl, independent kappas
    assert np.std(ratio1 - ratio2) > 0.05
