"""Model text in, every located problem out: what the JupyterLab editor underlines.

Pure functions, no server: ``read_request`` turns a request body into model text or refuses it
(``RequestRefused`` with an HTTP status and a message), ``check_model_text`` runs the model
language's parser, resolver and checks (``Model(text)``: no code generation, no numba, nothing
of the text is ever executed) and returns every diagnostic with its line:column.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import warnings
from dataclasses import dataclass

from nlme_lab.errors import Diagnostic, ModelError
from nlme_lab.model import Model
from nlme_lab.model.source import MAX_FILE_BYTES

# A request is JSON around the text: escapes (\n, \", \uXXXX) may make it up to six times
# longer than the text's UTF-8 bytes; the text itself is held to a model file's limit.
MAX_BODY_BYTES = 6 * MAX_FILE_BYTES + 1024
JSON_TYPE = "application/json"


class Refusal(enum.IntEnum):
    """Why a request is refused: its HTTP status."""

    BAD_REQUEST = 400
    TOO_LARGE = 413
    NOT_JSON = 415


class RequestRefused(Exception):
    """A request that is not model text; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: Refusal, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class CheckResult:
    """The problems of one model text: ``ok`` when none is an error (warnings allowed)."""

    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def to_json(self) -> dict:
        """The wire form: ``{"ok", "diagnostics": [{"line", "column", "end_column", "message",
        "severity"}]}``, lines and columns 1-based, ``end_column`` exclusive or null."""
        return {"ok": self.ok, "diagnostics": [dataclasses.asdict(d) for d in self.diagnostics]}


def read_request(body: bytes, content_type: str | None) -> str:
    """The model text of a check request: a JSON object ``{"text": "..."}`` and nothing else.
    Raises ``RequestRefused`` for any other body."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != JSON_TYPE:
        raise RequestRefused(Refusal.NOT_JSON, f"send the model text as {JSON_TYPE}, not {media_type or 'no type'}")
    if len(body) > MAX_BODY_BYTES:
        raise RequestRefused(Refusal.TOO_LARGE, f"the request is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise RequestRefused(Refusal.BAD_REQUEST, f"the request is not UTF-8 JSON: {err}") from None
    if not isinstance(payload, dict) or set(payload) != {"text"}:
        raise RequestRefused(Refusal.BAD_REQUEST, 'the request must be a JSON object {"text": <model text>} with no other field')
    text = payload["text"]
    if not isinstance(text, str):
        raise RequestRefused(Refusal.BAD_REQUEST, f'"text" must be a string, not {type(text).__name__}')
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as err:  # a lone surrogate, sent as a JSON escape: not text
        raise RequestRefused(Refusal.BAD_REQUEST, f'"text" is not Unicode text: {err.reason} at character {err.start + 1}') from None
    if size > MAX_FILE_BYTES:
        raise RequestRefused(Refusal.TOO_LARGE, f"the model text is {size} bytes; a model is at most {MAX_FILE_BYTES}")
    return text


def check_model_text(text: str) -> CheckResult:
    """Every problem of ``text`` as the model language reports it (errors, or the warnings of
    a model that parses). Empty text has none."""
    if not text.strip():
        return CheckResult(())
    with warnings.catch_warnings():  # the model's warnings are returned, not printed
        warnings.simplefilter("ignore")
        try:
            model = Model(text)
        except ModelError as err:
            return CheckResult(err.diagnostics)
    return CheckResult(tuple(model.warnings))
