"""Binding a model to a dataset: every mismatch is an error naming both sides."""


import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.errors import BindError, DataError, DataWarning
from tests.conftest import DATA

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
    with pytest.raises(BindError) as info:
        nl.bind(nl.Model(ONE_CMT), data)
    assert str(info.value) == "'WT' at line 8:27 is neither defined in the model nor a column of the dataset; did you mean WGT?"
    (diag,) = info.value.diagnostics  # located for an editor to underline
    assert (diag.line, diag.column, diag.end_column) == (8, 27, 29)


def test_unknown_names_suggest_every_name_in_scope():
    """A typo the model alone cannot tell from a column (capitals): with data, "did you mean"
    looks at compartments, variables, parameters and the dataset's columns."""
    text = ONE_CMT.replace("v = exp(tv)", "v = exp(tv) * (1 + TV)").replace("(WT / 70)", "(WTT / 70) * CENTRL")
    with pytest.raises(BindError) as info:
        nl.bind(nl.Model(text), nl.read_nonmem(_frame()))
    err = info.value
    assert [(d.line, d.column) for d in err.diagnostics] == [(8, 27), (8, 39), (9, 20)]
    assert [d.message.rsplit("; ", 1)[1] for d in err.diagnostics] == [
        "did you mean WT?", "did you mean central?", "did you mean tv?"]
    assert str(err).splitlines()[0] == "the model and the dataset do not fit together (3 problems):"
    assert len(str(err).splitlines()) == 4 and len(err.problems) == 3


def test_dose_into_a_compartment_the_model_lacks_names_row_subject_column():
    data = nl.read_nonmem(_frame(CMT=[1, 1, 1, 3, 1, 1]))
    with pytest.raises(DataError) as err:
        nl.bind(nl.Model(ONE_CMT), data)
    assert (err.value.row, err.value.subject, err.value.column) == (4, 2, "CMT")  # DataFrame rows are 1-based positions
    assert "compartment 3" in str(err.value) and "1 = central" in str(err.value)


def test_observation_cmt_is_a_label_within_the_model_compartments(shared_models, shared_data):
    # warfarin: PCA (DVID 2, the effect) is recorded in CMT 3 (center): DVID, not CMT, chooses the endpoint
    bound = nl.bind(shared_models["warfarin_pkpd"], shared_data["warfarin.csv"])
    cmt = np.asarray(shared_data["warfarin.csv"].cmt)
    assert set(cmt[bound.observed]) == {2, 3} and set(bound.endpoint[bound.observed & (cmt == 3)]) == {1}
    data = nl.read_nonmem(DATA / "wang2007.csv").table
    data["CMT"] = 7  # a model without compartments takes any observation CMT
    nl.bind(shared_models["wang2007_add"], nl.read_nonmem(data))


def test_observation_beyond_the_model_compartments_names_cmt_subject_and_row(shared_data):
    """theo_sd's observations are in CMT 2 (central, after the depot): a model without
    absorption has only CMT 1. This bound and fitted before (OFV 732, an eta variance -> 0)."""
    one_cmt = ONE_CMT.replace(" * (WT / 70)", "")
    with pytest.raises(DataError) as info:
        nl.bind(nl.Model(one_cmt), shared_data["theo_sd.csv"])
    err = info.value
    assert (err.row, err.subject, err.column) == (3, 1, "CMT")  # line 3 of the file: ID 1's first sample
    assert str(err).startswith("row 3, ID 1, column CMT: observation in compartment 2, but the model has "
                               "1 compartment (1 = central); 132 observation records use CMT 2")
    assert "linCmt() numbers the depot 1 and the central compartment 2" in str(err)


def test_every_binding_problem_is_listed(shared_data):
    frame = _frame(CMT=[1, 2, 3, 5, 3, 3])
    frame = frame.rename(columns={"WT": "WGT"})
    with pytest.raises(BindError) as info:
        nl.bind(nl.Model(ONE_CMT), nl.read_nonmem(frame))
    err = info.value
    kinds = [(type(p).__name__, getattr(p, "row", None)) for p in err.problems]
    assert kinds == [("BindError", None), ("DataError", 4), ("DataError", 2), ("DataError", 3)]
    text = str(err)
    assert "'WT' at line 8:27" in text and "dose into compartment 5" in text
    assert "observation in compartment 2" in text and "observation in compartment 3" in text
    assert "3 observation records use CMT 3" in text and len(text.splitlines()) == 5


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
    table = shared_data["warfarin.csv"].table
    table.loc[table["CMT"] == 3, "CMT"] = 2  # warfarin_pk has 2 compartments (depot, central)
    with pytest.warns(DataWarning, match="one endpoint"):
        nl.bind(shared_models["warfarin_pk"], nl.read_nonmem(table))


def test_algebraic_model_rejects_dose_rows(shared_models):

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


ALGEBRAIC = """
[ini]
tasym = 30
tlrc = -4.5
tc0 = 50
eta_asym ~ 50
add_sd = 2
[model]
asym = tasym + eta_asym
y = asym * (1 - exp(-exp(tlrc) * (CONC - tc0)))
y ~ add(add_sd)
"""


def _untimed():
    return nl.read_nonmem(pd.DataFrame({"ID": [1, 1, 2, 2], "CONC": [95, 500, 95, 500], "DV": [15, 35, 10, 30]}))


def test_a_model_without_time_binds_to_data_without_time():
    bound = nl.bind(nl.Model(ALGEBRAIC), _untimed())
    np.testing.assert_array_equal(bound.covariates[:, 0], [95, 500, 95, 500])


@pytest.mark.parametrize("line,what,col", [
    ("y = asym * (1 - exp(-exp(tlrc) * (CONC - tc0))) + 0 * t", "time 't' at line 10:55", 55),
    ("y = asym * (1 - exp(-exp(tlrc) * (CONC - tc0)))\nd/dt(depot) = -depot", "d/dt(depot) (an ODE) at line 11:1", 1),
])
def test_a_model_that_needs_time_is_refused_for_data_without_time_at_its_line(line, what, col):
    text = ALGEBRAIC.replace("y = asym * (1 - exp(-exp(tlrc) * (CONC - tc0)))", line)
    with pytest.raises(BindError, match=r"no TIME column, but the model needs time: " + what.replace("(", r"\(")
                       .replace(")", r"\)")) as err:
        nl.bind(nl.Model(text), _untimed())
    assert err.value.diagnostics[0].column == col


def test_a_closed_form_pk_model_is_refused_for_data_without_time():
    with pytest.raises(BindError) as err:
        nl.bind(nl.Model(ONE_CMT), nl.read_nonmem(_frame().drop(columns=["TIME", "AMT", "EVID"])))
    assert "linCmt() (a compartment model) at line 10:6" in str(err.value)
    assert [d.line for d in err.value.diagnostics] == [10]


def test_the_time_check_reads_d_slash_dt_of_two_variables_as_division():
    text = ALGEBRAIC.replace("y = asym", "d = 1\ndt = 2\nr = d/dt\ny = r * asym")
    nl.bind(nl.Model(text), _untimed())
