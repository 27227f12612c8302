"""One self-contained HTML page of an external validation (``nl.validate(fit, new_data)``): the
prediction OFV, the PRED / IPRED prediction-error table with 95% CIs, the NPDE summary, the
per-subject prediction OFVs and, when the result carries one (``validate(..., n_vpc=N)``), the
VPC of the new data under the fitted model.

BokehJS is inlined (``bokeh.resources.INLINE``) as in the fit report (``plots.report``), so the
page works offline. The numbers are the result's own; this module only lays them out.
``validation_report(result, path)`` is ``nlme_lab.validation_report`` (and what
``nlme-lab validate --report`` calls): like the fit report it is reached from the top, the
validation layer knows nothing of it.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from nlme_lab.plots.report import STYLE

ERROR_ROWS = (("mpe", "MPE"), ("mape", "MAPE"), ("rmse", "RMSE"), ("mpe_percent", "MPE %"),
              ("mape_percent", "MAPE %"), ("rmse_percent", "RMSE %"))


def fmt(value, digits: int = 4) -> str:
    """A number as the page shows it (``digits`` significant digits; blank when missing)."""
    if value is None:
        return ""
    value = float(value)
    return f"{value:.{digits}g}" if math.isfinite(value) else ""


def validation_report_html(result, *, title: str | None = None, data_name: str | None = None) -> str:
    """The page as a string (module docstring). ``title`` / ``data_name``: shown escaped."""
    from bokeh.resources import INLINE

    title = title or "nlme_lab external validation"
    script, vpc_div = "", ""
    if result.vpc is not None:
        from bokeh.embed import components

        from nlme_lab.plots.vpc import vpc_plot

        script, vpc_div = components(vpc_plot(result.vpc))
    body = _body(result, title, data_name, vpc_div)
    resources = INLINE.render() if script else ""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style>{resources}{script}</head><body>{body}</body></html>")


def validation_report(result, path="validation.html", **options) -> Path:
    """Write the page of ``result`` (a ``ValidationResult``; ``validation_report_html``) to ``path``
    (UTF-8) and return the path. Options: ``title``, ``data_name``."""
    from nlme_lab.validation import ValidationResult

    if not isinstance(result, ValidationResult):
        raise TypeError(f"validation_report needs a ValidationResult (from nl.validate), not {type(result).__name__}")
    path = Path(path)
    path.write_text(validation_report_html(result, **options), encoding="utf-8")
    return path


def error_table_html(result) -> str:
    """PRED and IPRED errors side by side, each with its 95% CI."""
    head = ("<table><tr><th style='text-align:left'>error</th><th>PRED</th><th>PRED 95% CI</th>"
            "<th>IPRED</th><th>IPRED 95% CI</th></tr>")
    rows = []
    for key, label in ERROR_ROWS:
        cells = [f"<td style='text-align:left'>{label}</td>"]
        for errors in (result.pred, result.ipred):
            lo, hi = errors.ci.get(key, (None, None))
            ci = f"{fmt(lo)} to {fmt(hi)}" if fmt(lo) and fmt(hi) else ""
            cells += [f"<td>{fmt(getattr(errors, key))}</td>", f"<td>{ci}</td>"]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    counts = (f"<p>{result.pred.n} observations; the % versions on the {result.pred.n_percent} with DV &gt; 0. "
              "Prediction error = prediction - DV; IPRED at the MAP etas.</p>")
    return head + "".join(rows) + "</table>" + counts


def npde_html(npde) -> str:
    if npde is None:
        return "<p>not computed (<code>validate(..., npde=False)</code>)</p>"
    rows = (("observations", str(npde.n)), ("mean", fmt(npde.mean)), ("variance", fmt(npde.variance)),
            ("p (t-test, mean 0)", fmt(npde.p_mean)), ("p (Fisher, variance 1)", fmt(npde.p_variance)),
            ("p (Shapiro-Wilk)", fmt(npde.p_normality)), ("global p (Bonferroni)", fmt(npde.p_value)))
    return "<table>" + "".join(f"<tr><td style='text-align:left'>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _body(result, title, data_name, vpc_div) -> str:
    esc = html.escape
    source = f"data: {esc(str(data_name))}; " if data_name else ""
    notes = "".join(f"<p class='note'>{esc(str(n))}</p>" for n in result.notes)
    parts = [f"<h1>{esc(title)}</h1>",
             f"<p>{source}{result.n_subjects} subjects, {result.n_observations} observations; every parameter "
             f"fixed at the fit; objective {esc(result.method.upper())}.</p>{notes}",
             "<h2>Prediction OFV</h2>",
             f"<p class='ofv'>{result.prediction_ofv:.4f}</p>",
             "<h2>Prediction errors</h2>", error_table_html(result),
             "<h2>NPDE</h2>", npde_html(result.npde)]
    if vpc_div:
        vpc = result.vpc
        kind = "pcVPC" if vpc.pred_corrected else "VPC"
        parts += [f"<h2>{kind} of the new data</h2><p>{vpc.n_replicates} simulated replicates (seed {vpc.seed}) "
                  f"under the fitted model.</p>", vpc_div]
    subjects = result.subjects.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)
    parts += ["<h2>Prediction OFV per subject</h2>", subjects]
    return "\n".join(parts)
