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

import ctypes

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.codegen import ll as llvm_binding  # numba's llvmlite.binding (kernels import only numba)
from numba.extending import intrinsic

ir = cgutils.ir  # numba's llvmlite.ir


#: numba options of a kernel that only compiled code calls (late-bound kernels, by the address of
#: their compiled code): no Python wrapper (which unboxes and boxes every argument type, ~0.1-0.6
#: CPU s of compiling for a kernel with a tuple of arrays) and no C wrapper
COMPILED_CALLERS_ONLY = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}


def engine_jit(*signature, cache: bool = True, inline: bool = False, wrappers: bool = True):
    """``njit(*signature, cache=cache)`` without reference counting (module docstring);
    ``inline``: inline into callers (numba ``inline="always"``); ``wrappers=False``: only compiled
    code calls it (``COMPILED_CALLERS_ONLY``)."""
    options = {"cache": cache, "_nrt": False}
    if inline:
        options["inline"] = "always"
    if not wrappers:
        options.update(COMPILED_CALLERS_ONLY)
    return njit(*signature, **options)


# ----------------------------------------------------------------------- late-bound kernels
# numba links a called kernel's whole compiled code into its caller's and optimises and
# machine-codes it again there (``CPUCodeLibrary.finalize``), so a kernel reached through a
# chain of k compiled callers is compiled k + 1 times on a cold start. Measured on theo_sd (cold,
# numba 0.68): ``_serial_at`` -> ``_solve_range_at`` -> ``_solve_range`` -> ``solve_records``
# spent 23 + 24 + 29 s re-compiling the engine below ``solve_records``, the threaded entry point
# 153 s, and the ODE integrator was compiled into every linear model's engine ~10 times. A
# ``LateBound`` kernel is called through the address of its compiled code, read at run time from a
# process-wide cell (an external LLVM symbol, so callers stay cacheable): it is compiled once, on
# its own, and only once something binds it.


def _load_cell(builder, symbol):
    """Emit a load of the external int64 cell ``symbol`` (declared in this module if needed)."""
    cell = builder.module.globals.get(symbol)
    if cell is None:
        cell = ir.GlobalVariable(builder.module, ir.IntType(64), symbol)
        cell.linkage = "external"
    return builder.load(cell)


def _cell_intrinsics(symbol, fn_type):
    """Two argument-less intrinsics: the int64 in the cell ``symbol``, and the first-class function
    of type ``fn_type`` whose compiled (numba-ABI) code is at that address: numba calls it with
    its own calling convention, so an exception raised inside (a division by zero) reaches the
    caller as from a linked call (a C wrapper would swallow it)."""

    @intrinsic
    def address(typingctx):
        def codegen(context, builder, signature, args):
            return _load_cell(builder, symbol)

        return types.int64(), codegen

    @intrinsic
    def function(typingctx):
        def codegen(context, builder, signature, args):
            fn = cgutils.create_struct_proxy(fn_type)(context, builder)
            voidptr = context.get_value_type(types.voidptr)
            fn.c_addr = context.get_constant_null(types.voidptr)
            fn.py_addr = context.get_constant_null(types.voidptr)
            fn.jit_addr = builder.inttoptr(_load_cell(builder, symbol), voidptr)
            return fn._getvalue()

        return fn_type(), codegen

    return address, function


