"""Lazy exports for packages whose names load their modules on first use (PEP 562), so importing
``nlme_lab`` or one of its packages stays fast (no numba, sympy, bokeh or widgets at import)."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, str], namespace: dict, extra=()):
    """``(__getattr__, __dir__, __all__)`` for ``package``: each of ``names`` (name -> module)
    is imported from its module on first access and kept in ``namespace``; any other name that
    is a subpackage or module of ``package`` (``nl.estimation``) is imported as such."""
    exported = sorted(names) + list(extra)

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            if name.startswith("_"):
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return exported

    return __getattr__, __dir__, exported
