"""The parser: tokens -> syntax tree (``ast.Program``), by hand-written recursive descent.

Statements are one line each. Expressions use precedence climbing with Python's precedence:
``a if c else b`` < ``or`` < ``and`` < ``not`` < comparisons (chained) < ``+ -`` < ``* /``
< unary ``- +`` < ``**`` (``^``; right associative, so ``-2**2 == -4`` and ``2**-1`` works).

A syntax error ends the parsing of its line only: the parser goes on with the next line, so
one ``ModelError`` reports every broken line at once.
"""

from __future__ import annotations

from nlme_lab.errors import Diagnostic, ModelError
from nlme_lab.model import ast, habits
from nlme_lab.model.functions import ARITY, FUNCTIONS, MISPLACED, arity_message
from nlme_lab.model.lexer import tokenize
from nlme_lab.model.source import Problems, Span, normalize_text, suggest
from nlme_lab.model.tokens import COMPARISONS, RESERVED_KEYWORDS, Token, TokenKind

SECTIONS = ("ini", "model")
DOSE_MODIFIERS = ("f", "alag", "rate", "dur")
ERROR_MODELS = ("add", "prop", "lnorm")

_BINARY = {"+": (10, 10), "-": (10, 10), "*": (20, 20), "/": (20, 20), "**": (40, 39), "^": (40, 39)}
_UNARY_BP = 30
MAX_DEPTH = 50  # nesting of parentheses / operators in one expression
MAX_NODES = 400  # size of one statement's expression

_STATEMENT_FORMS = (
    "'name = expression', 'd/dt(cmt) = ...', 'cmt(0) = ...', 'f(cmt) = ...' or 'name ~ add(sd)'"
)
_INI_FORMS = "'name = value', 'name = (low, value, high)' or 'eta_name ~ variance'"


class _SyntaxError(Exception):
    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message = message
        self.span = span


def parse(text: str) -> ast.Program:
    """Parse model text. Raises ``ModelError`` listing every syntax error found."""
    problems = Problems()
    text = normalize_text(text)
    program = _parse_lines(tokenize(text), problems, n_lines=text.count("\n") + 1)
    problems.raise_if_errors()
    return program


def parse_expression(text: str) -> ast.Expr:
    """Parse a single expression (one line). For tests and tools."""
    tokens = [t for t in tokenize(text) if t.kind is not TokenKind.COMMENT]
    lines = _split_lines(tokens)
    if not lines or not lines[0][0]:
        raise _as_model_error("expected an expression", Span(1, 1, 2))
    parser = _LineParser(lines[0][0])
    try:
        expr = parser.expression()
        parser.expect_end()
    except _SyntaxError as err:
        raise _as_model_error(err.message, err.span) from None
    return expr


def _as_model_error(message: str, span: Span) -> ModelError:
    return ModelError(Diagnostic(message, span.line, span.col, span.end_col))


def _split_lines(tokens: list[Token]) -> list[tuple[list[Token], str]]:
    """Group tokens by line: (tokens ending with their NEWLINE/EOF, comment text)."""
    lines: list[tuple[list[Token], str]] = []
    current: list[Token] = []
    comment = ""
    for tok in tokens:
        if tok.kind is TokenKind.COMMENT:
            comment = tok.text
            continue
        current.append(tok)
        if tok.kind in (TokenKind.NEWLINE, TokenKind.EOF):
            lines.append((current, comment))
            current, comment = [], ""
    return lines


def _parse_lines(tokens: list[Token], problems: Problems, n_lines: int) -> ast.Program:
    ini: list = []
    model: list = []
    sections: list[ast.Section] = []
    current: str | None = None
    reported_no_section = False
    for toks, comment in _split_lines(tokens):
        first = toks[0]
        if first.kind in (TokenKind.NEWLINE, TokenKind.EOF):
            continue
        if first.kind is TokenKind.SECTION:
            current = _section(first, sections, problems)
            continue
        if current is None:
            if not reported_no_section:
                hint = habits.explain(toks, None)
                message, span = hint or ("expected a section header [ini] or [model] before this line", first.span)
                problems.error(message, span)
                reported_no_section = True
            continue
        try:
            parser = _LineParser(toks)
            if current == "ini":
                ini.append(parser.ini_statement(comment))
            elif current == "model":
                model.append(parser.model_statement())
        except _SyntaxError as err:
            lexer_error = next((t for t in toks if t.kind is TokenKind.ERROR), None)
            hint = habits.explain(toks, current) if lexer_error is None or lexer_error.span != err.span else None
            problems.error(*(hint or (err.message, err.span)))
    if not any(s.name == "model" for s in sections):
        problems.error("missing [model] section (the equations and the '~' observation lines)", Span(1, 1, 2))
    return ast.Program(tuple(ini), tuple(model), tuple(sections), n_lines)


