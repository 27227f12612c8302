"""The parser alone: syntax tree shapes, precedence, statement kinds, located syntax errors."""


import pytest

from nlme_lab.errors import ModelError
from nlme_lab.model import ast as A
from nlme_lab.model.parser import parse, parse_expression

from tests.conftest import MODELS


def N(x):
    return A.Name(x)


def F(v):
    return A.Num(float(v))


@pytest.mark.parametrize(
    "text,tree",
    [
        ("1 + 2 * x", A.BinOp("+", F(1), A.BinOp("*", F(2), N("x")))),
        ("a - b - c", A.BinOp("-", A.BinOp("-", N("a"), N("b")), N("c"))),
        ("a / b * c", A.BinOp("*", A.BinOp("/", N("a"), N("b")), N("c"))),
        ("a ** b ** c", A.BinOp("**", N("a"), A.BinOp("**", N("b"), N("c")))),
        ("a ^ b", A.BinOp("**", N("a"), N("b"))),
        ("-2 ** 2", A.UnaryOp("-", A.BinOp("**", F(2), F(2)))),
        ("2 ** -1", A.BinOp("**", F(2), A.UnaryOp("-", F(1)))),
        ("-a * b", A.BinOp("*", A.UnaryOp("-", N("a")), N("b"))),
        ("(a + b) * c", A.BinOp("*", A.BinOp("+", N("a"), N("b")), N("c"))),
        ("a < b <= c", A.Compare(N("a"), ("<", "<="), (N("b"), N("c")))),
        ("a + 1 == b", A.Compare(A.BinOp("+", N("a"), F(1)), ("==",), (N("b"),))),
        ("not a and b or c", A.BoolOp("or", (A.BoolOp("and", (A.Not(N("a")), N("b"))), N("c")))),
        ("not a < b", A.Not(A.Compare(N("a"), ("<",), (N("b"),)))),
        ("a if c else b", A.IfExp(N("a"), N("c"), N("b"))),
        ("a if c else b if d else e", A.IfExp(N("a"), N("c"), A.IfExp(N("b"), N("d"), N("e")))),
        ("x + 1 if a or b else 0", A.IfExp(A.BinOp("+", N("x"), F(1)), A.BoolOp("or", (N("a"), N("b"))), F(0))),
        ("max(a, 1, b)", A.Call("max", (N("a"), F(1), N("b")))),
        ("exp(-k * t)", A.Call("exp", (A.BinOp("*", A.UnaryOp("-", N("k")), N("t")),))),
        ("True + False", A.BinOp("+", A.Bool(True), A.Bool(False))),
        ("(APGR < 5)", A.Compare(N("APGR"), ("<",), (F(5),))),
        ("1e-3", F(0.001)),
    ],
)
def test_expression_trees_follow_python_precedence(text, tree):
    assert parse_expression(text) == tree


def test_spans_cover_the_written_text():
    expr = parse_expression("  a * (b + c)")
    assert (expr.span.line, expr.span.col, expr.span.end_col) == (1, 3, 14)
    assert (expr.right.span.col, expr.right.span.end_col) == (7, 14)  # with its parentheses


INI = """[ini]
tka = log(1.57)      # log ka (1/h)
tcl = (0, 1.2)
tv  = (0, 30, 100)   # V
add_sd = fix(0.7)
lo = fix(0, 1, 2)
eta_ka ~ 0.6         # BSV ka
eta_cl + eta_v ~ [0.1, 0.01, 0.2]
eta_f ~ fix(0.1)
kappa_cl ~ 0.05 | OCC
kb1 + kb2 ~ fix([1, 0.1, 1]) | OCC
[model]
cp = tka
cp ~ add(add_sd)
"""


def test_ini_statements():
    prog = parse(INI)
    tka, tcl, tv, add_sd, lo, eta_ka, blk, eta_f, kappa, kblk = prog.ini
    assert tka == A.ThetaDecl("tka", A.Call("log", (F(1.57),)), label="log ka (1/h)")
    assert tcl == A.ThetaDecl("tcl", F(1.2), lower=F(0))
    assert tv == A.ThetaDecl("tv", F(30), lower=F(0), upper=F(100), label="V")
    assert add_sd == A.ThetaDecl("add_sd", F(0.7), fixed=True)
    assert lo == A.ThetaDecl("lo", F(1), lower=F(0), upper=F(2), fixed=True)
    assert eta_ka == A.RandomDecl(("eta_ka",), (F(0.6),), label="BSV ka")
    assert blk == A.RandomDecl(("eta_cl", "eta_v"), (F(0.1), F(0.01), F(0.2)), block=True)
    assert eta_f == A.RandomDecl(("eta_f",), (F(0.1),), fixed=True)
    assert kappa == A.RandomDecl(("kappa_cl",), (F(0.05),), occasion="OCC")
    assert kblk == A.RandomDecl(("kb1", "kb2"), (F(1), F(0.1), F(1)), block=True, fixed=True, occasion="OCC")
    assert [s.name for s in prog.sections] == ["ini", "model"]


