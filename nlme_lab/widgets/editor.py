"""``ModelEditor``: the model text in a CodeMirror 6 editor, checked by the kernel as you type.

The front end is ``js/src/editor.js``, bundled into ``static/editor.js`` (``make js``).

Traits are the state (single source of truth), synced with the browser:

* ``value`` (``str``, default ``""``): the editor's text. The browser sends it about 300 ms
  after the last keystroke; setting it from Python replaces the text in every view.
* ``diagnostics`` (``list[dict]``, default ``[]``): the problems in ``value``, set by Python on
  every change of ``value``: ``{"line", "column", "end_column", "message", "severity"}``, lines
  and columns 1-based, ``end_column`` exclusive or ``None``, ``severity`` ``"error"`` or
  ``"warning"`` (the model's warnings, e.g. an unused eta). The browser underlines each one.
* ``model_ok`` (``bool``, default ``False``): ``value`` parses into a model (no errors).
* ``compiled_text`` (``str``, default ``""``): the text of ``editor.model``, the last text that
  compiled (or the text of the model the editor was opened with).
* ``status`` (``str``, default ``""``) and ``status_kind`` (``str``, a ``StatusKind`` value,
  default ``"empty"``): the one-line status shown under the editor.

One request goes through a custom message: the Compile button (or Ctrl/Cmd+Enter) sends
``{"type": "compile", "text": ...}``; Python compiles and answers ``{"type": "compiled", "ok",
"message"}``. Only a model that compiles replaces ``editor.model``, so a typo never destroys
the working state. Errors raised in the browser's handlers come back as
``{"type": "frontend_error", "where", "message", "stack"}`` and are kept in
``editor.frontend_errors`` (and logged).

Parsing on every change is ``Model(text)`` only (about a millisecond); the numba compile runs
only on Compile. An optional ``check(model)`` (the Lab binds the model to its dataset) runs after
every parse and before every compile: a ``NlmeError`` it raises is shown like a parse error,
its located problems underlined (a name that is no column of the data), and blocks Compile.
"""

from __future__ import annotations

import enum
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import anywidget
import traitlets

from nlme_lab.errors import Diagnostic, ModelError, NlmeError
from nlme_lab.model import Model

_STATIC = Path(__file__).resolve().parent / "static"
_BUNDLE = _STATIC / "editor.js"

if not _BUNDLE.is_file():  # a clear message instead of anywidget's bare FileNotFoundError
    raise FileNotFoundError(
        f"the model editor's front end is not built ({_BUNDLE} is missing): run `make js` in the "
        "nlme_lab repository (needs node and npm), or `npm ci && npm run build` in js/"
    )

log = logging.getLogger(__name__)

ModelCallback = Callable[[Model], object]
ModelCheck = Callable[[Model], object]  # raises NlmeError when the model does not fit its context


class StatusKind(str, enum.Enum):
    """What the status line under the editor reports (sent to the browser as its value)."""

    EMPTY = "empty"  # no text yet
    ERROR = "error"  # the text does not parse, or the last compile failed
    PARSES = "parses"  # the text parses (maybe with warnings) and differs from the working model
    COMPILED = "compiled"  # the text is the working model's