def _section(tok: Token, sections: list[ast.Section], problems: Problems) -> str | None:
    name = tok.text
    if name not in SECTIONS:
        hint = suggest(name, SECTIONS, prefix="; did you mean [").replace("?", "]?")
        problems.error(f"unknown section [{name}]{hint} (expected [ini] or [model])", tok.span)
        return "skip"
    for seen in sections:
        if seen.name == name:
            problems.error(f"section [{name}] appears twice (first at line {seen.span.line})", tok.span)
            return "skip"
    sections.append(ast.Section(name, tok.span))
    return name


class _LineParser:
    """Parses one line's tokens (ending with NEWLINE or EOF)."""

    def __init__(self, tokens: list[Token]):
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.nodes = 0

    # ------------------------------------------------------------------ token helpers
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        tok = self.peek()
        if self.i < len(self.toks) - 1:
            self.i += 1
        return tok

    def at_end(self) -> bool:
        return self.peek().kind in (TokenKind.NEWLINE, TokenKind.EOF)

    def fail(self, message: str, tok: Token | None = None):
        tok = tok or self.peek()
        if tok.kind is TokenKind.ERROR:  # a lexer problem explains itself better
            raise _SyntaxError(tok.text, tok.span)
        raise _SyntaxError(message, tok.span)

    def expect_op(self, op: str, context: str) -> Token:
        tok = self.peek()
        if not tok.is_op(op):
            self.fail(f"expected '{op}' {context}, found {tok.describe()}")
        return self.advance()

    def expect_name(self, what: str) -> Token:
        tok = self.peek()
        if tok.kind is not TokenKind.NAME:
            self.fail(f"expected {what}, found {tok.describe()}{_keyword_hint(tok)}")
        return self.advance()

    def expect_end(self) -> None:
        if not self.at_end():
            tok = self.peek()
            self.fail(f"expected an operator or end of line, found {tok.describe()}{_keyword_hint(tok)}")

    def span_from(self, start: Token) -> Span:
        end = self.toks[max(self.i - 1, 0)]
        return Span(start.line, start.col, max(end.end_col, start.end_col))

    # ------------------------------------------------------------------ [ini]
    def ini_statement(self, label: str):
        first = self.peek()
        if first.kind is not TokenKind.NAME:
            self.fail(f"expected a parameter declaration: {_INI_FORMS}, found {first.describe()}{_keyword_hint(first)}")
        if self.peek(1).is_op("="):
            return self.theta_decl(label)
        if self.peek(1).is_op("~", "+"):
            return self.random_decl(label)
        self.fail(f"expected '=' or '~' after '{first.text}' ({_INI_FORMS}), found {self.peek(1).describe()}", self.peek(1))

    def theta_decl(self, label: str) -> ast.ThetaDecl:
        name = self.advance()
        self.advance()  # '='
        spec_start = self.peek()
        fixed = self.peek().kind is TokenKind.NAME and self.peek().text == "fix" and self.peek(1).is_op("(")
        if fixed:
            self.advance()
            values, inner = self.paren_values("fix(...)")
        elif self.peek().is_op("(") and self._is_bounds_tuple():
            values, inner = self.paren_values("the bounds (low, value, high)")
            if len(values) == 1:
                self.fail("expected (low, value) or (low, value, high)", spec_start)
        else:
            value = self.expression()
            values, inner = [value], value.span
        self.expect_end()
        if len(values) > 3:
            self.fail(f"expected at most 3 values (low, value, high), found {len(values)}", spec_start)
        lower, init, upper = _bounds(values)
        return ast.ThetaDecl(
            name.text, init, lower, upper, fixed, label,
            span=self.span_from(name), name_span=name.span, spec_span=self.span_from(spec_start), inner_span=inner,
        )

    def _is_bounds_tuple(self) -> bool:
        """Whether the '(' at the cursor opens ``(a, b[, c])`` rather than a parenthesized expression."""
        level = 0
        for tok in self.toks[self.i :]:
            if tok.is_op("(", "["):
                level += 1
            elif tok.is_op(")", "]"):
                level -= 1
                if level == 0:
                    return False
            elif tok.is_op(",") and level == 1:
                return True
        return False

    def paren_values(self, context: str) -> tuple[list[ast.Expr], Span]:
        """``( e1, e2, ... )`` after the cursor; returns the values and the span inside."""
        open_tok = self.expect_op("(", f"to open {context}")
        values = [self.expression()]
        while self.peek().is_op(","):
            self.advance()
            values.append(self.expression())
        close = self.expect_op(")", f"or ',' in {context}")
        return values, Span(open_tok.line, open_tok.end_col, close.col)

    def random_decl(self, label: str) -> ast.RandomDecl:
        start = self.peek()
        names = [self.expect_name("a random effect name")]
        while self.peek().is_op("+"):
            self.advance()
            names.append(self.expect_name("a random effect name after '+'"))
        self.expect_op("~", "after the random effect names")
        spec_start = self.peek()
        fixed = spec_start.kind is TokenKind.NAME and spec_start.text == "fix" and self.peek(1).is_op("(")
        if fixed:
            self.advance()
            open_tok = self.advance()
            values, block = self.variance_values()
            close = self.expect_op(")", "to close fix(...)")
            inner = Span(open_tok.line, open_tok.end_col, close.col)
        else:
            values, block = self.variance_values()
            inner = self.span_from(spec_start)
        spec_span = self.span_from(spec_start)
        occasion, occ_span = None, ast.NOSPAN
        if self.peek().is_op("|"):
            self.advance()
            occ = self.expect_name("the occasion column after '|' (e.g. kappa ~ 0.05 | OCC)")
            occasion, occ_span = occ.text, occ.span
        self.expect_end()
        return ast.RandomDecl(
            tuple(n.text for n in names), tuple(values), block, fixed, occasion, label,
            span=self.span_from(start), name_spans=tuple(n.span for n in names),
            spec_span=spec_span, inner_span=inner, occasion_span=occ_span,
        )

    def variance_values(self) -> tuple[list[ast.Expr], bool]:
        if not self.peek().is_op("["):
            return [self.expression()], False
        self.advance()
        values = [self.expression()]
        while self.peek().is_op(","):
            self.advance()
            values.append(self.expression())
        self.expect_op("]", "or ',' in the omega block [var1, cov21, var2, ...]")
        return values, True

    # ------------------------------------------------------------------ [model]
    def model_statement(self):
        first = self.peek()
        if first.kind is TokenKind.KEYWORD:
            self.fail(f"expected a statement ({_STATEMENT_FORMS}), found {first.describe()}{_keyword_hint(first)}")
        if first.is_op("~"):
            self.fail("expected the observed variable before '~' (e.g. cp ~ add(add_sd))")
        if first.kind is not TokenKind.NAME:
            self.fail(f"expected a statement ({_STATEMENT_FORMS}), found {first.describe()}")
        second = self.peek(1)
        if first.text == "d" and second.is_op("/") and self.peek(2).kind is TokenKind.NAME and self.peek(2).text == "dt":
            return self.ode()
        if second.is_op("("):
            return self.call_statement()
        if second.is_op("="):
            return self.assignment()
        if second.is_op("~"):
            return self.observation()
        self.fail(f"expected '=' or '~' after '{first.text}', found {second.describe()}", second)

    def ode(self) -> ast.Ode:
        start = self.advance()
        self.advance()  # '/'
        self.advance()  # 'dt'
        self.expect_op("(", "after d/dt")
        cmt = self.expect_name("a compartment name in d/dt(...)")
        self.expect_op(")", "after the compartment name")
        self.expect_op("=", "after d/dt(...)")
        value = self.expression()
        self.expect_end()
        return ast.Ode(cmt.text, value, span=self.span_from(start), name_span=cmt.span)

    def call_statement(self):
        """``f(cmt) = ...`` (dose modifiers) or ``cmt(0) = ...`` (initial condition)."""
        head = self.advance()
        self.advance()  # '('
        arg = self.peek()
        if not (self.peek(1).is_op(")") and self.peek(2).is_op("=")):
            self.fail(f"expected a statement ({_STATEMENT_FORMS}); an expression alone does nothing", head)
        if arg.kind is TokenKind.NUMBER:
            if float(arg.text) != 0.0:
                self.fail(f"expected {head.text}(0) for an initial condition, found {head.text}({arg.text})", arg)
            self.i += 3
            value = self.expression()
            self.expect_end()
            return ast.Initial(head.text, value, span=self.span_from(head), name_span=head.span)
        if arg.kind is not TokenKind.NAME:
            self.fail(f"expected a compartment name or 0 inside {head.text}(...), found {arg.describe()}", arg)
        if head.text not in DOSE_MODIFIERS:
            hint = suggest(head.text, DOSE_MODIFIERS)
            self.fail(f"unknown dose modifier '{head.text}'{hint} (expected f, alag, rate or dur)", head)
        self.i += 3
        value = self.expression()
        self.expect_end()
        return ast.DoseMod(head.text, arg.text, value, span=self.span_from(head), name_span=arg.span)

    def assignment(self):
        name = self.advance()
        self.advance()  # '='
        rhs = self.peek()
        if rhs.kind is TokenKind.NAME and rhs.text == "linCmt" and self.peek(1).is_op("("):
            self.i += 2
            self.expect_op(")", "after linCmt( (it takes no arguments)")
            self.expect_end()
            return ast.LinCmtAssign(name.text, span=self.span_from(name), name_span=name.span)
        value = self.expression()
        self.expect_end()
        return ast.Assign(name.text, value, span=self.span_from(name), name_span=name.span)

    def observation(self) -> ast.Observe:
        var = self.advance()
        self.advance()  # '~'
        terms = [self.error_term()]
        while self.peek().is_op("+"):
            self.advance()
            terms.append(self.error_term())
        self.expect_end()
        return ast.Observe(var.text, tuple(terms), span=self.span_from(var), name_span=var.span)

    def error_term(self) -> ast.ErrorTermNode:
        kind = self.expect_name("an error model: add(sd), prop(sd) or lnorm(sd)")
        if kind.text not in ERROR_MODELS:
            hint = suggest(kind.text, ERROR_MODELS)
            self.fail(f"unknown error model '{kind.text}'{hint} (expected add, prop or lnorm)", kind)
        self.expect_op("(", f"after {kind.text}")
        param = self.expect_name(f"the name of a residual parameter declared in [ini] inside {kind.text}(...)")
        self.expect_op(")", f"after {kind.text}({param.text}")
        return ast.ErrorTermNode(kind.text, param.text, span=self.span_from(kind), param_span=param.span)

    # ------------------------------------------------------------------ expressions
    def _grow(self, count_node: bool = True) -> None:
        if count_node:
            self.nodes += 1
            if self.nodes > MAX_NODES:
                self.fail(f"expression too long (more than {MAX_NODES} operations): split it into several statements")

    def expression(self) -> ast.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        body = self.or_test()
        if self.peek().is_keyword("if"):
            self.advance()
            test = self.or_test()
            if not self.peek().is_keyword("else"):
                self.fail(f"expected 'else' in 'a if condition else b', found {self.peek().describe()}")
            self.advance()
            orelse = self.expression()
            self._grow()
            body = ast.IfExp(body, test, orelse, span=body.span.to(orelse.span))
        self.depth -= 1
        return body

    def or_test(self) -> ast.Expr:
        return self._bool_chain("or", self.and_test)

    def and_test(self) -> ast.Expr:
        return self._bool_chain("and", self.not_test)

    def _bool_chain(self, word: str, operand) -> ast.Expr:
        values = [operand()]
        while self.peek().is_keyword(word):
            self.advance()
            values.append(operand())
            self._grow()
        if len(values) == 1:
            return values[0]
        return ast.BoolOp(word, tuple(values), span=values[0].span.to(values[-1].span))

    def not_test(self) -> ast.Expr:
        if self.peek().is_keyword("not"):
            tok = self.advance()
            self._enter()
            operand = self.not_test()
            self.depth -= 1
            self._grow()
            return ast.Not(operand, span=tok.span.to(operand.span))
        return self.comparison()

    def comparison(self) -> ast.Expr:
        left = self.arith(0)
        ops, rest = [], []
        while self.peek().kind is TokenKind.OP and self.peek().text in COMPARISONS:
            ops.append(self.advance().text)
            rest.append(self.arith(0))
            self._grow()
        if not ops:
            return left
        return ast.Compare(left, tuple(ops), tuple(rest), span=left.span.to(rest[-1].span))

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)")

    def arith(self, min_bp: int) -> ast.Expr:
        self._enter()
        tok = self.peek()
        if tok.is_op("-", "+"):
            self.advance()
            operand = self.arith(_UNARY_BP)
            self._grow()
            left = ast.UnaryOp(tok.text, operand, span=tok.span.to(operand.span))
        else:
            left = self.primary()
        while True:
            tok = self.peek()
            if tok.kind is not TokenKind.OP or tok.text not in _BINARY:
                break
            lbp, rbp = _BINARY[tok.text]
            if lbp <= min_bp:
                break
            self.advance()
            right = self.arith(rbp)
            self._grow()
            op = "**" if tok.text == "^" else tok.text
            left = ast.BinOp(op, left, right, span=left.span.to(right.span))
        self.depth -= 1
        return left

    def primary(self) -> ast.Expr:
        tok = self.advance()
        if tok.kind is TokenKind.NUMBER:
            node = _number(tok)
        elif tok.kind is TokenKind.NAME:
            node = self.call(tok) if self.peek().is_op("(") else self.name(tok)
        elif tok.is_keyword("True", "False"):
            node = ast.Bool(tok.text == "True", span=tok.span)
        elif tok.is_op("("):
            inner = self.expression()
            if self.peek().is_op(","):
                self.fail("a tuple is not allowed here: a comma belongs only in function arguments and [ini] bounds")
            close = self.expect_op(")", "to close '('")
            node = _with_span(inner, tok.span.to(close.span))
        else:
            self.fail(_unexpected(tok), tok)
        self._reject_postfix()
        return node

    def name(self, tok: Token) -> ast.Name:
        if tok.text in ARITY:
            self.fail(f"'{tok.text}' is a function: call it as {tok.text}(...)", tok)
        if tok.text == "linCmt":
            self.fail(MISPLACED["linCmt"], tok)
        return ast.Name(tok.text, span=tok.span)

    def call(self, tok: Token) -> ast.Call:
        if tok.text not in ARITY:
            if tok.text in MISPLACED:
                self.fail(MISPLACED[tok.text], tok)
            hint = suggest(tok.text, FUNCTIONS)
            allowed = hint or f" (the functions are {', '.join(FUNCTIONS)})"
            self.fail(f"unknown function '{tok.text}'{allowed}", tok)
        self.advance()  # '('
        args: list[ast.Expr] = []
        if not self.peek().is_op(")"):
            args.append(self.expression())
            while self.peek().is_op(","):
                self.advance()
                args.append(self.expression())
        close = self.expect_op(")", f"or ',' in the arguments of {tok.text}()")
        span = tok.span.to(close.span)
        message = arity_message(tok.text, len(args))
        if message:
            raise _SyntaxError(message, span)
        self._grow()
        return ast.Call(tok.text, tuple(args), span=span)

    def _reject_postfix(self) -> None:
        tok = self.peek()
        if tok.kind is TokenKind.DOT:
            self.fail("attribute access ('.') is not allowed in model text")
        if tok.is_op("["):
            self.fail("subscripts ('[...]') are not allowed in model text")
        if tok.is_op("("):
            self.fail(f"expected an operator before '(': only the functions {', '.join(FUNCTIONS)} can be called")
        if tok.kind is TokenKind.STRING:
            self.fail("strings are not allowed in model text")


