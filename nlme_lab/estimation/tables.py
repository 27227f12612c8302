"""Presentations of a ``FitResult``: the estimates table as rows, a pandas DataFrame
(``fit.summary()``), plain text (CLI, ``print(fit)``), HTML (notebooks) and labelled matrices.

Extra columns follow the field's habits: a log-scale theta paired with an eta inside the same
``exp()`` shows its typical value (median) ``exp(theta)`` and mean ``exp(theta + omega^2/2)``;
the variance of an exponential eta shows CV% = 100 sqrt(exp(omega^2) - 1) and its SD-based
shrinkage; a covariance shows the correlation.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from nlme_lab.model.parameter_names import split_name
from nlme_lab.model.parameter_table import ParameterKind, Scale

SUMMARY_COLUMNS = ("parameter", "kind", "estimate", "fixed", "se", "rse_percent", "ci_low", "ci_high",
                   "shrinkage_percent", "back_transformed", "cv_percent", "correlation")


@dataclass(frozen=True)
class Row:
    name: str
    kind: ParameterKind
    scale: Scale
    estimate: float
    fixed: bool
    se: float | None
    rse: float | None
    ci: tuple[float, float] | None
    shrinkage: float | None  # SD-based eta shrinkage (percent) of a variance
    median: float | None = None  # exp(theta) of a log-scale typical value
    mean: float | None = None  # exp(theta + omega^2 / 2)
    cv_percent: float | None = None  # of a log-normal random effect's variance
    correlation: float | None = None  # of a covariance

    @property
    def note(self) -> str:
        """The back-transformed value, CV% or correlation, as the text and HTML tables show it."""
        if self.median is not None:
            return f"median {_g(self.median)}, mean {_g(self.mean)}"
        if self.cv_percent is not None:
            return f"CV {self.cv_percent:.1f}%"
        if self.correlation is not None:
            return f"corr {self.correlation:+.3f}"
        return ""


def _entry(fit, name: str) -> tuple[ParameterKind, Scale]:
    """The kind and scale of ``name`` (from the fit's table; by its shape for an older result)."""
    table = fit.parameters
    if table is not None and table.canonical(name) is not None:
        e = table.entry(name)
        return e.kind, e.scale
    if "," in name:
        return ParameterKind.OMEGA, Scale.COVARIANCE
    return ParameterKind.THETA, Scale.VALUE


def rows(fit) -> list[Row]:
    by_theta = {p["theta"]: p for p in fit.lognormal if p.get("theta")}
    by_eta = {p["eta"]: p for p in fit.lognormal}
    shrink = fit.shrinkage.eta_sd if fit.shrinkage is not None else {}
    out = []
    for name, value in fit.estimates.items():
        kind, scale = _entry(fit, name)
        extra = {}
        if name in by_theta:
            extra = {"median": by_theta[name]["median"], "mean": by_theta[name]["mean"]}
        elif scale is Scale.VARIANCE and name in by_eta:
            extra = {"cv_percent": by_eta[name]["cv_percent"]}
        elif scale is Scale.COVARIANCE:
            a, b = split_name(name)
            denom = math.sqrt(max(fit.estimates.get(a, 0.0) * fit.estimates.get(b, 0.0), 0.0))
            extra = {"correlation": value / denom} if denom > 0 else {}
        out.append(Row(name, kind, scale, float(value), name in fit.fixed, fit.se.get(name), fit.rse.get(name),
                       fit.ci.get(name), shrink.get(name) if scale is Scale.VARIANCE else None, **extra))
    return out


def summary(fit):
    """The estimates as a pandas DataFrame, one row per parameter: kind (theta, omega, kappa,
    residual), estimate, fixed, SE, RSE%, the 95% CI, SD-based shrinkage of a variance, the
    back-transformed typical value exp(theta) of a log-scale theta, the CV% of a log-normal
    random effect and the correlation of a covariance (NaN where a column does not apply)."""
    import numpy as np
    import pandas as pd

    def num(x):
        return np.nan if x is None else float(x)

    data = [(r.name, r.kind.value, r.estimate, r.fixed, num(r.se), num(r.rse),
             num(r.ci[0]) if r.ci else np.nan, num(r.ci[1]) if r.ci else np.nan, num(r.shrinkage),
             num(r.median), num(r.cv_percent), num(r.correlation)) for r in rows(fit)]
    return pd.DataFrame(data, columns=list(SUMMARY_COLUMNS))


def labelled_matrix(fit, matrix):
    """``matrix`` (estimated parameters x estimated parameters) as a labelled DataFrame."""
    if matrix is None or fit.covariance is None:
        return None
    import pandas as pd

    names = list(fit.covariance.names)
    return pd.DataFrame(matrix, index=pd.Index(names, name="parameter"), columns=names)


def _g(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-" if x is None else str(x)
    return f"{x:.{digits}g}"


def header_lines(fit) -> list[str]:
    what = f"{fit.method.value.upper()} fit"
    if fit.model_name:
        what += f" of {fit.model_name}"
    if fit.data_name:
        what += f" to {fit.data_name}"
    status = fit.message or fit.termination.value
    return [
        f"{what}: {status}",
        f"{fit.n_subjects} subjects, {fit.n_observations} observations, {fit.n_parameters} estimated "
        f"parameters; {fit.elapsed_s:.2f} s",
        f"OFV {fit.ofv:.4f} (-2LL without N log 2pi)   log-likelihood {fit.loglik:.4f}   "
        f"AIC {fit.aic:.3f}   BIC {fit.bic:.3f}",
    ] + _ofv_method_line(fit)


def _ofv_method_line(fit) -> list[str]:
    """How a sampling method's OFV was computed (nothing for FO/FOCE/FOCEI/Laplace), and the
    FOCEI objective at the estimates when the OFV is another number (an OFV that is the
    linearization itself is not repeated)."""
    if not fit.ofv_method:
        return []
    se = fit.ofv_mc_se
    line = f"OFV by {fit.ofv_method}" + (f" +- {se:.3f} (Monte-Carlo SE)" if se is not None else "")
    lin = fit.ofv_linearization
    if lin is not None and lin != fit.ofv:
        line += f"; by linearization (FOCEI objective at these estimates) {lin:.4f}"
    return [line]


def text_table(fit) -> str:
    lines = header_lines(fit) + [""]
    head = ("parameter", "estimate", "SE", "RSE%", "95% CI", "", "shrinkage")
    body = []
    for r in rows(fit):
        ci = f"{_g(r.ci[0])} to {_g(r.ci[1])}" if r.ci else ""
        se = "(fixed)" if r.fixed else _g(r.se)
        rse = f"{r.rse:.1f}" if r.rse is not None and math.isfinite(r.rse) else ("" if r.fixed else "-")
        sh = f"{r.shrinkage:.1f}%" if r.shrinkage is not None and math.isfinite(r.shrinkage) else ""
        body.append((r.name, f"{r.estimate:.6g}", se, rse, ci, r.note, sh))
    if fit.shrinkage is not None and math.isfinite(fit.shrinkage.epsilon_sd):
        body.append(("(epsilon)", "", "", "", "", "", f"{fit.shrinkage.epsilon_sd:.1f}%"))
    widths = [max(len(row[k]) for row in [head] + body) for k in range(len(head))]
    align = ["<", ">", ">", ">", "^", "<", ">"]
    for row in [head] + body:
        lines.append("  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip())
    if fit.covariance is not None and not fit.covariance.ok:
        lines.append(f"\ncovariance step: {fit.covariance.message}")
    elif fit.condition_number is not None:
        lines.append(f"\ncovariance: {fit.covariance.kind.value}; condition number {fit.condition_number:.3g}")
    if fit.warnings:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in fit.warnings]
    return "\n".join(lines)


def html_table(fit) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("parameter", "estimate", "SE", "RSE%", "95% CI", "", "shrinkage"))
    body = []
    for r in rows(fit):
        ci = f"{_g(r.ci[0])} – {_g(r.ci[1])}" if r.ci else ""
        se = "fixed" if r.fixed else _g(r.se)
        rse = f"{r.rse:.1f}" if r.rse is not None and math.isfinite(r.rse) else ""
        sh = f"{r.shrinkage:.1f}%" if r.shrinkage is not None and math.isfinite(r.shrinkage) else ""
        cells = (r.name, f"{r.estimate:.6g}", se, rse, ci, r.note, sh)
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head_lines = "<br>".join(html.escape(x) for x in header_lines(fit))
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in fit.warnings)
    return (f"<div><b>{head_lines}</b><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + (f"<ul>{warn}</ul>" if warn else "") + "</div>")
