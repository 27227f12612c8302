"""NM-TRAN abbreviated code -> ``code_ast`` statements, by a small recursive-descent parser.

Read: assignments (``CL = THETA(1)*EXP(ETA(1))``, ``DADT(1) = ...``, ``A_0(2) = ...``), one-line
``IF (c) X = e``, ``IF (c) THEN`` / ``ELSE IF (c) THEN`` / ``ELSE`` / ``ENDIF`` (``END IF``),
``&`` at the end of a line to continue it; the operators ``+ - * / **``, ``.EQ. .NE. .GT. .GE.
.LT. .LE.`` (and ``== /= > >= < <=``), ``.AND. .OR. .NOT.``; numbers with ``E`` or ``D``
exponents. Anything else (``CALL``, ``EXIT``, ``DO WHILE``, verbatim Fortran) is refused with its
record and line. The text is parsed, never executed.
"""

from __future__ import annotations

import re

from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem.issues import fail

_DOTTED = {"EQ": "==", "NE": "!=", "GT": ">", "GE": ">=", "LT": "<", "LE": "<=", "EQN": "==", "NEN": "!=",
           "AND": "and", "OR": "or", "NOT": "not"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dotted>\.(?:EQN|NEN|EQ|NE|GT|GE|LT|LE|AND|OR|NOT)\.)
  | (?P<number>(?:\d+(?:\.(?!(?:EQN|NEN|EQ|NE|GT|GE|LT|LE|AND|OR|NOT)\.)\d*)?|\.\d+)(?:[ED][+-]?\d+)?)
  | (?P<name>[A-Z_][A-Z0-9_]*)
  | (?P<op>\*\*|==|/=|>=|<=|[-+*/()=<>,])
    """,
    re.VERBOSE,
)
_REFUSED_STATEMENTS = {
    "CALL": "CALL statements (user subroutines, RANDOM, SUPP, PASS) are not translated",
    "EXIT": "EXIT (error recovery) is not translated",
    "DO": "DO loops are not translated", "ENDDO": "DO loops are not translated",
    "RETURN": "RETURN is not translated", "WRITE": "WRITE is not translated", "PRINT": "PRINT is not translated",
    "OPEN": "file input/output is not translated", "CLOSE": "file input/output is not translated",
    "COMRES": "COMRES variables are not translated", "GOTO": "GOTO is not translated",
}


class _Tokens:
    def __init__(self, text: str, record: str, line: int):
        self.record, self.line = record, line
        self.items: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                fail(f"cannot read {text[pos:pos + 12]!r} in {text.strip()!r}", record, line)
            kind = match.lastgroup
            if kind == "dotted":
                self.items.append(("op", _DOTTED[match.group()[1:-1]]))
            elif kind == "op":
                self.items.append(("op", {"/=": "!="}.get(match.group(), match.group())))
            elif kind != "ws":
                self.items.append((kind, match.group()))
            pos = match.end()
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.items[j] if j < len(self.items) else ("end", "")

    def next(self) -> tuple[str, str]:
        item = self.peek()
        self.i += 1
        return item

    def at(self, kind: str, text: str | None = None, k: int = 0) -> bool:
        item = self.peek(k)
        return item[0] == kind and (text is None or item[1] == text)

    def expect(self, text: str, context: str) -> None:
        if not self.at("op", text):
            found = self.peek()[1] or "the end of the line"
            fail(f"expected '{text}' {context}, found {found!r}", self.record, self.line)
        self.i += 1

    def done(self) -> bool:
        return self.i >= len(self.items)


def parse_code(lines, record: str) -> tuple:
    """Statements of a record's lines (``records.Line``), IF blocks nested."""
    logical = _join_continuations(lines, record)
    statements, end = _block(logical, 0, record, closing=())
    if end < len(logical):
        number, text = logical[end]
        fail(f"{text.strip()} without IF ... THEN", record, number)
    return tuple(statements)


