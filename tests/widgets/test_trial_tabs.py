"""The Lab's Patient and Trial tabs (in a plain Python process): typed levels re-estimate the
patient and redraw the curve and band; the suggested dose; a trial gives the PTA heat map and
the label text; bad entries say why."""

import numpy as np
import pandas as pd
import pytest

import nlme_lab as nl

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def lab():
    model = nl.Model.from_file(nl.example_path("mapbayr_2cmt.nlm"))
    frame = pd.read_csv(nl.example_path("mapbayr_patient.csv"))
    frame = pd.concat([frame, frame.assign(ID=2, BW=60)], ignore_index=True)
    return nl.Lab(model, nl.read_nonmem(frame))


def test_patient_tab_estimates_as_levels_are_typed(lab):
    tab = lab.tool("Patient")
    assert set(tab.covariates) == {"BW"} and tab.covariates["BW"].value == 75.0  # the data's median
    tab.covariates["BW"].value = 90
    tab.doses.value = "0, 100, 5"
    tab.levels.value = "6, 3.9"
    first = dict(tab.post.eta)
    tab.levels.value = "6, 3.9\n15, 1.1"  # typing a second level re-estimates
    assert tab.post.eta["eta_cl"] == pytest.approx(0.3872104, abs=1e-4) and tab.post.eta != first
    src = tab.figure.select_one({"name": "posterior_curve"}).data
    assert len(src["time"]) > 50 and np.all(np.array(src["lower"]) <= np.array(src["ipred"]))
    assert tab.figure.select_one({"name": "patient_levels"}).data["dv"] == [3.9, 1.1]
    assert "eta_cl = 0.387" in tab.estimate.value

    tab.metric.value, tab.low.value, tab.high.value = "auc", 40, 60
    tab.interval.value, tab.duration.value = 12, 2
    r = tab.suggest()
    assert r.regimen.dose == pytest.approx(np.sqrt(2400) * tab.post.individual["cl"], rel=1e-3)
    assert "Suggested" in tab.suggestion.value
    ns = _run_cells(tab.to_cells(), lab)  # the export repeats the estimate and the dose
    assert ns["post"].eta == pytest.approx(tab.post.eta, abs=1e-10) and ns["post"].ofv == pytest.approx(tab.post.ofv)
    np.testing.assert_allclose(ns["post"].predictions["IPRED"], tab.post.predictions["IPRED"], rtol=1e-10)
    assert ns["dose"].regimen == r.regimen and ns["dose"].probability == r.probability
    tab.adjust.value = "interval"  # keep the typed dose (100), choose the interval
    tab.metric.value, tab.low.value, tab.high.value = "cmin", 0.5, 2.0
    r = tab.suggest()
    assert r.adjust == "interval" and r.regimen.dose == 100 and r.regimen.interval == 24  # PTA .005 .025 .39 .765
    assert r.probability == r.candidates["probability"].max() > 0.5 and "every 24 h" in tab.suggestion.value
    ns = _run_cells(tab.to_cells(), lab)
    assert ns["dose"].regimen == r.regimen
    pd.testing.assert_frame_equal(ns["dose"].candidates, r.candidates)


def _run_cells(cells, lab):
    from nlme_lab.widgets.patient_tab import PatientTab

    assert cells and PatientTab(lab).to_cells() == []  # nothing to export before an estimate
    namespace = {"model": lab.model, "data": lab.dataset}  # what the session's own cells define
    for code in ["import nlme_lab as nl", *cells]:
        exec(code, namespace)
    return namespace


def test_patient_tab_says_what_is_wrong(lab):
    tab = lab.tool("Patient")
    tab.levels.value = "6, x"
    assert "levels, line 1" in tab.status.value and "error" in tab.status.value


def test_trial_tab_runs_a_trial_and_shows_pta_and_label(lab):
    tab = lab.tool("Trial")
    tab.regimens.value = "50 mg: 50, 24\n100 mg: 100, 24\n200 mg: 200, 24"
    tab.subgroups.value = "under 70 kg: BW < 70\n70 kg or more: BW >= 70"
    tab.metric.value, tab.low.value, tab.high.value = "auc", 60, 150
    tab.n_subjects.value, tab.n_trials.value = 100, 2
    rec = tab.run()
    assert rec is not None and f"Start with {rec.overall}" in tab.label.value
    cells = tab.figure.select_one({"name": "pta_cells"}).data
    assert set(cells["regimen"]) == {"50 mg", "100 mg", "200 mg"}
    assert set(cells["group"]) == {"all", "under 70 kg", "70 kg or more"}
    assert len(cells["pta"]) == 9
    ns = _run_cells(tab.to_cells(), lab)
    assert ns["recommendation"].label == rec.label
    pd.testing.assert_frame_equal(ns["recommendation"].table, rec.table)
    tab.regimens.value = "oops"
    assert tab.run() is None and "name: dose, interval" in tab.status.value
