"""Model IR -> readable Python source -> numba functions with the ABI of ``kernels/abi.py``.

``compile_model(ir)`` returns a ``CompiledModel``: the twelve functions ``pk, dpk, rhs, jac,
dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys`` (compiled with numba, cached on
disk), the generated source, and the index tables the engine needs (names of every vector
entry, ``dose_index``, ``error_index``, the linCmt layout).

Pipeline: ``analysis.build_plan`` (roles, p/dynamic split, substitutions) ->
``emit.generate_source`` (statements + exact sympy derivatives with CSE, printed with a
whitelist printer) -> ``loader`` (file named by the source hash in ``config.cache_dir()``,
imported once per process; numba caches its machine code beside it).
"""

from __future__ import annotations

import dataclasses
import threading

from nlme_lab import config
from nlme_lab.model.ir import ModelIR

__all__ = ["CompiledModel", "LinCmtInfo", "SlotKind", "compile_model", "generate_source", "clear_memory_cache"]

_MEMORY: dict = {}
_LOCK = threading.Lock()


def __getattr__(name):
    if name in ("CompiledModel",):
        from nlme_lab.model.codegen.compiled import CompiledModel

        return CompiledModel
    if name in ("LinCmtInfo", "SlotKind"):
        from nlme_lab.model.codegen import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def generate_source(ir: ModelIR) -> str:
    """The Python source that ``compile_model`` would compile for ``ir`` (nothing written)."""
    from nlme_lab.model.codegen.analysis import build_plan
    from nlme_lab.model.codegen.emit import generate_source as emit

    return emit(build_plan(ir))


def compile_model(ir: ModelIR, eager: bool = False, route_linear: bool = True):
    """Generate, write and import the code of ``ir``; return its ``CompiledModel``.

    The same IR key (and cache folder) returns the object made earlier in this process. The
    numba functions compile on first use (``eager=True`` compiles all twelve now); with a warm
    disk cache they load instead. Model problems raise ``ModelError`` naming the model line.
    ``route_linear=False`` keeps a linear d/dt system on the ODE solver (``analysis.build_plan``).
    """
    key = (str(config.cache_dir()), ir.key(), bool(route_linear))
    with _LOCK:
        compiled = _MEMORY.get(key)
    if compiled is None:
        from nlme_lab.model.codegen.compiled import build_compiled

        made = build_compiled(ir, route_linear)
        with _LOCK:
            compiled = _MEMORY.setdefault(key, made)
    elif compiled.ir != ir:
        # same code, other initial values/bounds/labels: share the functions, keep this IR
        compiled = dataclasses.replace(compiled, ir=ir)
    return compiled.compile_all() if eager else compiled


def clear_memory_cache() -> None:
    """Forget the models compiled in this process (files on disk stay)."""
    with _LOCK:
        _MEMORY.clear()
