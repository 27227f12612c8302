"""Notebook widgets (anywidget front ends bundled from ``js/src/``, one per module here).

Importing this package is light: ``anywidget`` and the widget modules load on first access
(``from nlme_lab.widgets import ModelEditor``).
"""

from __future__ import annotations

from nlme_lab._lazy import lazy_exports

_LAZY = {
    "ModelEditor": "nlme_lab.widgets.editor",
    "Lab": "nlme_lab.widgets.lab",
    "ExportButton": "nlme_lab.widgets.export",
    "HistoryView": "nlme_lab.widgets.history_view",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, globals(), extra=())
