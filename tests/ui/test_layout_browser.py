"""Layout in a real JupyterLab at 1280 and 1920 px wide: nothing cut off at the right edge,
titles wrapped (never truncated), legends outside the plotted data, observations on top of the
live predictions, dose labels inside their plot, an editor without a sideways scroll after a
long comment line, parameter boxes at 6 significant digits; and a two-endpoint Lab (warfarin
PK/PD) showing both endpoints in the Data tab, the live panels, GOF, individual fits and VPC.

One notebook is run once at 1280 px; the page is then widened to 1920 px and checked again
(the layouts follow the width of the page). What is checked comes from the page's DOM and its
Bokeh documents (``window.Bokeh``); screenshots: tests/ui/artifacts/layout_<width>_*.png.
"""

from __future__ import annotations

import json
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")

from tests.plots.conftest import PKPD_TEXT  # noqa: E402

NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
OUT = f"{NB} .jp-OutputArea-output"
TIMEOUT_MS = 120_000
SLOW_MS = 600_000  # the Lab's diagnostics of an ODE model (residuals, NPDE, VPC) on a loaded machine
HEIGHT = 2000  # tall enough for a screenshot of a whole output

CELLS = [
    # 0: the quick start's goodness-of-fit panel (tutorial 00), shown with show()
    "import nlme_lab as nl\n"
    "from bokeh.io import output_notebook, show\n"
    "from bokeh.resources import INLINE\n"
    "from nlme_lab import plots\n"
    "output_notebook(INLINE, hide_banner=True)\n"
    "theo = nl.fit(nl.Model.from_file(nl.example_path('theo_sd.nlm')), nl.read_nonmem(nl.example_path('theo_sd.csv')),"
    " 'focei', covariance=None)\n"
    "show(plots.gof_panel(nl.residuals(theo, n_sim=100, seed=1)))",
    # 1: EBEs against covariates with the shrinkage caveat in the titles (tutorial 03)
    "pheno = nl.residuals(nl.Model.from_file(nl.example_path('pheno.nlm')), nl.read_nonmem(nl.example_path('pheno.csv')),"
    " npde=False)\n"
    "show(plots.eta_covariates(pheno, ['WT', 'APGR']))",
    # 2: the two-endpoint Lab, on tutorial 02's model at its estimates, every parameter fixed:
    # its fit is one evaluation (EBEs, OFV), so the test does not wait for an estimation
    f"model = nl.Model({PKPD_TEXT!r})\n"
    "lab = nl.Lab(data=nl.example_path('warfarin.csv'), model=model.fix(*model.parameter_names()))\nlab",
    # 3: its fit (an evaluation: all fixed) and diagnostics, as the Start button does
    "lab.fit('focei')\nlab.diagnostics.wait()\nprint('DIAGNOSTICS DONE', lab.diagnostics.status.value)",
]

# every figure view of the page's Bokeh documents, with where it is drawn
VIEWS = """() => {
  const out = [];
  const walk = (v, root) => {
    const type = v.model.type;
    if (type === "Figure" || type === "Plot") out.push([v, root]);
    for (const c of (v.child_views || [])) walk(c, root);
  };
  for (const root of Object.values(window.Bokeh ? Bokeh.index : {})) walk(root, root);
  return out;
}"""

# figures wider than their cell's output area or past the right edge of the notebook; scrolling
# boxes inside outputs that scroll sideways
CUT_OFF = f"""() => {{
  const views = ({VIEWS})();
  const panel = document.querySelector('{NB} .jp-WindowedPanel-outer, {NB} .jp-Notebook').getBoundingClientRect();
  const bad = [];
  for (const [v, root] of views) {{
    const r = v.el.getBoundingClientRect();
    if (r.width === 0) continue;  // in a hidden tab
    const area = root.el.closest('.jp-OutputArea-output');
    const right = Math.min(area ? area.getBoundingClientRect().right : panel.right, panel.right);
    if (r.right > right + 1) bad.push(`${{v.model.title ? v.model.title.text : v.model.type}}: right ${{r.right|0}} > ${{right|0}}`);
  }}
  for (const el of document.querySelectorAll('{OUT} *')) {{
    const style = getComputedStyle(el);
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && ['auto', 'scroll'].includes(style.overflowX))
      bad.push(`scrolls sideways: ${{el.className}} ${{el.scrollWidth}} > ${{el.clientWidth}}`);
  }}
  return bad;
}}"""

