"""The Lab's Covariates tab in a real JupyterLab: relations ticked in the browser, the search run
in the background with the candidate table filling in, and the final model adopted into the
editor (checked in the kernel).

Screenshots: tests/ui/artifacts/covariates_1_relations.png, covariates_2_table.png,
covariates_3_editor.png.
"""

from __future__ import annotations

import pytest

from tests.ui.conftest import click_lab_tab, lab_notebook

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

CELLS = [
    "import nlme_lab as nl\n"
    "lab = nl.Lab(nl.example_path('pheno_base.nlm'), nl.example_path('pheno.csv'))\n"
    "lab",
    "tab = lab.tool('Covariates')\n"
    "print('KERNEL_ADOPTED=' + repr(lab.editor.value == tab.result.final_model.text) + ' '"
    " + ','.join(sorted(tab.result.final_relations)))",
]
TIMEOUT_MS = 60_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
OUT = f"{NB} .jp-OutputArea-output"
COV = f"{OUT} .nlme-covariates"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts):
    with lab_notebook(browser, jupyter_lab, artifacts, "covariates", CELLS[:1], timeout_ms=TIMEOUT_MS) as page:
        yield page


def test_search_runs_from_the_browser_and_adopts_the_final_model(page, artifacts):
    from playwright.sync_api import expect

    click_lab_tab(page, "Covariates")
    for relation in ("cl-WT", "v-WT", "v-APGR"):
        page.locator(f"{COV} .nlme-covariates-relation-{relation} input").check()
    page.locator(COV).scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "covariates_1_relations.png")
    page.locator(f"{COV} button.nlme-covariates-start").click()
    status = page.locator(f"{COV} .nlme-covariates-message")
    expect(status).to_contain_text("final relations", timeout=240_000)
    expect(status).to_contain_text("v-WT, cl-WT")
    table = page.locator(f"{COV} .nlme-covariates-table table")
    expect(table.locator("tr[data-chosen='true']")).to_have_count(2)
    expect(table).to_contain_text("backward")
    assert table.locator("tbody tr").count() == 3 + 2 + 1 + 2  # forward 3, 2, 1 candidates; backward 2
    page.locator(COV).scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "covariates_2_table.png")
    page.locator(f"{COV} button.nlme-covariates-adopt").click()
    editor = page.locator(f"{OUT} .nlme-editor")
    expect(editor.locator(".cm-content")).to_contain_text("cov_cl_wt = 1 + cl_wt * (WT - 1.3)")
    page.screenshot(path=artifacts / "covariates_3_editor.png")
    page.evaluate("(code) => { const p = window.jupyterapp.shell.currentWidget;"
                  " const cell = p.content.model.sharedModel.insertCell(1, {cell_type: 'code', source: code});"
                  " p.content.activeCellIndex = 1; return window.jupyterapp.commands.execute('notebook:run-cell'); }",
                  CELLS[1])
    out = page.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']", has_text="KERNEL_ADOPTED=")
    expect(out).to_contain_text("KERNEL_ADOPTED=True cl-WT,v-WT")
