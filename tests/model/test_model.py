"""The immutable Model: views of the IR, transforms returning new models, display, laziness."""

import math
import subprocess
import sys
import warnings

import pytest

from nlme_lab.errors import ModelError, ModelWarning
from nlme_lab.model import Model

from tests.conftest import MODELS


@pytest.fixture(scope="module")
def theo():
    return Model.from_file(MODELS / "theo_sd.nlm")


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.nlm")), ids=lambda p: p.name)
def test_every_shared_model_builds_without_warnings(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Model.from_file(path)
    assert model.name == path.stem and model.warnings == ()
    assert model.ir.key() == Model(path.read_text()).ir.key()


def test_views(theo):
    assert [t.name for t in theo.thetas] == ["tka", "tcl", "tv", "add_sd"]
    assert [e.name for e in theo.etas] == ["eta_ka", "eta_cl", "eta_v"] and theo.kappas == ()
    assert theo.compartments == ("depot", "central") and theo.covariates == ()
    assert [e.variable for e in theo.endpoints] == ["cp"]
    assert theo.parameter_names() == ("tka", "tcl", "tv", "add_sd", "eta_ka", "eta_cl", "eta_v")
    assert theo.initial_values()["tcl"] == pytest.approx(math.log(2.72))
    assert theo.text == (MODELS / "theo_sd.nlm").read_text()


def test_parameter_names_of_a_block_use_pairs():
    text = "[ini]\nt1 = 1\na + b ~ [0.1, 0.01, 0.2]\nk ~ 0.3 | OCC\n[model]\ny = t1 * exp(a + b + k)\ny ~ prop(t1)\n"
    model = Model(text)
    assert model.parameter_names() == ("t1", "a", "a,b", "b", "k")
    assert model.initial_values()["a,b"] == 0.01


def test_model_is_immutable(theo):
    with pytest.raises(AttributeError):
        theo.text = "x"
    with pytest.raises(AttributeError):
        theo._ir = None
    with pytest.raises(AttributeError):
        del theo._text


def test_with_initial_edits_text_and_ir(theo):
    new = theo.with_initial(tcl=1.5, eta_v=0.25, add_sd=2)
    assert new is not theo and theo.initial_values()["add_sd"] == 0.7
    values = new.initial_values()
    assert (values["tcl"], values["eta_v"], values["add_sd"]) == (1.5, 0.25, 2.0)
    assert "tcl = 1.5      # log CL (L/h)" in new.text  # label and layout kept
    assert values["tka"] == pytest.approx(math.log(1.57)) and "tka = log(1.57)" in new.text
    assert new.ir.key() == theo.ir.key()  # initial values do not change generated code


def test_with_initial_inside_bounds_blocks_and_fixes():
    text = "[ini]\ntcl = (0, 1.2, 5)\ntv = fix(3)\na + b ~ [0.1, 0.01, 0.2]\n[model]\ny = tcl * tv * exp(a + b)\ny ~ prop(tcl)\n"
    new = Model(text).with_initial(tcl=2, tv=4, b=0.3, **{"a,b": -0.02})
    assert "tcl = (0, 2.0, 5)" in new.text and "tv = fix(4.0)" in new.text
    assert "a + b ~ [0.1, -0.02, 0.3]" in new.text
    assert new.omega[0].values == (0.1, -0.02, 0.3)


def test_with_initial_rejects_unknown_names_and_invalid_values(theo):
    with pytest.raises(ValueError, match="no parameter 'tlc'.*did you mean tcl"):
        theo.with_initial(tlc=1)
    with pytest.raises(ValueError, match="finite"):
        theo.with_initial(tcl=math.nan)
    bounded = Model("[ini]\ns = (0, 1)\n[model]\ny = s\ny ~ add(s)\n")
    with pytest.raises(ModelError, match="outside its bounds"):
        bounded.with_initial(s=-1)


def test_fix_and_unfix_round_trip():
    text = "[ini]\ntcl = (0, 1.2, 5)  # CL\ntv = 3\na + b ~ [0.1, 0.01, 0.2]\ne ~ 0.1\n[model]\ny = tcl * tv * exp(a + b + e)\ny ~ prop(tcl)\n"
    model = Model(text)
    fixed = model.fix("tcl", "tv", "a", "b", "e")
    assert [t.fixed for t in fixed.thetas] == [True, True] and all(b.fixed for b in fixed.omega)
    assert "tcl = fix(0, 1.2, 5)  # CL" in fixed.text and "tv = fix(3)" in fixed.text
    assert "a + b ~ fix([0.1, 0.01, 0.2])" in fixed.text and "e ~ fix(0.1)" in fixed.text
    assert fixed.thetas[0].lower == 0 and fixed.thetas[0].upper == 5
    assert fixed.unfix("tcl", "tv", "a", "b", "e").text == text
    assert model.fix("tv").fix("tv").text == model.fix("tv").text  # idempotent
    with pytest.raises(ValueError, match="omega block with b"):
        model.fix("a")
    with pytest.raises(ValueError, match="no parameter"):
        model.unfix("zz")


def test_unused_eta_warns_and_is_recorded():
    text = "[ini]\ns = 1\neta_x ~ 0.1\n[model]\ny = s * t\ny ~ add(s)\n"
    with pytest.warns(ModelWarning, match="line 3:1: random effect 'eta_x' is declared but never used"):
        model = Model(text)
    assert [w.severity for w in model.warnings] == ["warning"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.with_initial(s=2)  # transforms do not repeat the warning


def test_from_file_error_names_the_file(tmp_path):
    path = tmp_path / "bad.nlm"
    path.write_text("[ini]\ns = 1\n[model]\ny = exq(s)\ny ~ add(s)\n")
    with pytest.raises(ModelError) as info:
        Model.from_file(path)
    assert (info.value.line, info.value.column) == (4, 5)
    assert info.value.file == str(path)
    assert str(info.value) == f"unknown function 'exq' at line 4:5 of {path}; did you mean exp?"


def test_model_rejects_non_text():
    with pytest.raises(TypeError, match="str"):
        Model(b"[ini]")


def test_repr_html_lists_parameters_and_escapes_labels():
    text = "[ini]\ns = (0, 1)  # <script>alert(1)</script>\na + b ~ [0.1, 0.01, 0.2]\n[model]\ny = s * exp(a + b)\ny ~ add(s)\n"
    page = Model(text)._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    for cell in ("<td>s</td>", "<td>a,b</td>", "<td>ω cov</td>", "<td>0.01</td>", "<td>∞</td>"):
        assert cell in page
    assert "Model" in repr(Model(text))


def test_compiled_is_lazy_and_cached(theo, monkeypatch):
    import nlme_lab.model.codegen as codegen

    calls = []

    class Fake:
        source = "def pk(): pass"

    def fake_compile(ir):
        calls.append(ir)
        return Fake()

    monkeypatch.setattr(codegen, "compile_model", fake_compile, raising=False)
    model = Model(theo.text)
    assert calls == []
    assert model.source() == "def pk(): pass" and model.compiled is model.compiled
    assert calls == [model.ir]


def test_equality_and_hash_by_text(theo):
    same = Model(theo.text)
    assert same == theo and hash(same) == hash(theo) and theo != theo.with_initial(tcl=0)


def test_importing_the_model_package_does_not_load_sympy():
    code = "import sys, nlme_lab.model; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
