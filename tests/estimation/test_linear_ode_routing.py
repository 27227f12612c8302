"""d/dt systems linear in the states with coefficients constant between records run on the exact
linear propagator of linCmt() (codegen/analysis.py ``linear_system``): the same numbers as the
ODE solver (``solver="ode"``) to its tolerance and as the linCmt() twin to rounding, with the
same dosing semantics and sensitivities; nonlinear or time-dependent systems stay on the ODE
solver and say why."""

import pickle

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl
from nlme_lab.estimation.evaluation import prepare

ROUTED = "ODE system routed to the exact linear propagator (linear in the states)"

HEAD = """
[ini]
tcl = log(3)
tv = log(20)
eta_cl ~ 0.1
eta_v ~ 0.05
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl)
v = exp(tv + eta_v)
"""

NOT_ROUTED = {
    "michaelis-menten": ("vm = 5\nkm = 2\nd/dt(center) = -vm * center / (km + center)\ncp = center / v\n",
                         "d/dt(center) is not linear in the states (its derivative with respect to center "
                         "depends on center)"),
    "state squared": ("d/dt(center) = -cl / v * center * center\ncp = center / v\n",
                      "d/dt(center) is not linear in the states"),
    "state in exp": ("d/dt(center) = -cl / v * exp(center / 100)\ncp = center / v\n",
                     "d/dt(center) is not linear in the states"),
    "time": ("d/dt(center) = -cl / v * exp(-0.1 * t) * center\ncp = center / v\n", "d/dt(center) depends on t"),
    "time via variable": ("k = cl / v * (1 + t / 24)\nd/dt(center) = -k * center\ncp = center / v\n",
                          "d/dt(center) depends on t"),
    "product of states": ("d/dt(a) = -0.1 * a * center\nd/dt(center) = -cl / v * center\ncp = center / v\n",
                          "d/dt(a) is not linear in the states (its derivative with respect to a depends on center)"),
}


@pytest.mark.parametrize("case", sorted(NOT_ROUTED))
def test_nonlinear_or_time_dependent_systems_stay_on_the_ode_solver_and_say_why(case):
    body, why = NOT_ROUTED[case]
    model = nl.Model(HEAD + body + "cp ~ add(add_sd)\n")
    assert not model.compiled.is_linear
    assert model.path.startswith("stiff ODE solver: " + why), model.path
    assert "solved by: stiff ODE solver: " + why in model.describe()


@pytest.mark.parametrize("body", [
    "d/dt(center) = -cl / v * center\ncp = center / v\n",
    "cp = center / v\nd/dt(center) = -cl * cp\n",  # through a state-dependent variable
    "k = cl / v\nd/dt(center) = -k * center\ncenter(0) = 10 * v\ncp = center / v\n",
    "d/dt(center) = -max(cl, 1) / v * center + 0 * t\ncp = center / v\n",
])
# a zero-order input written in d/dt routes too (tests/estimation/test_affine_ode_routing.py)
def test_linear_systems_are_routed(body):
    model = nl.Model(HEAD + body + "cp ~ add(add_sd)\n")
    assert model.compiled.is_linear and model.path == ROUTED
    assert "solved by: " + ROUTED in model.describe()
    forced = model.with_solver("ode")
    assert not forced.compiled.is_linear and forced.solver == "ode" and forced != model
    assert forced.path == "stiff ODE solver: forced by the model's solver option (solver='ode')"
    assert forced.with_initial(tcl=1.0).solver == "ode"
    assert pickle.loads(pickle.dumps(forced)).solver == "ode"
    with pytest.raises(ValueError, match="solver='fast'"):
        nl.Model(model.text, solver="fast")


def test_theo_sd_ode_matches_the_ode_solver_and_the_closed_form(shared_models, shared_data):
    data = shared_data["theo_sd.csv"]
    routed = shared_models["theo_sd_ode"]
    assert routed.path == ROUTED and shared_models["theo_sd"].path.startswith("linCmt()")
    etas = np.random.default_rng(1).normal(0, 0.3, (data.n_subjects, 3))
    out = {}
    for name, model in (("routed", routed), ("ode", routed.with_solver("ode")), ("lin", shared_models["theo_sd"])):
        ev = prepare(model, data)
        out[name] = ev.predictions(ev.values(), etas)
    a, b, c = out["routed"], out["ode"], out["lin"]
    scale = np.abs(b.f).max()
    np.testing.assert_allclose(a.f, b.f, rtol=1e-8, atol=1e-12 * scale)
    np.testing.assert_allclose(a.df_deta, b.df_deta, rtol=1e-6, atol=1e-8 * np.abs(b.df_deta).max())
    np.testing.assert_allclose(a.f, c.f, rtol=1e-13, atol=1e-15 * scale)
    np.testing.assert_allclose(a.df_deta, c.df_deta, rtol=1e-12, atol=1e-14 * np.abs(c.df_deta).max())


