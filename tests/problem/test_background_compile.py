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


def _run(tmp_path, **env):
    env = {**{k: v for k, v in os.environ.items() if k != background_compile.ENV},
           "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "NLME_LAB_CACHE": str(tmp_path / "models"), **env}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT)
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