# title lines wider than their plotting frame (bokeh draws a title on one line per "\\n" and cuts the rest)
TITLES_CUT = f"""() => {{
  const ctx = document.createElement('canvas').getContext('2d');
  const bad = [];
  let checked = 0;
  for (const [v] of ({VIEWS})()) {{
    const t = v.model.title;
    if (!t || !t.text || v.el.getBoundingClientRect().width === 0) continue;
    const width = v.frame && v.frame.bbox ? v.frame.bbox.width : v.el.getBoundingClientRect().width;
    ctx.font = `${{t.text_font_style}} ${{t.text_font_size}} ${{t.text_font}}`;
    for (const line of String(t.text).split('\\n')) {{
      checked += 1;
      if (ctx.measureText(line).width > width + 2) bad.push(`${{line}}: ${{ctx.measureText(line).width|0}} > ${{width|0}}`);
    }}
  }}
  return {{bad, checked}};
}}"""

# legends placed in the plot area (over the data) instead of a side panel
LEGENDS_INSIDE = """() => {
  const bad = []; let outside = 0;
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    for (const m of doc.all_models) {
      if (m.type !== "Figure" && m.type !== "Plot") continue;
      if (m.center.some((r) => r.type === "Legend")) bad.push(m.title ? m.title.text : "untitled");
      outside += [...m.below, ...m.right, ...m.above, ...m.left].filter((r) => r.type === "Legend").length;
    }
  }
  return {bad, outside};
}"""

SOURCE = """(name) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) { const s = doc.get_model_by_name(name); if (s) return s.data; }
  return null;
}"""

# the Data tab: in every spaghetti plot, observation points drawn after (over) thin, faint IPRED lines
SPAGHETTI = """() => {
  const out = [];
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    for (const m of doc.all_models) {
      if (m.type !== "Figure") continue;
      const names = m.renderers.map((r) => r.data_source ? r.data_source.name || "" : "");
      const ip = names.findIndex((n) => n.startsWith("lab_ipred_lines"));
      if (ip < 0) continue;
      const pts = names.findIndex((n) => n.startsWith("lab_obs_points"));
      const glyph = m.renderers[ip].glyph;
      out.push({ip, pts, width: glyph.line_width.value ?? glyph.line_width, alpha: glyph.line_alpha.value ?? glyph.line_alpha});
    }
  }
  return out;
}"""

# dose labels of the event timeline: inside the plotting frame
DOSE_LABELS = f"""() => {{
  for (const [v] of ({VIEWS})()) {{
    const names = v.model.renderers.map((r) => r.data_source ? r.data_source.name : "");
    if (!names.includes("lab_timeline_doses") || v.el.getBoundingClientRect().width === 0) continue;
    const d = v.model.renderers[names.indexOf("lab_timeline_doses")].data_source.data;
    const f = v.frame, box = f.bbox;
    return Array.from(d.AMT).map((amt, k) => {{
      const sy = f.y_scale.compute(amt), sx = f.x_scale.compute(d.TIME[k]);
      return {{label: d.LABEL[k], room_above: sy - 6 - 11 - box.top, room_left: sx - 12 - box.left,
               room_right: box.right - sx - 12}};
    }});
  }}
  return null;
}}"""


def _notebook(root) -> str:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "layout.ipynb")
    return "layout.ipynb"


NOTEBOOK_SETTINGS = "/lab/api/settings/@jupyterlab/notebook-extension:tracker"


def _put_settings(lab, raw: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{lab.url}{NOTEBOOK_SETTINGS}", method="PUT",
                                     data=json.dumps({"raw": raw}).encode(),
                                     headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def page(jupyter_lab, browser, artifacts, open_notebook):
    """The notebook run at 1280 px, every cell rendered (JupyterLab's windowing off: the checks
    see every output, not only those on screen); the setting is put back afterwards."""
    def ready(p):
        p.locator(f"{OUT}[data-mime-type='application/vnd.jupyter.stdout']",
                  has_text="DIAGNOSTICS DONE").wait_for(timeout=SLOW_MS)

    before = jupyter_lab.api(NOTEBOOK_SETTINGS).get("raw", "{}")
    _put_settings(jupyter_lab, json.dumps({"windowingMode": "none"}))
    try:
        with open_notebook(browser, jupyter_lab, artifacts, _notebook(jupyter_lab.root), prefix="layout",
                           viewport=(1280, HEIGHT), timeout_ms=TIMEOUT_MS, ready=ready) as page:
            yield page
    finally:
        _put_settings(jupyter_lab, before)


def _lab(page):
    return page.locator(f"{OUT}", has=page.locator(".nlme-fit-start")).first


def _tab(page, title: str, inner: bool = False):
    tabs = _lab(page).locator(".lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$"))
    tabs.first.click()
    time.sleep(1.5)  # bokeh lays a newly shown tab out on its next frame


def _cell_output(page, index: int):
    return page.locator(f"{NB} .jp-Cell").nth(index).locator(".jp-OutputArea")


def _shot(page, artifacts, width: int, name: str, locator=None) -> None:
    path = artifacts / f"layout_{width}_{name}.png"
    (locator or page).screenshot(path=path)


