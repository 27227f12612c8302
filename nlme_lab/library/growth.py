"""Growth and decay curves of any independent variable ``x``: time ``t`` (the default), or a
data column such as AGE or CONC (then the data need no TIME column and no doses).

* ``decay_to_plateau``: y = plateau + (base - plateau) exp(-k x), e.g. an antibody level after
  B-cell depletion falling from its baseline to the plateau kept by long-lived plasma cells
  (log-normal parameters, as pharmacometric models write them);
* ``asymptotic``: R's ``SSasymp`` (Asym + (R0 - Asym) exp(-exp(lrc) x)) or, with
  ``offset=True``, ``SSasympOff`` (Asym (1 - exp(-exp(lrc) (x - c0)))), in R's
  parametrization with nlme's additive random effects (``asym = tasym + eta_asym``): the models
  of Pinheiro & Bates for the Loblolly and CO2 data;
* ``logistic``: R's ``SSlogis``, Asym / (1 + exp((xmid - x) / scal));
* ``gompertz``: Asym exp(-exp(-k (x - xmid))) (inflection at xmid);
* ``von_bertalanffy``: Linf (1 - exp(-k (x - x0)))^b, b = 1 for length, 3 for weight.
"""

from __future__ import annotations

from typing import Literal

from nlme_lab.library.catalog import TemplateGroup, call_text, template
from nlme_lab.library.writer import ErrorModel, ErrorName, Param, Parts, TemplateError, check_random, check_x, render
from nlme_lab.model import Model

_X = {"x": "the independent variable: t (time) or a data column such as AGE or CONC"}


def _growth(name: str, title: str, params: tuple[Param, ...], formula: str, *, x: str, default_random, random,
            error, values, options: dict) -> Model:
    check_x(x, {p.name for p in params} | {"y"})
    notes = ((f"data: observations of y at the values of column {x} (no doses; no TIME column needed)",)
             if x != "t" else ("data: observations of y over time (no doses)",))
    chosen = check_random(random, params, default_random)
    parts = Parts(name, title, call_text(name, {**options, "x": x, "random": random, "error": error}), params,
                  (f"y = {formula.replace('X', x)}",), "y", notes)
    return Model(render(parts, random=chosen, error=ErrorModel.parse(error), values=values), name=name)


@template(TemplateGroup.GROWTH, "exponential decay (or rise) from a baseline to a plateau, e.g. antibody levels", _X)
def decay_to_plateau(*, x: str = "t", random: tuple[str, ...] | None = None, error: ErrorName = "prop",
                     values: dict | None = None) -> Model:
    """y = plateau + (base - plateau) * exp(-k * x)."""
    params = (Param("base", 100.0, "level at x = 0"), Param("plateau", 20.0, "level reached for large x"),
              Param("k", 0.05, "rate constant (1/unit of x; half-life log(2)/k)"))
    return _growth("decay_to_plateau", "exponential approach from a baseline to a plateau", params,
                   "plateau + (base - plateau) * exp(-k * X)", x=x, default_random=("base", "plateau"),
                   random=random, error=error, values=values, options={})


@template(TemplateGroup.GROWTH, "asymptotic regression, R's SSasymp or SSasympOff (nlme's parametrization)",
          {**_X, "offset": "False: SSasymp (Asym, R0, lrc); True: SSasympOff (Asym, lrc, c0, the x where y = 0)"})
def asymptotic(*, offset: bool = False, x: str = "t", random: tuple[str, ...] | None = None,
               error: ErrorName = "add", values: dict | None = None) -> Model:
    """SSasymp: asym + (r0 - asym) * exp(-exp(lrc) * x); SSasympOff: asym * (1 - exp(-exp(lrc) * (x - c0)))."""
    asym = Param("asym", 100.0, "asymptote for large x", log=False)
    lrc = Param("lrc", -3.0, "log of the rate constant", log=False, omega=0.01)
    if offset:
        params = (asym, lrc, Param("c0", 50.0, "x at which y = 0", log=False))
        formula, title = "asym * (1 - exp(-exp(lrc) * (X - c0)))", "asymptotic regression with an offset (SSasympOff)"
    else:
        params = (asym, Param("r0", 0.0, "y at x = 0", log=False), lrc)
        formula, title = "asym + (r0 - asym) * exp(-exp(lrc) * X)", "asymptotic regression (SSasymp)"
    return _growth("asymptotic", title, params, formula, x=x, default_random=("asym",), random=random, error=error,
                   values=values, options={"offset": offset})


@template(TemplateGroup.GROWTH, "logistic growth, R's SSlogis: Asym / (1 + exp((xmid - x) / scal))", _X)
def logistic(*, x: str = "t", random: tuple[str, ...] | None = None, error: ErrorName = "add",
             values: dict | None = None) -> Model:
    """y = asym / (1 + exp((xmid - x) / scal))."""
    params = (Param("asym", 100.0, "upper asymptote", log=False), Param("xmid", 10.0, "x at half the asymptote",
                                                                         log=False),
              Param("scal", 3.0, "scale: x distance from half to 1/(1 + e^-1) of the asymptote", log=False))
    return _growth("logistic", "logistic growth (SSlogis)", params, "asym / (1 + exp((xmid - X) / scal))", x=x,
                   default_random=("asym",), random=random, error=error, values=values, options={})


@template(TemplateGroup.GROWTH, "Gompertz growth: Asym exp(-exp(-k (x - xmid)))", _X)
def gompertz(*, x: str = "t", random: tuple[str, ...] | None = None, error: ErrorName = "add",
             values: dict | None = None) -> Model:
    """y = asym * exp(-exp(-k * (x - xmid)))."""
    params = (Param("asym", 100.0, "upper asymptote", log=False),
              Param("xmid", 10.0, "x at the inflection point (y = asym / e)", log=False),
              Param("k", 0.3, "growth rate constant (1/unit of x)"))
    return _growth("gompertz", "Gompertz growth", params, "asym * exp(-exp(-k * (X - xmid)))", x=x,
                   default_random=("asym",), random=random, error=error, values=values, options={})


@template(TemplateGroup.GROWTH, "von Bertalanffy growth: Linf (1 - exp(-k (x - x0)))^b (b = 1 length, 3 weight)",
          {**_X, "exponent": "1: length; 3: weight (isometric)"})
def von_bertalanffy(*, exponent: Literal[1, 3] = 1, x: str = "t", random: tuple[str, ...] | None = None,
                    error: ErrorName = "add", values: dict | None = None) -> Model:
    """y = linf * (1 - exp(-k * (x - x0)))**exponent."""
    params = (Param("linf", 100.0, "asymptotic size", log=False), Param("k", 0.2, "growth rate constant"),
              Param("x0", 0.0, "x at which the size would be 0", log=False))
    if exponent not in (1, 3):
        raise TemplateError(f"exponent={exponent!r}: 1 (length) or 3 (weight)")
    power = "" if exponent == 1 else f"**{exponent}"
    return _growth("von_bertalanffy", f"von Bertalanffy growth ({'length' if exponent == 1 else 'weight'})",
                   params, f"linf * (1 - exp(-k * (X - x0))){power}", x=x, default_random=("linf",), random=random,
                   error=error, values=values, options={"exponent": exponent})
