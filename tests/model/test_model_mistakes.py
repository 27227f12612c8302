"""Mistakes are reported where they are made: typos with "did you mean", undeclared states,
negative residual SDs, habits from nlmixr2, hidden characters, line ends and file problems."""

import warnings

import pytest

from nlme_lab.errors import ModelError
from nlme_lab.model import Model
from tests.conftest import MODELS

THEO = (MODELS / "theo_sd.nlm").read_text()
THEO_ODE = (MODELS / "theo_sd_ode.nlm").read_text()


def _error(text: str) -> ModelError:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelError) as info:
            Model(text)
    return info.value


def _model(text: str) -> Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Model(text)


def _where(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line:column of the ``occurrence``-th ``needle`` in ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    return line, start - (text.rfind("\n", 0, start) + 1) + 1


# ---------------------------------------------------------------------------- typos
def test_a_renamed_eta_is_an_error_where_it_is_used_with_did_you_mean():
    text = THEO.replace("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta_cll)")
    err = _error(text)
    assert [(d.line, d.column) for d in err.diagnostics] == [_where(text, "eta_cll")] == [(14, 16)]
    assert err.diagnostics[0].message == "'eta_cll' is not defined in the model; did you mean eta_cl?"
    assert str(err) == "'eta_cll' is not defined in the model at line 14:16; did you mean eta_cl?"


def test_a_typo_of_a_compartment_in_an_ode_says_did_you_mean():
    text = THEO_ODE.replace("- cl / v * center", "- cl / v * centrl")
    err = _error(text)
    assert [(d.line, d.column, d.end_column) for d in err.diagnostics] == [(16, 39, 45)]
    assert "did you mean center?" in err.diagnostics[0].message


def test_every_use_of_a_typo_is_listed():
    text = THEO.replace("cl = exp(tcl + eta_cl)", "cl = exp(tlc + eta_cl)").replace("tv + eta_v", "tvv + eta_v")
    err = _error(text)
    assert [d.message for d in err.diagnostics] == [
        "'tlc' is not defined in the model; did you mean tcl?",
        "'tvv' is not defined in the model; did you mean tv?",
    ]
    assert len(str(err).splitlines()) == 2  # the message lists both


@pytest.mark.parametrize("covariate", ["WT", "APGR", "CRCL", "AGE", "wt", "dose"])
def test_names_far_from_model_names_stay_covariates(covariate):
    text = THEO.replace("v  = exp(tv + eta_v)", f"v  = exp(tv + eta_v) * {covariate} / 70")
    assert _model(text).covariates == (covariate,)


def test_names_in_capitals_are_columns():
    pheno = (MODELS / "pheno.nlm").read_text()
    assert _model(pheno).covariates == ("WT", "APGR")  # APGR is 2 edits from the parameter apgr_v
    assert _model(THEO.replace("v  = exp(tv + eta_v)", "v  = exp(TV + eta_v)")).covariates == ("TV",)
    err = _error(THEO.replace("v  = exp(tv + eta_v)", "v  = exp(Tv + eta_v)"))
    assert "'Tv' is not defined in the model; did you mean tv?" in err.diagnostics[0].message


def test_an_ode_using_a_state_it_never_declares_is_an_error():
    text = THEO_ODE.replace("d/dt(depot)  = -ka * depot\n", "")
    err = _error(text)
    assert [(d.line, d.column) for d in err.diagnostics] == [_where(text, "depot")]
    assert err.diagnostics[0].message.startswith("'depot' in d/dt(center) is not a compartment")
    assert "d/dt(depot) = ..." in err.diagnostics[0].message


def test_a_column_reaches_an_ode_through_a_variable():
    text = THEO_ODE.replace("cl / v * center", "cl / v * center * WT / 70")
    assert "'WT' in d/dt(center)" in _error(text).diagnostics[0].message
    fixed = THEO_ODE.replace("cp = center / v", "cp = center / v").replace(
        "d/dt(depot)", "wt = WT\nd/dt(depot)").replace("cl / v * center", "cl / v * center * wt / 70")
    assert _model(fixed).covariates == ("WT",)


def test_a_negative_initial_residual_sd_is_an_error_at_its_value():
    text = THEO.replace("add_sd = 0.7", "add_sd = -0.7")
    err = _error(text)
    assert (err.line, err.column) == _where(text, "-0.7")
    assert "residual SD 'add_sd' is negative" in err.diagnostics[0].message
    bounded = _error(THEO.replace("add_sd = 0.7", "add_sd = (-1, -0.5, 2)"))
    assert "-0.5" in bounded.diagnostics[0].message
    assert _model(THEO.replace("add_sd = 0.7", "add_sd = (-1, 0.5, 2)")).thetas[-1].init == 0.5


# ---------------------------------------------------------------------------- nlmixr2 habits
HABITS = [
    ("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta_cl)\neta_x ~ 0.1",
     "'eta_x ~ 0.1...' declares a random effect, which belongs in [ini], not in [model]", "0.1"),
    ("cp = linCmt()\ncp ~ add(add_sd)", "linCmt() ~ add(add_sd)",
     "cp = linCmt() on one line, cp ~ add(add_sd) on the next", "linCmt"),
    ("tcl = log(2.72)", "tcl = c(0, 1, 10)", "write bounds as (low, value) or (low, value, high)", "c("),
    ("eta_ka ~ 0.6\neta_cl ~ 0.3", "eta_ka + eta_cl ~ c(0.6, 0.01, 0.3)",
     "eta_ka + eta_cl ~ [var, cov, var]", "c("),
    ("v  = exp(tv + eta_v)", "v  = c(1, 2)", "c(...) (R's vector) does not exist", "c("),
    ("cl = exp(tcl + eta_cl)", "cl <- exp(tcl + eta_cl)", "'<-' is R's assignment; write '=' (cl = ...)", "<-"),
    ("add_sd = 0.7", "add.sd = 0.7", "names cannot contain '.'; write add_sd", "."),
    ("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta.cl)", "write eta_cl", "."),
    ("v  = exp(tv + eta_v)", "v  = exp(tv + eta_v)\nlabel('volume')", "label(...) is nlmixr2's", "label"),
    ("v  = exp(tv + eta_v)", "if (WT > 70) {", "there are no if blocks", "if"),
]


@pytest.mark.parametrize("old,new,needle,at", HABITS, ids=[h[1].splitlines()[-1] for h in HABITS])
def test_nlmixr2_habits_say_what_to_write_instead(old, new, needle, at):
    assert old in THEO
    text = THEO.replace(old, new)
    err = _error(text)
    first = err.diagnostics[0]
    assert needle in first.message, first
    line = text.index(new)
    assert (first.line, first.column) == _where(text, at, 1 + text.count(at, 0, text.index(new)))
    assert line  # the hint is located on the line that was written


def test_nlmixr2_blocks_are_explained():
    err = _error("ini({\n  tka <- 0.45\n})\n")
    assert "nlmixr2's ini({ ... }) blocks are not model text" in err.diagnostics[0].message


# ---------------------------------------------------------------------------- characters and line ends
def test_a_carriage_return_ends_a_line_as_an_editor_shows_it():
    text = THEO.replace("add_sd = 0.7         # additive residual SD (mg/L)", "add_sd = 0.7  # label\rtq = 5")
    model = _model(text)
    assert [t.name for t in model.thetas][-2:] == ["add_sd", "tq"]  # not hidden in add_sd's label
    assert model.thetas[-2].label == "label" and "\r" not in model.text


def test_crlf_text_means_the_same_model_with_the_same_locations():
    crlf = THEO.replace("\n", "\r\n")
    assert _model(crlf).ir.key() == _model(THEO).ir.key()
    err = _error(crlf.replace("eta_cl)", "eta_cll)"))
    assert (err.line, err.column) == (14, 16)


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\u200f", "\u00ad", "\x00", "\x85", "\u2028"])
def test_invisible_or_direction_characters_are_refused_even_in_comments(char):
    for text in (THEO.replace("# log CL", f"# log {char}CL"),  # an [ini] label
                 THEO.replace("cp = linCmt()", f"cp = linCmt()  # {char}")):
        err = _error(text)
        assert (err.line, err.column) == _where(text, char)
        assert f"U+{ord(char):04X}" in err.diagnostics[0].message
    name = _error(THEO.replace("cl = exp", f"c{char}l = exp"))
    assert f"U+{ord(char):04X}" in name.diagnostics[0].message


def test_labels_may_hold_other_unicode():
    model = _model(THEO.replace("# log CL (L/h)", "# clairance µ (L/h) — ω"))
    assert model.thetas[1].label == "clairance µ (L/h) — ω"


# ---------------------------------------------------------------------------- model files
def test_a_file_with_a_byte_order_mark_reads(tmp_path):
    path = tmp_path / "bom.nlm"
    path.write_bytes(b"\xef\xbb\xbf" + THEO.encode())
    assert Model.from_file(path).ir.key() == _model(THEO).ir.key()
    assert _model("\ufeff" + THEO).ir.key() == _model(THEO).ir.key()


def test_a_file_that_is_not_utf8_names_the_file_line_and_byte(tmp_path):
    path = tmp_path / "latin1.nlm"
    data = THEO.replace("(L/h)", "(L/h) \xe9").encode("latin-1")
    path.write_bytes(data)
    with pytest.raises(ModelError) as info:
        Model.from_file(path)
    err = info.value
    offset = data.index(b"\xe9")
    assert (err.line, err.column) == _where(THEO.replace("(L/h)", "(L/h) \xe9"), "\xe9")
    assert err.file == str(path) and str(path) in str(err)
    assert f"byte 0xE9 at byte offset {offset}" in str(err)


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_a_missing_file_or_a_folder_is_a_model_error_naming_it(tmp_path, kind):
    path = tmp_path / "model.nlm"
    if kind == "folder":
        path.mkdir()
    with pytest.raises(ModelError) as info:
        Model.from_file(path)
    expected = "does not exist" if kind == "missing" else "is a folder"
    assert expected in str(info.value) and str(path) in str(info.value)
    assert info.value.line == 0  # the whole file, not a place in it


# ---------------------------------------------------------------------------- expression size
def _chain(n: int) -> str:
    lines = ["[ini]", "ta = 0.1", "eta_a ~ 0.1", "add_sd = 0.5", "[model]", "a0 = ta + eta_a"]
    lines += [f"a{i} = a{i - 1}*a{i - 1} + a{i - 1}" for i in range(1, n + 1)]
    return "\n".join([*lines, f"cp = a{n}", "cp ~ add(add_sd)", ""])


def test_a_chain_of_reused_assignments_is_stopped_where_it_grows_too_large():
    """Each line using the previous variable twice doubles the written-out expression: 40 lines
    never finished compiling (sympy differentiated 2**40-node trees). Now the model is refused
    while it is parsed, at the first line beyond the limit."""
    text = _chain(40)
    err = _error(text)
    first = err.diagnostics[0]
    assert (first.line, first.column) == _where(text, "a10 =")
    assert first.message.startswith("'a10' is too large once the variables it uses are written out")
    assert all("too large" in d.message for d in err.diagnostics)


def test_a_chain_below_the_limit_compiles_with_exact_derivatives():
    import numpy as np

    from nlme_lab.model.codegen import compile_model

    compiled = compile_model(_model(_chain(6)).ir)
    pk, dpk = compiled.kernels["pk"].py_func, compiled.kernels["dpk"].py_func  # plain Python: no numba needed
    theta, cov = np.array([0.1, 0.5]), np.zeros(0)
    n_p = compiled.n_p
    p, dp_deta, dp_dtheta = np.zeros(n_p), np.zeros((n_p, 1)), np.zeros((n_p, 2))
    dpk(0.0, theta, np.array([0.05]), cov, p, dp_deta, dp_dtheta)

    def a6(x):
        for _ in range(6):
            x = x * x + x
        return x

    out = np.zeros(n_p)
    pk(0.0, theta, np.array([0.05]), cov, out)
    k = compiled.p_index("a6")
    assert out[k] == pytest.approx(a6(0.15), rel=1e-14)
    # d a6 / d eta by the chain rule of x -> x*x + x, evaluated independently
    x, slope = 0.15, 1.0
    for _ in range(6):
        x, slope = x * x + x, slope * (2 * x + 1)
    assert dp_deta[k, 0] == pytest.approx(slope, rel=1e-13)
