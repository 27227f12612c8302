"""The SAEM sampler does not bind the full event engine first (issue 17, item 1: a cold SAEM start).

Its compiled sweep (``kernels.metropolis.mh_sweep``) and importance-sampling batches reach the
engine through ``population._solve_range_at``, which gives every subject to the fast path
(``bolus_march.march``) and, while ``events.solve_records`` is not bound, leaves the subjects it
declines ``NOT_LOADED``. The kernels then stop (``ENGINE_NOT_BOUND``) and the caller puts back
what the sweep changed (chains, scales, the generator's state), binds the engine and sweeps
again (``saem.sampler.CompiledSweep``). Checked in subprocesses (binding is process-wide), with
the usual numba cache (binding, not compiling, is what is counted):

* theo_sd, whose subjects the fast path takes at every proposal, fits without binding
  ``solve_records``;
* a model whose absorption and elimination rate constants nearly coincide at the initial
  estimates: the fast path takes every subject at eta = 0 (the sampler's start), but declines
  the proposals that bring the two within 0.1 % (``spectral.KAPPA_MAX``), so the engine is
  bound in the middle of a sweep; the fit gives the same bits as a fit in a process that bound
  the engine before it started. Likewise an importance-sampling batch that meets such a draw.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


THEO = r"""
import json
import nlme_lab as nl
from nlme_lab.kernels import events, linear, population

model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
fit = nl.fit(model, data, method="saem", seed=1)
print(json.dumps({"ofv": fit.ofv, "termination": fit.termination.value,
                  "bound": [ref.bound for ref in (events.SOLVE_RECORDS, population.SOLVE_DECLINED,
                                                  linear.LIN_ADVANCE_EXPM)]}))
"""


def test_a_saem_fit_of_subjects_the_fast_path_takes_binds_no_full_engine():
    facts = _run(THEO)
    assert facts["termination"] == "converged"
    assert abs(facts["ofv"] - 118.1) < 0.3  # the fit ran (tests/reference/test_ref_saem.py checks it)
    assert facts["bound"] == [False, False, False]


#: ka = k (1/h) * 1.002 at the initial estimates: the fast path takes every subject there, and
#: declines a proposal of eta_ka within about 0.001 of -0.002 (the eigenvalue condition number
#: ka / |ka - k| above 1e3)
NEAR = r"""
import json, sys
import numpy as np
import nlme_lab as nl
from nlme_lab.estimation.methods import SAEMOptions
from nlme_lab.estimation.saem import sampler
from nlme_lab.kernels import events, population

MODEL = '''
[ini]
tka = log(0.08635 * 1.002)
tcl = log(2.72)
tv  = log(31.5)
eta_ka ~ 0.6
eta_cl ~ 0.3
eta_v  ~ 0.1
add_sd = 0.7
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl)
v  = exp(tv + eta_v)
cp = linCmt()
cp ~ add(add_sd)
'''
model = nl.Model(MODEL)
data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
if sys.argv[1] == "first":
    population.bind_engine()
binds = []
bind = sampler.CompiledPasses.bind_engine


def counted(self):
    binds.append(type(self.problem).__name__)
    bind(self)


sampler.CompiledPasses.bind_engine = counted
opts = SAEMOptions(n_burn=6, n_em=6, n_pure_mh=2, is_samples=300)
fit = nl.fit(model, data, method="saem", seed=int(sys.argv[2]), options=opts, covariance=None)
print(json.dumps({
    "binds by the sampler": len(binds), "bound": events.SOLVE_RECORDS.bound,
    "termination": fit.termination.value,
    "numbers": [float(fit.ofv).hex(), float(fit.ofv_linearization).hex()]
               + [float(v).hex() for v in fit.estimates.values()]
               + [float(v).hex() for v in np.ravel(fit.etas)]
               + [float(v).hex() for v in np.ravel(fit.saem.conditional_sd)]
               + [float(h.ofv).hex() for h in fit.history],
    "n_evaluations": fit.n_evaluations}))
"""


def test_a_sweep_that_meets_a_declined_subject_binds_the_engine_and_gives_the_same_numbers():
    late, first = _run(NEAR, "late", "3"), _run(NEAR, "first", "3")
    assert late["binds by the sampler"] == 1 and late["bound"]  # bound in the middle of a sweep
    assert first["binds by the sampler"] == 0
    assert late["termination"] == first["termination"] == "converged"
    assert late["numbers"] == first["numbers"]  # bit for bit
    assert late["n_evaluations"] == first["n_evaluations"]  # the stopped sweep is not counted


NEAR_IS = NEAR.split("opts = ")[0] + r"""
from nlme_lab.estimation.evaluation import prepare
from nlme_lab.estimation.importance import importance_sampling

ev = prepare(model, data)
values = ev.space.values_from_reported(ev.space.reported_initial())
n_sub, d = ev.problem.n_subjects, 3
center = np.zeros((n_sub, d))
cov = np.repeat(values.omega[None], n_sub, axis=0)
imp = importance_sampling(ev, ev.space, values, center, cov, n=400, seed=int(sys.argv[2]))
print(json.dumps({"binds by the sampler": len(binds), "bound": events.SOLVE_RECORDS.bound,
                  "numbers": [float(imp.ofv).hex(), float(imp.se).hex()]
                             + [float(v).hex() for v in imp.per_subject]}))
"""


def test_an_importance_sampling_batch_that_meets_a_declined_draw_gives_the_same_numbers():
    late, first = _run(NEAR_IS, "late", "4"), _run(NEAR_IS, "first", "4")
    assert late["binds by the sampler"] == 1 and late["bound"]
    assert first["binds by the sampler"] == 0
    assert late["numbers"] == first["numbers"]
