"""The HTML report: self-contained (BokehJS inlined), every section present, and in a real
browser (Debian's chromium through Playwright) it loads without console errors and every
figure renders. Without chromium or playwright the browser part skips."""

import os
import shutil

import pytest

pytest.importorskip("bokeh")

from nlme_lab.plots.report import report as write_report  # noqa: E402

@pytest.fixture(scope="module")
def report(theo_focei, shared_models, shared_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(theo_focei, path, model=shared_models["theo_sd"], data=shared_data["theo_sd.csv"],
                        n_vpc=100, n_sim=200, seed=3)


def test_report_is_self_contained_and_has_every_section(report, shared_models):
    text = report.read_text(encoding="utf-8")
    import re

    assert not re.search(r"<script[^>]*\bsrc=", text) and "cdn.bokeh.org" not in text  # works offline
    assert len(text) > 1_000_000  # BokehJS itself is inlined
    for heading in ("Model", "Estimates", "Goodness of fit", "VPC", "Random effects", "Individual fits",
                    "Parameter traces"):
        assert f"<h2>{heading}</h2>" in text
    assert "cp ~ add(add_sd)" in text  # the model text
    for name in ("dv_pred_points", "qq_npde_points", "vpc_0_p50", "eta_hist_eta_cl", "indiv_12_obs", "convergence"):
        assert f'"name":"{name}"' in text


def _chromium():
    found = os.environ.get("NLME_LAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def test_report_renders_in_chromium_without_console_errors(report):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && "
                                   "Bokeh.documents.every(d => d.is_idle)", timeout=60_000)
            state = page.evaluate("""() => {
                const roots = Bokeh.documents.flatMap(d => d.roots());
                const views = Object.values(Bokeh.index);
                const plots = [];
                const walk = (v) => { if (v.model.type === 'Plot' || v.model.constructor.__name__ === 'Figure')
                                        plots.push(v); for (const c of (v.child_views ?? [])) walk(c); };
                views.forEach(walk);
                return {roots: roots.length, views: views.length, plots: plots.length,
                        drawn: plots.filter(p => p.el.isConnected && p.bbox.width > 0).length};
            }""")
            page.screenshot(path=str(report.with_suffix(".png")), full_page=True)  # beside the page, for a look
        finally:
            browser.close()
    assert errors == []
    assert state["roots"] == 7 and state["views"] >= state["roots"], state  # 7 layouts, see report.py
    assert state["plots"] >= 25 and state["drawn"] == state["plots"], state
