"""Sessions: the state that reproduces a Lab, as versioned JSON and as notebook cells, and the
run history of fits (numbers only: no widgets are imported here).

>>> from nlme_lab.session import SessionState, FitSpec, session_cells, RunHistory
"""

from __future__ import annotations

from nlme_lab._lazy import lazy_exports

_LAZY = {
    "FitSpec": "nlme_lab.session.state",
    "VPCSpec": "nlme_lab.session.state",
    "SessionState": "nlme_lab.session.state",
    "session_cells": "nlme_lab.session.cells",
    "write_session_notebook": "nlme_lab.session.cells",
    "read_session": "nlme_lab.session.cells",
    "RunHistory": "nlme_lab.session.history",
    "RunRecord": "nlme_lab.session.history",
    "RunComparison": "nlme_lab.session.history",
    "LRTStatus": "nlme_lab.session.history",
    "OFVMismatch": "nlme_lab.session.history",
    "ofv_mismatch": "nlme_lab.session.history",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, globals(), extra=())
