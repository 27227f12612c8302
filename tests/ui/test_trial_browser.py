"""The Lab's Patient and Trial tabs in a real JupyterLab: levels typed in the browser re-estimate
the patient (mapbayr's example: eta_cl 0.387) and redraw the curve; the suggested dose shows;
a virtual trial run from the Trial tab shows the PTA heat map and the label text.

Screenshots: tests/ui/artifacts/trial_1_patient.png, trial_2_dose.png, trial_3_trial.png.
"""

from __future__ import annotations

import pytest

from tests.ui.conftest import click_lab_tab, lab_notebook

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

CELLS = [
    "import pandas as pd\n"
    "import nlme_lab as nl\n"
    "frame = pd.read_csv(nl.example_path('mapbayr_patient.csv'))\n"
    "frame = pd.concat([frame, frame.assign(ID=2, BW=60)], ignore_index=True)\n"
    "lab = nl.Lab(nl.Model.from_file(nl.example_path('mapbayr_2cmt.nlm')), nl.read_nonmem(frame))\n"
    "lab",
]
TIMEOUT_MS = 90_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
OUT = f"{NB} .jp-OutputArea-output"
PAT = f"{OUT} .nlme-patient"
TRIAL = f"{OUT} .nlme-trial"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts):
    with lab_notebook(browser, jupyter_lab, artifacts, "trial", CELLS, timeout_ms=TIMEOUT_MS, viewport=(1400, 1000)) as page:
        yield page


def _expect():
    from playwright.sync_api import expect

    return expect


def _set_number(page, selector: str, value) -> None:
    box = page.locator(f"{selector} input").first
    box.fill(str(value))
    box.press("Enter")


def _curve_points(page) -> int:
    return page.evaluate("""() => {
        for (const doc of window.Bokeh.documents) {
            const src = doc.get_model_by_name('posterior_curve');
            if (src) return src.data.time.length;
        }
        return -1; }""")


def test_typed_levels_estimate_the_patient_and_draw_the_curve(page, artifacts):
    expect = _expect()
    click_lab_tab(page, "Patient")
    page.locator(f"{PAT} .nlme-patient-levels textarea").wait_for()
    _set_number(page, f"{PAT} .nlme-patient-cov-BW", 90)
    page.locator(f"{PAT} .nlme-patient-doses textarea").fill("0, 100, 5")
    page.locator(f"{PAT} .nlme-patient-levels textarea").fill("6, 3.9\n15, 1.1")
    expect(page.locator(f"{PAT} .nlme-patient-estimate")).to_contain_text("eta_cl = 0.387")
    expect(page.locator(f"{PAT} .nlme-patient-status")).to_contain_text("Estimated from 2 levels")
    assert _curve_points(page) > 50
    page.locator(PAT).scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "trial_1_patient.png")
    page.locator(f"{PAT} .nlme-patient-metric select").select_option("auc")
    _set_number(page, f"{PAT} .nlme-patient-low", 40)
    _set_number(page, f"{PAT} .nlme-patient-high", 60)
    _set_number(page, f"{PAT} .nlme-patient-interval", 12)
    _set_number(page, f"{PAT} .nlme-patient-duration", 2)
    page.locator(f"{PAT} button.nlme-patient-suggest").click()
    expect(page.locator(f"{PAT} .nlme-patient-suggestion")).to_contain_text("Suggested: 87.")
    page.screenshot(path=artifacts / "trial_2_dose.png")


def test_the_trial_tab_runs_a_trial_and_shows_pta_and_label(page, artifacts):
    expect = _expect()
    click_lab_tab(page, "Trial")
    page.locator(f"{TRIAL} .nlme-trial-regimens textarea").wait_for()
    page.locator(f"{TRIAL} .nlme-trial-subgroups textarea").fill("under 70 kg: BW < 70\n70 kg or more: BW >= 70")
    _set_number(page, f"{TRIAL} .nlme-trial-low", 60)
    _set_number(page, f"{TRIAL} .nlme-trial-high", 150)
    _set_number(page, f"{TRIAL} .nlme-trial-subjects", 200)
    _set_number(page, f"{TRIAL} .nlme-trial-trials", 3)
    page.locator(f"{TRIAL} button.nlme-trial-run").click()
    expect(page.locator(f"{TRIAL} .nlme-trial-label")).to_contain_text("Start with", timeout=120_000)
    cells = page.evaluate("""() => {
        for (const doc of window.Bokeh.documents) {
            const src = doc.get_model_by_name('pta_cells');
            if (src) return src.data.pta.length;
        }
        return -1; }""")
    assert cells == 9  # 3 regimens x (all, two weight groups)
    page.locator(TRIAL).scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "trial_3_trial.png")