def test_theo_sd_ode_focei_ofv_equals_the_closed_form(shared_models, shared_data):
    data = shared_data["theo_sd.csv"]
    ode = nl.fit(shared_models["theo_sd_ode"], data, "focei", covariance=None)
    lin = nl.fit(shared_models["theo_sd"], data, "focei", covariance=None)
    assert ode.ofv == pytest.approx(lin.ofv, rel=1e-9, abs=1e-6)
    for name, value in lin.estimates.items():
        assert ode.estimates[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


TWO_CMT_ODE = """
[ini]
tcl = log(3)
tv = log(20)
tq = log(2)
tv2 = log(50)
eta_cl ~ 0.1
eta_v ~ 0.05
add_sd = 0.1
[model]
cl = exp(tcl + eta_cl) * (WT / 70) ** 0.75
v = exp(tv + eta_v)
q = exp(tq)
v2 = exp(tv2)
d/dt(central) = -(cl + q) / v * central + q / v2 * periph
d/dt(periph) = q / v * central - q / v2 * periph
f(central) = 0.9
cp = central / v
cp ~ add(add_sd)
"""

TWO_CMT_LIN = TWO_CMT_ODE.replace(
    "d/dt(central) = -(cl + q) / v * central + q / v2 * periph\n"
    "d/dt(periph) = q / v * central - q / v2 * periph\n", "").replace("cp = central / v", "cp = linCmt()")


def _infusions(n_sub: int = 6) -> pd.DataFrame:
    """Infusions (some at steady state), boluses and ADDL repeats into the central compartment."""
    rng = np.random.default_rng(4)
    rows = []
    for sid in range(1, n_sub + 1):
        wt, ii = rng.uniform(50, 100), float(rng.choice([8.0, 12.0]))
        base = dict(ID=sid, DV=0.0, CMT=1, RATE=0.0, II=0.0, ADDL=0, SS=0, WT=wt)
        rows.append(base | dict(TIME=0.0, AMT=float(rng.uniform(100, 500)), EVID=1, RATE=float(rng.uniform(50, 200)),
                                II=ii, ADDL=3, SS=int(sid % 2)))
        rows.append(base | dict(TIME=4 * ii + 1.0, AMT=200.0, EVID=1))
        for t in np.sort(rng.uniform(0.1, 6 * ii, size=10)):
            rows.append(base | dict(TIME=float(t), AMT=0.0, EVID=0, DV=1.0))
    return pd.DataFrame(rows).sort_values(["ID", "TIME", "EVID"], kind="stable")


def test_two_compartment_ode_with_infusions_and_repeats_matches_its_linCmt_twin():
    data = nl.read_nonmem(_infusions())
    routed, twin = nl.Model(TWO_CMT_ODE), nl.Model(TWO_CMT_LIN)
    assert routed.path == ROUTED
    a = nl.simulate(routed, data, n=2, seed=5).table
    b = nl.simulate(twin, data, n=2, seed=5).table
    obs = a["EVID"].to_numpy() == 0
    for col in ("PRED", "IPRED"):
        x, y = a[col].to_numpy()[obs], b[col].to_numpy()[obs]
        assert np.all(y > 0)
        np.testing.assert_allclose(x, y, rtol=1e-10)
    etas = np.random.default_rng(6).normal(0, 0.2, (data.n_subjects, 2))
    pa, pb = (prepare(m, data).predictions(prepare(m, data).values(), etas) for m in (routed, twin))
    np.testing.assert_allclose(pa.f, pb.f, rtol=1e-10)
    np.testing.assert_allclose(pa.df_deta, pb.df_deta, rtol=1e-8, atol=1e-10 * np.abs(pb.df_deta).max())


def test_peripheral_bolus_initial_amount_and_reset_match_the_ode_solver():
    """What linCmt() cannot write (a dose into the peripheral compartment, an initial amount,
    EVID 4 resets) goes through the same engine paths: the routed model agrees with the ODE
    solver to its tolerance, sensitivities included."""
    text = TWO_CMT_ODE.replace("f(central) = 0.9\n", "f(central) = 0.9\nperiph(0) = 5 * v2\n")
    rows = []
    for sid, wt in ((1, 60.0), (2, 85.0)):
        base = dict(ID=sid, DV=0.0, RATE=0.0, WT=wt)
        rows += [base | dict(TIME=0.0, AMT=100.0, EVID=1, CMT=2),
                 base | dict(TIME=2.0, AMT=50.0, EVID=1, CMT=1, RATE=25.0),
                 base | dict(TIME=12.0, AMT=80.0, EVID=4, CMT=1)]
        rows += [base | dict(TIME=t, AMT=0.0, EVID=0, CMT=1, DV=1.0) for t in (0.5, 1, 3, 6, 11, 12.5, 16, 24)]
    data = nl.read_nonmem(pd.DataFrame(rows).sort_values(["ID", "TIME"], kind="stable"))
    routed = nl.Model(text)
    assert routed.path == ROUTED
    etas = np.random.default_rng(7).normal(0, 0.2, (2, 2))
    pa, pb = (prepare(m, data).predictions(prepare(m, data).values(), etas)
              for m in (routed, routed.with_solver("ode")))
    np.testing.assert_allclose(pa.f, pb.f, rtol=1e-7)
    np.testing.assert_allclose(pa.df_deta, pb.df_deta, rtol=1e-5, atol=1e-7 * np.abs(pb.df_deta).max())


SHAPES = {  # K with a zero eigenvalue, complex eigenvalues, a repeated (defective) eigenvalue
    "excretion": "d/dt(center) = -cl / v * center\nd/dt(urine) = cl / v * center\ncp = center / v + 0.01 * urine\n",
    "oscillating": "d/dt(a) = -cl / v * a - 0.5 * b\nd/dt(b) = 0.5 * a - 0.05 * b\ncp = a / v\n",
    "transit": "d/dt(a) = -2 * a\nd/dt(b) = 2 * a - 2 * b\nd/dt(c) = 2 * b - 2 * c\n"
               "d/dt(center) = 2 * c - cl / v * center\ncp = center / v\n",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_systems_linCmt_never_writes_match_the_ode_solver(shape):
    model = nl.Model(HEAD + SHAPES[shape] + "cp ~ add(add_sd)\n")
    assert model.path == ROUTED
    rows = []
    for sid in (1, 2, 3):
        base = dict(ID=sid, DV=0.0, RATE=0.0, II=0.0, ADDL=0, SS=0, CMT=1)
        rows += [base | dict(TIME=0.0, AMT=100.0, EVID=1, II=12.0, ADDL=2),
                 base | dict(TIME=30.0, AMT=50.0, EVID=1, RATE=25.0)]
        rows += [base | dict(TIME=t, AMT=0.0, EVID=0, DV=1.0) for t in (0.5, 1, 3, 6, 11, 12.5, 16, 24, 31, 40)]
    data = nl.read_nonmem(pd.DataFrame(rows).sort_values(["ID", "TIME"], kind="stable"))
    etas = np.random.default_rng(8).normal(0, 0.2, (3, 2))
    pa, pb = (prepare(m, data).predictions(prepare(m, data).values(), etas) for m in (model, model.with_solver("ode")))
    np.testing.assert_allclose(pa.f, pb.f, rtol=1e-7, atol=1e-9 * np.abs(pb.f).max())
    np.testing.assert_allclose(pa.df_deta, pb.df_deta, rtol=1e-5, atol=1e-8 * np.abs(pb.df_deta).max())


def test_nlme_lab_check_says_which_path_a_model_takes(capsys, tmp_path):
    from nlme_lab.cli.main import main
    from tests.conftest import MODELS

    assert main(["check", str(MODELS / "theo_sd_ode.nlm")]) == 0
    assert "solved by: " + ROUTED in capsys.readouterr().out
    mm = tmp_path / "mm.nlm"
    mm.write_text(HEAD + NOT_ROUTED["michaelis-menten"][0] + "cp ~ add(add_sd)\n")
    assert main(["check", str(mm)]) == 0
    assert "solved by: stiff ODE solver: d/dt(center) is not linear in the states" in capsys.readouterr().out


def test_a_saved_fit_keeps_the_forced_solver(shared_models, shared_data):
    from nlme_lab.estimation.result_io import _model, _unmodel

    forced = shared_models["theo_sd_ode"].with_solver("ode")
    assert _unmodel(_model(forced)) == forced and _unmodel(_model(forced)).solver == "ode"
    assert "solver" not in _model(shared_models["theo_sd_ode"])