def _check_page(page) -> None:
    assert page.evaluate(CUT_OFF) == []
    titles = page.evaluate(TITLES_CUT)
    assert titles["checked"] > 0 and titles["bad"] == [], titles["bad"]
    legends = page.evaluate(LEGENDS_INSIDE)
    assert legends["bad"] == [] and legends["outside"] > 0


def _sig_digits(text: str) -> int:
    mantissa = re.sub(r"[eE].*$", "", text.strip().lstrip("+-")).replace(".", "").lstrip("0")
    return len(mantissa)


@pytest.mark.parametrize("width", [1280, 1920])
def test_nothing_is_cut_and_both_endpoints_show_everywhere(page, artifacts, width):
    page.set_viewport_size({"width": width, "height": HEIGHT})
    time.sleep(2.0)
    # the quick start's GOF and pheno's EBE-covariate panels (shown with show())
    _shot(page, artifacts, width, "1_theo_gof", _cell_output(page, 0))
    assert page.evaluate(SOURCE, "dv_pred_points") is not None
    _shot(page, artifacts, width, "2_pheno_eta_covariates", _cell_output(page, 1))
    _check_page(page)

    lab = _lab(page)
    lab.scroll_into_view_if_needed()
    # every tab title whole (eleven tabs: the bar wraps rather than cutting "Model & parameters")
    cut = lab.locator(".nlme-lab-tabs > .lm-TabBar .lm-TabBar-tab").evaluate_all("""(tabs) => tabs.filter((t) => {
        const label = t.querySelector('.lm-TabBar-tabLabel');
        const bar = t.closest('.lm-TabBar').getBoundingClientRect();
        return label.scrollWidth > label.clientWidth + 1 || t.getBoundingClientRect().right > bar.right + 1;
      }).map((t) => t.textContent)""")
    n_tabs = lab.locator(".nlme-lab-tabs > .lm-TabBar .lm-TabBar-tab").count()
    assert n_tabs == 11 and cut == [], (n_tabs, cut)
    # Data: one spaghetti plot per endpoint, observations over faint IPRED; the timeline's dose labels inside
    _tab(page, "Data")
    for endpoint in ("cp", "effect"):
        assert page.evaluate(SOURCE, f"lab_ipred_lines_{endpoint}") is not None
    spaghetti = page.evaluate(SPAGHETTI)
    assert len(spaghetti) == 4  # linear and log, both endpoints
    for s in spaghetti:
        assert s["pts"] > s["ip"] and s["width"] <= 1.5 and s["alpha"] <= 0.5, s
    labels = page.evaluate(DOSE_LABELS)
    assert labels and all(min(v["room_above"], v["room_left"], v["room_right"]) >= 0 for v in labels), labels
    _check_page(page)
    _shot(page, artifacts, width, "3_lab_data", lab)

    # Model & parameters: boxes at 6 significant digits; a long comment line wraps in the editor
    _tab(page, "Model & parameters")
    boxes = lab.locator("[class*='nlme-param-'][class*='-box'] input")
    values = boxes.evaluate_all("(els) => els.map((e) => e.value)")
    assert len(values) == 16 and max(_sig_digits(v) for v in values) <= 6, values
    for endpoint in ("cp", "effect"):
        assert page.evaluate(SOURCE, f"lab_indiv_1_{endpoint}") is not None
    if width == 1280:
        line = lab.locator(".nlme-editor .cm-line").first
        line.click()
        page.keyboard.press("End")
        page.keyboard.type("  # " + "a long comment about where the transit rate comes from " * 4)
    scroller = lab.locator(".nlme-editor .cm-scroller")
    assert scroller.evaluate("(s) => s.scrollWidth <= s.clientWidth + 1"), "the editor scrolls sideways"
    _check_page(page)
    _shot(page, artifacts, width, "4_lab_model", lab)

    # Diagnostics: GOF, individual fits and VPC per endpoint
    _tab(page, "Diagnostics")
    for name in ("GOF", "Individual fits", "EBEs & shrinkage", "CWRES / NPDE", "VPC"):
        _tab(page, name)
        _check_page(page)
        _shot(page, artifacts, width, f"5_diagnostics_{name.split()[0].lower()}", lab)
    for endpoint in ("cp", "effect"):
        assert page.evaluate(SOURCE, f"dv_pred_{endpoint}_points") is not None
        assert page.evaluate(SOURCE, f"indiv_1_{endpoint}_obs") is not None
    effect_vpc = page.evaluate(SOURCE, "vpc_1_p50")
    assert effect_vpc is not None and max(effect_vpc["X"]) == 144  # the last time point has its bin
    assert page.evaluate(SOURCE, "dv_pred_points") is not None  # theo's one-endpoint panel keeps its names
