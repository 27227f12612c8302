"""One self-contained HTML page with a fit's diagnostics: the model text, the estimates table,
the goodness-of-fit figures, EBE figures, individual fits, parameter traces and the VPC.

BokehJS is inlined (``bokeh.resources.INLINE``), so the page works offline. The numbers come
from ``nlme_lab.diagnostics`` (``residuals``, ``vpc``, ``prediction_curves``); this module
only lays them out. ``report(fit, path)`` is ``nlme_lab.report`` (and what ``nlme-lab report``
calls); the estimation layer below knows nothing of it.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from nlme_lab.diagnostics import residuals, vpc
from nlme_lab.diagnostics.curves import prediction_curves
from nlme_lab.diagnostics.inputs import resolve

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
pre { background: #f6f6f6; padding: 12px; overflow-x: auto; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: right; }
.note { color: #8a4b00; }
"""


def report_html(fit, *, model=None, data=None, n_vpc: int = 500, n_sim: int = 1000, seed: int = 1,
                vpc_options: dict | None = None, per_page: int = 16) -> str:
    """The report page as a string (see the module docstring)."""
    from bokeh.embed import components
    from bokeh.resources import INLINE

    from nlme_lab import plots

    t0 = time.perf_counter()
    inputs = resolve(fit, data, model=model)
    model, data = inputs.model, inputs.data
    table = residuals(fit, data, model=model, n_sim=n_sim, seed=seed)
    result = vpc(fit, data, model=model, n=n_vpc, seed=seed, **(vpc_options or {}))
    curves = prediction_curves(fit, data, model=model)
    figures = {"gof": plots.gof_panel(table), "eta_hist": plots.eta_histograms(table),
               "vpc": plots.vpc_plot(result), "spaghetti": plots.spaghetti(table),
               "convergence": plots.convergence_traces(fit)}
    if table.covariate_names:
        figures["eta_cov"] = plots.eta_covariates(table)
    n_subjects = table.records["ID"].nunique()
    for page in range(-(-n_subjects // per_page)):
        figures[f"individual_{page}"] = plots.individual_fits(table, curves, page=page, per_page=per_page)
    script, divs = components(figures)
    body = _body(fit, model, data, table, result, divs, time.perf_counter() - t0)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(_title(fit, model))}"
            f"</title><style>{STYLE}</style>{INLINE.render()}{script}</head><body>{body}</body></html>")


def report(fit, path="report.html", *, model=None, data=None, **options) -> Path:
    """Write the report of ``fit`` (``report_html``) to ``path`` (UTF-8) and return the path
    (``nlme_lab.report``). ``model`` / ``data``: for a fit that does not carry them. Options:
    ``n_vpc``, ``n_sim``, ``seed``, ``vpc_options``, ``per_page``."""
    path = Path(path)
    path.write_text(report_html(fit, model=model, data=data, **options), encoding="utf-8")
    return path


def _title(fit, model) -> str:
    return f"nlme_lab report: {model.name or 'model'} ({fit.method.name})"


def _body(fit, model, data, table, result, divs, elapsed) -> str:
    esc = html.escape
    notes = "".join(f"<p class='note'>{esc(n)}</p>" for n in (*fit.warnings, *table.notes))
    head = (f"<h1>{esc(_title(fit, model))}</h1><p>data: {esc(fit.data_name or str(data.source))}; "
            f"{fit.n_subjects} subjects, {fit.n_observations} observations; OFV {fit.ofv:.4f} "
            f"(AIC {fit.aic:.2f}, BIC {fit.bic:.2f}); {esc(fit.message)}</p>{notes}")
    kind = "pcVPC" if result.pred_corrected else "VPC"
    parts = [head, "<h2>Model</h2>", f"<pre>{esc(model.text)}</pre>", "<h2>Estimates</h2>", fit._repr_html_(),
             "<h2>Goodness of fit</h2>", divs["gof"],
             f"<h2>{kind}</h2><p>{result.n_replicates} simulated replicates (seed {result.seed}), "
             f"{result.ci:g}% intervals of the {', '.join(f'{p:g}' for p in result.percentile_levels)}th percentiles"
             f"{'; ' + esc(result.exclusions) + ' left out' if result.exclusions else ''}.</p>", divs["vpc"],
             "<h2>Random effects</h2>", divs["eta_hist"]]
    if "eta_cov" in divs:
        parts += ["<h3>EBEs against covariates</h3>", divs["eta_cov"]]
    parts += ["<h2>Individual fits</h2>"] + [divs[k] for k in sorted(d for d in divs if d.startswith("individual_"))]
    parts += ["<h2>Observations</h2>", divs["spaghetti"], "<h2>Parameter traces</h2>", divs["convergence"],
              f"<p><small>diagnostics computed in {elapsed:.1f} s</small></p>"]
    return "\n".join(parts)
