"""The engine compiled in a second process while this one compiles the estimation kernels.

On a fresh machine (no numba cache) the first FOCEI fit of a closed-form model compiles two sets
of kernels that link none of each other's code (the engine is called by address, ``jit.LateBound``):
the engine's fast paths with the sensitivity march (``kernels.population``, ``spectral``,
``bolus_march_sens``: ~24 CPU s on theo_sd) and the FOCE family's own (``inner_newton``,
``outer_batch``, ``subject_terms``, ``inner_trial``: ~14 CPU s). numba compiles one function
at a time in a process (its compiler lock; LLVM is single-threaded), so that first fit used one
core for ~40-50 s. Here the engine compiles in a child process (``python -m
nlme_lab.problem.background_compile``) into numba's on-disk cache while this process compiles
the rest; it then loads the engine from the cache (~1 s). The issue on engine speed allows a
subprocess where a thread would hold the GIL; the child is numba's own cache machinery, not a
pool: one process, once per machine.

``start()`` is called on ``import nlme_lab.estimation``, which ``nl.fit`` does first (before the
model compiles: the model layer, below this one, cannot start it). It starts the child only when the engine or the sensitivity march is not
cached (after a first simulation only the latter: the child loads the engine from the cache and
compiles the march while this process compiles the FOCE family's kernels), at least two cores are
ours, and this is not a worker of a fan-out (``multiprocessing`` child) nor the child itself. ``wait(stage)`` is called before this process
would compile what the child is compiling: ``"engine"`` before the first engine use
(``problem.predict.Predictor``), ``"sensitivity"`` before a FOCE-family fit's first parameter
Jacobian (``compute_dp``, the sensitivity march), ``"sampler"`` before the SAEM sampler's first
sweep (its late-bound passes: on a fresh machine the sampler then compiles ~5 of its ~14 CPU s
in the child, which has them ready by the time a simulation or a FOCEI fit is over). The child prints each stage as it is cached.
A model with ODEs needs more (``ODE_UNITS``: the ODE integrator and the full event engine, ~80 CPU
s): its fit asks the child for them (``request``) and the two processes share them unit by unit
(``compile_ode_path``: each takes the next unit nobody has claimed). A
child that fails only costs time: ``wait`` returns at its end and this process compiles what is
missing. Nothing numerical changes: the same kernels, compiled for the same signatures, loaded from
numba's cache as on any second run (results identical to the bit; ``NLME_LAB_BACKGROUND_COMPILE=0``
turns it off).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: the child's stages, in order, each printed on its stdout once cached
STAGES = ("spectral", "engine", "sensitivity", "sampler")
#: the environment variable that turns the child off ("0")
ENV = "NLME_LAB_BACKGROUND_COMPILE"
#: the folder of claims (``claim``) and requests (``request``) shared with the child
CLAIMS_ENV = "NLME_LAB_COMPILE_CLAIMS"
#: printed by the child once it has compiled its share of ``ODE_UNITS``: only when the fit's process
#: asked for it (``compile_ode_path``), after the stage it was compiling then
ODE_STAGE = "ode"
#: what a model with ODEs adds to a closed-form model's engine (theo_sd with a saturable elimination,
#: fresh machine, one process: ~80 of the first FOCEI fit's ~130 CPU s): unit -> its kernels, each
#: "module.dispatcher" with the "module.LateBound" it is called through. Each kernel is reached by
#: address, so each unit compiles without the others; the two processes share them (``claim``), the
#: fit's process in this order, the child in the reverse one. Measured CPU s: the Padé path 10.6;
#: ``advance`` 6.5 and the integrator 22.1; the full event engine 32.7 and its driver 7.2.
ODE_UNITS = {
    "pade": (("linear.lin_advance_expm", "linear.LIN_ADVANCE_EXPM"),),
    "integrator": (("propagate.advance", "propagate.ADVANCE"), ("ode.ode_advance", "propagate.ODE")),
    "events": (("events.solve_records", "events.SOLVE_RECORDS"),
               ("population._solve_declined_at", "population.SOLVE_DECLINED")),
}
#: unit -> the child's stage its modules need: importing them compiles that stage's kernels (``linear``
#: imports ``spectral``, compiled on import; ``events`` is the engine's), so the fit's process takes
#: a unit only once the child has that stage cached, rather than compiling it a second time
NEEDS = {"pade": "spectral", "integrator": "spectral", "events": "engine"}

_child: subprocess.Popen | None = None
_seen: set[str] = set()
_PY_NAMES = {"ode_advance": "_ode_advance"}  # a dispatcher of ``ODE_UNITS`` named unlike its Python function
_nothing_pending: set[bool] = set()  # the ``ode`` values ``start`` found nothing to do for
_claims: str | None = None
_ode_path_taken = False
_said: set[str] = set()  # in the child: the optional stages it has done


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pending(ode: bool = False) -> bool:
    """Whether a stage is not cached: the engine (its modules' index files), the sensitivity
    march (``march_sens``: a FOCE-family fit compiles it, a simulation does not), the sampler's
    passes; with ``ode``, a kernel of ``ODE_UNITS``."""
    from nlme_lab.kernels import cache_guard

    kernels = [("spectral", ""), ("population", ""), ("bolus_march_sens", "march_sens"), ("metropolis", "_chunk_at")]
    if ode:  # numba names the cache files after the Python function (``ode.ode_advance`` compiles ``_ode_advance``)
        kernels += [(module, _PY_NAMES.get(name, name)) for unit in ODE_UNITS.values() for kernel, _ref in unit
                    for module, _, name in [kernel.partition(".")]]
    return not all(cache_guard.cached(module, kernel) for module, kernel in kernels)


def start(ode: bool = False) -> bool:
    """Start the child if it helps (module docstring); True if it was started now. ``ode``: for a
    model with ODEs (its fit or first simulation), which also needs ``ODE_UNITS``. Once per process
    and kind: a child started, or everything found cached, is not looked for again."""
    global _child, _claims
    if _claims is not None or ode in _nothing_pending:
        return False
    if os.environ.get(ENV) == "0" or _cores() < 2 or multiprocessing.parent_process() is not None:
        _nothing_pending.update((False, True))
        return False
    from nlme_lab.kernels import cache_guard

    cache_guard.check()  # drop stale engine caches here, before the child looks at them
    if not _pending(ode):
        _nothing_pending.add(ode)
        return False
    package_parent = str(Path(__file__).resolve().parents[2])  # the child imports this very nlme_lab
    _claims = tempfile.mkdtemp(prefix="nlme_lab_compile_")
    env = dict(os.environ, **{ENV: "0", CLAIMS_ENV: _claims})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    try:
        _child = subprocess.Popen([sys.executable, "-m", "nlme_lab.problem.background_compile"], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
    except OSError:
        return False
    atexit.register(_stop)
    return True


def running() -> bool:
    """Whether a child started by this process has not yet been waited for to its end."""
    return _child is not None


def wait(stage: str = STAGES[-1]) -> None:
    """Return once the child has cached ``stage`` (and the stages before it) or has ended;
    at once when no child runs."""
    if _child is None or stage in _seen:
        return
    for line in _child.stdout:
        _seen.add(line.strip())
        if stage in _seen:
            break
    else:
        _end_child()
    if stage == STAGES[-1] and _child is not None:
        _end_child()


def _end_child() -> None:
    global _child
    _child.wait()
    _child.stdout.close()
    _child = None


def claim(kernel: str) -> bool:
    """Whether this process is the one to compile ``kernel``, which either process may compile
    (``march_sens``: the first to get there, the fit's process on a fresh machine, the child after a
    simulation; ``ODE_UNITS``); the other then loads it from the cache. Atomic: the claim is a file
    created with ``O_EXCL`` in the folder the two share (``_claims``: made by ``start``, passed to
    the child in ``CLAIMS_ENV``). Without one (no child; a child started by hand), True."""
    if not _claims:
        return True
    try:
        os.close(os.open(os.path.join(_claims, kernel), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # the folder is gone (this process is ending): nobody else will compile it
        return True
    return True


def request(stage: str) -> None:
    """Ask the child for an optional stage (``ODE_STAGE``): it takes it after the stage it is
    compiling. A file in the shared folder; nothing without a child."""
    if _claims and _child is not None:
        with contextlib.suppress(OSError):
            Path(_claims, f"request-{stage}").touch()


def _requested(stage: str) -> bool:
    return bool(_claims) and Path(_claims, f"request-{stage}").exists()


def _compile_unit(unit: str) -> None:
    """Compile (or load) the kernels of ``ODE_UNITS[unit]`` into numba's cache, without binding."""
    from importlib import import_module

    for kernel, ref in ODE_UNITS[unit]:
        module, _, name = kernel.partition(".")
        ref_module, _, ref_name = ref.partition(".")
        dispatcher = getattr(import_module(f"nlme_lab.kernels.{module}"), name)
        getattr(import_module(f"nlme_lab.kernels.{ref_module}"), ref_name).compile(dispatcher)


def compile_ode_path() -> None:
    """For a model with ODEs, while the child runs: ask it for its share of ``ODE_UNITS``, compile
    here the units it has not claimed, then wait for its share. The callers then bind them
    (``propagate.bind_ode``, ``population.bind_engine``), loading the child's from the cache.
    Without a child, nothing: the binds compile everything here."""
    global _ode_path_taken
    if _child is None or _ode_path_taken:
        return
    _ode_path_taken = True
    request(ODE_STAGE)
    shared = False
    for unit in ODE_UNITS:
        wait(NEEDS[unit])
        if claim(unit):
            _compile_unit(unit)
        else:
            shared = True
    if shared:
        wait(ODE_STAGE)


def _stop() -> None:
    """At exit: a child still compiling is stopped (numba writes each cache file whole, by rename)."""
    if _child is not None:
        if _child.poll() is None:
            _child.kill()
        _end_child()
    if _claims is not None:
        shutil.rmtree(_claims, ignore_errors=True)


def compile_engine_stages(say=print) -> None:
    """What the child compiles, stage by stage (``say(stage)`` after each): ``spectral`` (the
    eigen-decomposition every closed form uses, compiled on import), the engine's fast paths and
    the serial entry point (what a simulation and a fit solve with), the sensitivity path
    (``_march_sens_at``, ``compute_dp``: the FOCE family's parameter Jacobians; ``march_sens`` too
    unless the fit's process claimed it, ``claim``), then the SAEM sampler's late-bound passes
    (``metropolis.engine_entry_points``: a third of the sampler's compile; its sweeps, typed by their
    first call, compile in the fit's process)."""
    from nlme_lab.kernels import spectral  # noqa: F401 (compiles on import)

    say(STAGES[0])
    from nlme_lab.kernels import population

    population.solve_population_at_serial  # noqa: B018 (the attribute compiles it)
    say(STAGES[1])
    _ode_units_if_requested(say)
    if claim("march_sens"):
        from nlme_lab.kernels.bolus_march_sens import bind_march_sens

        bind_march_sens()
    population.compile_sensitivity_entry_points()
    say(STAGES[2])
    _ode_units_if_requested(say)
    from nlme_lab.kernels import metropolis

    metropolis.engine_entry_points(True)  # the SAEM sampler's passes, serial and threaded
    say(STAGES[3])
    _ode_units_if_requested(say)


def _ode_units_if_requested(say) -> None:
    """The child's share of ``ODE_UNITS`` (the units the fit's process has not claimed, in reverse
    order), once, when it has been asked for them (``compile_ode_path``); then ``say(ODE_STAGE)``."""
    if ODE_STAGE in _said or not _requested(ODE_STAGE):
        return
    for unit in reversed(ODE_UNITS):
        if claim(unit):
            _compile_unit(unit)
    _said.add(ODE_STAGE)
    say(ODE_STAGE)


def _say(stage: str) -> None:
    print(stage, flush=True)


if __name__ == "__main__":
    _claims = os.environ.get(CLAIMS_ENV)
    compile_engine_stages(_say)
