"""Latency from model text to first prediction (cold / warm), and simulation throughput.

Run: ``.venv/bin/python benchmarks/bench_compile_simulate.py``. Not a test: it prints times.
``--fresh-only``: only the fresh-machine scenario below (``--serial-compile``, ``--fit-first``: see there; ``--ode``: on ``theo_sd_mm.nlm``, theo_sd with a saturable elimination); ``--compiles``: with it, the CPU seconds
numba spent compiling each kernel, listed per step (numba's ``numba:compile`` events, timed by
the compiling thread's CPU clock, which the machine's load inflates less than the wall clock;
exclusive of the kernels it compiled on the way).

* fresh machine (issue 17): empty numba cache and empty model cache, in a subprocess; the first
  ``check`` (parse, compile the model, bind the data), ``simulate``, FOCEI fit and SAEM fit of
  theo_sd, one after the other (``--fit-first``: the FOCEI fit before the simulate, what a user
  whose first action is a fit pays), each with its wall and CPU seconds (the machine is shared: CPU
  time is the comparable number; the load average is printed beside them). The SAEM fit has
  ``seed=1``, so that runs compare: the sampler binds the full event engine only when the fast
  path declines a subject, which on theo_sd depends on the draws (a proposal or an importance
  draw with ka ~ k: 3 seeds of 60 bind it, +35 CPU s);

  On a machine with two cores the engine compiles in a second process meanwhile
  (``problem.background_compile``): a step's CPU seconds are this process' only, the
  ``process`` line adds the second process'. ``--serial-compile``: without it
  (``NLME_LAB_BACKGROUND_COMPILE=0``), everything compiled in one process as before;

* cold: empty numba cache and empty generated-code cache, as on a fresh machine (the engine
  compiles too);
* new model: the engine is cached, the model's own kernels compile (what a user pays when
  editing a model);
* warm: both cached (a second session with the same model).

Each scenario runs in its own process so import and JIT costs are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "shared"
#: ``--ode``: the fresh-machine scenario on a model with nonlinear ODEs (the integrator and the full
#: event engine compile too)
ODE_MODEL = ROOT / "benchmarks" / "theo_sd_mm.nlm"

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import nlme_lab as nl
t_import = time.perf_counter()
model = nl.Model(open(sys.argv[1]).read())
data = nl.read_nonmem(sys.argv[2])
t_parse = time.perf_counter()
source = model.source()
t_codegen = time.perf_counter()
nl.simulate(model, data, n=1, seed=1)
t_first = time.perf_counter()
nl.simulate(model, data, n=1, seed=2)
t_second = time.perf_counter()
print(json.dumps({"import": t_import - t0, "parse+read": t_parse - t_import,
                  "codegen": t_codegen - t_parse, "first_prediction": t_first - t_codegen,
                  "total_to_first": t_first - t0, "second_simulate": t_second - t_first}))
"""


FRESH_PROBE = r"""
import json, sys, time
from collections import defaultdict

compiles = defaultdict(float)
current = ["import"]  # the step whose compiles are being counted
if "--compiles" in sys.argv:
    from numba.core import event

    stack = []

    class Listener(event.Listener):
        def on_start(self, ev):
            stack.append([time.thread_time(), 0.0])

        def on_end(self, ev):
            t0, inner = stack.pop()
            dt = time.thread_time() - t0
            fn = ev.data["dispatcher"].py_func
            compiles[(current[0], f"{fn.__module__}.{fn.__qualname__}")] += dt - inner
            if stack:
                stack[-1][1] += dt

    event.register("numba:compile", Listener())

steps = {}


def step(name, work):
    current[0] = name
    w0, c0 = time.perf_counter(), time.process_time()
    work()
    steps[name] = (time.perf_counter() - w0, time.process_time() - c0)


import nlme_lab as nl

model = nl.Model.from_file(sys.argv[sys.argv.index("--ode") + 1] if "--ode" in sys.argv else nl.example_path("theo_sd.nlm"))
data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
step("check", lambda: (model.compiled.compile_all(), nl.bind(model, data)))
simulate = ("simulate", lambda: nl.simulate(model, data, n=1, seed=1))
focei = ("FOCEI fit", lambda: nl.fit(model, data, method="focei"))
for name, work in ((focei, simulate) if "--fit-first" in sys.argv else (simulate, focei)):
    step(name, work)
step("SAEM fit", lambda: nl.fit(model, data, method="saem", seed=1))
print(json.dumps({"steps": steps, "compiles": [[s, k, v] for (s, k), v in sorted(compiles.items(), key=lambda kv: -kv[1])]}))
"""


