"""What a cold start compiles (issue 17, item 1): only what the model and the method need.

In a subprocess with empty numba and model caches (a fresh machine: every kernel that runs is
compiled there, callees included), a closed-form model's simulation and FOCEI fit on data
without SS records must not compile the ODE integrator, ``propagate.advance`` or the
steady-state solver nor import the SAEM sampler, the simulation of subjects that the fast path
(``bolus_march``) takes must not compile ``events.solve_records`` (nor the Padé path), nor
must the FOCEI fit of subjects that ``bolus_march_sens`` takes, and the engine's other late-bound kernels
(``kernels.jit.LateBound``) must each be compiled once, for one signature."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
import nlme_lab as nl
from nlme_lab.kernels import events, linear, ode_common, ode_dopri, ode_rodas, population, propagate, spectral
from nlme_lab.kernels import steady_state

model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
nl.simulate(model, data, n=1, seed=1)
simulate_bound = [ref.bound for ref in (events.SOLVE_RECORDS, population.SOLVE_DECLINED, linear.LIN_ADVANCE_EXPM)]
fit = nl.fit(model, data, method="focei")
fit_bound = [ref.bound for ref in (events.SOLVE_RECORDS, population.SOLVE_DECLINED, linear.LIN_ADVANCE_EXPM)]
odd_even_after_fit = len(sys.modules["nlme_lab.kernels.expm"]._odd_even.signatures)
population.bind_engine()  # what a subject the fast paths decline (or the SAEM sampler) binds
ode = sys.modules["nlme_lab.kernels.ode"]
late = [propagate.ADVANCE, propagate.ODE, events.SOLVE_RECORDS, population.SOLVE_RANGE, population.SOLVE_DECLINED,
        population.MARCH_SENS,
        linear.LIN_ADVANCE_EXPM,
        spectral.DECOMPOSE, steady_state.SS_LOAD, steady_state.SS_CONSTANT]
print(json.dumps({
    "ofv": fit.ofv,
    "solve_records bound by the simulation": simulate_bound,
    "solve_records bound by the fit": fit_bound,
    "odd_even signatures after the fit": odd_even_after_fit,
    "ode compiled": sorted(ode._compiled),
    "integrator signatures": [len(f.signatures) for f in (ode_rodas.rodas_run, ode_dopri.dopri_run,
                                                          ode_common.initial_step)],
    "ode bound": propagate.ODE.bound,
    "odd_even signatures": len(sys.modules["nlme_lab.kernels.expm"]._odd_even.signatures),
    "sampler imported": "nlme_lab.kernels.metropolis" in sys.modules,
    "late-bound signatures": {ref.symbol: (ref.bound, len(ref.dispatcher.signatures) if ref.dispatcher else 0)
                              for ref in late},
    "entry points": sorted(population._compiled),
}))
"""


def test_a_closed_form_fit_compiles_neither_the_ode_integrator_nor_the_sampler(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), NLME_LAB_CACHE=str(tmp_path / "models"),
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert abs(facts["ofv"] - 116.8034129) < 1e-6  # the fit itself ran (theo_sd FOCEI)
    # theo_sd's subjects (constant parameters, one bolus each) all take the fast path: the simulation
    # does not compile the full event engine nor its Padé fallback, and neither does the FOCEI fit
    # (its sensitivities take bolus_march_sens); bind_engine then binds them, each for one signature
    assert facts["solve_records bound by the simulation"] == [False, False, False]
    assert facts["solve_records bound by the fit"] == [False, False, False]
    assert facts["odd_even signatures after the fit"] == 0
    assert facts["ode compiled"] == [] and not facts["ode bound"]
    assert facts["integrator signatures"] == [0, 0, 0]
    assert facts["odd_even signatures"] == 1  # the Padé path (bound by bind_engine): one degree type, not four literals
    assert not facts["sampler imported"]
    late = facts["late-bound signatures"]
    assert late.pop("nlme_lab_kernels_ode_advance") == [False, 0]
    for unneeded in ("advance", "ss_load", "ss_constant"):  # no ODE, no SS record in theo_sd
        assert late.pop(f"nlme_lab_kernels_{unneeded}") == [False, 0], unneeded
    assert all(bound_and_count == [True, 1] for bound_and_count in late.values()), late
    assert facts["entry points"] == ["solve_population_at_serial"]  # 12 subjects: no threaded entry point


SS_SCRIPT = r"""
import json
import numpy as np
import pandas as pd
import nlme_lab as nl
from nlme_lab.kernels import propagate, steady_state

MODEL = '''
[ini]
tcl = log(2)
add_sd = 0.1
[model]
cl = exp(tcl)
v = 25
cp = linCmt()
cp ~ add(add_sd)
'''
times = np.array([0.0, 1.0, 6.0, 11.0])
plain = pd.DataFrame({"ID": 1, "TIME": times, "DV": 0.0, "AMT": [100.0, 0, 0, 0], "EVID": [1, 0, 0, 0],
                      "CMT": 1, "SS": 0, "II": 0.0})
steady = plain.assign(SS=[1, 0, 0, 0], II=[12.0, 0, 0, 0])
model = nl.Model(MODEL)
nl.simulate(model, nl.read_nonmem(plain), seed=1)
before = [propagate.ADVANCE.bound, steady_state.SS_LOAD.bound]
pred = nl.simulate(model, nl.read_nonmem(steady), seed=1).table["PRED"].to_numpy()
print(json.dumps({"before": before, "after": [propagate.ADVANCE.bound, steady_state.SS_LOAD.bound],
                  "pred": pred.tolist()}))
"""


def test_data_with_steady_state_doses_binds_the_steady_state_solver_when_it_comes():
    """A process that solved data without SS records has not bound ``advance`` nor the steady-state
    solver; the first data with one binds them, and its predictions are the steady state's
    (100 mg every 12 h, CL 2, V 25: C(t) = 4 exp(-0.08 t) / (1 - exp(-0.96)))."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SS_SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["before"] == [False, False] and facts["after"] == [True, True]
    t = [0.0, 1.0, 6.0, 11.0]
    import numpy as np

    expected = 4.0 * np.exp(-0.08 * np.array(t)) / (1.0 - np.exp(-0.96))
    np.testing.assert_allclose(facts["pred"], expected, rtol=1e-9)
