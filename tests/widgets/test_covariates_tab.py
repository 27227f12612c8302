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


def test_every_candidate_fit_lands_in_the_history(lab):
    """A search of cl-WT alone: the base model, the forward candidate and the backward one are
    History rows with their step labels and the OFVs of the step table, then the final fit."""
    tab = lab.tool("Covariates")
    for key, box in tab.checks.items():
        box.value = key == ("cl", "WT")
    n0 = len(lab.history)
    tab.start(wait=True)
    assert tab.result is not None and not tab.result.stopped and tab.result.final_relations == ("cl-WT",)
    records = lab.history.records[n0:]
    assert [r.label for r in records] == ["scm base model", "scm step 1: +cl-WT (linear)",
                                          "scm step 2: -cl-WT (linear)", "SCM final: cl-WT"]
    steps = tab.result.steps
    assert records[0].ofv == pytest.approx(tab.result.base_ofv, abs=1e-9)
    assert records[1].ofv == pytest.approx(float(steps["ofv"].iloc[0]), abs=1e-9)
    assert records[2].ofv == pytest.approx(float(steps["ofv"].iloc[1]), abs=1e-9)
    assert records[1].ofv < records[0].ofv - 3.84  # weight on CL is significant on pheno
    assert records[2].ofv == pytest.approx(records[0].ofv, abs=1e-6)  # the backward candidate is the base model
    assert records[1].fit.model.text == tab.result.candidates[0].model_text  # the candidate's model
    assert "cl_wt" in records[1].estimates and records[1].method == "focei"
    shown = lab.history_view.rows()[n0:]
    assert len(shown) == 4 and "scm step 1: +cl-WT (linear)" in " ".join(map(str, shown[1].values()))


def test_stop_ends_the_search(lab):
    tab = lab.tool("Covariates")
    for key, box in tab.checks.items():
        box.value = key[1] == "APGR"
    tab.table.observe(lambda change: tab.stop(), names="value")  # stop at the first live row
    tab.start(wait=True)
    assert tab.result is not None and tab.result.stopped
    assert "Stopped" in tab.status.value and tab.adopt_button.disabled and not tab.start_button.disabled

