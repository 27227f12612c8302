"""The Lab in a plain Python process: sliders against an independent computation, a background
fit streamed and stopped, the working model protected from typos and from failed fits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import nlme_lab as nl

pytest.importorskip("anywidget")
pytest.importorskip("jupyter_bokeh")
from nlme_lab.widgets.data_view import covariate_summary, subject_events  # noqa: E402
from nlme_lab.widgets.parameter_panel import parameter_bounds, slider_range  # noqa: E402

from tests.conftest import SHARED
from tests.plots.conftest import PKPD_TEXT
ROOT = Path(__file__).resolve().parents[2]
THEO_DATA = ROOT / "nlme_lab" / "examples" / "theo_sd.csv"
THEO_MODEL = ROOT / "nlme_lab" / "examples" / "theo_sd.nlm"


@pytest.fixture(scope="module")
def lab():
    return nl.Lab(data=THEO_DATA, model=THEO_MODEL)


def _plotted(lab, column: str) -> np.ndarray:
    """What the spaghetti overlay source holds, concatenated over subjects."""
    key = "ipred" if column == "IPRED" else "pred"
    return np.concatenate([np.asarray(v, float) for v in lab.data_view.sources["cp"][key].data[column]])


def _observed(lab, frame_column) -> np.ndarray:
    table = lab.dataset.table
    mask = (table["EVID"] == 0).to_numpy() & (table["MDV"] == 0).to_numpy()
    return np.asarray(frame_column, float)[mask]


def test_a_slider_move_redraws_pred_equal_to_nl_simulate(lab):
    lab.parameter_panel.set_values(nl.Model.from_file(THEO_MODEL).initial_values())
    lab.parameter_panel.slider("tcl").value = 1.3
    lab.parameter_panel.type_value("tv", "3.2")  # the typed box moves the slider too
    assert lab.parameter_panel.slider("tv").value == pytest.approx(3.2)
    assert lab.parameters["tcl"] == pytest.approx(1.3)
    sim = nl.simulate(THEO_MODEL, THEO_DATA, n=1, seed=3, params={"tcl": 1.3, "tv": 3.2})
    expected = _observed(lab, sim.table["PRED"])
    np.testing.assert_allclose(_plotted(lab, "PRED"), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_plotted(lab, "IPRED"), expected, rtol=1e-10, atol=1e-12)  # no fit: etas 0
    first = lab.individual_sources()[0].data
    np.testing.assert_allclose(first["PRED"], expected[: len(first["PRED"])], rtol=1e-10)
    assert lab.timings["slider_to_data_s"] > 0


def test_a_typed_value_survives_the_slider_snapping_it_to_its_grid(lab):
    panel = lab.parameter_panel
    panel.type_value("tcl", "1.6")
    slider = panel.slider("tcl")
    snapped = slider.min + round((1.6 - slider.min) / slider.step) * slider.step
    assert snapped != 1.6
    slider.value = snapped  # what the browser's slider sends back
    assert lab.parameters["tcl"] == 1.6
    slider.value = 1.6 + 3 * slider.step  # a real move is taken
    assert lab.parameters["tcl"] == pytest.approx(1.6 + 3 * slider.step)


def test_parameter_boxes_show_six_digits_and_keep_every_digit(lab):
    """A fit's estimate shows as 6 significant digits in its box; the value used (predictions,
    the next fit, the exported cells) keeps all 16. Typed text outside the bounds is clamped,
    text that is no number puts the value back."""
    panel = lab.parameter_panel
    before = lab.parameters
    panel.set_values({"tcl": 1.0123456789012345, "eta_v": 0.019080123456789})
    assert panel.box("tcl").value == "1.01235" and panel.box("eta_v").value == "0.0190801"
    assert lab.parameters["tcl"] == 1.0123456789012345 and lab.parameters["eta_v"] == 0.019080123456789
    assert lab.model.with_initial(**lab.parameters).initial_values()["tcl"] == 1.0123456789012345
    panel.type_value("eta_v", "-0.5")  # a variance: clamped at its lower bound 0
    assert lab.parameters["eta_v"] == 0.0 and panel.box("eta_v").value == "0"
    panel.type_value("tcl", "1.2.3")
    assert lab.parameters["tcl"] == 1.0123456789012345 and panel.box("tcl").value == "1.01235"
    panel.set_values(before)


def test_parameter_bounds_come_from_ini():
    model = nl.Model("[ini]\ntcl = (0.1, 1, 10)\neta_cl ~ 0.1\nsd = 0.5\n[model]\ncl = tcl*exp(eta_cl)\nv = 10\n"
                     "cp = linCmt()\ncp ~ add(sd)\n")
    bounds = parameter_bounds(model)
    assert bounds["tcl"] == (0.1, 10.0)
    assert bounds["eta_cl"][0] == 0.0
    assert slider_range(1.0, 0.1, 10.0) == (0.1, 10.0)
    assert slider_range(0.5, float("-inf"), float("inf")) == (-1.5, 2.5)


def test_a_typo_never_replaces_the_working_model(lab):
    working = lab.model
    broken = working.text.replace("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta_cl")
    assert not lab.editor.compile(broken)
    assert lab.model is working
    assert lab.editor.diagnostics and lab.editor.diagnostics[0]["severity"] == "error"
    lab.editor.value = working.text


def test_names_and_compartments_that_do_not_fit_the_data_are_shown_where_they_are(lab):
    """Typos are underlined as they are typed (the model is checked against the Lab's data), and
    Compile is refused with the reason in model terms; the working model stays."""
    working = lab.model
    typo = working.text.replace("cl = exp(tcl + eta_cl)", "cl = exp(tcl + eta_cl) * WTT / 70")
    lab.editor.value = typo
    line = typo[: typo.index("WTT")].count("\n") + 1
    assert [(d["line"], d["severity"]) for d in lab.editor.diagnostics if d["severity"] == "error"] == [(line, "error")]
    assert not lab.editor.model_ok
    assert lab.editor.status == (f"✗ 'WTT' at line {line}:26 is neither defined in the model nor a column of the "
                                 "dataset; did you mean WT?")
    assert not lab.editor.compile(typo) and lab.model is working
    assert "not compiled" in lab.editor.status and "BindError" not in lab.editor.status
    one_cmt = working.text.replace("ka = exp(tka + eta_ka)\n", "").replace("tka = ", "tk = ")
    assert not lab.editor.compile(one_cmt) and lab.model is working
    assert "observation in compartment 2, but the model has 1 compartment" in lab.editor.status
    lab.editor.value = working.text
    assert lab.editor.model_ok


def test_set_as_initial_writes_the_values_into_the_model_text(lab):
    lab.parameter_panel.set_values({"tka": 0.25, "add_sd": 0.9})
    values = lab.parameters
    lab.set_as_initial()
    assert lab.model.initial_values() == pytest.approx(values)
    assert "tka = 0.25" in lab.model.text and lab.editor.compiled_text == lab.model.text
    sim = nl.simulate(lab.model, lab.dataset, n=1, seed=1)  # the new text's own initial values
    np.testing.assert_allclose(_plotted(lab, "PRED"), _observed(lab, sim.table["PRED"]), rtol=1e-10, atol=1e-12)
    assert lab.timings["model_to_prediction_s"] > 0


def test_a_model_with_other_parameters_gets_its_own_sliders_and_traces():
    lab = nl.Lab(data=THEO_DATA, model=THEO_MODEL)
    text = lab.model.text.replace("add_sd = 0.7 ", "add_sd = 0.7\nprop_sd = 0.1").replace(
        "cp ~ add(add_sd)", "cp ~ add(add_sd) + prop(prop_sd)")
    assert lab.editor.compile(text), lab.editor.diagnostics
    assert "prop_sd" in lab.parameters and "prop_sd" in lab.fit_panel.trace_source.data
    assert lab.fit_panel.trace in lab.fit_panel.children


def test_a_fit_streams_its_iterations_and_can_be_stopped(lab):
    lab.parameter_panel.set_values(nl.Model.from_file(THEO_MODEL).initial_values())
    seen = threading.Event()
    original = lab.fit_panel.add_iteration

    def slow(event):  # give the test time to press Stop after a few iterations
        original(event)
        if event.iteration >= 2:
            seen.set()
        time.sleep(0.05)

    lab.fit_panel.add_iteration = slow
    try:
        assert lab.fit("focei", seed=7, wait=False) is None
        assert seen.wait(60), "no iteration streamed"
        lab.stop()
        lab.wait(60)
    finally:
        lab.fit_panel.add_iteration = original
    fit = lab.last_fit
    assert fit is not None and fit.termination.value == "stopped by the user"
    trace = lab.fit_panel.trace_source.data
    assert list(trace["ITERATION"]) == [h.iteration for h in fit.history]
    np.testing.assert_allclose(trace["OFV"], [h.ofv for h in fit.history])
    np.testing.assert_allclose(trace["tcl"], [h.estimates["tcl"] for h in fit.history])
    best = min(fit.history, key=lambda h: h.ofv)
    assert fit.ofv <= best.ofv + 1e-6
    assert lab.parameters["tcl"] == pytest.approx(fit.estimates["tcl"])


def test_a_full_fit_shows_ipred_at_the_ebes_and_refreshes_diagnostics(lab):
    fit = lab.fit("focei", seed=1)
    assert fit is not None and fit.converged and lab.last_fit is fit
    np.testing.assert_allclose(_plotted(lab, "IPRED"), _observed(lab, fit.predictions["IPRED"]), rtol=1e-8)
    np.testing.assert_allclose(_plotted(lab, "PRED"), _observed(lab, fit.predictions["PRED"]), rtol=1e-8)
    assert "OFV" in lab.fit_panel.status.value
    lab.diagnostics.wait()
    assert lab.diagnostics.vpc_result is not None and lab.diagnostics.table is not None
    np.testing.assert_allclose(lab.diagnostics.table.records["IPRED"].to_numpy(float),
                               _observed(lab, fit.predictions["IPRED"]), rtol=1e-6)


def test_a_failing_fit_leaves_last_fit_unchanged(lab):
    before = lab.last_fit
    assert lab.fit("no-such-method") is None
    assert lab.last_fit is before
    assert "no-such-method" in lab.fit_error and "failed" in lab.fit_panel.status.value
    assert not lab.fit_panel.start_button.disabled


def test_the_options_box_reaches_the_fit_and_the_exported_cells(lab):
    before = lab.last_fit
    lab.fit_panel.options.value = "outer.max_iterationz=3"
    assert lab.fit("focei") is None and lab.last_fit is before
    assert "no option 'outer.max_iterationz'" in lab.fit_error
    lab.parameter_panel.set_values(nl.Model.from_file(THEO_MODEL).initial_values())  # far from the optimum
    lab.fit_panel.options.value = "outer.max_iterations=3"
    try:
        fit = lab.fit("focei", seed=2)
    finally:
        lab.fit_panel.options.value = ""
    assert fit is not None and fit.termination.value == "maximum number of iterations reached"
    assert len(fit.history) <= 4
    assert lab.state().fit.options == "outer.max_iterations=3"
    assert "options=FOCEIOptions(outer=OuterOptions(max_iterations=3))" in "\n".join(lab.to_cells())


def test_the_trace_names_what_a_method_streams(lab):
    def title():
        return [f.title.text for f in lab.fit_panel._trace_layout.select({"name": "lab_trace_objective"})]

    saem = lab.fit("saem", seed=3, options="n_burn=20, n_em=20, is_samples=200")
    assert saem is not None and title() == ["complete-data -2 log-likelihood"]
    assert "complete-data -2 log-likelihood" not in lab.fit_panel.status.value  # the final line is the OFV
    assert f"OFV {saem.ofv:.4f}" in lab.fit_panel.status.value
    assert lab.fit("focei", seed=1) is not None and title() == ["OFV"]


def test_a_long_trace_is_thinned_and_only_ever_appended():
    from nlme_lab.estimation import IterationEvent, MethodKind
    from nlme_lab.widgets.fit_panel import TRACE_STEP, FitPanel

    panel = FitPanel(["tcl"])
    data_before = panel.trace_source.data
    for k in range(1, 20001):
        panel.add_iteration(IterationEvent(k, 100.0 - k * 1e-3, {"tcl": k / 10}, 0.0, k, 0.0, MethodKind.SAEM))
    panel.flush()
    it = np.asarray(panel.trace_source.data["ITERATION"])
    assert panel.trace_source.data is data_before  # streamed into, never replaced
    assert len(it) < 2200 and it[0] == 1 and (np.diff(it) > 0).all()
    steps = np.diff(it)
    for j, expected in enumerate([1, 2, 4, 8]):  # every TRACE_STEP points the spacing doubles
        assert (steps[j * TRACE_STEP: (j + 1) * TRACE_STEP - 1] == expected).all()
    np.testing.assert_allclose(panel.trace_source.data["tcl"], it / 10)
    np.testing.assert_allclose(panel.trace_source.data["OFV"], 100.0 - it * 1e-3)
    assert "iteration 20000" in panel.status.value
    markers = list(panel._trace_layout.select({"name": "lab_trace_markers"}))
    assert len(markers) == 2 and not any(m.visible for m in markers)  # a long trace: lines only
    panel.reset_trace()
    assert all(m.visible for m in markers)
    panel.add_iteration(IterationEvent(1, 1.0, {"tcl": 0.1}, 0.0, 1, 0.0, MethodKind.SAEM))
    panel.flush()
    assert list(panel.trace_source.data["ITERATION"]) == [1]


def test_the_trace_sends_nothing_back_to_the_kernel():
    """Auto-ranged trace figures move their ranges on every flush; synced back, those moves
    queued ahead of a Stop click on a busy machine."""
    from bokeh.models import DataRange1d
    from nlme_lab.widgets.fit_panel import FitPanel

    panel = FitPanel(["tcl", "tv"])
    models = panel._trace_layout.references()
    ranges = [m for m in models if isinstance(m, DataRange1d)]
    assert len(ranges) == 6  # x and y of the objective, tcl and tv traces
    assert not any(m.syncable for m in models)
    panel.reset_trace(["tcl", "tv", "prop_sd"])  # another model: new figures, same rule
    assert not any(m.syncable for m in panel._trace_layout.references())


def test_a_stopped_saem_fit_exports_a_call_that_reproduces_it(lab, monkeypatch):
    import bokeh.io

    seen = threading.Event()
    original = lab.fit_panel.add_iteration

    def stop_at_30(event):
        original(event)
        if event.iteration == 30:
            seen.set()
            lab.stop()  # from the fit thread: it ends before iteration 31

    lab.fit_panel.add_iteration = stop_at_30
    try:
        fit = lab.fit("saem", seed=4, options="n_burn=60, n_em=40, is_samples=200")
    finally:
        lab.fit_panel.add_iteration = original
    assert seen.is_set() and fit.termination.value == "stopped by the user" and len(fit.history) == 30
    assert lab.state().fit.options == "n_burn=25, n_em=0, is_samples=0"  # 5 + 25 iterations, no IS
    assert lab.state().fit.covariance is None
    monkeypatch.setattr(bokeh.io, "show", lambda *a, **k: None)
    namespace: dict = {}
    for code in lab.to_cells()[:4]:  # import, data, model, fit
        exec(compile(code, "<exported cell>", "exec"), namespace)
    assert abs(namespace["fit"].ofv - fit.ofv) <= 1e-6
    assert namespace["fit"].estimates == pytest.approx(fit.estimates, rel=1e-12)


def test_event_timeline_expands_addl_and_marks_ss():
    data = nl.read_nonmem(SHARED / "data" / "nmtest.csv")
    table = data.table
    for i in range(data.n_subjects):
        doses, infusions, obs = subject_events(data, i)
        rows = table[(table["ID"] == data.ids[i]) & table["EVID"].isin([1, 4])]
        assert len(doses["TIME"]) == int((rows["ADDL"] + 1).sum())
        expected = sorted(t + k * ii for t, ii, n in zip(rows["TIME"], rows["II"], rows["ADDL"]) for k in range(n + 1))
        np.testing.assert_allclose(sorted(doses["TIME"]), expected)
        assert sum("SS" in s for s in doses["LABEL"]) == int((rows["SS"] > 0).sum())
        with_rate = rows[rows["RATE"] > 0]
        assert len(infusions["START"]) == int((with_rate["ADDL"] + 1).sum())
        np.testing.assert_allclose(np.asarray(infusions["END"]) - infusions["START"],
                                   np.repeat(with_rate["AMT"] / with_rate["RATE"], with_rate["ADDL"] + 1))
        assert list(obs) == [None] and len(obs[None]["TIME"]) == int(data.observed[data.subject_slice(i)].sum())


def test_covariate_summary_and_log_toggle(lab):
    summary = covariate_summary(lab.dataset)
    wt = lab.dataset.table.groupby("ID", sort=False)["WT"].first()
    assert summary.loc["WT", "mean"] == pytest.approx(wt.mean())
    assert summary.loc["WT", "max"] == pytest.approx(wt.max())
    lab.data_view.log_toggle.value = "log"
    assert lab.data_view.figures["log"].visible and not lab.data_view.figures["linear"].visible
    lab.data_view.log_toggle.value = "linear"
    assert lab.data_view.figures["linear"].visible


WARFARIN_DATA = SHARED / "data" / "warfarin.csv"


@pytest.fixture(scope="module")
def pkpd_lab():
    return nl.Lab(data=WARFARIN_DATA, model=PKPD_TEXT)  # tutorial 02's model at its estimates


def test_a_two_endpoint_lab_shows_both_endpoints_everywhere(pkpd_lab):
    """The Data tab, the live panels and the timeline have each endpoint on its own axes, and
    what they plot is what nl.simulate predicts for that endpoint."""
    lab = pkpd_lab
    lab.parameter_panel.set_values({"tcl": -1.9, "tkout": -2.8})
    sim = nl.simulate(lab.model, lab.dataset, n=1, seed=1, params=lab.parameters).table
    frame = lab.dataset.table
    observed = ((frame["EVID"] == 0) & (frame["MDV"] == 0)).to_numpy()
    view = lab.data_view
    assert view.endpoints == ["cp", "effect"]
    for dvid, endpoint in ((1, "cp"), (2, "effect")):
        rows = observed & (frame["DVID"] == dvid).to_numpy()
        plotted = np.concatenate([np.asarray(v, float) for v in view.sources[endpoint]["pred"].data["PRED"]])
        np.testing.assert_allclose(plotted, sim["PRED"].to_numpy()[rows], rtol=1e-8, atol=1e-10)
        dv = np.concatenate([np.asarray(v, float) for v in view.sources[endpoint]["obs"].data["DV"]])
        np.testing.assert_allclose(dv, frame["DV"].to_numpy()[rows])
        assert view.sources[endpoint]["ipred"].name == f"lab_ipred_lines_{endpoint}"
        first = rows & (frame["ID"] == lab.dataset.ids[0]).to_numpy()
        panel = lab._individual[[name for _i, name, _s in lab._individual].index(endpoint)][2]
        assert panel.name == f"lab_indiv_{lab.dataset.ids[0]:g}_{endpoint}"
        np.testing.assert_allclose(panel.data["PRED"], sim["PRED"].to_numpy()[first], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(panel.data["DV"], frame["DV"].to_numpy()[first])
    assert len(lab.individual_figures) == 12  # six subjects, both endpoints each

    assert [f.yaxis[0].axis_label for f in view.figures["linear"].children] == ["cp", "effect"]  # own axes
    # the timeline: doses on an amount axis, each endpoint's observations on its own, one time axis
    view.subject.value = 1
    timeline = view.timeline_layout.children
    assert [f.yaxis[0].axis_label for f in timeline] == ["amount", "cp", "effect"]
    assert len({id(f.x_range) for f in timeline}) == 1
    second = (frame["ID"] == lab.dataset.ids[1]).to_numpy() & observed
    for dvid, endpoint in ((1, "cp"), (2, "effect")):
        src = view.timeline_layout.select_one({"name": f"lab_timeline_obs_{endpoint}"})
        np.testing.assert_allclose(src.data["DV"], frame["DV"].to_numpy()[second & (frame["DVID"] == dvid)])
    doses = view.timeline_layout.select_one({"name": "lab_timeline_doses"})
    assert list(doses.data["AMT"]) == [100.0] and list(doses.data["LABEL"]) == ["100"]


def test_a_tool_tab_is_built_once_when_first_opened(monkeypatch):
    """``lab.TOOL_TABS``: each entry gets a tab; its factory runs with the Lab on first selection only."""
    import sys
    import types

    from nlme_lab.widgets import lab as lab_module

    calls = []
    fake = types.ModuleType("fake_tool_module")
    import ipywidgets as w

    fake.make = lambda the_lab: calls.append(the_lab) or w.HTML("the tool")
    monkeypatch.setitem(sys.modules, "fake_tool_module", fake)
    monkeypatch.setattr(lab_module, "TOOL_TABS", (("Tool", "fake_tool_module:make"),))
    the_lab = nl.Lab(THEO_MODEL, THEO_DATA)
    assert the_lab.tabs.get_title(5) == "Tool" and the_lab.tools == {"Tool": None} and calls == []
    the_lab.tabs.selected_index = 5
    the_lab.tabs.selected_index = 0
    the_lab.tabs.selected_index = 5
    assert calls == [the_lab] and the_lab.tabs.children[5].children[0].value == "the tool"
    with pytest.raises(KeyError, match="no tool tab 'Other'"):
        the_lab.tool("Other")
