"""Affine d/dt systems (dy/dt = K y + b: a constant input written in the model, such as the kin
of a turnover or an endogenous production) run on the exact linear propagator, b joining the
dose inputs (kernels/propagate.py ``model_input``): the same predictions, sensitivities (eta
and theta directions) and FOCEI objective as the same model forced to the ODE solver, through
infusions, ADDL, SS=1/2, steady-state constant infusions, lags, F and resets. A turnover whose
drug effect multiplies (Emax, or on kout) is not linear and stays on the ODE solver."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.estimation.evaluation import prepare
from nlme_lab.estimation.kernel_problem import KernelProblem
from nlme_lab.problem import bind

ROUTED = "ODE system routed to the exact linear propagator (linear in the states, with a constant input in "

#: a hormone-like compound: endogenous production kin into central, oral and IV doses, two
#: compartments, a modeled lag and bioavailability; the baseline is the initial condition
ENDOGENOUS = """
[ini]
tka = log(1.2)
tcl = log(3)
tv = log(20)
tq = log(2)
tv2 = log(40)
tkin = log(6)
tlag = log(0.4)
tf = logit(0.7)
eta_cl ~ 0.1
eta_v ~ 0.05
eta_kin ~ 0.1
add_sd = 0.1
[model]
ka = exp(tka)
cl = exp(tcl + eta_cl)
v = exp(tv + eta_v)
q = exp(tq)
v2 = exp(tv2)
kin = exp(tkin + eta_kin)
alag(depot) = exp(tlag)
f(depot) = expit(tf)
d/dt(depot) = -ka * depot
d/dt(central) = ka * depot + kin - (cl + q) / v * central + q / v2 * periph
d/dt(periph) = q / v * central - q / v2 * periph
central(0) = kin * v / cl
periph(0) = kin * v2 / cl
cp = central / v
cp ~ add(add_sd)
"""

#: an indirect response (turnover) whose production is stimulated linearly by a 1-cmt
#: concentration: kin * (1 + slope * cp) - kout * R is linear in the states
TURNOVER = """
[ini]
tcl = log(2)
tv = log(15)
tbase = log(50)
tkout = log(0.15)
tslope = log(0.05)
eta_cl ~ 0.1
eta_base ~ 0.05
eta_kout ~ 0.1
add_sd = 1
[model]
cl = exp(tcl + eta_cl)
v = exp(tv)
base = exp(tbase + eta_base)
kout = exp(tkout + eta_kout)
slope = exp(tslope)
kin = base * kout
cp = center / v
d/dt(center) = -cl * cp
d/dt(response) = kin * (1 + slope * cp) - kout * response
response(0) = base
response ~ add(add_sd)
"""

#: the model's own zero-order input (a constant infusion written in d/dt) into a 1-cmt model
ZERO_ORDER = """
[ini]
tcl = log(3)
tv = log(20)
tr0 = log(4)
eta_cl ~ 0.1
eta_v ~ 0.05
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl)
v = exp(tv + eta_v)
r0 = exp(tr0)
d/dt(center) = r0 - cl / v * center
cp = center / v
cp ~ add(add_sd)
"""


def _data(rows):
    cols = dict(DV=0.0, RATE=0.0, II=0.0, ADDL=0, SS=0, AMT=0.0)
    return nl.read_nonmem(pd.DataFrame([cols | r for r in rows]).sort_values(["ID", "TIME"], kind="stable"))


def _obs(sid, times, cmt=1):
    return [dict(ID=sid, TIME=float(t), EVID=0, CMT=cmt, DV=1.0) for t in times]


def _endogenous_data():
    """Oral ADDL doses, an IV infusion, SS=1 then SS=2, a steady-state infusion, a constant
    infusion at steady state (AMT 0), EVID 3/4 resets."""
    t = (0.25, 0.7, 1.5, 3, 6, 11, 12.3, 16, 24, 30, 36, 47, 50, 60)
    rows = [dict(ID=1, TIME=0.0, AMT=100.0, EVID=1, CMT=1, II=12.0, ADDL=3),
            dict(ID=1, TIME=29.0, AMT=60.0, EVID=1, CMT=2, RATE=30.0)] + _obs(1, t, 2)
    rows += [dict(ID=2, TIME=0.0, AMT=100.0, EVID=1, CMT=1, II=12.0, SS=1),
             dict(ID=2, TIME=24.0, AMT=50.0, EVID=1, CMT=2, II=8.0, SS=2, RATE=25.0)] + _obs(2, t, 2)
    rows += [dict(ID=3, TIME=0.0, AMT=80.0, EVID=1, CMT=2, RATE=20.0, II=12.0, SS=1, ADDL=2),
             dict(ID=3, TIME=40.0, AMT=90.0, EVID=4, CMT=1)] + _obs(3, t, 2)
    rows += [dict(ID=4, TIME=0.0, AMT=0.0, EVID=1, CMT=2, RATE=10.0, SS=1),
             dict(ID=4, TIME=20.0, AMT=0.0, EVID=3, CMT=2),
             dict(ID=4, TIME=25.0, AMT=100.0, EVID=1, CMT=1, II=24.0, ADDL=1)] + _obs(4, t, 2)
    return _data(rows)


def _pkpd_data():
    t = (0.5, 2, 6, 12, 18, 24, 30, 48, 60, 72, 96)
    rows = []
    for sid in (1, 2, 3):
        rows += [dict(ID=sid, TIME=0.0, AMT=100.0 * sid, EVID=1, CMT=1, II=24.0, ADDL=2),
                 dict(ID=sid, TIME=60.0, AMT=200.0, EVID=1, CMT=1, RATE=100.0)] + _obs(sid, t, 2)
    rows += [dict(ID=4, TIME=0.0, AMT=100.0, EVID=1, CMT=1, II=12.0, SS=1)] + _obs(4, t, 2)
    return _data(rows)


def _zero_order_data():
    t = (0.5, 2, 6, 12, 20, 30, 40)
    rows = []
    for sid in (1, 2):
        rows += [dict(ID=sid, TIME=0.0, AMT=200.0, EVID=1, CMT=1, II=12.0, ADDL=1),
                 dict(ID=sid, TIME=25.0, AMT=100.0, EVID=1, CMT=1, RATE=50.0)] + _obs(sid, t)
    rows += [dict(ID=3, TIME=0.0, AMT=150.0, EVID=1, CMT=1, II=8.0, SS=1, RATE=75.0)] + _obs(3, t)
    return _data(rows)


CASES = {
    "endogenous": (ENDOGENOUS, _endogenous_data, "d/dt(central))"),
    "turnover": (TURNOVER, _pkpd_data, "d/dt(response))"),
    "zero-order": (ZERO_ORDER, _zero_order_data, "d/dt(center))"),
}


def _evaluate(model, data, etas, rtol=1e-8, atol=1e-10):
    problem = KernelProblem(bind(model, data), rtol=rtol, atol=atol)
    theta = problem.theta_full[problem.structural].copy()
    return problem.evaluate(theta, etas, derivs=True, theta_derivs=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_affine_systems_are_routed_and_match_the_ode_solver(case):
    text, data_of, where = CASES[case]
    model, data = nl.Model(text), data_of()
    assert model.compiled.is_linear and model.compiled.has_input
    assert model.path == ROUTED + where
    assert "solved by: " + ROUTED + where in model.describe()
    forced = model.with_solver("ode")
    assert not forced.compiled.is_linear and not forced.compiled.has_input
    etas = np.random.default_rng(3).normal(0, 0.25, (data.n_subjects, len(model.ir.etas)))
    a = _evaluate(model, data, etas)
    b = _evaluate(forced, data, etas, rtol=1e-11, atol=1e-13)
    assert np.all(np.abs(b.f) > 0.1)
    np.testing.assert_allclose(a.f, b.f, rtol=1e-8)
    for x, y in ((a.df_deta, b.df_deta), (a.df_dtheta, b.df_dtheta)):
        assert np.abs(y).max() > 0
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6 * np.abs(y).max())


def test_the_baseline_is_the_models_own_steady_state():
    """No dose: the endogenous model stays at its initial condition (kin v / cl), exactly."""
    model = nl.Model(ENDOGENOUS)
    data = _data(_obs(1, (1.0, 10.0, 100.0), 2))
    f = _evaluate(model, data, np.zeros((1, 3))).f
    np.testing.assert_allclose(f, 6.0 / 3.0, rtol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_focei_objective_equals_the_ode_solvers(case):
    text, data_of, _ = CASES[case]
    model, data = nl.Model(text), data_of()
    ofv = {}
    for name, m in (("routed", model), ("ode", model.with_solver("ode"))):
        ev = prepare(m, data)
        values = ev.values()
        modes = ev.modes(values, "focei")
        ofv[name] = ev.objectives(values, modes.etas, "focei").total
    assert ofv["routed"] == pytest.approx(ofv["ode"], abs=1e-6)


NONLINEAR = {  # the drug effect multiplies: the turnover stays on the ODE solver
    "Emax on kin": ("d/dt(response) = kin * (1 - 0.8 * cp / (2 + cp)) - kout * response",
                    "d/dt(response) is not linear in the states (its derivative with respect to center depends on center)"),
    "linear on kout": ("d/dt(response) = kin - kout * (1 + slope * cp) * response",
                       "d/dt(response) is not linear in the states (its derivative with respect to center depends on response)"),
}


@pytest.mark.parametrize("case", sorted(NONLINEAR))
def test_a_turnover_driven_multiplicatively_stays_on_the_ode_solver(case):
    ode, why = NONLINEAR[case]
    text = TURNOVER.replace("d/dt(response) = kin * (1 + slope * cp) - kout * response", ode)
    model = nl.Model(text)
    assert not model.compiled.is_linear and not model.compiled.has_input
    assert model.path == "stiff ODE solver: " + why
    assert "solved by: stiff ODE solver: " + why in model.describe()


def test_warfarin_pkpd_stays_on_the_ode_solver(shared_models):
    path = shared_models["warfarin_pkpd"].path
    assert path.startswith("stiff ODE solver: d/dt(effect) is not linear in the states"), path


def test_the_engine_needs_the_input_flag():
    """Without ``linear.OPT_MODEL_INPUT`` the linear engine leaves b out (the predictor sets it
    from ``CompiledModel.has_input``; a direct caller of the kernels must too)."""
    from nlme_lab.kernels.linear import OPT_MODEL_INPUT

    model, data = nl.Model(ZERO_ORDER), _zero_order_data()
    problem = KernelProblem(bind(model, data))
    opts = problem.predictor._opts
    assert opts.shape[0] > OPT_MODEL_INPUT and opts[OPT_MODEL_INPUT] == 1.0
    theta = problem.theta_full[problem.structural].copy()
    etas = np.zeros((data.n_subjects, 2))
    with_b = problem.predict_observations(theta, etas).copy()
    opts[OPT_MODEL_INPUT] = 0.0
    without = problem.predict_observations(theta, etas)
    assert np.all(with_b > without + 1e-3)
