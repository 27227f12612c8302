"""Tokens of the model language."""

from __future__ import annotations

import enum
import keyword
from dataclasses import dataclass

from nlme_lab.model.source import Span


class TokenKind(enum.Enum):
    NAME = "name"
    NUMBER = "number"
    OP = "operator"  # + - * / ** ^ < <= > >= == != = ~ | ( ) [ ] ,
    KEYWORD = "keyword"  # and or not if else True False, and reserved Python keywords
    SECTION = "section"  # a whole ``[ini]`` / ``[model]`` header line; text is the name
    COMMENT = "comment"  # text after ``#`` (without it, stripped)
    STRING = "string"  # lexed only so that the parser can reject it with a clear message
    DOT = "dot"  # lexed only so that the parser can reject attribute access
    ERROR = "error"  # a character that cannot start a token; text is the message
    NEWLINE = "newline"
    EOF = "eof"


#: keywords of the language
LANGUAGE_KEYWORDS = frozenset({"and", "or", "not", "if", "else", "True", "False"})
#: Python keywords that are never names in model text (``import``, ``lambda``, ``def``, ...)
RESERVED_KEYWORDS = frozenset(keyword.kwlist) - LANGUAGE_KEYWORDS

COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    line: int
    col: int  # 1-based
    end_col: int  # exclusive

    @property
    def span(self) -> Span:
        return Span(self.line, self.col, self.end_col)

    def is_op(self, *ops: str) -> bool:
        return self.kind is TokenKind.OP and self.text in ops

    def is_keyword(self, *words: str) -> bool:
        return self.kind is TokenKind.KEYWORD and self.text in words

    def describe(self) -> str:
        """How an error message names this token: ``')'``, ``number 2``, ``end of line``."""
        if self.kind in (TokenKind.NEWLINE, TokenKind.EOF):
            return "end of line"
        if self.kind is TokenKind.NAME:
            return f"name '{self.text}'"
        if self.kind is TokenKind.NUMBER:
            return f"number {self.text}"
        if self.kind is TokenKind.KEYWORD:
            return f"keyword '{self.text}'"
        if self.kind is TokenKind.STRING:
            return "a string"
        return f"'{self.text}'"
