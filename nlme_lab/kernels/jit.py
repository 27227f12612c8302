"""How the engine's hot kernels are compiled: ``engine_jit``.

``engine_jit`` is ``numba.njit`` without numba's reference-counting runtime (NRT) for code
that never allocates an array (it only reads and writes arrays its caller owns). With NRT,
every array a function receives is incref'd on entry and decref'd on each return, and each
of those is an atomic instruction: profiling the event engine on a 1-compartment model showed
65% of its time in ``NRT_incref`` / ``NRT_decref`` (``solve_records`` and its helpers take
up to 30 arrays). Without NRT those calls are not emitted; nothing else changes (the same
arithmetic, bit-identical results). numba refuses at compile time to build an ``engine_jit``
function that allocates, so the rule cannot be broken silently: allocating code (workspace
factories, the ODE integrators) stays on plain ``njit``.

``inline=True`` inlines the function into its callers at numba-IR level: the small helpers
called once per record (``events._predict``, ``_q_next``, ``_load_row``, the eigen-path
propagator) cost more in passing their ten-odd array arguments than in their arithmetic.
Measured by ``benchmarks/bench_kernels.py`` and ``bench_saem.py``.

``_nrt`` is an underscore-prefixed numba option (numba's own test-suite compiles with it); a
numba upgrade that dropped it would fail at the first compilation, not silently.
"""

from __future__ import annotations

from numba import njit


def engine_jit(*signature, cache: bool = True, inline: bool = False):
    """``njit(*signature, cache=cache)`` without reference counting (module docstring);
    ``inline``: inline into callers (numba ``inline="always"``)."""
    options = {"cache": cache, "_nrt": False}
    if inline:
        options["inline"] = "always"
    return njit(*signature, **options)
