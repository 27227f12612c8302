"""The Lab's Design tab in a real JupyterLab: typing sampling times and dragging a marker on the
predicted curve change the RSE bars (read from the page's Bokeh documents), and the kernel's
design follows.

Screenshots: tests/ui/artifacts/design_*.png.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.ui.conftest import lab_notebook

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

CELLS = [
    "import nlme_lab as nl\n"
    "lab = nl.Lab(nl.example_path('theo_sd.nlm'), nl.example_path('theo_sd.csv'))\n"
    "lab",
    "_t = lab.tool('Design')\n"
    "print('KERNEL_TIMES=' + repr([round(t, 3) for t in _t.design.groups[0].times[0][1]]))",
]
TIMEOUT_MS = 60_000
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
OUT = f"{NB} .jp-OutputArea-output"
DES = f"{OUT} .nlme-design"
RSE = """() => {
  for (const doc of (window.Bokeh ? window.Bokeh.documents : [])) {
    const s = doc.get_model_by_name("design-rse");
    if (s) return Array.from(s.data.rse);
  }
  return null;
}"""
# page coordinates of the k-th sampling-time marker on the curve figure
MARKER = """(k) => {
  const out = [];
  const walk = (v) => { if (v.model.type === "Figure" || v.model.type === "Plot") out.push(v);
                        for (const c of (v.child_views || [])) walk(c); };
  for (const root of Object.values(window.Bokeh ? Bokeh.index : {})) walk(root);
  for (const v of out) {
    if (!v.model.title || !v.model.title.text.startsWith("Typical prediction")) continue;
    const r = v.el.getBoundingClientRect();
    if (r.width === 0) continue;
    let src = null;
    for (const doc of Bokeh.documents) { const s = doc.get_model_by_name("design-times"); if (s) src = s; }
    const t = src.data.t[k], y = src.data.y[k];
    return [r.left + v.frame.x_scale.compute(t), r.top + v.frame.y_scale.compute(y), t];
  }
  return null;
}"""


# elements of the tab (figures, inputs, buttons) past the right edge of the visible notebook
CUT = """(sel) => {
  const tab = document.querySelector(sel);
  const clip = tab.closest('.jp-WindowedPanel-outer') || tab.closest('.jp-Notebook');
  const limit = Math.min(clip.getBoundingClientRect().right, window.innerWidth);
  return Array.from(tab.querySelectorAll('canvas, input, button, select, .bk-Figure, .bk-Row'))
      .map((e) => [e.className.toString().slice(0, 40), e.getBoundingClientRect().right, limit])
      .filter(([, right, edge]) => right > edge + 1);
}"""


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts):
    with lab_notebook(browser, jupyter_lab, artifacts, "design", CELLS[:1], timeout_ms=TIMEOUT_MS) as page:
        yield page


def _wait_change(page, before, timeout=30.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        now = page.evaluate(RSE)
        if now and now != before:
            return now
        time.sleep(0.2)
    return page.evaluate(RSE)


def test_typing_and_dragging_times_move_the_rse_bars(page, artifacts):
    from playwright.sync_api import expect

    page.locator(f"{OUT} .lm-TabBar-tab", has_text=re.compile("^Design$")).first.click()
    times = page.locator(f"{DES} .nlme-design-times input")
    times.wait_for(timeout=120_000)
    expect(page.locator(f"{DES} .nlme-design-status")).to_contain_text("ln det", timeout=TIMEOUT_MS)
    before = page.evaluate(RSE)
    assert before and len(before) == 7
    page.locator(DES).scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "design_1_tab.png")
    assert not page.evaluate(CUT, DES), "a part of the Design tab is cut off at 1280 px"
    # type new times: the bars change
    times.fill("0.5, 2, 6, 24")
    times.press("Enter")
    typed = _wait_change(page, before)
    assert typed != before
    expect(times).to_have_value("0.5, 2, 6, 24")
    page.screenshot(path=artifacts / "design_2_typed.png")
    # drag the second marker (2 h) to the right: the bars change again
    x, y, t = page.evaluate(MARKER, 1)
    assert t == pytest.approx(2.0)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=8)
    page.mouse.up()
    dragged = _wait_change(page, typed)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "design_3_dragged.png")
    assert dragged != typed, page.evaluate(MARKER, 1)
    # the kernel's design has the dragged time
    page.evaluate("(code) => { const p = window.jupyterapp.shell.currentWidget;"
                  " const cell = p.content.model.sharedModel.insertCell(1, {cell_type: 'code', source: code});"
                  " p.content.activeCellIndex = 1; return window.jupyterapp.commands.execute('notebook:run-cell'); }",
                  CELLS[1])
    out = page.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']", has_text="KERNEL_TIMES=")
    expect(out).to_contain_text("KERNEL_TIMES=", timeout=TIMEOUT_MS)
    kernel = eval(out.inner_text().split("KERNEL_TIMES=")[1].strip())
    assert len(kernel) == 4 and 0.5 in kernel and 24.0 in kernel and 2.0 not in kernel


def test_optimise_runs_in_the_background_and_moves_the_times(page, artifacts):
    from playwright.sync_api import expect

    before = page.evaluate(RSE)
    page.locator(f"{DES} .nlme-design-n-samples input").fill("3")
    page.locator(f"{DES} .nlme-design-n-samples input").press("Tab")
    page.locator(f"{DES} .nlme-design-windows input").fill("0:24")
    page.locator(f"{DES} .nlme-design-windows input").press("Tab")
    page.locator(f"{DES} button.nlme-design-optimise, {DES} .nlme-design-optimise button").first.click()
    expect(page.locator(f"{DES} .nlme-design-status")).to_contain_text("efficiency", timeout=120_000)
    after = page.evaluate(RSE)
    assert after != before
    times = page.locator(f"{DES} .nlme-design-times input").input_value()
    assert len(times.split(",")) == 3
    page.screenshot(path=artifacts / "design_4_optimised.png")
