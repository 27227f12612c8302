"""Sessions: the state that reproduces a Lab, as versioned JSON and as notebook cells, and the
run history of fits (numbers only: no widgets are imported here).

>>> from nlme_lab.session import SessionState, FitSpec, session_cells, RunHistory
"""

from __future__ import annotations

import importlib

_LAZY = {
    "FitSpec": "nlme_lab.session.state",
    "VPCSpec": "nlme_lab.session.state",
    "SessionState": "nlme_lab.session.state",
    "session_cells": "nlme_lab.session.cells",
    "write_session_notebook": "nlme_lab.session.cells",
    "read_session": "nlme_lab.session.cells",
    "RunHistory": "nlme_lab.session.history",
    "RunRecord": "nlme_lab.session.history",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nlme_lab.session' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
