"""The engine compiled in a second process on a fresh machine (``problem.background_compile``,
issue 17 item 1): the fit's process loads it from numba's cache instead of compiling it, and the
fit's numbers are those of any other run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlme_lab.problem import background_compile

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
import nlme_lab as nl
from nlme_lab.problem import background_compile

model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
fit = nl.fit(model, data, method="focei")
from nlme_lab.kernels import inner_trial, population

def stats(dispatcher):
    s = dispatcher.stats
    return [sum(s.cache_hits.values()), sum(s.cache_misses.values())]

print(json.dumps({
    "ofv": fit.ofv, "evaluations": fit.n_evaluations, "stages": sorted(background_compile._seen),
    "engine (hits, misses)": stats(population._solve_range_at),
    "inner solve (hits, misses)": stats(inner_trial.line_search),
    "march_sens (hits, misses)": stats(__import__("nlme_lab.kernels.bolus_march_sens").kernels.bolus_march_sens.march_sens),
    "running after the fit": background_compile.running(),
    "stages at its end": (background_compile.wait("sampler"), sorted(background_compile._seen))[1],
    "running at its end": background_compile.running(),
}))
"""


# theo_sd with a saturable elimination: a nonlinear ODE, so the fit needs the ODE integrator and the
# full event engine (``background_compile.ODE_UNITS``), which the two processes share
MM_MODEL = (ROOT / "benchmarks" / "theo_sd_mm.nlm").read_text()

ODE_SCRIPT = r"""
import json, sys
import nlme_lab as nl
from nlme_lab.problem import background_compile

model = nl.Model(sys.argv[1])
fit = nl.fit(model, nl.read_nonmem(nl.example_path("theo_sd.csv")), method="focei")
from nlme_lab.kernels import events, linear, ode, population, propagate

kernels = {"pade": linear.lin_advance_expm, "advance": propagate.advance, "integrator": ode.ode_advance,
           "events": events.solve_records, "driver": population._solve_declined_at}
print(json.dumps({
    "ofv": fit.ofv, "evaluations": fit.n_evaluations, "stages": sorted(background_compile._seen),
    "(hits, misses)": {k: [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
                       for k, d in kernels.items()},
}))
"""


def _run(tmp_path, script=SCRIPT, args=(), **env):
    env = {**{k: v for k, v in os.environ.items() if k != background_compile.ENV},
           "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "NLME_LAB_CACHE": str(tmp_path / "models"), **env}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(background_compile._cores() < 2, reason="the second process needs a second core")
def test_a_first_fit_loads_the_engine_a_second_process_compiled_and_gives_the_same_numbers(tmp_path):
    facts = _run(tmp_path)
    assert facts["stages"] == ["engine", "sensitivity", "spectral"] and facts["running after the fit"]  # the sampler next
    assert facts["stages at its end"] == ["engine", "sampler", "sensitivity", "spectral"]
    assert not facts["running at its end"]
    assert sum(facts["march_sens (hits, misses)"]) == 1  # compiled by whichever process claimed it, once
    assert facts["engine (hits, misses)"] == [1, 0]  # loaded from the cache the child wrote
    assert facts["inner solve (hits, misses)"] == [0, 1]  # compiled here, meanwhile
    # the numbers of a run that compiled everything in one process (tests/estimation: theo_sd FOCEI)
    assert facts["ofv"] == 116.80341294710392 and facts["evaluations"] == 281


@pytest.mark.skipif(background_compile._cores() < 2, reason="the second process needs a second core")
def test_a_first_ode_fit_shares_the_integrator_and_the_event_engine_with_the_second_process(tmp_path):
    facts = _run(tmp_path, ODE_SCRIPT, (MM_MODEL,))
    assert "ode" in facts["stages"]  # asked for by the fit, taken after the engine
    shares = facts["(hits, misses)"]
    # each kernel compiled once: here (a miss) or by the child (a hit: loaded from its cache)
    assert all(sum(v) == 1 for v in shares.values()), shares
    assert sum(hits for hits, _ in shares.values()) >= 1, shares  # the child took a share
    # the numbers of a run that compiled everything in one process (NLME_LAB_BACKGROUND_COMPILE=0)
    assert facts["ofv"] == 116.80341317149713 and facts["evaluations"] == 237


def test_turned_off_nothing_is_started_and_the_fit_compiles_its_engine_itself(tmp_path):
    facts = _run(tmp_path, **{background_compile.ENV: "0"})
    assert facts["stages"] == [] and facts["engine (hits, misses)"] == [0, 1]
    assert facts["ofv"] == 116.80341294710392 and facts["evaluations"] == 281


def test_waiting_for_a_child_that_fails_returns_at_its_end(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "print('engine', flush=True); raise SystemExit(3)"],
                             stdout=subprocess.PIPE, text=True)
    monkeypatch.setattr(background_compile, "_child", child)
    monkeypatch.setattr(background_compile, "_seen", set())
    background_compile.wait("engine")
    assert background_compile.running()  # the child is still there: the engine stage came
    background_compile.wait("sensitivity")  # never comes: returns when the child ends
    assert not background_compile.running() and child.returncode == 3
    assert background_compile._seen == {"engine"}
