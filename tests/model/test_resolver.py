"""The resolver alone: IR contents of the shared models, expression mapping, located checks."""

import math

import pytest
import sympy

from nlme_lab.errors import ModelError
from nlme_lab.model.consteval import evaluate
from nlme_lab.model.ir import DoseModifier, Endpoint, ErrorKind, ErrorTerm, LinCmt, OmegaBlock, symbol
from nlme_lab.model.parser import parse, parse_expression
from nlme_lab.model.resolver import resolve, resolve_text

from tests.conftest import MODELS


@pytest.fixture(scope="module")
def irs():
    return {p.stem: resolve_text(p.read_text()).ir for p in MODELS.glob("*.nlm")}


def S(name):
    return symbol(name)


def test_theo_sd_ir(irs):
    ir = irs["theo_sd"]
    assert [(t.name, t.label) for t in ir.thetas] == [
        ("tka", "log ka (1/h)"), ("tcl", "log CL (L/h)"), ("tv", "log V (L)"), ("add_sd", "additive residual SD (mg/L)"),
    ]
    assert [t.init for t in ir.thetas] == [math.log(1.57), math.log(2.72), math.log(31.5), 0.7]
    assert all(t.lower == -math.inf and t.upper == math.inf and not t.fixed for t in ir.thetas)
    assert [r.name for r in ir.etas] == ["eta_ka", "eta_cl", "eta_v"] and ir.kappas == ()
    assert ir.omega == (OmegaBlock(("eta_ka",), (0.6,), line=7), OmegaBlock(("eta_cl",), (0.3,), line=8),
                        OmegaBlock(("eta_v",), (0.1,), line=9))
    assert ir.covariates == () and ir.compartments == ("depot", "central")
    assert ir.lincmt == LinCmt(n_cmt=1, has_depot=True, line=16, variable="cp")
    assert [(a.name, a.expr, a.line) for a in ir.statements] == [
        ("ka", sympy.exp(S("tka") + S("eta_ka")), 13),
        ("cl", sympy.exp(S("tcl") + S("eta_cl")), 14),
        ("v", sympy.exp(S("tv") + S("eta_v")), 15),
        ("cp", S("central") / S("v"), 16),
    ]
    assert [a.depends_on_state for a in ir.statements] == [False, False, False, True]
    assert ir.odes == () and ir.initial == () and ir.dose_modifiers == ()
    assert ir.endpoints == (Endpoint("cp", (ErrorTerm(ErrorKind.ADD, "add_sd"),), 17),)


def test_symbols_are_real_everywhere(irs):
    for ir in irs.values():
        exprs = [a.expr for a in ir.statements] + [e for _, e, _ in ir.odes] + [e for _, e, _ in ir.initial]
        for expr in exprs:
            assert all(s.is_real for s in expr.free_symbols), expr


def test_pheno_covariates_and_boolean_as_number(irs):
    ir = irs["pheno"]
    assert ir.covariates == ("WT", "APGR") and ir.covariate_lines == (12, 13)
    assert ir.compartments == ("central",) and ir.lincmt.n_cmt == 1 and not ir.lincmt.has_depot
    assert [(t.name, t.lower) for t in ir.thetas] == [("tvcl", 0), ("tvv", 0), ("apgr_v", -0.99), ("prop_sd", 0)]
    v = next(a.expr for a in ir.statements if a.name == "v")
    values = {S("tvv"): 1.0, S("WT"): 2.0, S("apgr_v"): 0.5, S("eta_v"): 0.0}
    assert float(v.subs({**values, S("APGR"): 3})) == pytest.approx(3.0)  # 1 * 2 * (1 + 0.5)
    assert float(v.subs({**values, S("APGR"): 7})) == pytest.approx(2.0)
    assert v.has(sympy.Piecewise)


