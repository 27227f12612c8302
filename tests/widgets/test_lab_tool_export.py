"""The Lab's export carries the tool tabs' results: the cells of an opened Design tab, run after
the session's own cells, give the tab's Fisher information again."""

from __future__ import annotations

import pytest

import nlme_lab as nl

pytest.importorskip("jupyter_bokeh")


def test_export_cells_rebuild_the_design_tabs_fim(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lab = nl.Lab(data=nl.example_path("theo_sd.csv"), model=nl.example_path("theo_sd.nlm"))
    before = lab.to_cells()
    tab = lab.tool("Design")
    tab.times.value = "0.5, 2, 8, 24"
    cells = lab.to_cells()
    assert cells[:len(before)] == before and len(cells) == len(before) + len(tab.to_cells())
    namespace: dict = {}
    for code in cells:
        exec(code, namespace)
    assert namespace["design"] == tab.design
    assert namespace["design_fim"].ln_det == pytest.approx(tab.last_result.ln_det, rel=1e-12)
    assert namespace["design_fim"].rse_percent.to_dict() == pytest.approx(tab.last_result.rse_percent.to_dict())


def test_an_unused_validation_tab_adds_no_cells():
    lab = nl.Lab(data=nl.example_path("theo_sd.csv"), model=nl.example_path("theo_sd.nlm"))
    before = lab.to_cells()
    assert lab.tool("Validation").to_cells() == []
    assert lab.to_cells() == before
