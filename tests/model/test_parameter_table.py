"""The one parameter table: kinds, scales, bounds, both orders of the names, a user's dict to
vectors and back (covariances in either order), the numbers the generated code takes, saving."""

import numpy as np
import pytest

from nlme_lab.errors import NlmeError
from nlme_lab.model import Model
from nlme_lab.model.parameter_table import ParameterKind, ParameterTable, Scale

TEXT = """[ini]
tcl = log(2)
tv = (0, 30, 100)
add_sd = 0.3
eta_cl + eta_v ~ [0.2, 0.05, 0.1]
eta_ka ~ fix(0.4)
kappa_cl ~ 0.02 | OCC
prop_sd = fix(0.1)
tka = 0.5
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl + kappa_cl)
v = tv * exp(eta_v)
cp = linCmt()
cp ~ add(add_sd) + prop(prop_sd)
"""


@pytest.fixture(scope="module")
def table():
    return Model(TEXT).parameters


def test_kinds_scales_bounds_and_fixed_flags_of_every_parameter(table):
    rows = {e.name: e for e in table.entries}
    assert table.names == ("tcl", "tv", "tka", "eta_cl", "eta_cl,eta_v", "eta_v", "eta_ka", "kappa_cl",
                           "add_sd", "prop_sd")
    assert table.declared_names == ("tcl", "tv", "add_sd", "prop_sd", "tka", "eta_cl", "eta_cl,eta_v", "eta_v",
                                    "eta_ka", "kappa_cl")
    kinds = {n: (e.kind, e.scale) for n, e in rows.items()}
    assert kinds["tv"] == (ParameterKind.THETA, Scale.VALUE)
    assert kinds["eta_cl,eta_v"] == (ParameterKind.OMEGA, Scale.COVARIANCE)
    assert kinds["eta_v"] == (ParameterKind.OMEGA, Scale.VARIANCE)
    assert kinds["kappa_cl"] == (ParameterKind.KAPPA, Scale.VARIANCE)
    assert kinds["prop_sd"] == (ParameterKind.RESIDUAL, Scale.SD)
    assert (rows["tv"].lower, rows["tv"].init, rows["tv"].upper) == (0.0, 30.0, 100.0)
    assert rows["add_sd"].lower == 0.0 and rows["eta_v"].lower == 0.0 and rows["eta_cl,eta_v"].lower == -np.inf
    assert [n for n, f in zip(table.names, table.fixed) if f] == ["eta_ka", "prop_sd"]
    np.testing.assert_allclose(table.initial, [np.log(2), 30, 0.5, 0.2, 0.05, 0.1, 0.4, 0.02, 0.3, 0.1])
    assert [t.name for t in table.structural] == ["tcl", "tv", "tka"]
    assert table.eta_names == ("eta_cl", "eta_v", "eta_ka") and table.kappa_names == ("kappa_cl",)


def test_a_covariance_is_accepted_in_either_order_and_with_spaces(table):
    for name in ("eta_cl,eta_v", "eta_v,eta_cl", " eta_v , eta_cl"):
        assert table.canonical(name) == "eta_cl,eta_v"
        z = table.vector({name: 0.07})
        assert z[table.index("eta_cl,eta_v")] == 0.07
    values = table.values({"eta_v,eta_cl": 0.07})
    np.testing.assert_array_equal(values.omega, [[0.2, 0.07, 0], [0.07, 0.1, 0], [0, 0, 0.4]])
    assert Model(TEXT).with_initial(**{"eta_v,eta_cl": 0.07}).parameters.entry("eta_cl,eta_v").init == 0.07


def test_unknown_names_are_errors_that_say_what_is_known(table):
    with pytest.raises(NlmeError, match="unknown parameter 'tlc'; did you mean tcl.*parameters are: tcl, tv"):
        table.vector({"tlc": 1.0})
    with pytest.raises(NlmeError, match="eta_cl and eta_ka are not in one omega block"):
        table.vector({"eta_cl,eta_ka": 0.01})
    with pytest.raises(NlmeError, match="unknown parameter 'eta_cl,eta_cl'"):
        table.index("eta_cl,eta_cl")


def test_values_give_the_generated_codes_thetas_and_both_omegas(table):
    values = table.values({"add_sd": 0.5, "tka": 0.7, "kappa_cl": 0.03})
    assert values.theta_names == ("tcl", "tv", "add_sd", "prop_sd", "tka")  # declaration order, SDs included
    np.testing.assert_allclose(values.theta, [np.log(2), 30, 0.5, 0.1, 0.7])
    np.testing.assert_array_equal(values.omega_kappa, [[0.03]])
    assert values.as_dict() == table.as_dict(values.vector)
    again = table.values(values.as_dict())
    np.testing.assert_array_equal(again.vector, values.vector)
    assert values.with_values({"tcl": 1.0}).theta[0] == 1.0 and values.theta[0] == np.log(2)


def test_the_table_is_saved_and_read_back(table):
    back = ParameterTable.from_dict(table.to_dict())
    assert back == table and back.entries == table.entries


def test_a_table_built_by_hand_checks_its_blocks():
    from nlme_lab.model.ir import OmegaBlock, Theta

    with pytest.raises(NlmeError, match="omega block a, b: 2 values, expected 3"):
        ParameterTable((Theta("t", 1.0),), (OmegaBlock(("a", "b"), (0.1, 0.1)),))
    with pytest.raises(NlmeError, match="residual SD sd is not one of the thetas"):
        ParameterTable((Theta("t", 1.0),), (), residuals=("sd",))
