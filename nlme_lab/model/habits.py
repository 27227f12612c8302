"""What to write instead: hints for lines written in the habits of nlmixr2 (R) or NONMEM.

The parser asks ``explain`` only about a line it could not parse, so a hint never changes what
a valid line means; it replaces the generic syntax error by one that says what to write in
this language (``tests/shared/models/README.md``).
"""

from __future__ import annotations

from nlme_lab.model.source import Span
from nlme_lab.model.tokens import Token, TokenKind

Hint = tuple[str, Span]


def explain(tokens: list[Token], section: str | None) -> Hint | None:
    """A hint for a line that failed to parse (``tokens`` end with NEWLINE/EOF), or None."""
    toks = [t for t in tokens if t.kind not in (TokenKind.NEWLINE, TokenKind.EOF)]
    if not toks:
        return None
    for rule in (_r_block, _r_arrow, _r_dotted_name, _r_label):
        hint = rule(toks)
        if hint is not None:
            return hint
    rules = {"ini": (_r_c_vector_ini,), "model": (_r_random_in_model, _r_lincmt_observed, _r_if_block, _r_c_vector)}
    for rule in rules.get(section or "", ()):
        hint = rule(toks)
        if hint is not None:
            return hint
    return None


def _line_span(toks: list[Token]) -> Span:
    return Span(toks[0].line, toks[0].col, toks[-1].end_col)


def _is_name(tok: Token, *texts: str) -> bool:
    return tok.kind is TokenKind.NAME and (not texts or tok.text in texts)


def _touch(a: Token, b: Token) -> bool:
    return a.end_col == b.col


def _r_block(toks):
    """``ini({`` / ``model({`` / a lone ``})``: nlmixr2's function blocks."""
    first = toks[0]
    if _is_name(first, "ini", "model") and len(toks) > 1 and toks[1].is_op("("):
        return (f"nlmixr2's {first.text}({{ ... }}) blocks are not model text; write [{first.text}] on a line "
                "of its own, then one statement per line", _line_span(toks))
    if first.kind is TokenKind.ERROR and "'}'" in first.text:
        return "nlmixr2's closing '})' is not model text; a section ends where the next [section] starts", _line_span(toks)
    return None


def _r_arrow(toks):
    """``cl <- exp(...)``: R's assignment arrow."""
    for a, b, c in zip(toks, toks[1:], toks[2:]):
        if _is_name(a) and b.is_op("<") and c.is_op("-") and _touch(b, c):
            return f"'<-' is R's assignment; write '=' ({a.text} = ...)", Span(b.line, b.col, c.end_col)
    return None


def _r_dotted_name(toks):
    """``add.sd``, ``eta.cl``: R names with a dot."""
    for a, dot, b in zip(toks, toks[1:], toks[2:]):
        if dot.kind is TokenKind.DOT and _is_name(a) and _is_name(b) and _touch(a, dot) and _touch(dot, b):
            if b.text.startswith("_"):
                continue
            return (f"names cannot contain '.'; write {a.text}_{b.text} (R's {a.text}.{b.text} is not a name here, "
                    "and attribute access is not allowed in model text)", dot.span)
    return None


def _r_label(toks):
    """``label("Ka")``: nlmixr2's parameter labels."""
    if _is_name(toks[0], "label") and len(toks) > 1 and toks[1].is_op("("):
        return ("label(...) is nlmixr2's; a parameter's label is the comment on its [ini] line "
                "(tka = 0.45  # Ka (1/h))", _line_span(toks))
    return None


def _r_c_vector_ini(toks):
    """``tcl = c(0, 1, 10)`` (bounds) or ``eta_a + eta_b ~ c(...)`` (a block) in [ini]."""
    for k, tok in enumerate(toks[:-1]):
        if _is_name(tok, "c") and toks[k + 1].is_op("("):
            name = toks[0].text
            if any(t.is_op("~") for t in toks[:k]):
                names = " + ".join(t.text for t in toks[:k] if _is_name(t))
                return (f"c(...) is R, not model text; write an omega block in brackets, lower triangle by rows: "
                        f"{names} ~ [var, cov, var]", tok.span)
            return f"c(...) is R, not model text; write bounds as (low, value) or (low, value, high): {name} = (0, 1, 10)", tok.span
    return None


def _r_c_vector(toks):
    for k, tok in enumerate(toks[:-1]):
        if _is_name(tok, "c") and toks[k + 1].is_op("("):
            return ("c(...) (R's vector) does not exist in model text; each statement computes one value, and "
                    "bounds (low, value, high) and omega blocks [var, cov, var] belong in [ini]", tok.span)
    return None


def _r_random_in_model(toks):
    """``eta_cl ~ 0.1`` written in [model]."""
    if len(toks) >= 3 and _is_name(toks[0]) and toks[1].is_op("~"):
        value = toks[2]
        if value.kind is TokenKind.NUMBER or value.is_op("[") or _is_name(value, "fix"):
            return (f"'{toks[0].text} ~ {value.text}...' declares a random effect, which belongs in [ini], not in "
                    "[model]; in [model], '~' gives an observed variable its error model (cp ~ add(add_sd))",
                    Span(value.line, value.col, toks[-1].end_col))
    return None


def _r_lincmt_observed(toks):
    """``linCmt() ~ add(add_sd)``: nlmixr2 observes linCmt() directly."""
    if _is_name(toks[0], "linCmt") and any(t.is_op("~") for t in toks):
        tilde = next(i for i, t in enumerate(toks) if t.is_op("~"))
        error = " ".join(t.text for t in toks[tilde + 1:]).replace("( ", "(").replace(" )", ")").replace(" (", "(")
        return (f"linCmt() cannot be observed directly; name the prediction, then observe it: cp = linCmt() "
                f"on one line, cp ~ {error or 'add(add_sd)'} on the next", _line_span(toks))
    return None


def _r_if_block(toks):
    """``if (WT > 70) {``: R/rxode2 if blocks."""
    if toks[0].is_keyword("if"):
        return ("there are no if blocks; write a conditional expression, x = a if condition else b "
                "(or a boolean as a number: x = a * (WT > 70) + b * (WT <= 70))", _line_span(toks))
    return None
