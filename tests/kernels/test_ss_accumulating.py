"""A steady-state dose (SS=1) with a compartment nothing eliminates (an AUC state) has no steady
state: the solver says so, naming the compartment, on the ODE and on the linear path, instead
of returning NaN. Without the SS record the same model solves (checked against the closed form)."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.errors import SolverError
from nlme_lab.model.codegen.analysis import accumulating_states, build_plan

MODEL = """
[ini]
tcl = log(2)
tv = log(10)
eta_cl ~ 0.1
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl)
v = exp(tv)
d/dt(center) = -cl / v * center
d/dt(auc) = center / v
cp = center / v
cp ~ add(add_sd)
"""


def _data(ss: int) -> pd.DataFrame:
    rows = [(1, 0.0, 0.0, 100.0, 1, 1, 1, ss, 12.0 if ss else 0.0)]
    rows += [(1, t, 0.0, 0.0, 0, 0, 1, 0, 0.0) for t in (1.0, 6.0)]
    return pd.DataFrame(rows, columns=["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "SS", "II"])


@pytest.mark.parametrize("solver", ["auto", "ode"])
def test_steady_state_of_an_accumulating_compartment_is_an_error_naming_it(solver):
    model = nl.Model(MODEL, solver=solver)
    assert accumulating_states(build_plan(model.ir, route_linear=solver == "auto")) == ("auc",)
    with pytest.raises(SolverError, match=r"steady state \(SS\) of data row \d+ is undefined: "
                                          r"compartment 'auc' accumulates"):
        nl.simulate(model, nl.read_nonmem(_data(1)), seed=1)


@pytest.mark.parametrize("solver", ["auto", "ode"])
def test_same_model_without_steady_state_solves(solver):
    model = nl.Model(MODEL, solver=solver)
    table = nl.simulate(model, nl.read_nonmem(_data(0)), seed=1).table
    pred = table["PRED"].to_numpy()[1:]
    k = 2.0 / 10.0
    np.testing.assert_allclose(pred, 100.0 / 10.0 * np.exp(-k * np.array([1.0, 6.0])), rtol=1e-7)


def test_eliminated_states_are_not_accumulating():
    model = nl.Model(MODEL.replace("d/dt(auc) = center / v", "d/dt(auc) = center / v - 0.1 * auc"))
    assert accumulating_states(build_plan(model.ir)) == ()
