"""``ExportButton``: the Lab's Export, the session as notebook cells below the Lab's cell.

The front end is ``js/src/export.js``, bundled into ``static/export.js`` (``make js``).

Traits (synced with the browser; the state):

* ``status`` (``str``, default ``""``): the one-line status beside the button.
* ``status_kind`` (``str``, an ``ExportStatus`` value, default ``"idle"``): what it reports;
  the button is disabled while it is ``"busy"``.

One request/response goes through custom messages. A click sends ``{"type": "export",
"request"}``; Python answers ``{"type": "cells", "cells": [...], "model_id", "request"}`` (the
cells of ``session_cells(state)``, and this widget's id so the browser can find the notebook
cell whose output holds it; the answer reaches every view of the widget, and only the view
whose ``request`` it echoes inserts). The browser inserts them below that cell through the widget manager's
notebook context and answers ``{"type": "inserted", "n", "index", "latency_ms"}``, or
``{"type": "no_notebook", "reason", "latency_ms"}`` when there is no notebook to write into
(VS Code, Colab, a console, a second notebook on the same kernel): then Python writes
``session_<YYYYmmdd-HHMMSS>.ipynb`` (``write_session_notebook``) and the status says where.
Errors in the browser's handlers come back as ``{"type": "frontend_error", ...}``
(``frontend_errors``).

Why the browser inserts the cells: ``set_next_input`` works only while a cell runs, never from
a widget callback, and writing the open ``.ipynb`` from the kernel neither updates the view nor
survives the next save.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anywidget
import traitlets

_BUNDLE = Path(__file__).resolve().parent / "static" / "export.js"

if not _BUNDLE.is_file():  # the Lab shows this message in place of the button
    raise ImportError(
        f"the Export button's front end is not built ({_BUNDLE} is missing): run `make js` in the "
        "nlme_lab repository (needs node and npm), or `npm ci && npm run build` in js/"
    )

log = logging.getLogger(__name__)


class ExportStatus(str, enum.Enum):
    """What the status line beside the button reports (sent to the browser as its value)."""

    IDLE = "idle"  # nothing exported yet
    BUSY = "busy"  # cells asked for, being made or inserted
    INSERTED = "inserted"  # the cells are in the notebook below the Lab's cell
    WRITTEN = "written"  # no notebook context: a session notebook was written instead
    FAILED = "failed"  # neither worked (the status says why)


@dataclass(frozen=True)
class ExportResult:
    """The outcome of one export."""

    status: ExportStatus  # INSERTED, WRITTEN or FAILED
    n_cells: int  # cells inserted or written
    index: int | None = None  # notebook position of the first inserted cell (0-based)
    path: Path | None = None  # the session notebook written (WRITTEN)
    reason: str = ""  # why the cells could not be inserted, or the error
    latency_s: float | None = None  # click -> cells inserted (or refused), measured in the browser
    note: str = ""  # a caveat about reproducing the state (e.g. a stopped fit)


def _stopped_note(fit) -> str:
    from nlme_lab.estimation.results import Termination

    if fit is None or getattr(fit, "termination", None) is not Termination.STOPPED:
        return ""
    return ("the last fit was stopped by the user: the exported fit call runs to the end, so its OFV "
            "will differ; run the fit to the end before exporting to reproduce it")


class ExportButton(anywidget.AnyWidget):
    """Export inserts the code cells that reproduce the session below the Lab's notebook cell.

    >>> button = ExportButton(lab.to_cells, lab.state, last_fit=lambda: lab.last_fit)

    ``cells()`` returns the code cells (``list[str]``), ``state()`` the ``SessionState`` written
    when there is no notebook context; ``last_fit()`` (optional) the fit the cells reproduce,
    to warn when it was stopped. ``directory``: where a session notebook goes (default: the
    kernel's working directory at the time).
    """

    _esm = _BUNDLE

    status = traitlets.Unicode("").tag(sync=True)
    status_kind = traitlets.Unicode(ExportStatus.IDLE.value).tag(sync=True)

    def __init__(self, cells: Callable[[], list[str]], state: Callable[[], object], *,
                 last_fit: Callable[[], object] | None = None, directory=None, **kwargs):
        for name, value in (("cells", cells), ("state", state), ("last_fit", last_fit)):
            if value is not None and not callable(value):
                raise TypeError(f"ExportButton({name}=...) takes a callable, got {type(value).__name__}")
        super().__init__(**kwargs)
        self._cells, self._state, self._last_fit = cells, state, last_fit
        self.directory = None if directory is None else Path(directory)
        self.results: list[ExportResult] = []
        self.frontend_errors: list[dict] = []
        self._note = ""
        self.on_msg(self._on_custom_msg)

    @property
    def last_result(self) -> ExportResult | None:
        return self.results[-1] if self.results else None

    # ------------------------------------------------------------------ public
    def write_notebook(self, path=None, reason: str = "") -> ExportResult:
        """Write the session notebook (``write_session_notebook``) to ``path`` (default:
        ``session_<YYYYmmdd-HHMMSS>.ipynb`` in ``directory``) and say where in the status."""
        if self._last_fit is not None:
            self._note = _stopped_note(self._last_fit())
        return self._write(path, reason, None)

    def _write(self, path, reason: str, latency_s: float | None) -> ExportResult:
        from nlme_lab.session.cells import default_session_path, write_session_notebook

        try:
            state = self._state()
            target = default_session_path(self.directory) if path is None else path
            written = write_session_notebook(state, target)
        except Exception as err:  # the status line is where the user looks
            log.exception("writing the session notebook failed")
            why = f"{reason}; " if reason else ""
            return self._finish(ExportResult(ExportStatus.FAILED, 0, reason=f"{why}writing the session "
                                             f"notebook failed: {type(err).__name__}: {err}"))
        n = len(_state_cells(state))
        return self._finish(ExportResult(ExportStatus.WRITTEN, n, path=written, reason=reason,
                                         latency_s=latency_s, note=self._note))

    # ------------------------------------------------------------------ messages from the browser
    def _on_custom_msg(self, _widget, content, _buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handlers = {"export": self._on_export_request, "inserted": self._on_inserted,
                    "no_notebook": self._on_no_notebook, "frontend_error": self._on_frontend_error}
        handler = handlers.get(kind)
        if handler is None:
            log.warning("ExportButton: ignored a message from the browser: %r", content)
            return
        handler(content)

    def _on_export_request(self, content: dict) -> None:
        self._set_status(ExportStatus.BUSY, "making the cells…")
        try:
            cells = [str(c) for c in self._cells()]
            self._note = _stopped_note(self._last_fit()) if self._last_fit is not None else ""
        except Exception as err:
            log.exception("making the session cells failed")
            self._finish(ExportResult(ExportStatus.FAILED, 0, reason=f"making the cells failed: "
                                      f"{type(err).__name__}: {err}"))
            return
        self._set_status(ExportStatus.BUSY, f"inserting {len(cells)} cells…")
        self.send({"type": "cells", "cells": cells, "model_id": self.model_id, "request": content.get("request")})

    def _on_inserted(self, content: dict) -> None:
        n = int(content.get("n", 0))
        index = content.get("index")
        self._finish(ExportResult(ExportStatus.INSERTED, n, index=None if index is None else int(index),
                                  latency_s=_seconds(content.get("latency_ms")), note=self._note))

    def _on_no_notebook(self, content: dict) -> None:
        reason = str(content.get("reason") or "no notebook context")
        self._write(None, reason, _seconds(content.get("latency_ms")))

    def _on_frontend_error(self, content: dict) -> None:
        error = {key: str(content.get(key, "")) for key in ("where", "message", "stack")}
        self.frontend_errors.append(error)
        log.error("ExportButton front end error in %s: %s", error["where"], error["message"])

    # ------------------------------------------------------------------ status
    def _finish(self, result: ExportResult) -> ExportResult:
        self.results.append(result)
        self._set_status(result.status, status_text(result))
        return result

    def _set_status(self, kind: ExportStatus, text: str) -> None:
        with self.hold_sync():
            self.status_kind = kind.value
            self.status = text


def status_text(result: ExportResult) -> str:
    """The status line for an export's result."""
    note = f" (note: {result.note})" if result.note else ""
    if result.status is ExportStatus.INSERTED:
        where = f" (cells {result.index + 1}-{result.index + result.n_cells})" if result.index is not None else ""
        return f"✓ inserted {result.n_cells} cells below this cell{where}{note}"
    if result.status is ExportStatus.WRITTEN:
        why = f"cannot insert cells here ({result.reason}): " if result.reason else ""
        return f"✓ {why}wrote {result.path}{note}"
    return f"✗ export failed: {result.reason}"


def _state_cells(state) -> list[str]:
    from nlme_lab.session.cells import session_cells

    return session_cells(state)


def _seconds(ms) -> float | None:
    try:
        return None if ms is None else float(ms) / 1000.0
    except (TypeError, ValueError):
        return None


__all__ = ["ExportButton", "ExportResult", "ExportStatus", "status_text"]
