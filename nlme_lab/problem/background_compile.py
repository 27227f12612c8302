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
in the child, which has them ready by the time a simulation or a FOCEI fit is over). The child prints each stage as it is cached. A
child that fails only costs time: ``wait`` returns at its end and this process compiles what is
missing. Nothing numerical changes: the same kernels, compiled for the same signatures, loaded from
numba's cache as on any second run (results identical to the bit; ``NLME_LAB_BACKGROUND_COMPILE=0``
turns it off).
"""

from __future__ import annotations

import atexit
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
#: the folder of claims (``claim``) shared with the child
CLAIMS_ENV = "NLME_LAB_COMPILE_CLAIMS"

_child: subprocess.Popen | None = None
_seen: set[str] = set()
_started = False
_claims: str | None = None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pending() -> bool:
    """Whether a stage is not cached: the engine (its modules' index files), or the sensitivity
    march (``march_sens``: a FOCE-family fit compiles it, a simulation does not)."""
    from nlme_lab.kernels import cache_guard

    return not (cache_guard.cached("spectral") and cache_guard.cached("population")
                and cache_guard.cached("bolus_march_sens", "march_sens")
                and cache_guard.cached("metropolis", "_chunk_at"))


def start() -> bool:
    """Start the child if it helps (module docstring); True if it was started now."""
    global _child, _started
    if _started:
        return False
    _started = True
    if os.environ.get(ENV) == "0" or _cores() < 2 or multiprocessing.parent_process() is not None:
        return False
    from nlme_lab.kernels import cache_guard

    cache_guard.check()  # drop stale engine caches here, before the child looks at them
    if not _pending():
        return False
    global _claims
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
    global _child
    if _child is None or stage in _seen:
        return
    for line in _child.stdout:
        _seen.add(line.strip())
        if stage in _seen:
            break
    else:
        _child.wait()
        _child = None
    if stage == STAGES[-1] and _child is not None:
        _child.wait()
        _child = None


def claim(kernel: str) -> bool:
    """Whether this process is the one to compile ``kernel``, which either process may compile
    (``march_sens``: the first to get there, the fit's process on a fresh machine, the child after a
    simulation); the other then loads it from the cache. Atomic: the claim is a file created
    with ``O_EXCL`` in a folder the two share. Without a child (or in a child started by hand), True."""
    folder = os.environ.get(CLAIMS_ENV) if __name__ == "__main__" else (_claims if _child is not None else None)
    if not folder:
        return True
    try:
        os.close(os.open(os.path.join(folder, kernel), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # the folder is gone (this process is ending): nobody else will compile it
        return True
    return True


def _stop() -> None:
    """At exit: a child still compiling is stopped (numba writes each cache file whole, by rename)."""
    if _child is not None and _child.poll() is None:
        _child.kill()
        _child.wait()
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
    if claim("march_sens"):
        from nlme_lab.kernels.bolus_march_sens import bind_march_sens

        bind_march_sens()
    population.compile_sensitivity_entry_points()
    say(STAGES[2])
    from nlme_lab.kernels import metropolis

    metropolis.engine_entry_points(True)  # the SAEM sampler's passes, serial and threaded
    say(STAGES[3])


def _say(stage: str) -> None:
    print(stage, flush=True)


if __name__ == "__main__":
    compile_engine_stages(_say)
