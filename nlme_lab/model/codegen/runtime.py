"""What generated model modules import: ``lazy_njit``, numba's ``njit`` applied on first use.

A model has twelve functions; compiling all of them costs seconds on a fresh cache, and a
simulation needs only a few (``pk``, ``init``, ``obs``, ``linsys`` or ``rhs``/``jac``). So a
generated function is decorated with ``@lazy_njit(signature, **numba options)``, which keeps
the plain function and compiles it with exactly ``numba.njit(signature, **options)`` when it is
first asked for (``CompiledModel.pk`` etc.). With ``cache=True`` numba stores the machine code
beside the module file, so a later process loads it instead of compiling.
"""

from __future__ import annotations

import threading


class LazyKernel:
    """A generated function and how to compile it; ``compile()`` returns the numba dispatcher."""

    def __init__(self, py_func, signature: str, options: dict):
        self.py_func = py_func
        self.signature = signature
        self.options = dict(options)
        self._dispatcher = None
        self._lock = threading.Lock()

    @property
    def is_compiled(self) -> bool:
        return self._dispatcher is not None

    def compile(self):
        if self._dispatcher is None:
            with self._lock:
                if self._dispatcher is None:
                    import numba

                    self._dispatcher = numba.njit(self.signature, **self.options)(self.py_func)
        return self._dispatcher

    def __call__(self, *args):
        return self.compile()(*args)

    def __repr__(self) -> str:
        state = "compiled" if self.is_compiled else "not compiled yet"
        return f"<LazyKernel {self.py_func.__name__} {self.signature} ({state})>"


def lazy_njit(signature: str, **options):
    """``@lazy_njit(sig, cache=True, ...)``: ``numba.njit(sig, cache=True, ...)`` on first use."""

    def wrap(fn):
        return LazyKernel(fn, signature, options)

    return wrap