def test_warfarin_pkpd_compartments_and_flags(irs):
    ir = irs["warfarin_pkpd"]
    assert ir.compartments == ("depot", "gut", "center", "effect")
    assert [c for c, _, _ in ir.odes] == list(ir.compartments)
    assert ir.initial == (("effect", S("e0"), 41),)
    flags = {a.name: a.depends_on_state for a in ir.statements}
    assert flags["dcp"] and flags["pd"] and flags["cp"] and not flags["kin"] and not flags["emax"]
    emax = next(a.expr for a in ir.statements if a.name == "emax")
    assert float(emax.subs({S("temax"): math.log(4), S("eta_emax"): 0})) == pytest.approx(0.8)
    assert [e.variable for e in ir.endpoints] == ["cp", "effect"]
    assert ir.endpoints[0].terms == (ErrorTerm(ErrorKind.ADD, "pkadd_sd"), ErrorTerm(ErrorKind.PROP, "prop_sd"))
    assert len(ir.etas) == 8 and ir.covariates == ()


def test_wang2007_is_algebraic_in_time(irs):
    for stem, kind in (("wang2007_add", ErrorKind.ADD), ("wang2007_prop", ErrorKind.PROP)):
        ir = irs[stem]
        assert ir.compartments == () and ir.covariates == () and ir.lincmt is None
        f = next(a for a in ir.statements if a.name == "f")
        assert f.depends_on_time and not f.depends_on_state
        assert all(t.fixed for t in ir.thetas) and ir.omega[0].fixed
        assert ir.endpoints[0].terms[0].kind is kind


def test_nmtest_dose_modifiers_from_covariates(irs):
    ir = irs["nmtest"]
    assert ir.covariates == ("BIOAV", "LAGT", "DUR2")
    assert ir.compartments == ("depot", "center") and ir.random_effects == () and ir.omega == ()
    assert [(m, c, e) for m, c, e, _ in ir.dose_modifiers] == [
        (DoseModifier.F, "center", S("BIOAV")), (DoseModifier.ALAG, "center", S("LAGT")), (DoseModifier.DUR, "center", S("DUR2")),
    ]
    assert all(t.fixed for t in ir.thetas)
    cp = next(a.expr for a in ir.statements if a.name == "cp")
    assert cp == 1000 * S("center") / S("v")


def test_lincmt_odes_equal_the_explicit_ode_model(irs):
    lin, ode = irs["theo_sd"], irs["theo_sd_ode"]
    rename = {S("center"): S("central")}
    explicit = {c.replace("center", "central"): e.subs(rename) for c, e, _ in ode.odes}
    assert [c for c, _ in lin.lincmt.odes()] == list(explicit) == list(lin.compartments)
    assert all(sympy.simplify(e - explicit[c]) == 0 for c, e in lin.lincmt.odes())


@pytest.mark.parametrize("extra,n_cmt,states", [
    ("", 1, ("depot", "central")),
    ("q = 1\nv2 = 3\n", 2, ("depot", "central", "periph1")),
    ("q = 1\nv2 = 3\nq2 = 2\nv3 = 5\n", 3, ("depot", "central", "periph1", "periph2")),
])
def test_lincmt_size_from_assigned_names_and_mass_balance(extra, n_cmt, states):
    text = f"[ini]\ns = 1\n[model]\nka = 1\ncl = 2\nv = 10\n{extra}cp = linCmt()\ncp ~ add(s)\n"
    ir = resolve_text(text).ir
    assert ir.lincmt.n_cmt == n_cmt and ir.compartments == states
    total = sum(e for _, e in ir.lincmt.odes())
    assert sympy.simplify(total + S("cl") * S("central") / S("v")) == 0  # only elimination leaves


