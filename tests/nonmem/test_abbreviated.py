"""Abbreviated code -> syntax tree: statements, IF blocks, operators, numbers, refusals."""

import pytest

from nlme_lab.nonmem import ControlStreamError
from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem.abbreviated import parse_code
from nlme_lab.nonmem.records import Line


def parse(text: str):
    return parse_code([Line(k, code) for k, code in enumerate(text.splitlines(), start=10)], "PK")


def test_an_assignment_with_fortran_operators_and_precedence():
    (stmt,) = parse("CL = THETA(1)*WT**0.75/70**0.75 - -2")
    assert stmt == na.Assign("CL", None, na.Binary(
        "-", na.Binary("/", na.Binary("*", na.Call("THETA", (na.Num("1"),)),
                                      na.Binary("**", na.Name("WT"), na.Num("0.75"))),
                       na.Binary("**", na.Num("70"), na.Num("0.75"))),
        na.Unary("-", na.Num("2"))), 10)


@pytest.mark.parametrize("fortran,symbol", [(".EQ.", "=="), (".NE.", "!="), (".GT.", ">"), (".GE.", ">="),
                                            (".LT.", "<"), (".LE.", "<="), ("==", "=="), ("/=", "!="),
                                            (">=", ">="), ("<=", "<="), (">", ">"), ("<", "<")])
def test_comparisons_in_both_spellings(fortran, symbol):
    (stmt,) = parse(f"IF (APGR{fortran}5) TVV = 1")
    assert stmt.branches[0][0] == na.Compare(symbol, na.Name("APGR"), na.Num("5"))
    assert stmt.one_line and stmt.orelse is None


def test_numbers_with_d_exponents_and_dotted_operators_after_digits():
    (stmt,) = parse("IF (X.EQ.1.AND.Y.GT.1.5D-3) Z = .5E1 + 1.")
    condition = stmt.branches[0][0]
    assert condition == na.Logic("and", na.Compare("==", na.Name("X"), na.Num("1")),
                                 na.Compare(">", na.Name("Y"), na.Num("1.5D-3")))
    assert condition.right.right.value == 1.5e-3
    assert stmt.branches[0][1][0].value == na.Binary("+", na.Num(".5E1"), na.Num("1."))


def test_logical_operators_and_not():
    (stmt,) = parse("IF (.NOT.(A.LT.1.OR.B.GE.2).AND.C.EQ.0) X = 1")
    condition = stmt.branches[0][0]
    assert isinstance(condition, na.Logic) and condition.op == "and"
    assert isinstance(condition.left, na.Not) and condition.left.operand.op == "or"


def test_block_if_with_else_if_and_else_in_both_endif_spellings():
    code = parse("IF (SEX.EQ.1) THEN\n CL = 1\nELSE IF (SEX.EQ.2) THEN\n CL = 2\n V = 3\nELSE\n CL = 4\nEND IF\n"
                 "IF (A.GT.0) THEN\n B = 1\nENDIF")
    first, second = code
    assert [len(body) for _, body in first.branches] == [1, 2] and len(first.orelse) == 1
    assert first.line == 10 and not first.one_line
    assert second.orelse is None and second.branches[0][1][0].target == "B"


def test_nested_if_blocks():
    (outer,) = parse("IF (A.GT.0) THEN\n IF (B.GT.0) THEN\n  X = 1\n ENDIF\nELSE\n X = 2\nENDIF")
    inner = outer.branches[0][1][0]
    assert isinstance(inner, na.If) and inner.branches[0][1][0].target == "X"


def test_continuation_lines_and_indexed_targets():
    code = parse("CL = THETA(1) &\n   * EXP(ETA(1))\nDADT(2) = -K*A(2)\nA_0(1) = 100")
    assert code[0].value == na.Binary("*", na.Call("THETA", (na.Num("1"),)), na.Call("EXP", (na.Call(
        "ETA", (na.Num("1"),)),)))
    assert (code[1].target, code[1].index, code[1].line) == ("DADT", 2, 12)
    assert code[2].label == "A_0(1)"


def test_lower_case_code_is_read_as_upper_case():
    (stmt,) = parse("cl = theta(1)*exp(eta(1))")
    assert stmt.target == "CL" and stmt.value.right.name == "EXP"


@pytest.mark.parametrize("code,message", [
    ("CALL RANDOM(2, R)", "line 10 \\(\\$PK\\): CALL statements"),
    ("IF (ICALL.EQ.4) EXIT 1 100", "EXIT"),
    ("DO WHILE (X.LT.1)", "DO loops"),
    ('"  WRITE(*,*) CL', "verbatim code"),
    ("IF (A.GT.0) THEN\nX = 1", "IF ... THEN without ENDIF"),
    ("ELSE\nX = 1", "ELSE without IF"),
    ("ENDIF", "ENDIF without IF"),
    ("IF (A.GT.0 X = 1", "unbalanced parentheses|expected"),
    ("CL = THETA(1", "expected '\\)'"),
    ("CL THETA(1)", "expected '=' after CL"),
    ("CL = 2 3", "unexpected '3'"),
    ("CL = $X", "cannot read"),
])
def test_refused_and_broken_code_names_the_line(code, message):
    with pytest.raises(ControlStreamError, match=message):
        parse(code)