class ModelEditor(anywidget.AnyWidget):
    """An editor for model text; ``editor.model`` is the last model that compiled.

    >>> editor = ModelEditor(nl.Model.from_file("theo_sd.nlm"))   # or ModelEditor("text")
    >>> editor.on_model(lambda model: print(model))              # after each good compile
    >>> editor                                                    # shows it in a notebook

    ``model`` is a plain attribute (not synced): the working ``Model``, or ``None`` before the
    first successful compile when the editor was opened with text.
    """

    _esm = _BUNDLE

    value = traitlets.Unicode("").tag(sync=True)
    diagnostics = traitlets.List(traitlets.Dict()).tag(sync=True)
    model_ok = traitlets.Bool(False).tag(sync=True)
    compiled_text = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    status_kind = traitlets.Unicode(StatusKind.EMPTY.value).tag(sync=True)

    def __init__(self, model: Model | str = "", *, check: ModelCheck | None = None, **kwargs):
        if isinstance(model, Model):
            text, working = model.text, model
        elif isinstance(model, str):
            text, working = model, None
        else:
            raise TypeError(f"ModelEditor() takes a Model or model text, got {type(model).__name__}")
        self.model: Model | None = working
        self.frontend_errors: list[dict] = []
        self._callbacks: list[ModelCallback] = []
        self._context_check = check
        super().__init__(**kwargs)
        self.compiled_text = working.text if working is not None else ""
        self.value = text  # parses it (the observer below)
        if not text:
            self._check(text)  # no change event for the default value
        self.on_msg(self._on_custom_msg)

    # ------------------------------------------------------------------ public API
    def on_model(self, callback: ModelCallback, remove: bool = False) -> None:
        """Call ``callback(model)`` with every newly compiled model (``remove=True`` to stop)."""
        if remove:
            self._callbacks.remove(callback)
        elif callback not in self._callbacks:
            self._callbacks.append(callback)

    def compile(self, text: str | None = None) -> bool:
        """Compile ``text`` (default: ``value``), as the Compile button does. On success the
        model replaces ``editor.model``, ``compiled_text`` follows and the callbacks run (an
        exception of a callback propagates, the model is replaced already); on failure
        everything stays as it was and the status says why. Returns whether it compiled."""
        if text is not None and text != self.value:
            self.value = text  # parses it and sets the diagnostics
        text = self.value
        started = time.perf_counter()
        try:
            model = self._parse_quietly(text)
            self._check_context(model)
            model.compiled.compile_all()
        except ModelError as err:
            self._set_status(StatusKind.ERROR, f"✗ compile failed: {err}; the working model is unchanged")
            return False
        except NlmeError as err:  # the context check: the model does not fit the data
            self._set_status(StatusKind.ERROR, f"✗ not compiled: {err}\nThe working model is unchanged.")
            return False
        except Exception as err:  # codegen or numba: report it, keep the working model
            log.exception("compiling the model failed")
            problem = f"{type(err).__name__}: {err}"
            self._set_status(StatusKind.ERROR, f"✗ compile failed ({problem}); the working model is unchanged")
            return False
        self.model = model
        self.compiled_text = text
        seconds = time.perf_counter() - started
        self._set_status(StatusKind.COMPILED, f"✓ compiled in {seconds:.1f} s: this is the working model")
        for callback in list(self._callbacks):
            callback(model)
        return True

    # ------------------------------------------------------------------ parse on change
    @traitlets.observe("value")
    def _on_value(self, change) -> None:
        self._check(change["new"])

    def _check(self, text: str) -> None:
        """Parse ``text`` (no numba) and publish its diagnostics and status."""
        if not text.strip():
            with self.hold_sync():
                self.diagnostics, self.model_ok = [], False
                self._set_status(StatusKind.EMPTY, "no model text yet")
            return
        context = None
        try:
            model = self._parse_quietly(text)
            self._check_context(model)
        except ModelError as err:
            found = list(err.diagnostics)
            ok = False
        except NlmeError as err:
            found, ok, context = list(getattr(err, "diagnostics", ())) + list(model.warnings), False, err
        else:
            found = list(model.warnings)
            ok = True
        with self.hold_sync():
            self.diagnostics = [diagnostic_to_dict(d) for d in found]
            self.model_ok = ok
            if context is not None:
                self._set_status(StatusKind.ERROR, f"✗ {context}")
            else:
                self._set_status(*self._parse_status(text, found, ok))

    def _check_context(self, model: Model) -> None:
        if self._context_check is not None:
            with warnings.catch_warnings():  # warnings of the check are not errors, and not noise
                warnings.simplefilter("ignore")
                self._context_check(model)

    def _parse_status(self, text: str, found: list[Diagnostic], ok: bool) -> tuple[StatusKind, str]:
        errors = [d for d in found if d.severity == "error"]
        if not ok:
            first = errors[0] if errors else found[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            return StatusKind.ERROR, f"✗ line {first.line}:{first.column}: {first.message}{more}"
        notes = f" ({len(found)} warning{'s' if len(found) > 1 else ''}: {found[0]})" if found else ""
        if text == self.compiled_text:
            return StatusKind.COMPILED, f"✓ this is the working model{notes}"
        return StatusKind.PARSES, f"✓ parses{notes}; Compile (Ctrl+Enter) to make it the working model"

    @staticmethod
    def _parse_quietly(text: str) -> Model:
        with warnings.catch_warnings():  # warnings become diagnostics, not stderr noise
            warnings.simplefilter("ignore")
            return Model(text)

    def _set_status(self, kind: StatusKind, text: str) -> None:
        self.status_kind = kind.value
        self.status = text

    # ------------------------------------------------------------------ messages from the browser
    def _on_custom_msg(self, _widget, content, _buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "compile":
            self._on_compile_request(content)
        elif kind == "frontend_error":
            self._on_frontend_error(content)
        else:
            log.warning("ModelEditor: ignored a message from the browser: %r", content)

    def _on_compile_request(self, content: dict) -> None:
        ok, message = False, ""
        try:
            text = content.get("text")
            ok = self.compile(text if isinstance(text, str) else None)
            message = self.status
        except NlmeError as err:  # a callback could not use the model (e.g. it does not fit the data)
            message = f"✗ the model compiled, but could not be used: {err}"
            self._set_status(StatusKind.ERROR, message)
        except Exception as err:  # an on_model callback failed: the model is replaced already
            log.exception("an on_model callback failed")
            message = f"✗ the model compiled, but an on_model callback failed: {type(err).__name__}: {err}"
            self._set_status(StatusKind.ERROR, message)
        finally:
            self.send({"type": "compiled", "ok": ok, "message": message})

    def _on_frontend_error(self, content: dict) -> None:
        error = {key: str(content.get(key, "")) for key in ("where", "message", "stack")}
        self.frontend_errors.append(error)
        log.error("ModelEditor front end error in %s: %s", error["where"], error["message"])


def diagnostic_to_dict(diagnostic: Diagnostic) -> dict:
    """The wire form of a diagnostic (the ``diagnostics`` trait's items)."""
    return {
        "line": diagnostic.line,
        "column": diagnostic.column,
        "end_column": diagnostic.end_column,
        "message": diagnostic.message,
        "severity": diagnostic.severity,
    }
