"""ModelEditor without a browser: messages from the front end are fed through ipywidgets'
own message handling (``_handle_msg``), as the kernel's comm would deliver them."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nlme_lab as nl
from nlme_lab.model.functions import FUNCTIONS

pytest.importorskip("anywidget")
from nlme_lab.widgets import ModelEditor  # noqa: E402
from nlme_lab.widgets.editor import StatusKind  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js"
THEO = (ROOT / "nlme_lab" / "examples" / "theo_sd.nlm").read_text()
KA_LINE = "ka = exp(tka + eta_ka)"


def _line_col(text: str, needle: str) -> tuple[int, int]:
    """1-based line:column of the first occurrence of needle."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def _from_browser_update(editor, **state):
    """A trait update as the front end sends it (method 'update')."""
    editor._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def _from_browser_custom(editor, content):
    """A custom message as ``model.send(content)`` in the front end sends it."""
    editor._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


@pytest.fixture(scope="module")
def theo():
    model = nl.Model(THEO, name="theo_sd")
    model.compiled.compile_all()  # once per module (cached on disk after the first run)
    return model


@pytest.fixture
def editor(theo):
    editor = ModelEditor(theo)
    editor.sent = []
    editor.send = lambda content, buffers=None: editor.sent.append(content)  # what goes to the browser
    return editor


# ---------------------------------------------------------------- construction
def test_opened_with_a_model_it_is_the_working_model(editor, theo):
    assert editor.model is theo
    assert editor.value == editor.compiled_text == THEO
    assert editor.model_ok and editor.diagnostics == []
    assert editor.status_kind == StatusKind.COMPILED.value


def test_opened_with_text_there_is_no_working_model_yet():
    editor = ModelEditor(THEO)
    assert editor.model is None and editor.compiled_text == ""
    assert editor.model_ok and editor.status_kind == StatusKind.PARSES.value
    assert "Compile" in editor.status


def test_opened_empty():
    editor = ModelEditor()
    assert (editor.value, editor.model_ok, editor.diagnostics, editor.status_kind) == ("", False, [], "empty")


def test_rejects_other_types():
    with pytest.raises(TypeError, match="Model or model text"):
        ModelEditor(42)


def test_esm_is_the_bundled_file_of_the_package():
    bundle = ROOT / "nlme_lab" / "widgets" / "static" / "editor.js"
    editor = ModelEditor()
    assert editor._esm == bundle.read_text()
    assert "export" in editor._esm and len(editor._esm) > 100_000  # CodeMirror is in it


# ---------------------------------------------------------------- diagnostics as you type
def test_a_syntax_error_is_located_at_line_and_column(editor):
    text = THEO.replace(KA_LINE, "ka = exp(tka + eta_ka")  # missing ')'
    _from_browser_update(editor, value=text)
    line, col = _line_col(text, "ka = exp(tka + eta_ka")
    end = col + len("ka = exp(tka + eta_ka")  # the parser points just after the line's end
    assert editor.diagnostics == [
        {
            "line": line,
            "column": end,
            "end_column": end + 1,
            "message": "expected ')' or ',' in the arguments of exp(), found end of line",
            "severity": "error",
        }
    ]
    assert (line, end) == (13, 22)
    assert not editor.model_ok
    assert editor.status_kind == "error" and editor.status.startswith("✗ line 13:22: expected ')'")


def test_every_error_is_reported_in_order(editor):
    text = THEO.replace("add_sd = 0.7", "add_sd = 0.7$").replace("cp ~ add(add_sd)", "cp ~ 1")
    _from_browser_update(editor, value=text)
    located = [(d["line"], d["column"], d["severity"]) for d in editor.diagnostics]
    dollar = _line_col(text, "$")
    tilde_rhs = _line_col(text, "~ 1")
    assert located == [(*dollar, "error"), (tilde_rhs[0], tilde_rhs[1] + 2, "error")]
    assert "'$' is not allowed" in editor.diagnostics[0]["message"]
    assert "(and 1 more)" in editor.status


