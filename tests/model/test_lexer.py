"""The lexer alone: token kinds, texts and 1-based line:column positions."""

from nlme_lab.model.lexer import tokenize
from nlme_lab.model.tokens import TokenKind as K


def kinds_texts(text):
    return [(t.kind, t.text) for t in tokenize(text) if t.kind not in (K.NEWLINE, K.EOF)]


def test_assignment_tokens_have_line_and_column():
    toks = tokenize("[model]\n  cl = exp(tcl + eta_cl)  # clearance\n")
    section, nl1, name, eq, func, lpar = toks[:6]
    assert (section.kind, section.text, section.line, section.col) == (K.SECTION, "model", 1, 1)
    assert nl1.kind is K.NEWLINE and (nl1.line, nl1.col) == (1, 8)
    assert (name.kind, name.text, name.line, name.col, name.end_col) == (K.NAME, "cl", 2, 3, 5)
    assert (eq.text, eq.col) == ("=", 6)
    assert (func.text, func.col, lpar.text, lpar.col) == ("exp", 8, "(", 11)
    comment = next(t for t in toks if t.kind is K.COMMENT)
    assert (comment.text, comment.line, comment.col) == ("clearance", 2, 27)
    assert toks[-1].kind is K.EOF


def test_numbers_in_all_forms():
    toks = kinds_texts("1 1.5 .5 1. 1e-3 2.5E+10 0")
    assert toks == [(K.NUMBER, s) for s in ("1", "1.5", ".5", "1.", "1e-3", "2.5E+10", "0")]


def test_operators_longest_match():
    assert [t for _, t in kinds_texts("a**b^c<=d>=e==f!=g<h>i")] == list(
        ["a", "**", "b", "^", "c", "<=", "d", ">=", "e", "==", "f", "!=", "g", "<", "h", ">", "i"]
    )


def test_keywords_language_and_reserved():
    toks = kinds_texts("a if not b and c or d else True lambda import x")
    assert [k for k, _ in toks] == [
        K.NAME, K.KEYWORD, K.KEYWORD, K.NAME, K.KEYWORD, K.NAME, K.KEYWORD, K.NAME, K.KEYWORD,
        K.KEYWORD, K.KEYWORD, K.KEYWORD, K.NAME,
    ]


def test_section_header_only_when_alone_on_its_line():
    assert kinds_texts("[ini]  # parameters") == [(K.SECTION, "ini"), (K.COMMENT, "parameters")]
    assert kinds_texts("  [ model ]") == [(K.SECTION, "model")]
    toks = kinds_texts("a + b ~ [0.1, 0.01, 0.2]")
    assert (K.OP, "[") in toks and all(k is not K.SECTION for k, _ in toks)


def test_comment_anywhere_and_hash_inside_comment():
    assert kinds_texts("x = 1 # a # b") == [(K.NAME, "x"), (K.OP, "="), (K.NUMBER, "1"), (K.COMMENT, "a # b")]


def test_bad_characters_become_located_error_tokens():
    toks = [t for t in tokenize("x = 1;\ny = a @ b") if t.kind is K.ERROR]
    assert [(t.line, t.col) for t in toks] == [(1, 6), (2, 7)]
    assert "one statement per line" in toks[0].text


def test_strings_and_dots_are_lexed_for_the_parser_to_reject():
    assert kinds_texts("x = 'ab' . \"c\"") == [
        (K.NAME, "x"), (K.OP, "="), (K.STRING, "'ab'"), (K.DOT, "."), (K.STRING, '"c"'),
    ]


def test_malformed_number_and_dunder_name_are_errors():
    err = [t for t in tokenize("x = 2abc + 1e") if t.kind is K.ERROR]
    assert [(t.col, t.end_col) for t in err] == [(5, 9), (12, 14)]
    dunder = tokenize("__import__")[0]
    assert dunder.kind is K.ERROR and "reserved" in dunder.text


def test_crlf_and_tabs_keep_columns():
    toks = tokenize("a = 1\r\n\tb = 2\r\n")
    b = next(t for t in toks if t.text == "b")
    assert (b.line, b.col) == (2, 2)
    assert all(t.kind is not K.ERROR for t in toks)


def test_non_ascii_identifier_is_rejected_with_codepoint():
    (err,) = [t for t in tokenize("x = éta") if t.kind is K.ERROR]
    assert err.col == 5 and "U+00E9" in err.text


def test_empty_text_is_newline_then_eof():
    toks = tokenize("")
    assert [t.kind for t in toks] == [K.NEWLINE, K.EOF]
    assert (toks[-1].line, toks[-1].col) == (1, 1)
