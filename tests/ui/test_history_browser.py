"""The Lab's History tab in a real JupyterLab with OFVs of mixed kinds: FOCEI, two SAEM runs
with importance-sampling OFVs (± their Monte-Carlo SE), one without importance sampling (the
linearised FOCEI objective) and one stopped after a few iterations (linearised, stopped). Each
row says its kind; ΔOFV is a number only between runs of the same kind (else the reason), and
the comparison of two kinds refuses the likelihood-ratio test. What the page shows is checked
against ``lab.history_view.rows()`` in the kernel.

Screenshots at 1280 and 1920 px wide: tests/ui/artifacts/history_<width>_*.png.
"""

from __future__ import annotations

import json
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

SHORT = "n_burn=60, n_em=60"
CELLS = [
    "import nlme_lab as nl\n"
    "lab = nl.Lab(data=nl.example_path('theo_sd.csv'), model=nl.example_path('theo_sd.nlm'))\n"
    "lab",
    # the fits, in the kernel (the Start button's path: Lab.fit), then a stop after 20 iterations
    "import json, time\n"
    "lab.fit('focei', seed=1)\n"
    f"lab.fit('saem', seed=1, options='{SHORT}, is_samples=500')\n"
    f"lab.fit('saem', seed=2, options='{SHORT}, is_samples=500')\n"
    f"lab.fit('saem', seed=1, options='{SHORT}, is_samples=0')\n"
    "lab.fit('saem', seed=3, options='n_burn=20000', wait=False)\n"
    "while max(lab.fit_panel.trace_source.data['ITERATION'], default=0) < 20:  # past the sampling-only start\n"
    "    time.sleep(0.05)\n"
    "lab.stop(); lab.wait()\n"
    "print('KERNEL_ROWS=' + json.dumps(lab.history_view.rows(), ensure_ascii=False))",
]
TIMEOUT_MS = 60_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the open notebook (an earlier test file's stays open, hidden)
OUT = f"{NB} .jp-OutputArea-output"
TABLE = f"{OUT} .nlme-history-table table"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts, open_notebook):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyter_lab.root / "history.ipynb")

    def ready(p):
        p.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']", has_text="KERNEL_ROWS=").wait_for(
            timeout=600_000)

    with open_notebook(browser, jupyter_lab, artifacts, "history.ipynb", prefix="history",
                       viewport=(1280, 900), timeout_ms=TIMEOUT_MS, ready=ready) as page:
        yield page
        _close(page)


def _close(page) -> None:
    """Save and close this notebook and end its kernel, so that the next test file's page does
    not restore it (with its fits' memory and threads) from the shared workspace."""
    page.evaluate("""async () => { const app = window.jupyterapp;
        await app.commands.execute('docmanager:save');
        await app.commands.execute('kernelmenu:shutdown');
        await app.commands.execute('application:close'); }""")
    page.wait_for_function("() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)')"
                           " || !window.jupyterapp.shell.currentWidget.title.label.startsWith('history')")
    time.sleep(2.0)  # the workspace is saved a moment after a change


def _expect():
    from playwright.sync_api import expect

    return expect


def _kernel_rows(page) -> list[dict]:
    out = page.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']", has_text="KERNEL_ROWS=").last
    return json.loads(out.inner_text().split("KERNEL_ROWS=")[1].strip())


def _shown(page) -> list[list[str]]:
    """The History table as the page shows it: header and rows of cell texts."""
    return page.evaluate("""(sel) => Array.from(document.querySelector(sel).rows)
        .map((r) => Array.from(r.cells).map((c) => c.textContent))""", TABLE)


def _show_history(page) -> None:
    page.locator(f"{OUT} .lm-TabBar-tab", has_text=re.compile("^History$")).first.click()
    page.locator(TABLE).wait_for()
    tabs = page.locator(f"{OUT} .lm-TabBar", has=page.locator(".lm-TabBar-tab", has_text="History")).first
    tabs.evaluate("(e) => e.scrollIntoView({block: 'start'})")  # the tab titles, then the History tab
    time.sleep(0.5)


