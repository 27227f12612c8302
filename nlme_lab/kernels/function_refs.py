"""Model functions as cheap first-class function references for the engine kernels.

Passing a numba dispatcher to an ``@njit(sig)`` kernel makes numba re-resolve its type and
wrapper address on every call (~0.1 ms per function per call, which dominated small fits).
``FunctionRef`` resolves both once and implements numba's wrapper-address protocol
(``__wrapper_address__`` / ``signature`` / ``_numba_type_``), so each call only unboxes an
address. ``numba.experimental.function_type._get_wrapper_address`` is the helper numba itself
uses for this protocol; it is experimental API, kept behind this one module.
"""

from __future__ import annotations

import numpy as np
from numba import types

from . import abi

#: ABI signature of every model function, by name (see abi.py)
SIGNATURES = {
    "pk": abi.PK_SIG, "dpk": abi.DPK_SIG, "rhs": abi.RHS_SIG, "jac": abi.JAC_SIG,
    "dfdp": abi.JAC_SIG, "init": abi.INIT_SIG, "dinit": abi.DINIT_SIG, "obs": abi.OBS_SIG,
    "dobs_dy": abi.DOBS_SIG, "dobs_dp": abi.DOBS_SIG, "linsys": abi.LINSYS_SIG,
    "dlinsys": abi.DLINSYS_SIG,
}


class FunctionRef:
    """A compiled model function, passed to kernels by address (see the module docstring)."""

    def __init__(self, dispatcher, sig):
        from numba.experimental.function_type import _get_wrapper_address

        self._dispatcher = dispatcher  # keeps the compiled code alive
        self._sig = sig
        self._addr = _get_wrapper_address(dispatcher, sig)
        self._numba_type_ = types.FunctionType(sig)

    def __wrapper_address__(self):
        return self._addr

    @property
    def address(self) -> int:
        """Address of the compiled C wrapper (valid while this object lives)."""
        return self._addr

    def signature(self):
        return self._sig


def function_refs(functions) -> dict[str, FunctionRef]:
    """``FunctionRef`` of each ABI function; ``functions`` maps names to dispatchers (or has
    them as attributes, like ``CompiledModel``)."""
    get = functions.get if isinstance(functions, dict) else (lambda name: getattr(functions, name))
    return {name: FunctionRef(get(name), sig) for name, sig in SIGNATURES.items()}


def engine_addresses(refs: dict[str, FunctionRef]) -> np.ndarray:
    """The C-wrapper addresses of the engine's ten model functions, in ``abi.FN_ORDER``
    (for ``population.solve_population_at``; ``refs`` must outlive every call using them)."""
    from .abi import FN_ORDER

    return np.array([refs[name].address for name in FN_ORDER], dtype=np.int64)
