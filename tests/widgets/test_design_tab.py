"""The Lab's Design tab in a plain Python process: typed and dragged times move the RSE bars to
``nl.fim``'s numbers; the background optimisation animates and lands on the optimum."""

from __future__ import annotations

import numpy as np
import pytest

import nlme_lab as nl

pytest.importorskip("jupyter_bokeh")
from nlme_lab.design import Design  # noqa: E402
from nlme_lab.widgets.design_tab import DesignTab  # noqa: E402


@pytest.fixture(scope="module")
def tab():
    model = nl.Model.from_file(nl.example_path("warfarin_design.nlm"))
    return DesignTab(model=model, design=Design.from_json(nl.example_path("warfarin_design.json")))


def _bars(tab):
    return dict(zip(tab.rse_source.data["name"], np.asarray(tab.rse_source.data["rse"], float)))


def test_bars_are_the_fim_rses(tab):
    ref = nl.fim(tab.model, tab.design)
    assert _bars(tab) == pytest.approx(ref.rse_percent.to_dict())
    assert "ln det" in tab.status.value and tab.timings["update_s"] < 2


def test_typing_and_dragging_times_update_the_bars(tab):
    before = _bars(tab)["tka"]
    tab.times.value = "0.5, 24, 120"
    assert tab.design.groups[0].times[0][1] == (0.5, 24.0, 120.0)
    assert _bars(tab)["tka"] != pytest.approx(before)
    new = dict(tab.times_source.data)
    new["t"] = [2.0, 24.0, 120.0]
    tab.times_source.data = new  # what a drag in the browser does to the source
    assert tab.design.groups[0].times[0][1] == (2.0, 24.0, 120.0)
    ref = nl.fim(tab.model, tab.design)
    assert _bars(tab) == pytest.approx(ref.rse_percent.to_dict())
    assert tab.times.value == "2, 24, 120"


def test_scale_and_singular_design(tab):
    tab.scale.value = "variance"
    assert tab.last_result.scale == "variance"
    tab.scale.value = "declared"
    tab.times.value = "6"
    assert "singular" in tab.status.value and "not identifiable" in tab.rse_source.data["label"]


def test_optimise_in_the_background(tab):
    tab.times.value = "10, 50, 100"
    tab.windows.value = "0:120"
    steps = []
    tab.rse_source.on_change("data", lambda a, o, n: steps.append(1))
    opt = tab.optimise(wait=True)
    assert opt is not None and not tab.running
    np.testing.assert_allclose(tab.design.groups[0].times[0][1], [1.71, 3.77, 120.0], atol=0.1)
    assert len(steps) > 2  # the bars moved while it ran
    assert "efficiency" in tab.status.value


def test_late_echoes_of_the_animation_do_not_undo_the_optimum(tab):
    """In the browser each marker push comes back through ``design-dragged``, late when the
    optimiser animates fast: replaying those echoes after the run must leave the optimum and
    its status alone (they used to reset the design to an intermediate step)."""
    optimum, status = tab.design.groups[0].times[0][1], tab.status.value
    pushed = list(tab._pushed)
    assert len(pushed) > 3  # the animation pushed intermediate designs
    for times in pushed[:-1] + pushed[-1:]:
        tab.dragged_source.data = {"t": list(times)}
    assert tab.design.groups[0].times[0][1] == optimum
    assert tab.status.value == status
    tab.dragged_source.data = {"t": [1.0, 5.0, 120.0]}  # a real drag still moves the design
    assert tab.design.groups[0].times[0][1] == (1.0, 5.0, 120.0)


def test_the_lab_has_the_design_tab():
    from nlme_lab.widgets.lab import TOOL_TABS

    assert ("Design", "nlme_lab.widgets.design_tab:make_design_tab") in TOOL_TABS


def test_the_lab_builds_the_tab_from_its_model_and_data():
    lab = nl.Lab(nl.example_path("theo_sd.nlm"), nl.example_path("theo_sd.csv"))
    tab = lab.tool("Design")
    assert isinstance(tab, DesignTab) and tab.design.n_subjects == 12
    assert tab.last_result.parameters[0] == "tka" and np.isfinite(_bars(tab)["tcl"])


def test_cells_rebuild_the_design_and_its_numbers(tab):
    ns = {"nl": nl, "model": tab.model}
    for code in tab.to_cells():
        exec(code, ns)
    assert ns["design"] == tab.design
    assert ns["design_fim"].ln_det == pytest.approx(tab.last_result.ln_det, rel=1e-12)
