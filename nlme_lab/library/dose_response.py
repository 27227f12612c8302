"""Dose-response curves of ecotoxicology and bioassays, in the parametrization of the R package
drc (Ritz et al. 2015): slope ``b``, lower limit ``c``, upper limit ``d``, the inflection
``e`` (ED50 of the log-logistic) and, for hormesis, ``f``.

* ``log_logistic`` (LL.4): c + (d - c) / (1 + (x / e)^b)
* ``weibull`` type 1 (W1.4): c + (d - c) exp(-(x / e)^b); type 2 (W2.4): c + (d - c) (1 - exp(-(x / e)^b))
* ``brain_cousens`` (BC.5, hormesis): c + (d - c + f x) / (1 + (x / e)^b)

``(x / e)^b`` is written ``(x / e)**b if x > 0 else 0``: a control (x = 0) gets the curve's
limit at 0 (d for LL.4 with b > 0, as drc decreases for b > 0) without a logarithm of 0 in
the derivatives. ``e`` is on the log scale (a log-normal ED50 between units, e.g. jars or
batches), ``b``, ``c``, ``d``, ``f`` on their natural scales.
"""

from __future__ import annotations

from typing import Literal

from nlme_lab.library.catalog import TemplateGroup, call_text, template
from nlme_lab.library.writer import ErrorModel, ErrorName, Param, Parts, TemplateError, check_random, check_x, render
from nlme_lab.model import Model

_X = {"x": "the data column of the dose or concentration, e.g. CONC (no doses or TIME needed)"}
B = Param("b", 2.0, "slope (b > 0: decreasing)", log=False)
C = Param("c", 0.0, "lower limit", log=False)
D = Param("d", 100.0, "upper limit (response of the controls)", log=False)
E = Param("e", 10.0, "ED50 / inflection point (unit of x)")


def _curve(name: str, title: str, params: tuple[Param, ...], formula: str, *, x: str, random, error, values,
           options: dict) -> Model:
    check_x(x, {p.name for p in params} | {"ratio", "y"})
    chosen = check_random(random, params, ("e",))
    notes = (f"data: observations of y at the doses/concentrations of column {x} (no doses, no time needed)",)
    body = (f"ratio = ({x} / e)**b if {x} > 0 else 0", f"y = {formula}")
    parts = Parts(name, title, call_text(name, {**options, "x": x, "random": random, "error": error}), params, body,
                  "y", notes)
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values), name=name)


@template(TemplateGroup.DOSE_RESPONSE, "four-parameter log-logistic dose-response (drc's LL.4)", _X)
def log_logistic(*, x: str = "CONC", random: tuple[str, ...] | None = None, error: ErrorName = "add",
                 values: dict | None = None) -> Model:
    """y = c + (d - c) / (1 + (x / e)**b)."""
    return _curve("log_logistic", "four-parameter log-logistic (LL.4)", (B, C, D, E), "c + (d - c) / (1 + ratio)",
                  x=x, random=random, error=error, values=values, options={})


@template(TemplateGroup.DOSE_RESPONSE, "four-parameter Weibull dose-response (drc's W1.4 or W2.4)",
          {**_X, "type": "1: W1.4, c + (d - c) exp(-(x/e)^b); 2: W2.4, c + (d - c) (1 - exp(-(x/e)^b))"})
def weibull(*, type: Literal[1, 2] = 1, x: str = "CONC", random: tuple[str, ...] | None = None,
            error: ErrorName = "add", values: dict | None = None) -> Model:
    """W1.4 or W2.4 (drc's Weibull types 1 and 2)."""
    if type not in (1, 2):
        raise TemplateError(f"type={type!r}: 1 (W1.4) or 2 (W2.4)")
    formula = "c + (d - c) * exp(-ratio)" if type == 1 else "c + (d - c) * (1 - exp(-ratio))"
    return _curve("weibull", f"four-parameter Weibull type {type} (W{type}.4)", (B, C, D, E), formula, x=x,
                  random=random, error=error, values=values, options={"type": type})


@template(TemplateGroup.DOSE_RESPONSE, "Brain-Cousens hormesis dose-response (drc's BC.5)", _X)
def brain_cousens(*, x: str = "CONC", random: tuple[str, ...] | None = None, error: ErrorName = "add",
                  values: dict | None = None) -> Model:
    """y = c + (d - c + f * x) / (1 + (x / e)**b): a low-dose increase (f > 0) before the decline."""
    f = Param("f", 5.0, "hormesis: initial slope of the low-dose increase", log=False)
    return _curve("brain_cousens", "Brain-Cousens hormesis (BC.5)", (B, C, D, E, f),
                  f"c + (d - c + f * {x}) / (1 + ratio)", x=x, random=random, error=error, values=values, options={})