def _no_horizontal_cut(page) -> None:
    """Every cell of the table, the kinds note and the verdict end left of the notebook's visible
    right edge (nothing cut, no scrolling needed)."""
    cut = page.evaluate("""(out) => {
        const history = document.querySelector(out + ' .nlme-history');
        const clip = history.closest('.jp-WindowedPanel-outer') || history.closest('.jp-Notebook');
        const limit = Math.min(clip.getBoundingClientRect().right, window.innerWidth);
        return Array.from(history.querySelectorAll('th, td, .nlme-history-kinds, .nlme-lrt'))
            .map((e) => [e.textContent.slice(0, 30), e.getBoundingClientRect().right, limit])
            .filter(([, right, edge]) => right > edge + 1);
    }""", OUT)
    assert not cut, f"cut at the right edge (text, right, visible edge): {cut}"


@pytest.mark.parametrize("width", [1280, 1920])
def test_history_rows_say_their_ofv_kind_and_delta_ofv_only_where_comparable(page, artifacts, width):
    page.set_viewport_size({"width": width, "height": 1000 if width == 1280 else 1080})
    _show_history(page)
    kernel = _kernel_rows(page)
    shown = _shown(page)
    header, rows = shown[0], shown[1:]
    assert header == list(kernel[0])
    assert rows == [list(r.values()) for r in kernel]  # the page shows what the kernel computed
    kinds = [r["OFV kind"] for r in kernel]
    assert kinds[0] == "FOCEI" and kinds[3:] == ["linearised", "linearised"]
    assert all(re.fullmatch(r"IS ± 0\.\d{3}", k) for k in kinds[1:3]), kinds
    assert [r["ΔOFV"] for r in kernel][1:] == ["n/a: IS vs FOCEI"] * 2 + ["n/a: linearised vs FOCEI"] * 2
    assert kernel[4]["status"] == "stopped" and kernel[0]["ΔOFV"] == "+0.0000"
    _no_horizontal_cut(page)
    page.screenshot(path=artifacts / f"history_{width}_1_reference_focei.png")


def test_moving_the_reference_shows_delta_ofv_between_same_kinds(page, artifacts):
    page.set_viewport_size({"width": 1280, "height": 1000})
    _show_history(page)
    page.locator(f"{OUT} .nlme-history-reference select").select_option(label="[3] run 4")
    page.wait_for_function("""(sel) => { const t = document.querySelector(sel);
        return t && t.rows[4] && t.rows[4].cells[6].textContent === '+0.0000'; }""", arg=TABLE)
    rows = _shown(page)[1:]
    kernel = _kernel_rows(page)
    delta = [r[6] for r in rows]
    assert delta[:3] == ["n/a: FOCEI vs linearised", "n/a: IS vs linearised", "n/a: IS vs linearised"]
    expected = float(kernel[4]["OFV"]) - float(kernel[3]["OFV"])  # stopped minus finished, both linearised
    assert float(delta[4]) == pytest.approx(expected, abs=2e-4)
    page.locator(f"{OUT} .nlme-history-a select").select_option(label="[1] run 2")
    page.locator(f"{OUT} .nlme-history-b select").select_option(label="[2] run 3")
    verdict = page.locator(f"{OUT} .nlme-lrt")
    expect = _expect()
    expect(verdict).to_contain_text("same number of parameters")  # IS vs IS: comparable
    page.locator(f"{OUT} .nlme-history-b select").select_option(label="[4] run 5")
    expect(verdict).to_have_attribute("data-status", "OFVs not comparable")
    expect(verdict).to_contain_text("no likelihood-ratio test: the OFVs are of different kinds")
    time.sleep(0.5)
    page.screenshot(path=artifacts / "history_1280_2_reference_linearised.png")
    page.set_viewport_size({"width": 1920, "height": 1080})
    _show_history(page)
    _no_horizontal_cut(page)
    page.screenshot(path=artifacts / "history_1920_2_reference_linearised.png")