def _call_intrinsic(symbol, signature):
    """An intrinsic ``call(*args)``: the compiled code at the address in the cell ``symbol``,
    called directly with numba's calling convention (an exception inside propagates to the
    caller). What ``function()(*args)`` does once the address is known, without the fallback a
    first-class function call compiles at every call site for a null address (take the GIL, ask
    Python for a wrapper address, raise): that fallback made each call site of a kernel with many
    arguments cost a few tenths of a CPU second to compile. Arguments are converted to the
    signature's types as for any call."""

    def typer(typingctx, args):
        if len(args) != len(signature.args):
            return None
        for got, want in zip(args, signature.args):
            if got != want and typingctx.can_convert(got, want) is None:
                return None
        return signature

    def codegen(context, builder, sig, llargs):
        fnty = context.call_conv.get_function_type(sig.return_type, sig.args)
        fptr = builder.inttoptr(_load_cell(builder, symbol), fnty.as_pointer())
        status, res = context.call_conv.call_function(builder, fptr, sig.return_type, sig.args, llargs)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return res

    names = ", ".join(f"a{i}" for i in range(len(signature.args)))
    namespace = {"typer": typer, "codegen": codegen}
    exec(f"def call(typingctx, {names}):\n    sig = typer(typingctx, ({names}{',' if len(signature.args) == 1 else ''}))\n"
         f"    return None if sig is None else (sig, codegen)\n", namespace)
    return intrinsic(namespace["call"])


class LateBound:
    """A kernel of signature ``signature`` that compiled callers reach through a cell holding the
    address of its compiled code (see the comment above): in numba code ``ref.address()`` (0 while
    unbound) and ``ref.function()(args...)``, with ``address``/``function`` taken as module
    globals first (``x_address = REF.address``); ``ref.call(args...)`` (``_call_intrinsic``) is
    the same call, cheaper to compile, for a caller that only runs once the kernel is bound.
    ``bind(dispatcher)`` compiles (or loads) the kernel and fills the cell. ``symbol`` names the
    cell process-wide (one per kernel)."""

    def __init__(self, symbol: str, signature):
        self.symbol = symbol
        self.signature = signature
        self.fn_type = types.FunctionType(signature)
        self._cell = ctypes.c_int64(0)
        llvm_binding.add_symbol(symbol, ctypes.addressof(self._cell))
        self.address, self.function = _cell_intrinsics(symbol, self.fn_type)
        self.call = _call_intrinsic(symbol, signature)
        self.dispatcher = None

    @property
    def bound(self) -> bool:
        return self._cell.value != 0

    def bind(self, dispatcher) -> None:
        """Point the cell at ``dispatcher``'s compiled code for ``signature`` (compiling or loading
        it now); the dispatcher is kept alive with it. ``_get_jit_address`` is the helper numba's
        first-class functions use (experimental API, as in ``function_refs``)."""
        from numba.experimental.function_type import _get_jit_address

        self._cell.value = _get_jit_address(dispatcher, self.signature)
        self.dispatcher = dispatcher

    def compile(self, dispatcher) -> None:
        """Compile (or load) ``dispatcher`` for ``signature`` as ``bind`` does, without filling the
        cell: into numba's on-disk cache for another process (``problem.background_compile``), or
        ahead of a ``bind`` that then finds it compiled."""
        dispatcher.get_compile_result(self.signature)


def _type_key(value):
    """A hashable key that determines ``numba.typeof(value)`` for the values late-bound kernels
    take (tuples of arrays, ints, floats, bools), or None for anything else."""
    if isinstance(value, tuple):
        keys = tuple(_type_key(v) for v in value)
        return None if None in keys else (type(value), keys)
    if type(value) is np.ndarray:
        f = value.flags
        return value.dtype.str, value.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned
    if type(value) in (int, float, bool, np.int64, np.float64, np.bool_):
        return type(value)
    return None


_TYPES_MATCH: dict = {}


def types_match(args: tuple, expected: tuple) -> bool:
    """Whether ``numba.typeof`` of each of ``args`` is ``expected``'s: what a call through a
    late-bound cell needs (it has no dispatcher to check or convert its arguments). ``typeof``
    of the inner solve's ~40 arrays costs ~1 ms, once per fit; the answer is kept per argument
    structure (dtype, dimensions, layout flags), which fixes numba's types."""
    key = _type_key(args)
    if key is not None:
        key = (key, expected)
        hit = _TYPES_MATCH.get(key)
        if hit is not None:
            return hit
    from numba import typeof

    try:
        ok = tuple(typeof(a) for a in args) == tuple(expected)
    except ValueError:  # a value numba cannot type
        ok = False
    if key is not None:
        _TYPES_MATCH[key] = ok
    return ok