def fresh_machine(compiles: bool = False, fit_first: bool = False, serial_compile: bool = False,
                  ode: bool = False) -> dict:
    """The fresh-machine scenario in a subprocess with empty caches (``fit_first``: the FOCEI fit
    before the simulate; ``ode``: on ``ODE_MODEL``, not theo_sd); returns its step times, the subprocess' wall and CPU seconds and the
    load averages before and after."""
    import resource
    import time

    with tempfile.TemporaryDirectory() as numba_dir, tempfile.TemporaryDirectory() as model_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=numba_dir, NLME_LAB_CACHE=model_dir)
        env.pop("NLME_LAB_BACKGROUND_COMPILE", None)
        if serial_compile:
            env["NLME_LAB_BACKGROUND_COMPILE"] = "0"
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        flags = (["--compiles"] if compiles else []) + (["--fit-first"] if fit_first else [])
        flags += ["--ode", str(ODE_MODEL)] if ode else []
        out = subprocess.run([sys.executable, "-c", FRESH_PROBE] + flags,
                             env=env, capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = (wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    result["load"] = (load_before, os.getloadavg())
    return result


def print_fresh_machine(compiles: bool = False, fit_first: bool = False, serial_compile: bool = False,
                        ode: bool = False) -> None:
    r = fresh_machine(compiles, fit_first, serial_compile, ode)
    (l0, _, _), (l1, _, _) = r["load"]
    order = ("FOCEI fit first" if fit_first else "simulate first") + (", one process" if serial_compile else "")
    print(f"\nfresh machine (empty numba and model caches), {ODE_MODEL.name if ode else 'theo_sd'}, {order}; load average {l0:.2f} before, "
          f"{l1:.2f} after ({os.cpu_count()} CPUs)")
    print(f"  {'step':12s} {'wall s':>8s} {'CPU s':>8s}")
    for name, (wall, cpu) in r["steps"].items():
        print(f"  {name:12s} {wall:8.1f} {cpu:8.1f}")
    wall, cpu = r["process"]
    print(f"  {'process':12s} {wall:8.1f} {cpu:8.1f}  (the whole subprocess, imports included)")
    if compiles:
        print("  numba compile CPU seconds per kernel (exclusive), by step, largest first:")
        for step_name in ("import", *r["steps"]):
            rows = [(k, v) for s, k, v in r["compiles"] if s == step_name]
            if not rows:
                continue
            print(f"   {step_name}: {sum(v for _, v in rows):.1f} s in {len(rows)} kernels")
            for name, seconds in rows[:40]:
                print(f"    {seconds:7.2f}  {name}")


def run_probe(model: Path, data: Path, numba_dir: str, model_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=numba_dir, NLME_LAB_CACHE=model_dir)
    out = subprocess.run([sys.executable, "-c", PROBE, str(model), str(data)], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def latency(name: str, data_name: str) -> None:
    model, data = SHARED / "models" / f"{name}.nlm", SHARED / "data" / data_name
    with tempfile.TemporaryDirectory() as numba_dir, tempfile.TemporaryDirectory() as m1, \
            tempfile.TemporaryDirectory() as m2:
        cold = run_probe(model, data, numba_dir, m1)
        new_model = run_probe(model, data, numba_dir, m2)
        warm = run_probe(model, data, numba_dir, m2)
    print(f"\n{name} on {data_name}: seconds from process start")
    print(f"  {'':18s} {'cold':>8s} {'new model':>10s} {'warm':>8s}")
    for key in cold:
        print(f"  {key:18s} {cold[key]:8.3f} {new_model[key]:10.3f} {warm[key]:8.3f}")


def throughput() -> None:
    import time

    import nlme_lab as nl

    print("\nsimulation, warm (in process):")
    for name, data_name, n in (("theo_sd", "theo_sd.csv", 100), ("theo_sd_ode", "theo_sd.csv", 100),
                               ("pheno", "pheno.csv", 100), ("warfarin_pkpd", "warfarin.csv", 20)):
        model = nl.Model.from_file(SHARED / "models" / f"{name}.nlm")
        data = nl.read_nonmem(SHARED / "data" / data_name)
        nl.simulate(model, data, n=1, seed=0)  # compile / load caches
        t0 = time.perf_counter()
        nl.simulate(model, data, n=n, seed=1)
        dt = time.perf_counter() - t0
        per = dt / (n * data.n_subjects) * 1e6
        print(f"  {name:14s} {n:4d} replicates x {data.n_subjects:3d} subjects: {dt:7.3f} s "
              f"({per:7.1f} us per subject-replicate)")


if __name__ == "__main__":
    print_fresh_machine(compiles="--compiles" in sys.argv, fit_first="--fit-first" in sys.argv,
                        serial_compile="--serial-compile" in sys.argv, ode="--ode" in sys.argv)
    if "--fresh-only" in sys.argv:
        sys.exit(0)
    for name, data_name in (("theo_sd", "theo_sd.csv"), ("theo_sd_ode", "theo_sd.csv"),
                            ("warfarin_pkpd", "warfarin.csv")):
        latency(name, data_name)
    throughput()