def test_kappas_and_blocks_order_and_occasion():
    text = """[ini]
kappa_cl ~ 0.05 | OCC
eta_cl + eta_v ~ [0.1, 0.01, 0.2]
tcl = 1
s = 1
[model]
cl = tcl * exp(eta_cl + kappa_cl + eta_v)
cl ~ add(s)
"""
    ir = resolve_text(text).ir
    assert [(r.name, r.occasion) for r in ir.random_effects] == [("eta_cl", None), ("eta_v", None), ("kappa_cl", "OCC")]
    assert [b.names for b in ir.omega] == [("eta_cl", "eta_v"), ("kappa_cl",)]
    assert ir.omega[0].values == (0.1, 0.01, 0.2)


@pytest.mark.parametrize("text", [
    "log10(100) + logit(0.25) * expit(-0.3)",
    "abs(-2.5) + min(3, 1.5, 2) - max(-1, -4)",
    "sqrt(2) ** 3 / sin(0.3) + cos(1)",
    "(1 if 2 < 3 <= 3 else 5) + (4 if not (1 > 2) and (0 or 1) else 9)",
    "(2 < 1) * 10 + (3 > 1) * 100 + True - (1 == 1) + (2 != 2)",
    "-2 ** 2 + 2 ** -1 + 2 ^ 3 ^ 2",
    "exp(1e-3) * log(1.57) - 7 / 2 * 1.5",
])
def test_sympy_expressions_match_the_constant_evaluator(text):
    """Two independent implementations of the same language must agree on constants."""
    from nlme_lab.model.expressions import ExprBuilder

    node = parse_expression(text)
    built = ExprBuilder(lambda n: S(n.id)).build(node)
    assert float(built) == pytest.approx(evaluate(node), rel=1e-14)


def test_functions_map_to_the_documented_sympy_forms():
    from nlme_lab.model.expressions import ExprBuilder

    b = ExprBuilder(lambda n: S(n.id))
    x = S("x")
    assert b.build(parse_expression("log10(x)")) == sympy.log(x) / sympy.log(10)
    assert b.build(parse_expression("logit(x)")) == sympy.log(x / (1 - x))
    assert b.build(parse_expression("expit(x)")) == 1 / (1 + sympy.exp(-x))
    assert b.build(parse_expression("abs(x)")) == sympy.Abs(x)
    assert b.build(parse_expression("a if x > 1 else b")) == sympy.Piecewise((S("a"), x > 1), (S("b"), True))
    assert b.build(parse_expression("x > 1")) == sympy.Piecewise((1, x > 1), (0, True))


def test_time_dependence_is_transitive():
    text = "[ini]\ns = 1\n[model]\na = 2 * t\nb = a + 1\nc = WT * 2\ny = b + c\ny ~ add(s)\n"
    flags = {a.name: a.depends_on_time for a in resolve_text(text).ir.statements}
    assert flags == {"a": True, "b": True, "c": False, "y": True}


def _errors(text):
    with pytest.raises(ModelError) as info:
        resolve(parse(text), text)
    return [(d.line, d.column, d.message) for d in info.value.diagnostics]


BASE = """[ini]
tka = log(1.57)
tcl = log(2.72)
tv  = log(31.5)
eta_ka ~ 0.6
add_sd = 0.7
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl)
v  = exp(tv)
cp = linCmt()
cp ~ add(add_sd)
"""


