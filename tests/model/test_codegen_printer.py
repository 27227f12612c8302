"""The printer and what generated code may contain: precedence, kinks, names, refusals."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
import sympy

import test_codegen_models as M
from nlme_lab.errors import ModelError
from nlme_lab.model.codegen import compile_model, generate_source
from nlme_lab.model.codegen.emit import kink_free
from nlme_lab.model.codegen.printer import Printer, UnsupportedExpression
from nlme_lab.model.ir import Assignment, DoseModifier, Endpoint, ErrorKind, ErrorTerm, ModelIR, Theta

a, b, c, x = (sympy.Symbol(n, real=True) for n in "abcx")
VALUES = {"a": 1.7, "b": -0.6, "c": 2.3, "x": 0.4}
R = sympy.Rational


def run(expr, values=VALUES) -> float:
    text = Printer({n: n for n in values})(expr)
    return eval(text, {"math": math, "__builtins__": {"abs": abs, "min": min, "max": max}}, dict(values))


@pytest.mark.parametrize("expr", [
    -x**2, x**-b, (a + b)**(c - x), a / (b * c), a / b / c, -(a * b) / c, 2**x, R(1, 3) * x,
    a**R(1, 3), sympy.sqrt(a + c), 1 / sympy.sqrt(c), a - (b - c), -(a - b)**3, (-b)**3 * a,
    sympy.exp(-x) * sympy.log(a + 1), sympy.Min(a, b, c), sympy.Max(a, x) - sympy.Abs(b - x),
    a * b**-2 * c**R(-1, 2), sympy.sin(x) / sympy.cos(x)**2, 1 - a / (1 + sympy.exp(-b)), sympy.pi * a,
    sympy.E**b, 10**(-x), a * sympy.Float("1.25e-8"), sympy.Integer(10)**30 * x,
])
def test_printed_arithmetic_evaluates_like_sympy(expr):
    want = float(expr.xreplace({sympy.Symbol(k, real=True): v for k, v in VALUES.items()}).evalf(30))
    assert run(expr) == pytest.approx(want, rel=1e-14)


def test_conditionals_and_logic():
    pw = sympy.Piecewise((a, (x < 1) & sympy.Not(b > 0)), (b, sympy.Or(c >= 3, sympy.Eq(x, 0.4))), (c, True))
    assert run(pw) == VALUES["a"]
    assert run(pw, {**VALUES, "x": 2.0, "c": 3.5}) == VALUES["b"]
    assert run(pw, {**VALUES, "x": 2.0}) == VALUES["c"]
    assert run(sympy.Piecewise((1, x > 5))) != run(sympy.Piecewise((1, x > 5)))  # nan: undefined there
    assert Printer({"x": "x"})(sympy.Piecewise((1, x < 5), (0, True))) == "(1.0 if x < 5.0 else 0.0)"


def test_derivative_helpers_print_one_sided_values():
    assert run(sympy.sign(x)) == 1.0 and run(sympy.sign(x), {"x": 0.0}) == 0.0
    assert run(sympy.Heaviside(x), {"x": -1.0}) == 0.0 and run(sympy.Heaviside(x, 1), {"x": 0.0}) == 1.0
    assert run(sympy.DiracDelta(x)) == 0.0


def test_printer_refuses_what_is_not_whitelisted():
    with pytest.raises(UnsupportedExpression):
        Printer({"x": "x"})(sympy.Function("system")(x))
    with pytest.raises(UnsupportedExpression):
        Printer({"x": "x"})(sympy.gamma(x))
    with pytest.raises(UnsupportedExpression):
        Printer({"x": "x"})(a + x)  # a has no value in this function


@pytest.mark.parametrize("expr,at", [
    (sympy.Max(x, a), {"x": 1.7}), (sympy.Min(x, a), {"x": 1.7}), (sympy.Abs(x), {"x": 0.0}),
    (sympy.Max(x, a, c), {"x": 2.3}),
])
def test_derivative_at_a_kink_takes_the_side_of_the_value(expr, at):
    values = {**VALUES, **at}
    d = run(sympy.diff(kink_free(expr), x), values)
    h = 1e-7
    left = (run(expr, values) - run(expr, {**values, "x": values["x"] - h})) / h
    right = (run(expr, {**values, "x": values["x"] + h}) - run(expr, values)) / h
    assert min(abs(d - left), abs(d - right)) < 1e-6  # one side, not the average
    assert abs(left - right) > 0.5


# ------------------------------------------------------------------------------ whole models
S = M.S


def _ir(thetas, statements, endpoints, covariates=(), compartments=(), odes=(), dose_modifiers=(), initial=()):
    return ModelIR(
        thetas=tuple(Theta(n, v, line=i + 1) for i, (n, v) in enumerate(thetas)),
        random_effects=(), omega=(), covariates=covariates, compartments=compartments,
        statements=tuple(Assignment(n, e, line) for n, e, line in statements), odes=odes,
        initial=initial, dose_modifiers=dose_modifiers,
        endpoints=tuple(Endpoint(v, (ErrorTerm(ErrorKind.ADD, "sd"),), 99) for v in endpoints),
    )


def hostile_ir() -> ModelIR:
    """Names that would shadow modules, builtins, arguments or dunders if not mangled."""
    return _ir(
        thetas=[("math", 0.3), ("range", 1.2), ("sd", 1.0)],
        covariates=("np", "abs"),
        compartments=("theta", "exp"),
        statements=[
            ("__class__", sympy.exp(S("math")) * S("np"), 10),
            ("numba", S("range") * S("abs"), 11),
            ("p", S("__class__") + S("numba"), 12),
            ("y", S("exp") / S("p"), 13),
        ],
        odes=(("theta", -S("__class__") * S("theta"), 14),
              ("exp", S("__class__") * S("theta") - S("numba") * S("exp") * S("math"), 15)),
        initial=(("theta", S("range") * 10, 16),),
        endpoints=("y",),
    )


def test_hostile_names_compile_and_behave():
    m = compile_model(hostile_ir())
    assert "v___class__" in m.source and "th_math" in m.source and "cv_np" in m.source
    theta, cov = np.array([0.3, 1.2, 1.0]), np.array([2.0, 0.5])
    got = m.evaluate_pk(theta, [], cov)
    cls, nb = math.exp(0.3) * 2.0, 1.2 * 0.5
    assert got == {"__class__": cls, "numba": nb, "p": cls + nb, "math": 0.3, "range": 1.2}
    p = np.array(list(got.values()))
    y, dydt, out, y0 = np.array([3.0, 5.0]), np.zeros(2), np.zeros(1), np.zeros(2)
    m.rhs(0.0, y, p, dydt)
    m.obs(0.0, y, p, out)
    m.init(p, y0)
    np.testing.assert_allclose(dydt, [-cls * 3.0, cls * 3.0 - nb * 5.0 * 0.3], rtol=1e-15)
    assert out[0] == pytest.approx(5.0 / (cls + nb), rel=1e-15) and y0.tolist() == [12.0, 0.0]


def _allowed_calls_only(source: str) -> None:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.Lambda, ast.ClassDef, ast.Global, ast.Nonlocal, ast.With, ast.Try))
        if isinstance(node, ast.Import):
            assert [n.name for n in node.names] == ["math"]
        if isinstance(node, ast.ImportFrom):
            assert node.module == "nlme_lab.model.codegen.runtime" and [n.name for n in node.names] == ["lazy_njit"]
        if isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name) and node.value.id == "math", ast.unparse(node)
        if isinstance(node, ast.Call):
            f = node.func
            ok = (isinstance(f, ast.Attribute) or (isinstance(f, ast.Name) and f.id in ("abs", "min", "max", "lazy_njit")))
            assert ok, ast.unparse(node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            assert not node.id.startswith("__"), node.id


@pytest.mark.parametrize("build", [hostile_ir, M.theo_sd, M.pheno, M.warfarin_pkpd, M.nmtest, M.wang2007])
def test_generated_source_only_computes(build):
    _allowed_calls_only(generate_source(build()))


@pytest.mark.parametrize("name", ["a b", "x;import os", "1x", "tcl\n", "é"])
def test_names_that_are_not_identifiers_are_refused(name):
    ir = _ir(thetas=[(name, 1.0), ("sd", 1.0)], statements=[("f", S("t") * 2, 3)], endpoints=("f",))
    with pytest.raises(ModelError):
        generate_source(ir)


def test_model_errors_name_the_line():
    ir = _ir(thetas=[("k", 1.0), ("sd", 1.0)], statements=[("f", sympy.Function("system")(S("k")), 7)], endpoints=("f",))
    with pytest.raises(ModelError, match="line 7"):
        generate_source(ir)
    ir = _ir(thetas=[("k", 1.0), ("sd", 1.0)], statements=[("f", S("k") * S("nowhere"), 8)], endpoints=("f",))
    with pytest.raises(ModelError, match="unknown name nowhere at line 8"):
        generate_source(ir)
    ir = _ir(thetas=[("k", 1.0), ("sd", 1.0)], compartments=("x",), statements=[("f", S("x"), 3)],
             odes=(("x", -S("k") * S("x"), 2),), endpoints=("f",),
             dose_modifiers=((DoseModifier.ALAG, "x", S("x") * 0.1, 5),))
    with pytest.raises(ModelError, match=r"alag\(x\) depends on a compartment amount.* at line 5"):
        generate_source(ir)


def test_reassigned_names_and_line_order():
    """k is re-assigned after the ODE that uses it: the ODE sees the first k, the endpoint the last."""
    ir = _ir(thetas=[("tk", 0.5), ("sd", 1.0)], compartments=("x",),
             statements=[("k", sympy.exp(S("tk")), 10), ("k", S("k") * 2, 12), ("f", S("x") * S("k"), 13)],
             odes=(("x", -S("k") * S("x"), 11),), endpoints=("f",))
    m = compile_model(ir)
    assert m.p_names == ("k#1", "k")
    p = np.zeros(2)
    m.pk(0.0, np.array([0.5, 1.0]), np.zeros(0), np.zeros(0), p)
    np.testing.assert_allclose(p, [math.exp(0.5), 2 * math.exp(0.5)], rtol=1e-15)
    dydt, out = np.zeros(1), np.zeros(1)
    m.rhs(0.0, np.array([3.0]), p, dydt)
    m.obs(0.0, np.array([3.0]), p, out)
    assert dydt[0] == pytest.approx(-math.exp(0.5) * 3.0, rel=1e-15)
    assert out[0] == pytest.approx(2 * math.exp(0.5) * 3.0, rel=1e-15)


def test_time_dependent_modifiers_and_direct_parameter_inputs():
    """f(depot) uses t (evaluated by pk at the record's time); an ODE reads a theta and a covariate
    directly, so both get an input slot in p."""
    ir = _ir(thetas=[("tk", 0.5), ("tlag", 0.2), ("sd", 1.0)], covariates=("WT",), compartments=("depot",),
             statements=[("fb", 1 - sympy.exp(-S("t")), 3), ("c", S("depot") / S("WT"), 5)],
             odes=(("depot", -sympy.exp(S("tk")) * S("depot") * S("WT"), 4),), endpoints=("c",),
             dose_modifiers=((DoseModifier.F, "depot", S("fb"), 6), (DoseModifier.ALAG, "depot", S("tlag") ** 2, 7)))
    m = compile_model(ir)
    assert m.p_names == ("f(depot)", "alag(depot)", "tk", "WT")
    assert m.p_kinds == ("dose_modifier", "dose_modifier", "input", "input")
    np.testing.assert_array_equal(m.dose_index[:, 0], [0, 1, -1, -1])
    got = m.evaluate_pk([0.5, 0.2, 1.0], [], [70.0], t=2.0)
    assert got == pytest.approx({"f(depot)": 1 - math.exp(-2.0), "alag(depot)": 0.04, "tk": 0.5, "WT": 70.0}, rel=1e-15)
    dp_dtheta = np.zeros((4, 3))
    m.dpk(2.0, np.array([0.5, 0.2, 1.0]), np.zeros(0), np.array([70.0]), np.zeros(4), np.zeros((4, 0)), dp_dtheta)
    np.testing.assert_allclose(dp_dtheta, [[0, 0, 0], [0, 0.4, 0], [1, 0, 0], [0, 0, 0]], rtol=1e-15)
    Fp = np.zeros((1, 4))
    m.dfdp(0.0, np.array([3.0]), np.array(list(got.values())), Fp)
    np.testing.assert_allclose(Fp, [[0, 0, -math.exp(0.5) * 3 * 70, -math.exp(0.5) * 3]], rtol=1e-14)


def test_compiled_derivatives_at_kinks_take_one_side():
    """z = max(tz, 1) + abs(tw) + min(tz, tw) at tz = 1, tw = 0: every term sits on its kink."""
    ir = _ir(thetas=[("tz", 1.0), ("tw", 0.0), ("sd", 1.0)],
             statements=[("z", sympy.Max(S("tz"), 1) + sympy.Abs(S("tw")) + sympy.Min(S("tz"), S("tw")), 3),
                         ("f", S("z") * S("t"), 4)], endpoints=("f",))
    m = compile_model(ir)

    def z(tz, tw):
        return m.evaluate_pk([tz, tw, 1.0])["z"]

    dp = np.zeros((1, 3))
    m.dpk(0.0, np.array([1.0, 0.0, 1.0]), np.zeros(0), np.zeros(0), np.zeros(1), np.zeros((1, 0)), dp)
    h = 1e-7
    for k, (dz, dw) in enumerate(((h, 0.0), (0.0, h))):
        right = (z(1.0 + dz, dw) - z(1.0, 0.0)) / h
        left = (z(1.0, 0.0) - z(1.0 - dz, -dw)) / h
        assert min(abs(dp[0, k] - left), abs(dp[0, k] - right)) < 1e-6, (k, dp[0, k], left, right)
    assert dp[0, 1] == 2.0  # abs'(0) = 1 (the tw >= 0 side) plus 1 from min(tz, tw) = tw


def test_domain_errors_give_nan_or_inf_and_never_raise():
    """Generated code runs inside engine kernels (as first-class functions): no exceptions."""
    ir = _ir(thetas=[("a", -1.0), ("b", 0.0), ("sd", 1.0)],
             statements=[("l", sympy.log(S("a")), 1), ("r", sympy.sqrt(S("a")), 2), ("d", 1 / S("b"), 3),
                         ("w", S("a") ** sympy.Rational(1, 3), 4), ("e", sympy.exp(1000 * S("sd")), 5),
                         ("f", S("t") * S("l"), 6)], endpoints=("f",))
    m = compile_model(ir)
    got = m.evaluate_pk([-1.0, 0.0, 1.0])
    assert math.isnan(got["l"]) and math.isnan(got["r"]) and math.isnan(got["w"])
    assert got["d"] == math.inf and got["e"] == math.inf
    dp = np.zeros((5, 3))
    m.dpk(0.0, np.array([-1.0, 0.0, 1.0]), np.zeros(0), np.zeros(0), np.zeros(5), np.zeros((5, 0)), dp)
    assert dp[0, 0] == -1.0 and dp[2, 1] == -math.inf and dp[4, 2] == math.inf