def test_model_warnings_are_diagnostics_of_severity_warning(editor):
    text = THEO.replace("eta_v  ~ 0.1", "eta_v  ~ 0.1\neta_q ~ 0.2")
    _from_browser_update(editor, value=text)
    line, col = _line_col(text, "eta_q")
    assert editor.diagnostics == [
        {
            "line": line,
            "column": col,
            "end_column": col + len("eta_q"),
            "message": "random effect 'eta_q' is declared but never used in [model]",
            "severity": "warning",
        }
    ]
    assert editor.model_ok and editor.status_kind == "parses" and "1 warning" in editor.status


def test_fixing_the_text_clears_the_diagnostics(editor):
    _from_browser_update(editor, value=THEO.replace(KA_LINE, "ka = exp(tka + eta_ka"))
    assert editor.diagnostics and not editor.model_ok
    _from_browser_update(editor, value=THEO)
    assert editor.diagnostics == [] and editor.model_ok
    assert editor.status_kind == "compiled"  # back to the working model's text


def test_typing_never_touches_the_working_model(editor, theo):
    _from_browser_update(editor, value=THEO.replace("0.7", "0.8"))
    assert editor.model is theo and editor.compiled_text == THEO
    assert editor.status_kind == "parses"


# ---------------------------------------------------------------- compile
def test_compile_replaces_the_model_only_when_it_compiles(editor, theo):
    seen = []
    editor.on_model(seen.append)
    broken = THEO.replace(KA_LINE, "ka = exp(tka + eta_ka")
    _from_browser_custom(editor, {"type": "compile", "text": broken})
    assert editor.model is theo and editor.compiled_text == THEO and seen == []
    assert editor.value == broken and not editor.model_ok  # the editor shows the typo's diagnostics
    assert editor.diagnostics[0]["line"] == 13
    assert editor.status_kind == "error" and "working model is unchanged" in editor.status
    assert editor.sent[-1]["type"] == "compiled" and editor.sent[-1]["ok"] is False

    good = THEO.replace("add_sd = 0.7", "add_sd = 0.5")
    _from_browser_custom(editor, {"type": "compile", "text": good})
    assert editor.model is not theo and editor.model.text == good
    assert editor.model.initial_values()["add_sd"] == 0.5
    assert editor.compiled_text == good and editor.value == good
    assert seen == [editor.model]
    assert editor.status_kind == "compiled" and editor.sent[-1] == {"type": "compiled", "ok": True, "message": editor.status}


def test_an_unexpected_compile_failure_keeps_the_model(editor, theo, monkeypatch, caplog):
    import nlme_lab.model.codegen as codegen

    def broken_codegen(ir):
        raise RuntimeError("numba could not type it")

    monkeypatch.setattr(codegen, "compile_model", broken_codegen)
    seen = []
    editor.on_model(seen.append)
    with caplog.at_level(logging.ERROR):
        _from_browser_custom(editor, {"type": "compile", "text": THEO.replace("0.7", "0.9")})
    assert editor.model is theo and editor.compiled_text == THEO and seen == []
    assert editor.status == "✗ compile failed (RuntimeError: numba could not type it); the working model is unchanged"
    assert editor.sent[-1]["ok"] is False
    assert "compiling the model failed" in caplog.text


def test_callbacks_fire_for_each_new_model_and_can_be_removed(editor):
    first, second = [], []
    editor.on_model(first.append)
    editor.on_model(second.append)
    editor.on_model(first.append)  # registering twice calls it once
    assert editor.compile(THEO.replace("0.7", "0.6"))
    assert editor.compile(THEO.replace("0.7", "0.65"))
    assert [m.initial_values()["add_sd"] for m in first] == [0.6, 0.65] and first == second
    editor.on_model(second.append, remove=True)
    assert editor.compile(THEO)
    assert len(first) == 3 and len(second) == 2 and first[-1] is editor.model