@pytest.mark.parametrize("old,new,line,col,needle", [
    ("ka = exp(tka + eta_ka)", "ka = exp(tka + eta_ka) * cl", 8, 26, "'cl' is used before it is assigned (at line 9)"),
    ("cl = exp(tcl)", "tcl = 3\ncl = exp(tcl)", 9, 1, "cannot assign to 'tcl': it is a parameter"),
    ("tv  = log(31.5)", "tcl = log(31.5)", 4, 1, "parameter 'tcl' is declared twice (first at line 3)"),
    ("cp ~ add(add_sd)", "cp ~ add(addsd)", 12, 10, "residual parameter 'addsd' in add() is not declared"),
    ("cp ~ add(add_sd)", "cq ~ add(add_sd)", 12, 1, "observation variable 'cq' is not defined"),
    ("cp = linCmt()", "cp = linCmt()\nd/dt(x) = -x", 11, 1, "both linCmt() and d/dt()"),
    ("eta_ka ~ 0.6", "eta_ka + eta_b ~ [0.1, 0.5, 0.1]", 5, 18, "not positive definite"),
    ("add_sd = 0.7", "add_sd = (0, 0.7, 0.5)", 6, 14, "outside its bounds"),
    ("add_sd = 0.7", "add_sd = (0, 0)", 6, 14, "on a bound"),
    ("v  = exp(tv)", "vc = exp(tv)", 11, 1, "linCmt() needs 'cl' and 'v'"),
    ("cp ~ add(add_sd)", "cp ~ add(eta_ka)", 12, 10, "'eta_ka' is a random effect"),
    ("eta_ka ~ 0.6", "eta_ka ~ -0.6", 5, 10, "must be > 0"),
    ("eta_ka ~ 0.6", "eta_ka + eta_b ~ [0.1, 0.2]", 5, 18, "expected 3 values"),
    ("tka = log(1.57)", "tka = log(-1)", 2, 7, "outside its domain"),
    ("ka = exp(tka + eta_ka)", "ka = exp(tka + eta_ka) / (1 - 1)", 8, 6, "division by zero"),
    ("cl = exp(tcl)", "cl = exp(tcl)\ncl = 2", 10, 1, "'cl' is assigned twice (first at line 9)"),
    ("ka = exp(tka + eta_ka)", "t = 1\nka = exp(tka + eta_ka)", 8, 1, "'t' is time"),
    ("cp = linCmt()", "f(gut) = 0.5\ncp = linCmt()", 11, 3, "'gut' in f(gut) is not a compartment (compartments: depot, central)"),
    ("cp ~ add(add_sd)", "cp ~ lnorm(add_sd) + add(add_sd)", 12, 1, "lnorm() cannot be combined"),
    ("cp ~ add(add_sd)", "x = 1", 7, 1, "no observation line"),
])
def test_semantic_errors_are_located(old, new, line, col, needle):
    assert old in BASE
    errors = _errors(BASE.replace(old, new))
    assert any((line, col) == (l, c) and needle in m for l, c, m in errors), errors


def test_compartment_and_variable_clash_and_several_errors_at_once():
    text = """[ini]
s = 1
[model]
d/dt(center) = -center + WT
center = 3
y = center + undefined_later
undefined_later = 1
y ~ add(nope)
"""
    errors = _errors(text)
    assert [(l, c) for l, c, _ in errors] == [(4, 26), (5, 1), (6, 14), (8, 9)]
    assert "'WT' in d/dt(center) is not a compartment" in errors[0][2]  # a column reaches an ODE through a variable
    assert "compartment" in errors[1][2] and "used before" in errors[2][2] and "nope" in errors[3][2]


def test_dose_modifier_must_not_depend_on_state():
    text = "[ini]\ns = 1\n[model]\nd/dt(a) = -a\nf(a) = a / 2\na ~ add(s)\n"
    ((line, col, msg),) = _errors(text)
    assert (line, col) == (5, 8) and "must not depend on compartment amounts" in msg


def test_unused_eta_is_a_located_warning_not_an_error():
    result = resolve_text(BASE.replace("eta_ka ~ 0.6", "eta_ka ~ 0.6\neta_x ~ 0.2"))
    (warning,) = result.warnings
    assert (warning.line, warning.column, warning.severity) == (6, 1, "warning")
    assert "eta_x" in warning.message


def test_kappas_must_share_one_occasion_column():
    text = "[ini]\nk1 ~ 0.1 | OCC\nk2 ~ 0.1 | VISIT\ns = 1\n[model]\ny = k1 + k2\ny ~ add(s)\n"
    ((line, col, msg),) = _errors(text)
    assert (line, col) == (3, 12) and "same occasion column" in msg
