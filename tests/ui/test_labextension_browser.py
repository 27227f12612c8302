"""The nlme-lab JupyterLab extension in a real JupyterLab, as installed in this environment
(``make venv`` links it; a wheel installs it): it loads without console errors, the launcher
card creates untitled.nlm from the template, a .nlm file opens in the editor with the model
language's highlighting, a typed error is underlined with the parser's message (from the server
extension, no kernel), "Open in nlme_lab Lab" on the file yields a running Lab, and on a data
file without a same-named model it asks which model (Cancel writes nothing).

The tests share one page and run in file order, in the folder ``labext/`` of the server's root.
Screenshots: tests/ui/artifacts/labext_*.png (labext_editor_error.png is docs/labextension.png).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from nlme_lab.jupyter.check import check_model_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "nlme_lab" / "examples"
TEMPLATE = ROOT / "js" / "src" / "labextension" / "untitled.nlm"
FOLDER = "labext"
TIMEOUT_MS = 60_000
LAB_TIMEOUT_MS = 300_000  # the Lab compiles its model: minutes when numba's caches are cold
EDITOR = ".jp-FileEditor:visible"  # the current file editor
PLUGIN_ACTIVE = "() => window.jupyterapp && window.jupyterapp.isPluginActivated('nlme-lab:plugin')"
CURRENT = """() => { const w = window.jupyterapp.shell.currentWidget;
  return w && w.context ? {path: w.context.path, mime: w.content.model && w.content.model.mimeType,
                           factory: w.context && w.constructor.name} : null; }"""
# the computed colour of the first token whose text is `text` in the current editor
TOKEN_COLOR = """(text) => {
  const editor = window.jupyterapp.shell.currentWidget.node.querySelector('.cm-content');
  const span = Array.from(editor.querySelectorAll('.cm-line span')).find(s => s.textContent === text);
  return span ? getComputedStyle(span).color : null;
}"""
PLAIN_COLOR = """() => getComputedStyle(
  window.jupyterapp.shell.currentWidget.node.querySelector('.cm-line')).color"""


def _expect():
    from playwright.sync_api import expect

    return expect


def _read(lab, path: str) -> str:
    with urllib.request.urlopen(f"{lab.url}/api/contents/{path}?content=1&token={lab.token}", timeout=10) as reply:
        return json.load(reply)["content"]


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts):
    folder = jupyter_lab.root / FOLDER
    folder.mkdir()
    for name in ("theo_sd.nlm", "theo_sd.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    jupyter_lab.start_clean()
    context = browser.new_context(viewport={"width": 1400, "height": 820})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.problems = []  # console errors and uncaught exceptions, in order
    page.on("console", lambda msg: msg.type == "error" and page.problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda err: page.problems.append(f"page error: {err}"))
    page.goto(f"{jupyter_lab.url}/lab/tree/{FOLDER}?token={jupyter_lab.token}")
    try:
        page.wait_for_function(PLUGIN_ACTIVE)
    except Exception as err:
        page.screenshot(path=artifacts / "labext_0_setup_failed.png")
        raise AssertionError(f"the nlme-lab extension did not load (is it installed? `make venv` links it): {err}\n"
                             f"{page.problems}\n{jupyter_lab.log_tail()}") from err
    page.locator(".jp-DirListing-itemText", has_text="theo_sd.nlm").wait_for()
    try:
        yield page
    finally:
        context.close()


def test_extension_loads_without_console_errors(page, jupyter_lab):
    extensions = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
                               ".federated_extensions.map(e => e.name)")
    assert "nlme-lab" in extensions
    assert "nlme_lab: model checks at" in jupyter_lab.log_tail(100_000)  # the server extension too
    assert page.problems == []


def test_launcher_card_creates_untitled_nlm_from_the_template(page, jupyter_lab, artifacts):
    page.evaluate(f"window.jupyterapp.commands.execute('launcher:create', {{cwd: '{FOLDER}'}}).then(() => null)")  # the launcher widget is not serialisable
    card = page.locator(".jp-LauncherCard:visible", has_text="NLME model")
    _expect()(card).to_be_visible()
    page.screenshot(path=artifacts / "labext_launcher.png")
    card.click()
    page.wait_for_function(f"() => {{ const c = ({CURRENT})(); return c && c.path === '{FOLDER}/untitled.nlm'; }}")
    assert _read(jupyter_lab, f"{FOLDER}/untitled.nlm") == TEMPLATE.read_text()
    _expect()(page.locator(f"{EDITOR} .cm-content")).to_contain_text("[model]")
    assert page.problems == []


def test_a_model_file_opens_in_the_editor_with_highlighting(page):
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="theo_sd.nlm"))
    _expect()(item).to_have_attribute("data-file-type", "nlm")
    _expect()(item.locator(".jp-DirListing-itemIcon svg")).to_have_attribute("data-icon", "nlme-lab:model")
    item.dblclick()
    page.wait_for_function(f"() => {{ const c = ({CURRENT})(); return c && c.path === '{FOLDER}/theo_sd.nlm'; }}")
    assert page.evaluate(CURRENT)["mime"] == "text/x-nlme-model"
    tab_icon = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabIcon svg")
    _expect()(tab_icon).to_have_attribute("data-icon", "nlme-lab:model")
    _expect()(page.locator(f"{EDITOR} .cm-content")).to_contain_text("cp ~ add(add_sd)")
    plain = page.evaluate(PLAIN_COLOR)
    colors = {text: page.evaluate(TOKEN_COLOR, text) for text in ("[ini]", "linCmt", "0.6", "# log ka (1/h)")}
    assert None not in colors.values(), colors  # each is a token of its own
    assert plain not in colors.values(), (plain, colors)  # and coloured as such
    assert len(set(colors.values())) >= 3, colors  # section, keyword, number, label differ


# the launcher beside the current editor (for the screenshot the README shows)
LAUNCHER_BESIDE = """async (cwd) => {
  const app = window.jupyterapp, editor = app.shell.currentWidget;
  const launcher = await app.commands.execute('launcher:create', {cwd});
  app.shell.add(launcher, 'main', {mode: 'split-right', ref: editor.id});
  app.shell.activateById(editor.id);
}"""


def test_a_typed_error_is_underlined_with_the_parsers_message(page, artifacts):
    page.evaluate(LAUNCHER_BESIDE, FOLDER)
    line = page.locator(f"{EDITOR} .cm-line", has_text="cl = exp(tcl + eta_cl)")
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.type("l")  # eta_cl -> eta_cll
    underline = page.locator(f"{EDITOR} .cm-lintRange-error")
    _expect()(underline).to_have_text("eta_cll")
    text = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.getSource()")
    (expected,) = check_model_text(text).diagnostics
    underline.hover()
    tooltip = page.locator(".cm-tooltip-lint .cm-diagnostic")
    _expect()(tooltip.locator(".cm-diagnosticSource")).to_have_text("nlme_lab")
    _expect()(tooltip).to_have_text(f"{expected.message} (line {expected.line}:{expected.column})nlme_lab")
    assert expected.message == "'eta_cll' is not defined in the model; did you mean eta_cl?"
    page.screenshot(path=artifacts / "labext_editor_error.png")
    page.keyboard.press("Backspace")  # fixed: the underline goes
    _expect()(underline).to_have_count(0)
    page.keyboard.press("Control+s")
    assert page.problems == []


def test_open_in_lab_on_a_model_file_runs_a_lab(page, jupyter_lab, artifacts):
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="theo_sd.csv"))
    item.click(button="right")
    _expect()(page.locator(".lm-Menu-itemLabel", has_text="Open in nlme_lab Lab")).to_be_visible()
    page.keyboard.press("Escape")
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="theo_sd.nlm"))
    item.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Open in nlme_lab Lab").click()
    page.wait_for_function(f"() => {{ const c = ({CURRENT})(); return c && c.path === '{FOLDER}/theo_sd_lab.ipynb'; }}")
    notebook = _read(jupyter_lab, f"{FOLDER}/theo_sd_lab.ipynb")
    assert ["".join(cell["source"]) for cell in notebook["cells"]] == [
        'import nlme_lab as nl\n\nnl.Lab(data="theo_sd.csv", model="theo_sd.nlm")']
    started = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .nlme-fit-start")
    try:
        started.wait_for(state="attached", timeout=LAB_TIMEOUT_MS)
    finally:
        page.screenshot(path=artifacts / "labext_open_in_lab.png")
    errors = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0 or "Traceback" not in errors.all_inner_texts()[0]
    assert page.problems == []


def test_open_in_lab_on_a_data_file_asks_which_model(page, jupyter_lab, artifacts):
    shutil.copy(EXAMPLES / "pheno.csv", jupyter_lab.root / FOLDER / "pheno.csv")  # no pheno.nlm beside it
    page.evaluate("window.jupyterapp.commands.execute('filebrowser:refresh').then(() => null)")
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="pheno.csv"))
    dialog = page.locator(".jp-Dialog")
    for choice in (None, "theo_sd.nlm"):
        item.click(button="right")
        page.locator(".lm-Menu-itemLabel", has_text="Open in nlme_lab Lab").click()
        _expect()(dialog).to_contain_text("Open pheno.csv with which model?")
        assert dialog.locator("option").all_inner_texts() == ["theo_sd.nlm", "untitled.nlm"]
        if choice is None:
            page.screenshot(path=artifacts / "labext_which_model.png")
            dialog.locator(".jp-Dialog-button", has_text="Cancel").click()
            _expect()(dialog).to_have_count(0)
            names = {p.name for p in (jupyter_lab.root / FOLDER).iterdir()}
            assert "theo_sd_lab-1.ipynb" not in names  # cancelled: nothing written
        else:
            dialog.locator("select").select_option(choice)
            dialog.locator(".jp-mod-accept").click()
    page.wait_for_function(f"() => {{ const c = ({CURRENT})(); return c && c.path === '{FOLDER}/theo_sd_lab-1.ipynb'; }}")
    notebook = _read(jupyter_lab, f"{FOLDER}/theo_sd_lab-1.ipynb")
    assert ["".join(cell["source"]) for cell in notebook["cells"]] == [
        'import nlme_lab as nl\n\nnl.Lab(data="pheno.csv", model="theo_sd.nlm")']
    ran = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt", has_text="[1]")
    ran.wait_for(timeout=LAB_TIMEOUT_MS)  # the cell ran (a Lab of theo_sd.nlm on pheno's data: what was asked for)
    page.screenshot(path=artifacts / "labext_open_data_file.png")
    assert page.problems == []