def _number(tok: Token) -> ast.Num:
    value = float(tok.text)
    if value == float("inf"):
        raise _SyntaxError(f"number {tok.text} is too large", tok.span)
    return ast.Num(value, tok.text, span=tok.span)


def _with_span(node: ast.Expr, span: Span) -> ast.Expr:
    """The same node with the span of its enclosing parentheses."""
    fields = {k: getattr(node, k) for k in node.__dataclass_fields__}
    fields["span"] = span
    return type(node)(**fields)


def _bounds(values: list[ast.Expr]):
    if len(values) == 1:
        return None, values[0], None
    if len(values) == 2:
        return values[0], values[1], None
    return values[0], values[1], values[2]


def _unexpected(tok: Token) -> str:
    if tok.kind is TokenKind.STRING:
        return "strings are not allowed in model text"
    if tok.kind is TokenKind.DOT:
        return "expected an expression, found '.'"
    if tok.kind is TokenKind.KEYWORD and tok.text in RESERVED_KEYWORDS:
        return f"'{tok.text}' is not allowed in model text (expected an expression)"
    if tok.is_op("["):
        return "a list '[...]' is only allowed for an omega block in [ini] (a + b ~ [v1, c21, v2])"
    return f"expected an expression, found {tok.describe()}"


def _keyword_hint(tok: Token) -> str:
    if tok.kind is TokenKind.KEYWORD and tok.text in RESERVED_KEYWORDS:
        return f" ('{tok.text}' is a reserved word, not allowed in model text)"
    if tok.kind is TokenKind.STRING:
        return " (strings are not allowed in model text)"
    return ""
