"""Presentations of a ``FitResult``: the estimates table as rows, plain text (CLI), HTML
(notebooks) and a JSON-ready dict.

Extra columns follow the field's habits: a log-scale theta paired with an eta inside the same
``exp()`` shows its typical value (median) ``exp(theta)`` and mean ``exp(theta + omega^2/2)``;
the variance of an exponential eta shows CV% = 100 sqrt(exp(omega^2) - 1) and its SD-based
shrinkage; a covariance shows the correlation.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # theta, omega_var, omega_cov, sd
    estimate: float
    fixed: bool
    se: float | None
    rse: float | None
    ci: tuple[float, float] | None
    note: str  # back-transformed value, CV% or correlation
    shrinkage: float | None


def rows(fit) -> list[Row]:
    by_theta = {p["theta"]: p for p in fit.lognormal if p.get("theta")}
    by_eta = {p["eta"]: p for p in fit.lognormal}
    shrink = fit.shrinkage.eta_sd if fit.shrinkage is not None else {}
    out = []
    for name, value in fit.estimates.items():
        kind = fit.kinds.get(name, "omega_cov" if "," in name else "theta")
        note = ""
        if name in by_theta:
            p = by_theta[name]
            note = f"median {_g(p['median'])}, mean {_g(p['mean'])}"
        elif kind == "omega_var" and name in by_eta:
            note = f"CV {by_eta[name]['cv_percent']:.1f}%"
        elif kind == "omega_cov":
            a, b = name.split(",")
            denom = math.sqrt(max(fit.estimates.get(a, 0.0) * fit.estimates.get(b, 0.0), 0.0))
            note = f"corr {value / denom:+.3f}" if denom > 0 else ""
        out.append(Row(name, kind, float(value), name in fit.fixed, fit.se.get(name), fit.rse.get(name),
                       fit.ci.get(name), note, shrink.get(name) if kind == "omega_var" else None))
    return out


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
    """How a sampling method's OFV was computed (nothing for FO/FOCE/FOCEI/Laplace)."""
    if "ofv_method" not in fit.extra:
        return []
    se = fit.extra.get("ofv_mc_se")
    mc = f" +- {se:.3f} (Monte-Carlo SE)" if se is not None else ""
    return [f"OFV by {fit.extra['ofv_method']}{mc}; by linearization (FOCEI objective at these estimates) "
            f"{fit.extra['ofv_linearization']:.4f}"]


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


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def fit_to_dict(fit) -> dict:
    shrink = {}
    if fit.shrinkage is not None:
        shrink = {k: _num(v) for k, v in fit.shrinkage.eta_sd.items()}
        shrink["eps"] = _num(fit.shrinkage.epsilon_sd)
    cov = fit.covariance
    return {
        "method": fit.method.value, "model": fit.model_name, "data": fit.data_name,
        "ofv": _num(fit.ofv), "loglik": _num(fit.loglik), "aic": _num(fit.aic), "bic": _num(fit.bic),
        "n_subjects": fit.n_subjects, "n_observations": fit.n_observations, "n_parameters": fit.n_parameters,
        "converged": bool(fit.converged), "termination": fit.termination.name.lower(), "message": fit.message,
        "iterations": fit.iterations, "n_evaluations": fit.n_evaluations,
        "estimates": {k: _num(v) for k, v in fit.estimates.items()},
        "fixed": list(fit.fixed),
        "se": {k: _num(v) for k, v in fit.se.items()},
        "rse_percent": {k: _num(v) for k, v in fit.rse.items()},
        "ci95": {k: [_num(a), _num(b)] for k, (a, b) in fit.ci.items()},
        "shrinkage_sd_percent": shrink,
        "lognormal": [{k: (_num(v) if isinstance(v, float) else v) for k, v in p.items()} for p in fit.lognormal],
        "covariance": None if cov is None else {"kind": cov.kind.value, "ok": cov.ok, "message": cov.message,
                                                 "condition_number": _num(fit.condition_number)},
        "warnings": list(fit.warnings), "seed": fit.seed, "elapsed_s": _num(fit.elapsed_s),
    } | _stochastic_fields(fit) | _posterior_fields(fit)


def _stochastic_fields(fit) -> dict:
    """SAEM (and other sampling methods) say how ``ofv`` was computed; FOCEI writes nothing here."""
    if "ofv_method" not in fit.extra:
        return {}
    return {"ofv_linearization": _num(fit.extra.get("ofv_linearization")), "ofv_method": fit.extra["ofv_method"],
            "ofv_mc_se": _num(fit.extra.get("ofv_mc_se"))}


def _posterior_fields(fit) -> dict:
    """NUTS: the convergence diagnostics and priors of the posterior summaries."""
    if "rhat" not in fit.extra:
        return {}
    e = fit.extra
    return {"posterior": {"rhat": {k: _num(v) for k, v in e["rhat"].items()},
                          "ess_bulk": {k: _num(v) for k, v in e["ess_bulk"].items()},
                          "ess_tail": {k: _num(v) for k, v in e["ess_tail"].items()},
                          "divergences": int(e["divergences"]), "chains": e["chains"],
                          "draws_per_chain": e["draws_per_chain"], "tune": e["tune"], "priors": e["priors"]}}