def _join_continuations(lines, record: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for line in lines:
        text = line.code.upper()
        if text.strip().startswith('"'):
            fail("verbatim code (a line beginning with \") is not translated", record, line.number)
        if pending is not None:
            text = pending[1] + " " + text
            number = pending[0]
            pending = None
        else:
            number = line.number
        if text.rstrip().endswith("&"):
            pending = (number, text.rstrip()[:-1])
            continue
        if text.strip():
            out.append((number, text))
    if pending is not None:
        out.append(pending)
    return out


def _block(logical, k: int, record: str, closing: tuple) -> tuple[list, int]:
    """Statements from ``logical[k]`` up to one whose head is in ``closing`` (not consumed)."""
    statements = []
    while k < len(logical):
        number, text = logical[k]
        head = _head(text)
        if head in closing:
            return statements, k
        if head in ("ELSE", "ELSEIF", "ENDIF"):
            fail(f"{head} without IF ... THEN", record, number)
        if head == "IF" and _is_block_if(text, record, number):
            stmt, k = _if_block(logical, k, record)
            statements.append(stmt)
            continue
        statements.append(_simple(text, record, number))
        k += 1
    if closing:
        fail("IF ... THEN without ENDIF", record, logical[k - 1][0] if logical else None)
    return statements, k


def _head(text: str) -> str:
    """The statement's first word, with ``ELSE IF`` / ``END IF`` / ``END DO`` joined."""
    words = re.findall(r"[A-Z_][A-Z0-9_]*|\S", text)
    if not words:
        return ""
    first = words[0]
    if first == "ELSE" and len(words) > 1 and words[1] == "IF":
        return "ELSEIF"
    if first == "END" and len(words) > 1 and words[1] in ("IF", "DO"):
        return "END" + words[1]
    return first


def _is_block_if(text: str, record: str, line: int) -> bool:
    tokens = _Tokens(text, record, line)
    tokens.next()  # IF
    tokens.expect("(", "after IF")
    _skip_parenthesized(tokens, record, line)
    return tokens.at("name", "THEN") and tokens.i == len(tokens.items) - 1


def _skip_parenthesized(tokens: _Tokens, record: str, line: int) -> None:
    depth = 1
    while depth:
        kind, text = tokens.next()
        if kind == "end":
            fail("unbalanced parentheses in the IF condition", record, line)
        depth += {"(": 1, ")": -1}.get(text, 0) if kind == "op" else 0


def _if_block(logical, k: int, record: str) -> tuple[na.If, int]:
    start = logical[k][0]
    branches = []
    condition = _condition_of(logical[k][1], record, start)
    k += 1
    while True:
        body, k = _block(logical, k, record, closing=("ELSE", "ELSEIF", "ENDIF"))
        branches.append((condition, tuple(body)))
        number, text = logical[k]
        head = _head(text)
        if head == "ENDIF":
            _only_words(text, ("END", "IF", "ENDIF"), record, number)
            return na.If(tuple(branches), None, start), k + 1
        if head == "ELSEIF":
            condition = _condition_of(re.sub(r"^\s*ELSE\s*", "", text), record, number)
            k += 1
            continue
        _only_words(text, ("ELSE",), record, number)
        orelse, k = _block(logical, k + 1, record, closing=("ENDIF", "ELSE", "ELSEIF"))
        number, text = logical[k]
        if _head(text) != "ENDIF":
            fail(f"{_head(text)} after ELSE", record, number)
        return na.If(tuple(branches), tuple(orelse), start), k + 1


def _only_words(text: str, allowed: tuple, record: str, line: int) -> None:
    extra = [w for w in text.split() if w not in allowed]
    if extra:
        fail(f"unexpected {' '.join(extra)!r} after {text.split()[0]}", record, line)


def _condition_of(text: str, record: str, line: int):
    """The condition of ``IF (c) THEN``."""
    tokens = _Tokens(text, record, line)
    tokens.next()  # IF
    tokens.expect("(", "after IF")
    condition = _Parser(tokens).logic()
    tokens.expect(")", "to close the IF condition")
    return condition


def _simple(text: str, record: str, line: int):
    head = _head(text)
    if head in _REFUSED_STATEMENTS:
        fail(_REFUSED_STATEMENTS[head], record, line)
    tokens = _Tokens(text, record, line)
    if head == "IF":
        tokens.next()
        tokens.expect("(", "after IF")
        condition = _Parser(tokens).logic()
        tokens.expect(")", "to close the IF condition")
        if tokens.at("name") and tokens.peek()[1] in _REFUSED_STATEMENTS:
            fail(_REFUSED_STATEMENTS[tokens.peek()[1]], record, line)
        assign = _assignment(tokens, record, line)
        return na.If(((condition, (assign,)),), None, line, one_line=True)
    return _assignment(tokens, record, line)


def _assignment(tokens: _Tokens, record: str, line: int) -> na.Assign:
    kind, name = tokens.next()
    if kind != "name":
        fail(f"expected a statement (NAME = expression), found {name or 'nothing'!r}", record, line)
    index = None
    if tokens.at("op", "("):
        tokens.next()
        kind, text = tokens.next()
        if kind != "number" or not text.isdigit():
            fail(f"expected a number in {name}(...), found {text!r}", record, line)
        index = int(text)
        tokens.expect(")", f"after {name}({text}")
    if not tokens.at("op", "="):
        found = tokens.peek()[1] or "the end of the line"
        fail(f"expected '=' after {name}, found {found!r} (a statement is NAME = expression)", record, line)
    tokens.next()
    value = _Parser(tokens).logic()
    if not tokens.done():
        fail(f"unexpected {tokens.peek()[1]!r} after the expression", record, line)
    return na.Assign(name, index, value, line)


class _Parser:
    """Expressions by precedence: .OR. < .AND. < .NOT. < comparison < + - < * / < unary < **."""

    def __init__(self, tokens: _Tokens):
        self.t = tokens

    def _fail(self, message: str):
        fail(message, self.t.record, self.t.line)

    def logic(self):
        left = self.conjunction()
        while self.t.at("op", "or"):
            self.t.next()
            left = na.Logic("or", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.negation()
        while self.t.at("op", "and"):
            self.t.next()
            left = na.Logic("and", left, self.negation())
        return left

    def negation(self):
        if self.t.at("op", "not"):
            self.t.next()
            return na.Not(self.negation())
        return self.comparison()

    def comparison(self):
        left = self.additive()
        if self.t.at("op") and self.t.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            op = self.t.next()[1]
            return na.Compare(op, left, self.additive())
        return left

    def additive(self):
        left = self.term()
        while self.t.at("op", "+") or self.t.at("op", "-"):
            op = self.t.next()[1]
            left = na.Binary(op, left, self.term())
        return left

    def term(self):
        left = self.unary()
        while self.t.at("op", "*") or self.t.at("op", "/"):
            op = self.t.next()[1]
            left = na.Binary(op, left, self.unary())
        return left

    def unary(self):
        if self.t.at("op", "-") or self.t.at("op", "+"):
            op = self.t.next()[1]
            return na.Unary(op, self.unary())
        return self.power()

    def power(self):
        base = self.atom()
        if self.t.at("op", "**"):
            self.t.next()
            return na.Binary("**", base, self.unary())
        return base

    def atom(self):
        kind, text = self.t.next()
        if kind == "number":
            return na.Num(text)
        if kind == "name":
            if self.t.at("op", "("):
                self.t.next()
                args = [self.logic()]
                while self.t.at("op", ","):
                    self.t.next()
                    args.append(self.logic())
                self.t.expect(")", f"to close {text}(...)")
                return na.Call(text, tuple(args))
            return na.Name(text)
        if kind == "op" and text == "(":
            inner = self.logic()
            self.t.expect(")", "to close '('")
            return inner
        self._fail(f"expected a number, a name or '(', found {text or 'the end of the line'!r}")
