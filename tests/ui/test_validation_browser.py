"""The Lab's Validation tab in a real JupyterLab: Start a bootstrap from the browser, watch the
running medians, get the forest plot (its data sources found through BokehJS); then switch to
cross-validation and get the per-fold table.

Screenshots: tests/ui/artifacts/validation_*.png.
"""

from __future__ import annotations

import re

import pytest

from tests.ui.conftest import click_lab_tab, lab_notebook

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

CELLS = [
    "import nlme_lab as nl\n"
    "lab = nl.Lab(nl.example_path('theo_sd.nlm'), nl.example_path('theo_sd.csv'))\n"
    "lab.fit('focei')\n"
    "tab = lab.tool('Validation')\n"
    "tab.n.value, tab.folds.value, tab.where.value = 5, 3, 'serial'\n"
    "lab",
]
TIMEOUT_MS = 120_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
OUT = f"{NB} .jp-OutputArea-output"
VAL = f"{OUT} .nlme-validation"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts):
    with lab_notebook(browser, jupyter_lab, artifacts, "validation", CELLS, timeout_ms=TIMEOUT_MS, ready_timeout_ms=240_000) as page:
        yield page


def _expect():
    from playwright.sync_api import expect

    return expect


def _bokeh_sources(page) -> list:
    return page.evaluate("""() => {
        const names = [];
        for (const doc of (window.Bokeh ? window.Bokeh.documents : [])) {
            for (const m of doc.all_models) { if (m.name) names.push(m.name); }
        }
        return names; }""")


def test_bootstrap_from_the_browser_shows_medians_and_the_forest_plot(page, artifacts):
    expect = _expect()
    click_lab_tab(page, "Validation")
    page.locator(f"{VAL} .nlme-validation-start").first.click()
    status = page.locator(f"{VAL} .nlme-validation-status")
    expect(status).to_contain_text(re.compile(r"of 5 replicates converged"), timeout=TIMEOUT_MS)
    expect(page.locator(f"{VAL} .nlme-validation-medians")).to_contain_text("running median")
    expect(page.locator(f"{VAL} .nlme-validation-results table")).to_contain_text("covariance_se")
    page.locator(f"{VAL} .nlme-validation-results .bk-Figure, {VAL} .nlme-validation-results canvas").first \
        .wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("""() => window.Bokeh && Array.from(window.Bokeh.documents).some(
        (d) => d.get_model_by_name('bootstrap_intervals') && d.get_model_by_name('covariance_intervals'))""")
    assert {"bootstrap_intervals", "covariance_intervals", "forest_plot"} <= set(_bokeh_sources(page))
    page.set_viewport_size({"width": 1280, "height": 1700})
    assert page.locator(f"{VAL} .nlme-validation-note").first.is_visible()  # 5 replicates: no interval, why
    page.locator(VAL).screenshot(path=artifacts / "validation_1_bootstrap.png")


def test_crossvalidation_from_the_browser_shows_the_fold_table(page, artifacts):
    expect = _expect()
    page.locator(f"{VAL} .widget-toggle-buttons button", has_text="Cross-validation").click()
    page.locator(f"{VAL} .nlme-validation-start").first.click()
    status = page.locator(f"{VAL} .nlme-validation-status")
    expect(status).to_contain_text("summed prediction OFV", timeout=TIMEOUT_MS)
    table = page.locator(f"{VAL} .nlme-validation-results table")
    expect(table).to_contain_text("prediction_ofv")
    assert table.locator("tbody tr").count() == 3
    page.locator(VAL).screenshot(path=artifacts / "validation_2_crossval.png")
