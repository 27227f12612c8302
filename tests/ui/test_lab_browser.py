"""The Lab in a real JupyterLab: it renders, a typed model error is underlined and fixing it
clears it, a parameter change redraws the plotted IPRED to what the kernel computes (read from
the page's Bokeh documents), a fit streams its OFV trace while it runs and stops on Stop, and
Export inserts cells (when engineer B's ExportButton is there).

Opens tutorials/01_theophylline_lab.ipynb when it exists, else a notebook with the same two
lines. The tests share one page and run in file order. Screenshots: tests/ui/artifacts/lab_*.png.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "tutorials" / "01_theophylline_lab.ipynb"
LAB_CELL = ("import nlme_lab as nl\n"
            "lab = nl.Lab(data=nl.example_path('theo_sd.csv'), model=nl.example_path('theo_sd.nlm'))\n"
            "lab")
# what the kernel computes, independently of the Lab's plots (no fit yet: IPRED = PRED, etas 0)
CHECK_CELL = ("import json\n"
              "_sim = nl.simulate(lab.model, lab.dataset, params=lab.parameters).table\n"
              "_obs = _sim[(_sim['EVID'] == 0) & (_sim['MDV'] == 0) & (_sim['ID'] == lab.dataset.ids[0])]\n"
              "print('KERNEL_TCL=' + repr(lab.parameters['tcl']))\n"
              "print('KERNEL_PRED=' + json.dumps(_obs['PRED'].tolist()))")
TIMEOUT_MS = 60_000
PLOTTED = """(name) => {
  for (const doc of (window.Bokeh ? window.Bokeh.documents : [])) {
    const src = doc.get_model_by_name(name);
    if (src) { const col = src.data.IPRED !== undefined ? src.data.IPRED : src.data.OFV;
               return Array.from(col.length && col[0].length !== undefined ? col[0] : col); }
  }
  return null;
}"""


def _notebook(root: Path) -> str:
    if TUTORIAL.is_file():
        shutil.copy(TUTORIAL, root / TUTORIAL.name)
        for name in ("theo_sd.csv", "theo_sd.nlm"):  # a tutorial may read them from its folder
            shutil.copy(ROOT / "nlme_lab" / "examples" / name, root / name)
        notebook = nbformat.read(root / TUTORIAL.name, as_version=4)
    else:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LAB_CELL)])
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "lab.ipynb")
    return "lab.ipynb"


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts, run_all):
    name = _notebook(jupyter_lab.root)
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    console = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        run_all(page, jupyter_lab, name)
        page.locator(".jp-OutputArea-output .nlme-fit-start").wait_for(state="attached", timeout=120_000)
    except Exception as err:
        page.screenshot(path=artifacts / "lab_0_setup_failed.png")
        raise AssertionError(f"opening the Lab failed: {err}\n--- console ---\n" + "\n".join(console[-30:])
                             + f"\n--- jupyter lab ---\n{jupyter_lab.log_tail()}") from err
    yield page
    context.close()


def _expect():
    from playwright.sync_api import expect

    return expect


def _tab(page, title: str):
    page.locator(".jp-OutputArea-output .lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).first.click()


def _shot(page, artifacts, name: str) -> None:
    page.locator(".jp-NotebookPanel").screenshot(path=artifacts / f"lab_{name}.png")


def _run_cell(page, index: int) -> None:
    page.evaluate("(i) => { const p = window.jupyterapp.shell.currentWidget; p.content.activeCellIndex = i;"
                  " return window.jupyterapp.commands.execute('notebook:run-cell'); }", index)


def _kernel_pred(page) -> list[float]:
    out = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']",
                       has_text="KERNEL_PRED=").last
    return json.loads(out.inner_text().split("KERNEL_PRED=")[1].strip())


def test_lab_renders_with_its_plots(page, artifacts):
    expect = _expect()
    page.wait_for_function(PLOTTED, arg="lab_ipred_lines")
    expect(page.locator(".jp-OutputArea-output .bk-Canvas, .jp-OutputArea-output canvas").first).to_be_attached()
    _shot(page, artifacts, "1_data_view")
    page.locator(".jp-OutputArea-output .lm-TabBar").first.screenshot(path=artifacts / "lab_tabs.png")


def test_a_model_error_is_underlined_and_fixing_clears_it(page, artifacts):
    expect = _expect()
    _tab(page, "Model & parameters")
    editor = page.locator(".jp-OutputArea-output .nlme-editor")
    line = editor.locator(".cm-line", has_text="ka = exp(tka + eta_ka)")
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    expect(editor.locator(".cm-lintRange-error")).to_have_count(1)
    expect(editor.locator(".nlme-editor-status")).to_have_text(re.compile(r"line \d+:\d+: expected '\)'"))
    _shot(page, artifacts, "2_model_error")
    page.keyboard.press("End")
    page.keyboard.type(")")
    expect(editor.locator(".cm-lintRange-error")).to_have_count(0)
    expect(editor.locator(".nlme-editor-status")).to_have_text(re.compile("this is the working model"))


def test_a_parameter_change_redraws_ipred_to_what_the_kernel_computes(page, artifacts):
    before = page.evaluate(PLOTTED, "lab_ipred_lines")
    box = page.locator(".jp-OutputArea-output .nlme-param-tcl-box input")
    box.fill("1.6")
    box.press("Enter")
    page.wait_for_function(f"(b) => {{ const v = ({PLOTTED})('lab_ipred_lines'); return v && v[3] !== b[3]; }}",
                           arg=before)
    _run_cell(page, len(page.locator(".jp-NotebookPanel .jp-Cell").all()) - 1)
    page.locator(".jp-OutputArea-output", has_text="KERNEL_PRED=").last.wait_for()
    kernel = _kernel_pred(page)
    out = page.locator(".jp-OutputArea-output", has_text="KERNEL_TCL=").last.inner_text()
    assert float(out.split("KERNEL_TCL=")[1].split()[0]) == pytest.approx(1.6, rel=1e-12)
    # the box may sync "1" before "1.6": wait until the page shows the kernel's final values
    page.wait_for_function(f"(k) => {{ const v = ({PLOTTED})('lab_ipred_lines'); return v && v.length === k.length"
                           " && v.every((x, i) => Math.abs(x - k[i]) <= 1e-9 * Math.abs(k[i]) + 1e-12); }",
                           arg=kernel, timeout=10_000)
    after = page.evaluate(PLOTTED, "lab_ipred_lines")
    assert len(after) == len(kernel)
    assert after == pytest.approx(kernel, rel=1e-9, abs=1e-12)
    assert after != pytest.approx(before, rel=1e-3)
    _tab(page, "Model & parameters")
    _shot(page, artifacts, "3_parameter_moved")


def test_a_fit_streams_its_ofv_trace_and_stops(page, artifacts):
    expect = _expect()
    _tab(page, "Fit")
    method = page.locator(".jp-OutputArea-output .nlme-fit-method select")
    options = method.locator("option").all_inner_texts()
    method.select_option("saem" if "saem" in options else "focei")
    page.locator(".jp-OutputArea-output .nlme-fit-start button, .jp-OutputArea-output button.nlme-fit-start").first.click()
    page.wait_for_function(f"() => {{ const v = ({PLOTTED})('lab_trace'); return v && v.length >= 3; }}",
                           timeout=120_000)
    first = len(page.evaluate(PLOTTED, "lab_trace"))
    time.sleep(0.5)
    _shot(page, artifacts, "4_fit_running")
    status = page.locator(".jp-OutputArea-output .nlme-fit-status")
    if "saem" in options:  # long enough to be seen growing and stopped
        grown = len(page.evaluate(PLOTTED, "lab_trace"))
        assert grown > first, "the OFV trace did not grow while the fit ran"
        stop = page.locator(".jp-OutputArea-output button.nlme-fit-stop").first
        assert stop.is_enabled(), "Stop is disabled while the fit runs"
        stop.click()
        expect(status).to_contain_text("stopped by the user", timeout=60_000)
        expect(status).to_contain_text("done", timeout=60_000)
    else:
        expect(status).to_contain_text("done", timeout=60_000)
    time.sleep(1.0)
    _shot(page, artifacts, "5_fit_done")


def test_the_diagnostics_refresh_when_the_fit_ends(page, artifacts):
    expect = _expect()
    _tab(page, "Diagnostics")
    status = page.locator(".jp-OutputArea-output .nlme-diagnostics-status")
    expect(status).to_contain_text("diagnostics of the fit with OFV", timeout=90_000)
    expect(page.locator(".jp-OutputArea-output .lm-TabBar-tab", has_text="GOF").first).to_be_visible()
    time.sleep(1.0)
    _shot(page, artifacts, "6_diagnostics")


def test_export_inserts_cells(page, artifacts):
    export = page.locator(".jp-OutputArea-output .nlme-export button, .jp-OutputArea-output button.nlme-export")
    if export.count() == 0:
        pytest.skip("the ExportButton (engineer B, nlme_lab/widgets/export.py) is not in the Lab yet")
    cells = page.locator(".jp-NotebookPanel .jp-Cell").count()
    export.first.click()
    page.wait_for_function(f"() => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length > {cells}")
    _shot(page, artifacts, "7_exported")
