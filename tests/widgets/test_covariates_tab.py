"""The Lab's Covariates tab in a plain Python process: relations offered, a search run in the
background with the live table, Stop, and the final model adopted into the editor."""

from __future__ import annotations

import html

import pytest

import nlme_lab as nl

pytest.importorskip("anywidget")
pytest.importorskip("jupyter_bokeh")


@pytest.fixture(scope="module")
def lab():
    return nl.Lab(nl.example_path("pheno_base.nlm"), nl.example_path("pheno.csv"))


def test_tab_offers_every_relation_and_forms(lab):
    tab = lab.tool("Covariates")
    assert tab is lab.tool("Covariates")  # built once
    assert tab.parameters == ["cl", "v"] and tab.covariates == ["WT", "APGR"]
    assert set(tab.checks) == {("cl", "WT"), ("cl", "APGR"), ("v", "WT"), ("v", "APGR")}
    assert tab.forms["WT"].value == "linear" and tab.forms["APGR"].value == "linear"  # APGR has 10 levels
    tab.start()
    assert "Tick at least one relation" in tab.status.value and not tab.running


def test_search_fills_the_table_and_adopts_the_final_model(lab):
    tab = lab.tool("Covariates")
    seen = []
    tab.table.observe(lambda change: seen.append(change["new"]), names="value")
    tab.checks[("cl", "WT")].value = True
    tab.checks[("v", "WT")].value = True
    tab.start(wait=True)
    assert tab.result is not None and set(tab.result.final_relations) == {"cl-WT", "v-WT"}
    assert len(seen) > 3 and "fitted" in "".join(seen)  # live rows before the step tables
    assert tab.table.value.count("<tr data-chosen='true'>") == 2
    assert "final relations v-WT, cl-WT" in tab.status.value and not tab.adopt_button.disabled
    assert lab.history.records[-1].label == "SCM final: v-WT, cl-WT"
    assert "search = nl.scm(model, data, {'cl': ['WT'], 'v': ['WT']}" in html.unescape(tab.code.value)
    cells = tab.to_cells()  # the Lab's export: the same search from the same base model
    assert len(cells) == 1 and lab.to_cells()[-1] == cells[0]
    namespace = {"nl": nl, "data": lab.dataset}
    exec(cells[0], namespace)
    assert namespace["search"].final_relations == tab.result.final_relations
    assert namespace["search"].final_fit.ofv == pytest.approx(tab.result.final_fit.ofv, rel=1e-9)
    tab.adopt()
    assert lab.editor.value == tab.result.final_model.text and lab.tabs.selected_index == 1
    assert "cov_cl_wt" in lab.editor.value


def test_stop_ends_the_search(lab):
    tab = lab.tool("Covariates")
    for key, box in tab.checks.items():
        box.value = key[1] == "APGR"
    tab.table.observe(lambda change: tab.stop(), names="value")  # stop at the first live row
    tab.start(wait=True)
    assert tab.result is not None and tab.result.stopped
    assert "Stopped" in tab.status.value and tab.adopt_button.disabled and not tab.start_button.disabled
