"""The lexer: model text -> tokens with 1-based line:column.

The lexer never fails: a character that cannot start a token becomes an ``ERROR`` token whose
text is the message, and the parser reports it with its location. Every line ends with a
``NEWLINE`` token (its column is just after the line's last character) and the stream ends
with ``EOF``. A line that is only ``[name]`` (and maybe a comment) is a ``SECTION`` token.

Text is normalised first (``source.normalize_text``: CR and CRLF end lines). Invisible and
text-direction control characters (U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces, ...) are
errors wherever they are, comments included: they make an editor show text in another order
than the one it means ("Trojan Source"), and a comment on an ``[ini]`` line becomes a label.
"""

from __future__ import annotations

import re
import unicodedata

from nlme_lab.model.source import normalize_text
from nlme_lab.model.tokens import LANGUAGE_KEYWORDS, RESERVED_KEYWORDS, Token, TokenKind

_SECTION = re.compile(r"[ \t\r\f\v]*\[[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\][ \t\r\f\v]*(?=#|$)")

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<comment>\#.*)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/^<>=~|(),\[\]])
  | (?P<string>'[^']*'?|"[^"]*"?)
  | (?P<dot>\.)
    """,
    re.VERBOSE,
)

_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]+")

_HINTS = {
    ";": "';' is not allowed: write one statement per line",
    ":": "':' is not allowed (no slices, dicts, lambdas or blocks in model text)",
    "&": "'&' is not allowed: use 'and'",
    "!": "'!' is not allowed: use 'not' (or '!=' for not equal)",
    "%": "'%' (modulo) is not supported",
    "@": "'@' is not allowed",
    "{": "'{' is not allowed (no sets or dicts in model text)",
    "}": "'}' is not allowed (no sets or dicts in model text)",
    "\\": "'\\' is not allowed: write each statement on one line",
    "`": "'`' is not allowed",
    "$": "'$' is not allowed (this is not a NONMEM control stream)",
}


def tokenize(text: str) -> list[Token]:
    """Split model text into tokens. Never raises; problems become ``ERROR`` tokens."""
    tokens: list[Token] = []
    lines = normalize_text(text).split("\n")
    for lineno, line in enumerate(lines, start=1):
        _tokenize_line(line, lineno, tokens)
        tokens.append(Token(TokenKind.NEWLINE, "\n", lineno, len(line) + 1, len(line) + 2))
    last = len(lines)
    tokens.append(Token(TokenKind.EOF, "", last, len(lines[-1]) + 1, len(lines[-1]) + 2))
    return tokens


def _tokenize_line(line: str, lineno: int, out: list[Token]) -> None:
    section = _SECTION.match(line)
    pos = 0
    if section:
        start = line.index("[")
        out.append(Token(TokenKind.SECTION, section.group(1), lineno, start + 1, section.end() + 1))
        pos = section.end()
    while pos < len(line):
        match = _TOKEN.match(line, pos)
        if match is None:
            out.append(_error_token(line, pos, lineno))
            pos += 1
            continue
        kind = match.lastgroup
        text = match.group()
        end = match.end()
        if kind == "number" and end < len(line) and _NUMBER_TAIL.match(line, end):
            tail = _NUMBER_TAIL.match(line, end).group()
            message = f"malformed number '{text}{tail}': expected an operator after {text}"
            out.append(Token(TokenKind.ERROR, message, lineno, pos + 1, end + len(tail) + 1))
            pos = end + len(tail)
            continue
        hidden = _hidden_character(text) if kind == "comment" else None
        if hidden is not None:
            col = pos + hidden + 1
            out.append(Token(TokenKind.ERROR, _hidden_message(text[hidden], "a comment"), lineno, col, col + 1))
            return
        if kind != "ws":
            out.append(_make(kind, text, lineno, pos + 1, end + 1))
        pos = end


_ALLOWED_CONTROLS = frozenset("\t\f\v")


def _hidden_character(text: str) -> int | None:
    """Index of the first invisible or direction-changing character of ``text``, or None."""
    for i, ch in enumerate(text):
        if ch.isascii() and (ch.isprintable() or ch in _ALLOWED_CONTROLS):
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in _ALLOWED_CONTROLS:
            return i
    return None


def _hidden_message(ch: str, where: str) -> str:
    name = unicodedata.name(ch, "a control character")
    return (f"invisible or text-direction control character U+{ord(ch):04X} ({name}) in {where}; "
            "delete it: it makes an editor show the text differently from what it means")


def _make(kind: str, text: str, line: int, col: int, end: int) -> Token:
    if kind == "comment":
        return Token(TokenKind.COMMENT, text[1:].strip(), line, col, end)
    if kind == "name":
        if text.startswith("__"):
            return Token(TokenKind.ERROR, f"names starting with '__' are reserved ('{text}')", line, col, end)
        if text in LANGUAGE_KEYWORDS or text in RESERVED_KEYWORDS:
            return Token(TokenKind.KEYWORD, text, line, col, end)
        return Token(TokenKind.NAME, text, line, col, end)
    return Token(TokenKind[kind.upper()], text, line, col, end)


def _error_token(line: str, pos: int, lineno: int) -> Token:
    ch = line[pos]
    if ch in _HINTS:
        message = _HINTS[ch]
    elif _hidden_character(ch) is not None:
        message = _hidden_message(ch, "model text")
    elif ch.isprintable() and ord(ch) < 128:
        message = f"unexpected character '{ch}'"
    else:
        message = f"unexpected character {ch!r} (U+{ord(ch):04X}); names are ASCII letters, digits and '_'"
    return Token(TokenKind.ERROR, message, lineno, pos + 1, pos + 2)
