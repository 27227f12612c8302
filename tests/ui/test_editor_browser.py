"""The model editor in a real JupyterLab: typed errors are underlined with their message, fixing
clears them, Compile replaces the working model only when the text compiles, and errors in the
front end's handlers reach the kernel.

The tests share one notebook page and run in file order (each starts where the previous ended).
Screenshots of every stage: tests/ui/artifacts/editor_*.png.
"""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

CELLS = [
    # 0: the editor and a log of the models it hands to Python
    "import ipywidgets\n"
    "import nlme_lab as nl\n"
    "from nlme_lab.widgets import ModelEditor\n"
    "editor = ModelEditor(nl.Model.from_file(nl.example_path('theo_sd.nlm')))\n"
    "log = ipywidgets.Output()\n"
    "editor.on_model(lambda m: log.append_stdout(f\"new model: add_sd = {m.initial_values()['add_sd']}\\n\"))\n"
    "display(editor, log)",
    # 1: a message the front end does not know: its handler throws, and must report it
    "editor.send({'type': 'no_such_message'})",
    # 2: what the kernel received (run again at the end of the test)
    "print('front end errors:', [e['where'] + ': ' + e['message'] for e in editor.frontend_errors])",
]
KA_LINE = "ka = exp(tka + eta_ka)"
TIMEOUT_MS = 30_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the open notebook (an earlier test file's stays open, hidden)
OUT = f"{NB} .jp-OutputArea-output"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts, open_notebook):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyter_lab.root / "editor.ipynb")
    with open_notebook(browser, jupyter_lab, artifacts, "editor.ipynb", prefix="editor",
                        viewport=(1280, 1000), timeout_ms=TIMEOUT_MS) as page:
        yield page


def _editor(page):
    return page.locator(f"{OUT} .nlme-editor")


def _status(page):
    return _editor(page).locator(".nlme-editor-status")


def _line(page, text: str):
    return _editor(page).locator(".cm-line", has_text=text)


def _stdout(page, text: str):
    """A printed output (also inside an Output widget) containing text."""
    return page.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']", has_text=text)


def _shot(page, artifacts, name: str) -> None:
    """The viewport, not the panel: an element screenshot waits for the element to be stable,
    which a streaming trace never is."""
    page.screenshot(path=artifacts / f"editor_{name}.png")


def _expect():
    from playwright.sync_api import expect

    return expect


def test_editor_renders_with_highlighting(page, artifacts):
    expect = _expect()
    expect(_editor(page).locator(".cm-content")).to_be_visible()
    expect(_status(page)).to_have_text(re.compile("this is the working model"))
    assert _line(page, KA_LINE).count() == 1
    # the model language is highlighted: functions, section headers and comments have colours
    exp_color = _line(page, KA_LINE).locator("span", has_text=re.compile("^exp$")).evaluate("e => getComputedStyle(e).color")
    heading_weight = _line(page, "[model]").locator("span").first.evaluate("e => getComputedStyle(e).fontWeight")
    assert exp_color == "rgb(111, 66, 193)" and int(heading_weight) >= 600
    _shot(page, artifacts, "1_rendered")


def test_typed_error_is_underlined_with_its_message_and_fixing_clears_it(page, artifacts):
    expect = _expect()
    editor = _editor(page)
    cells_before = page.locator(f"{NB} .jp-Cell").count()
    _line(page, KA_LINE).click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")  # ka = exp(tka + eta_ka   <- ')' missing
    underline = editor.locator(".cm-lintRange-error")
    expect(underline).to_have_count(1)
    expect(_status(page)).to_have_text(re.compile(r"line 13:22: expected '\)' or ','"))
    underline.hover()
    tooltip = page.locator(".cm-tooltip-lint")
    expect(tooltip).to_contain_text("expected ')' or ',' in the arguments of exp(), found end of line (line 13:22)")
    _shot(page, artifacts, "2_error")

    page.keyboard.press("End")  # hovering moved nothing, but make sure the cursor is there
    page.keyboard.type(")")
    expect(underline).to_have_count(0)
    expect(_status(page)).to_have_text(re.compile("this is the working model"))
    # letters that are notebook command-mode shortcuts (a, b, d, m, ...) stay in the editor
    page.keyboard.type("  # absorbed, bad dm")
    expect(_line(page, "# absorbed, bad dm")).to_have_count(1)
    expect(_status(page)).to_have_text(re.compile("parses"))
    assert page.locator(f"{NB} .jp-Cell").count() == cells_before
    _shot(page, artifacts, "3_fixed")


def test_compile_replaces_the_model_only_when_it_compiles(page, artifacts):
    expect = _expect()
    editor = _editor(page)
    log = _stdout(page, "new model:")
    _line(page, "add_sd = 0.7").click()
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("add_sd = 0.5  # a new value")
    editor.locator("button.nlme-editor-compile").click()
    expect(_status(page)).to_have_text(re.compile(r"compiled in [\d.]+ s"), timeout=60_000)
    expect(log).to_have_text("new model: add_sd = 0.5")
    _shot(page, artifacts, "4_compiled")

    _line(page, "cl = exp(tcl + eta_cl)").click()
    page.keyboard.press("End")
    page.keyboard.type(" +")  # a typo: cl = exp(tcl + eta_cl) +
    page.keyboard.press("Control+Enter")  # the Compile shortcut
    expect(_status(page)).to_have_text(re.compile("compile failed: .*the working model is unchanged"))
    expect(editor.locator(".cm-lintRange-error")).to_have_count(1)
    expect(_line(page, "cl = exp(tcl + eta_cl) +")).to_have_count(1)  # Ctrl+Enter added no line
    expect(log).to_have_text("new model: add_sd = 0.5")  # no new model was handed out
    expect(editor.locator("button.nlme-editor-compile")).to_be_enabled()
    _shot(page, artifacts, "5_compile_failed")


def test_front_end_handler_errors_reach_the_kernel(page, artifacts):
    expect = _expect()
    page.evaluate(
        "() => { const panel = window.jupyterapp.shell.currentWidget;"
        " panel.content.activeCellIndex = 2;"
        " return window.jupyterapp.commands.execute('notebook:run-cell'); }"
    )
    report = _stdout(page, "front end errors:")
    expect(report).to_contain_text("msg:custom: unknown message from the kernel")
    expect(report).to_contain_text("no_such_message")
    _shot(page, artifacts, "6_frontend_error")
