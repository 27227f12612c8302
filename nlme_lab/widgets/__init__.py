"""Notebook widgets (anywidget front ends bundled from ``js/src/``, one per module here).

Importing this package is light: ``anywidget`` and the widget modules load on first access
(``from nlme_lab.widgets import ModelEditor``).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "ModelEditor": "nlme_lab.widgets.editor",
    "Lab": "nlme_lab.widgets.lab",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nlme_lab.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
