"""Saying, before it starts, that the engine is about to compile.

numba compiles the engine's kernels on their first use on a machine and caches them
(``kernels/cache_guard.py``): the first simulation or fit waits 15-30 s, the
following ones load the kernels in about a second. Without a word that first wait looks like a
hang (``make demo`` spent 133 s in a silent ``simulate``). ``pending(method)`` names the
kernel groups a run will compile, with the time they take to compile on an idle 2-core machine
(measured in CPU seconds on an idle 2-core machine, ``benchmarks/bench_compile_simulate.py``, theo_sd:
the engine's fast paths about 20 s (without the ODE integrator, which a model with ODEs adds,
nor the full event engine, which a FOCE fit compiles only for subjects the fast paths decline),
the SAEM sampler about 15 s (it binds the full event engine, about 35 s more, only when a subject
or a draw needs it: ``saem.sampler.CompiledSweep``); more wall time under load);
``announce(method)`` writes that once per process to stderr (the CLI, a notebook cell), and
``notice(method)`` is the same text for a widget to show. On two cores or more the engine compiles
in a second process meanwhile (``background_compile``), so the wait is shorter than announced:
theo_sd's first FOCEI fit ~25 s instead of ~50.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelGroup:
    """Kernels compiled together on first use: ``modules`` of ``nlme_lab/kernels``, ``seconds``
    a typical cold compile on an idle 2-core machine (measured, rounded). Whether they are
    cached is judged from numba's index files (``cache_guard.cached``: present and no older
    than their source; numba itself keys them by the source's hash, which only it reads)."""

    name: str
    modules: tuple[str, ...]
    seconds: float


# (modules whose kernels are cached on their own and compiled on every use of the engine:
# inlined-only ones such as bolus_march have no cache files to look at, and ``expm`` (the Padé
# fallback) and ``propagate`` (the full event engine, the ODE binding) compile only for what the
# fast paths decline or for ODE models: listed, they would keep a closed-form model's every
# process announcing a compile that does not come)
ENGINE = KernelGroup("the engine", ("spectral", "linear", "steady_state", "events", "population"), 20.0)
#: compiled only for a model with ODEs (``kernels.propagate.bind_ode``), with the full event engine
#: that solves such a model (``population.bind_engine``): ~80 CPU s, ~45 s of wall time on two cores,
#: where the second process shares it (``background_compile.ODE_UNITS``; theo_sd with a saturable
#: elimination, first FOCEI fit 83 s instead of 130 s, 2026-12-07)
ODE_INTEGRATOR = KernelGroup("the ODE integrator", ("ode", "ode_common", "ode_dopri", "ode_rodas"), 45.0)
#: the sampler's kernels and M-step sums; not the full event engine (``population.bind_engine``),
#: which it binds only when the fast paths decline a subject (theo_sd: an importance-sampling draw
#: or a proposal with ka ~ k: 3 fits of 60 seeds)
SAMPLER = KernelGroup("the SAEM sampler", ("metropolis",), 15.0)
#: FOCEI's compiled inner solve (``kernels.inner_trial``: the Armijo trials with the engine called
#: by address) and the outer gradient's batch kernels (``kernels.outer_batch``): about 10 + 2 CPU s
#: (``benchmarks/bench_compile_simulate.py --compiles``, 2026-12-07)
FOCEI_SOLVE = KernelGroup("the FOCEI inner solve", ("inner_trial", "outer_batch"), 12.0)

#: what a method uses beyond the engine (None: only the engine, as ``simulate``). The FOCE
#: family's likelihood terms (``subject_terms``) compile in about a second: not announced; the
#: other FOCE-family methods use ``outer_batch`` only (about 2 s): not announced either.
GROUPS = {None: (ENGINE,), "saem": (ENGINE, SAMPLER), "focei": (ENGINE, FOCEI_SOLVE)}
DEFAULT_GROUPS = (ENGINE,)

_announced: set[str] = set()


def _method_name(method) -> str | None:
    value = getattr(method, "value", method)
    return None if value is None else str(value).lower()


def pending(method=None, ode: bool = False) -> tuple[KernelGroup, ...]:
    """The kernel groups that ``method`` (None: only the engine, e.g. a simulation) will compile
    because numba has no current cache of them on this machine; ``ode``: the model has ODEs
    (the integrator is compiled only for such models)."""
    from nlme_lab.kernels import cache_guard

    name = _method_name(method)
    groups = GROUPS.get(name, DEFAULT_GROUPS) if name is not None else GROUPS[None]
    if ode:
        groups = groups[:1] + (ODE_INTEGRATOR,) + groups[1:]
    return tuple(g for g in groups if not all(cache_guard.cached(m) for m in g.modules))


def _duration(seconds: float) -> str:
    return f"about {seconds / 60:.0f} min" if seconds >= 90 else f"about {seconds:.0f} s"


def _sentence(groups) -> str:
    names = " and ".join(g.name for g in groups)
    return (f"compiling {names} (first use on this machine, {_duration(sum(g.seconds for g in groups))}; later "
            "runs load it from the cache in about a second)")


def notice(method=None, ode: bool = False) -> str:
    """One sentence naming what ``method`` will compile and for how long ('' when everything is
    cached), for a widget's status line."""
    groups = pending(method, ode)
    return _sentence(groups) if groups else ""


def announce(method=None, stream=None, ode: bool = False) -> str:
    """Write the notice of the groups not yet announced in this process to ``stream`` (stderr),
    once; returns what was written."""
    groups = [g for g in pending(method, ode) if g.name not in _announced]
    if not groups:
        return ""
    _announced.update(g.name for g in groups)
    text = f"nlme_lab: {_sentence(groups)}..."
    print(text, file=sys.stderr if stream is None else stream, flush=True)
    return text


def warm_engine() -> None:
    """Load the engine's kernels now (from numba's on-disk cache; compiling them where there is
    none): the worker-start hook of a fan-out, ``run_tasks(..., warmup=warm_engine)``, so that each
    worker process of ``nlme_lab.distributed`` pays it once, before its first task (about a
    second), and no task is timed with it."""
    from nlme_lab.kernels import population
    from nlme_lab.kernels.propagate import bind_ode
    from nlme_lab.kernels.steady_state import bind_steady_state

    for name in ("solve_population_at_serial", "solve_population_at"):  # what Predictor calls
        getattr(population, name)
    population.bind_engine()  # the full event engine, the ODE integrator and the steady-state solver:
    bind_ode()  # loaded here too, so that no task compiles them
    bind_steady_state()