def test_a_failing_callback_is_reported_and_the_browser_still_gets_an_answer(editor, caplog):
    def bad_callback(model):
        raise ValueError("plot failed")

    editor.on_model(bad_callback)
    with caplog.at_level(logging.ERROR):
        _from_browser_custom(editor, {"type": "compile", "text": THEO.replace("0.7", "0.75")})
    assert editor.compiled_text == THEO.replace("0.7", "0.75")  # the model did compile
    assert editor.status_kind == "error" and "on_model callback failed: ValueError: plot failed" in editor.status
    assert editor.sent[-1]["type"] == "compiled" and "plot failed" in editor.sent[-1]["message"]


def test_a_context_check_underlines_its_problems_and_blocks_compile(theo):
    from nlme_lab.errors import BindError, Diagnostic

    def no_tv(model):  # a stand-in for the Lab's binding to its dataset
        if "tv + eta_v" not in model.text:
            raise BindError("'TV2' is no column", diagnostics=[Diagnostic("'TV2' is no column", 15, 10, 13)])

    editor = ModelEditor(theo, check=no_tv)
    editor.send = lambda content, buffers=None: None
    text = THEO.replace("tv + eta_v", "TV2 + eta_v")
    editor.value = text
    assert not editor.model_ok and editor.status == "✗ 'TV2' is no column"
    assert [(d["line"], d["column"], d["severity"]) for d in editor.diagnostics] == [
        (15, 10, "error"), (6, 1, "warning")]  # and the model's own warning: tv is no longer used
    assert not editor.compile(text) and editor.model is theo
    assert editor.status == "✗ not compiled: 'TV2' is no column\nThe working model is unchanged."


def test_compile_without_text_compiles_the_current_value(editor):
    editor.value = THEO.replace("0.7", "0.71")
    assert editor.compile()
    assert editor.compiled_text == editor.value and editor.model.initial_values()["add_sd"] == 0.71


# ---------------------------------------------------------------- other messages
def test_front_end_errors_are_kept_and_logged(editor, caplog):
    with caplog.at_level(logging.ERROR):
        _from_browser_custom(
            editor, {"type": "frontend_error", "where": "msg:custom", "message": "boom", "stack": "at x"}
        )
    assert editor.frontend_errors == [{"where": "msg:custom", "message": "boom", "stack": "at x"}]
    assert "front end error in msg:custom: boom" in caplog.text


def test_unknown_messages_are_ignored_with_a_warning(editor, theo, caplog):
    with caplog.at_level(logging.WARNING):
        _from_browser_custom(editor, {"type": "no_such_thing"})
    assert "ignored a message" in caplog.text and editor.model is theo and editor.sent == []


# ---------------------------------------------------------------- packaging and the JS sources
def test_import_nlme_lab_widgets_does_not_load_anywidget():
    code = "import sys, nlme_lab, nlme_lab.widgets; print('anywidget' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def _node_available() -> bool:
    return shutil.which("node") is not None and (JS / "node_modules" / "@codemirror").is_dir()


@pytest.mark.skipif(not _node_available(), reason="node or js/node_modules missing (run `make js`)")
def test_js_unit_tests_pass():
    out = subprocess.run(["node", "--test", "test/"], capture_output=True, text=True, cwd=JS, timeout=60)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout


@pytest.mark.skipif(not _node_available(), reason="node or js/node_modules missing (run `make js`)")
def test_highlighted_functions_are_the_languages_whitelist():
    code = "import('./src/lib/nlm_language.js').then(m => console.log(JSON.stringify([...m.FUNCTIONS])))"
    out = subprocess.run(["node", "-e", code], capture_output=True, text=True, cwd=JS, timeout=60, check=True)
    assert sorted(json.loads(out.stdout)) == sorted(FUNCTIONS)
