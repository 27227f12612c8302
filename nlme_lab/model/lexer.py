"""The lexer: model text -> tokens with 1-based line:column.

The lexer never fails: a character that cannot start a token becomes an ``ERROR`` token whose
text is the message, and the parser reports it with its location. Every line ends with a
``NEWLINE`` token (its column is just after the line's last character) and the stream ends
with ``EOF``. A line that is only ``[name]`` (and maybe a comment) is a ``SECTION`` token.
"""

from __future__ import annotations

import re

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
    lines = text.split("\n")
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
        if kind != "ws":
            out.append(_make(kind, text, lineno, pos + 1, end + 1))
        pos = end


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
    elif ch.isprintable() and ord(ch) < 128:
        message = f"unexpected character '{ch}'"
    else:
        message = f"unexpected character {ch!r} (U+{ord(ch):04X}); names are ASCII letters, digits and '_'"
    return Token(TokenKind.ERROR, message, lineno, pos + 1, pos + 2)