def test_ini_spans_locate_values_for_editing():
    prog = parse(INI)
    tv, kblk = prog.ini[2], prog.ini[-1]
    assert (tv.spec_span.col, tv.spec_span.end_col) == (7, 19)  # "(0, 30, 100)"
    assert (tv.init.span.col, tv.init.span.end_col) == (11, 13)  # "30"
    assert (kblk.spec_span.col, kblk.inner_span.col) == (13, 17)  # "fix([..." and "[..."


MODEL = """[ini]
a = 1
[model]
d/dt(depot) = -ka * depot
d / dt (center) = ka * depot
center(0) = 5
f(depot) = 0.8
alag(depot) = 0.5
rate(center) = 2
dur(center) = 3
f = 10 * exp(-t)
cp = linCmt()
cp ~ add(a) + prop(b)
y ~ lnorm(s)
"""


def test_model_statements():
    prog = parse(MODEL)
    assert prog.model == (
        A.Ode("depot", A.BinOp("*", A.UnaryOp("-", N("ka")), N("depot"))),
        A.Ode("center", A.BinOp("*", N("ka"), N("depot"))),
        A.Initial("center", F(5)),
        A.DoseMod("f", "depot", F(0.8)),
        A.DoseMod("alag", "depot", F(0.5)),
        A.DoseMod("rate", "center", F(2)),
        A.DoseMod("dur", "center", F(3)),
        A.Assign("f", A.BinOp("*", F(10), A.Call("exp", (A.UnaryOp("-", N("t")),)))),
        A.LinCmtAssign("cp"),
        A.Observe("cp", (A.ErrorTermNode("add", "a"), A.ErrorTermNode("prop", "b"))),
        A.Observe("y", (A.ErrorTermNode("lnorm", "s"),)),
    )
    assert (prog.model[0].name_span.line, prog.model[0].name_span.col) == (4, 6)


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.nlm")), ids=lambda p: p.name)
def test_every_shared_model_parses(path):
    prog = parse(path.read_text())
    assert prog.ini and prog.model
    assert any(isinstance(s, A.Observe) for s in prog.model)


def _error(text):
    with pytest.raises(ModelError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    "line,col,needle",
    [
        ("cl = exq(tcl)", 6, "unknown function 'exq'; did you mean exp?"),
        ("cl = exp(tcl", 13, "expected ')' or ','"),
        ("cl = tcl +", 11, "expected an expression, found end of line"),
        ("cl = tcl eta", 10, "expected an operator or end of line, found name 'eta'"),
        ("cl == tcl", 4, "expected '=' or '~' after 'cl'"),
        ("cl = 1 if a", 12, "expected 'else'"),
        ("cl = min(a)", 6, "min() takes at least 2 arguments (1 given)"),
        ("cl = exp(a, b)", 6, "exp() takes exactly 1 argument (2 given)"),
        ("lag(depot) = 1", 1, "unknown dose modifier 'lag'; did you mean alag?"),
        ("cp ~ addd(s)", 6, "unknown error model 'addd'; did you mean add?"),
        ("cp ~ add(0.5)", 10, "residual parameter"),
        ("~ add(s)", 1, "expected the observed variable before '~'"),
        ("cl = (1, 2)", 8, "a tuple is not allowed here"),
        ("cl = exp", 6, "'exp' is a function"),
        ("cl = 2 * linCmt()", 10, "linCmt() must be the whole right-hand side"),
        ("x(1) = 2", 3, "expected x(0) for an initial condition"),
    ],
)
def test_syntax_errors_are_located(line, col, needle):
    err = _error(f"[ini]\na = 1\n[model]\n{line}\n")
    assert needle in err.diagnostics[0].message
    assert (err.line, err.column) == (4, col)


def test_several_broken_lines_are_reported_at_once():
    err = _error("[ini]\na = 1\n[model]\nx = exq(1)\ny = (2\nz = 3 +\ncp = x\n")
    assert [(d.line, d.column) for d in err.diagnostics] == [(4, 5), (5, 7), (6, 8)]
    assert str(err).startswith("unknown function 'exq' at line 4:5; did you mean exp?")
    # every problem is in the message, not only the first
    assert str(err).splitlines() == [
        "unknown function 'exq' at line 4:5; did you mean exp? (and 2 more)",
        "  line 5:7: expected ')' to close '(', found end of line",
        "  line 6:8: expected an expression, found end of line",
    ]


def test_structure_errors():
    assert "missing [model] section" in _error("[ini]\na = 1\n").diagnostics[0].message
    err = _error("a = 1\n[model]\ncp ~ add(a)\n")
    assert (err.line, err.column) == (1, 1) and "section header" in str(err)
    err = _error("[ini]\n[modle]\n")
    assert any("did you mean [model]?" in d.message and d.line == 2 for d in err.diagnostics)
    err = _error("[model]\n[model]\n")
    assert "appears twice" in err.diagnostics[0].message and err.line == 2


def test_ini_errors():
    err = _error("[ini]\ntcl = (0, 1, 2, 3)\neta ~ [0.1\nk ~ 1 | \n[model]\n")
    assert [(d.line, d.column) for d in err.diagnostics] == [(2, 7), (3, 11), (4, 9)]
