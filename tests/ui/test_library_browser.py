"""The Lab's Library tab in a real JupyterLab: the templates are listed, an option changes the
text shown, and "Put in editor" puts that text into the model editor (checked in the kernel).

Screenshots at 1280 and 1920 px wide: tests/ui/artifacts/library_<width>_*.png.
"""

from __future__ import annotations

import re

import pytest

from tests.ui.conftest import click_lab_tab, lab_notebook

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

CELLS = [
    "import nlme_lab as nl\n"
    "lab = nl.Lab(data=nl.example_path('theo_sd.csv'), model=nl.example_path('theo_sd.nlm'))\n"
    "lab",
    "print('KERNEL_EDITOR=' + repr(lab.editor.value == nl.library.one_compartment(route='oral', lag=True).text))",
]
TIMEOUT_MS = 60_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
OUT = f"{NB} .jp-OutputArea-output"
LIB = f"{OUT} .nlme-library"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts):
    with lab_notebook(browser, jupyter_lab, artifacts, "library", CELLS[:1], timeout_ms=TIMEOUT_MS) as page:
        yield page


def _expect():
    from playwright.sync_api import expect

    return expect


def _cut_at_the_right(page) -> list:
    return page.evaluate("""(sel) => {
        const lib = document.querySelector(sel);
        const clip = lib.closest('.jp-WindowedPanel-outer') || lib.closest('.jp-Notebook');
        const limit = Math.min(clip.getBoundingClientRect().right, window.innerWidth);
        return Array.from(lib.querySelectorAll('select, button, input, .nlme-library-preview'))
            .map((e) => [e.className.slice(0, 40), e.getBoundingClientRect().right, limit])
            .filter(([, right, edge]) => right > edge + 1);
    }""", LIB)


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_library_tab_lists_templates_and_shows_the_text_of_the_options(page, artifacts, width):
    expect = _expect()
    page.set_viewport_size({"width": width, "height": 1000 if width == 1280 else 1080})
    click_lab_tab(page, "Library")
    chooser = page.locator(f"{LIB} .nlme-library-chooser select")
    chooser.wait_for()
    assert chooser.locator("option").count() == 21
    chooser.select_option("one_compartment")
    page.locator(f"{LIB} .nlme-library-option-route select").select_option("oral")
    lag = page.locator(f"{LIB} .nlme-library-option-lag input")
    if not lag.is_checked():
        lag.check()
    preview = page.locator(f"{LIB} .nlme-library-preview pre")
    expect(preview).to_contain_text("alag(depot) = lag")
    expect(preview).to_contain_text("# from nl.library.one_compartment(route='oral', lag=True)")
    page.locator(LIB).scroll_into_view_if_needed()
    page.screenshot(path=artifacts / f"library_{width}_1_tab.png")
    assert not _cut_at_the_right(page)


def test_put_in_editor_fills_the_model_editor(page, artifacts):
    expect = _expect()
    page.locator(f"{LIB} .nlme-library-use button, {LIB} button.nlme-library-use").first.click()
    editor = page.locator(f"{OUT} .nlme-editor")
    expect(editor.locator(".cm-content")).to_contain_text("# one_compartment: one-compartment PK")
    expect(editor.locator(".nlme-editor-status")).to_have_text(re.compile("parses"))
    page.screenshot(path=artifacts / f"library_{page.viewport_size['width']}_2_editor.png")
    page.evaluate("(code) => { const p = window.jupyterapp.shell.currentWidget;"
                  " const cell = p.content.model.sharedModel.insertCell(1, {cell_type: 'code', source: code});"
                  " p.content.activeCellIndex = 1; return window.jupyterapp.commands.execute('notebook:run-cell'); }",
                  CELLS[1])
    out = page.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']", has_text="KERNEL_EDITOR=")
    expect(out).to_contain_text("KERNEL_EDITOR=True")
