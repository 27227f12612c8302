"""Covariate effects as model transformations: each returns a new ``Model`` whose text says what
was added; the model passed in is untouched.

``add_covariate_effect(model, "cl", "WT", "linear", data=data)`` turns

    cl = tvcl * exp(eta_cl)

into

    # cl-WT: linear covariate effect, reference 1.3 (median) [nl.add_covariate_effect]
    cov_cl_wt = 1 + cl_wt * (WT - 1.3)
    cl = tvcl * exp(eta_cl) * cov_cl_wt

and declares ``cl_wt = (-0.4, 0, 1.42)`` in ``[ini]`` (PsN's bounds: the factor stays positive
over the observed range). The forms and their PsN conventions:

- ``linear``: ``1 + theta*(COV - ref)``, bounds ``-1/(max-ref) < theta < 1/(ref-min)``;
- ``power``: ``(COV/ref)**theta``; ``exp``: ``exp(theta*(COV - ref))``;
- ``piecewise_linear``: a hockey stick at the median, ``1 + theta_lo*(COV - ref)`` below it and
  ``1 + theta_hi*(COV - ref)`` above (two thetas, each bounded as ``linear`` on its side);
- ``categorical``: one theta per level other than the reference, factor ``1 + theta_k`` when
  ``COV == k``, bounds (-1, 5); the reference is the level held by the most subjects (a tie goes
  to the smallest level), degrees of freedom = levels - 1.

Theta names are ``<parameter>_<covariate>`` in lower case (``cl_wt``), a categorical level's
``<parameter>_<covariate>_<level>`` (``v_apgr_2``), the hockey stick's ``cl_wt_lo``/``cl_wt_hi``;
the factor variable is ``cov_<parameter>_<covariate>``. ``remove_covariate_effect`` undoes any of
them (and ``add_allometry``'s, which are power effects with fixed exponents).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.model import ast
from nlme_lab.model.parser import parse

class CovariateError(NlmeError, ValueError):
    """A covariate relation that cannot be built (a column absent or missing in some subjects, a
    parameter the model does not assign, a categorical covariate with one level, ...)."""


FORMS = ("linear", "power", "exp", "piecewise_linear", "categorical")
MARK = "[nl.add_covariate_effect]"
CATEGORICAL_BOUNDS = (-1.0, 5.0)


@dataclass(frozen=True)
class CovariateEffect:
    """What one relation adds: its thetas, their degrees of freedom, the reference value."""

    parameter: str
    covariate: str
    form: str
    reference: float
    theta_names: tuple[str, ...]
    levels: tuple[float, ...] = ()  # categorical: every level, the reference first

    @property
    def relation(self) -> str:
        return f"{self.parameter}-{self.covariate}"

    @property
    def df(self) -> int:
        return len(self.theta_names)


@dataclass(frozen=True)
class CovariateValues:
    """A covariate's values as the effects read them: per-subject medians (for the reference),
    the range over every record (for linear bounds) and the levels with their subject counts."""

    name: str  # as the dataset spells it
    subject_medians: np.ndarray
    minimum: float
    maximum: float
    levels: tuple[float, ...]
    level_subjects: tuple[int, ...]  # subjects holding each level (at any record)

    @property
    def median(self) -> float:
        return float(np.median(self.subject_medians))

    @property
    def reference_level(self) -> float:
        """The level held by the most subjects; a tie goes to the smallest level."""
        best = max(self.level_subjects)
        return next(lv for lv, n in zip(self.levels, self.level_subjects) if n == best)


# --------------------------------------------------------------------------- data checks
def covariate_values(data, covariate: str) -> CovariateValues:
    """Read ``covariate`` (case-insensitive) from a ``Dataset``; a clear ``ValueError`` when the
    column is absent or missing in some subjects."""
    names = {n.lower(): k for k, n in enumerate(data.covariate_names)}
    k = names.get(covariate.lower())
    if k is None:
        raise CovariateError(f"covariate '{covariate}' is not a column of the data (covariate columns: "
                         f"{', '.join(data.covariate_names) or 'none'})")
    column = np.asarray(data.covariates[:, k], dtype=float)
    offsets = np.asarray(data.offsets)
    per_subject = [column[offsets[i]:offsets[i + 1]] for i in range(offsets.size - 1)]
    missing = [str(data.ids[i]) for i, v in enumerate(per_subject) if v.size == 0 or np.isnan(v).any()]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise CovariateError(f"covariate '{data.covariate_names[k]}' has missing values in subject(s) {shown}: "
                         "impute them or drop those subjects before a covariate search")
    levels = np.unique(column)
    held = [set(np.unique(v).tolist()) for v in per_subject]
    counts = tuple(sum(1 for h in held if lv in h) for lv in levels.tolist())
    return CovariateValues(name=data.covariate_names[k], subject_medians=np.array([np.median(v) for v in per_subject]),
                           minimum=float(column.min()), maximum=float(column.max()),
                           levels=tuple(float(x) for x in levels), level_subjects=counts)


def _assignments(program) -> dict[str, ast.Assign]:
    return {s.name: s for s in program.model if isinstance(s, ast.Assign)}


def _require_parameter(model, program, parameter: str) -> ast.Assign:
    assigned = _assignments(program)
    if parameter not in assigned:
        choices = ", ".join(n for n in assigned if not n.startswith("cov_")) or "none"
        raise CovariateError(f"parameter '{parameter}' is not assigned in the model's [model] section "
                         f"(variables: {choices})")
    return assigned[parameter]


# --------------------------------------------------------------------------- text helpers
def _num(x: float) -> str:
    return "0" if x == 0 else f"{x:.6g}"


def _level_text(level: float) -> str:
    text = _num(level)
    return text.replace("-", "m").replace(".", "p").replace("+", "")


def _theta_line(name: str, init: float, lower: float | None, upper: float | None, fixed: bool, label: str) -> str:
    if lower is None and upper is None:
        spec = f"fix({_num(init)})" if fixed else _num(init)
    else:
        lo = _num(lower) if lower is not None else "-1e10"
        inner = f"{lo}, {_num(init)}" + (f", {_num(upper)}" if upper is not None else "")
        spec = f"fix({inner})" if fixed else f"({inner})"
    return f"{name} = {spec}    # {label}"


def _inside(bound: float, toward: float) -> float:
    """A bound pulled a hair toward ``toward`` so rounding to 6 digits keeps the factor positive."""
    return float(f"{bound + (toward - bound) * 1e-5:.6g}")


def _factor_name(parameter: str, covariate: str) -> str:
    return f"cov_{parameter}_{covariate.lower()}"


def _edit(model, program, parameter: str, factor: str, comment: str, factor_expr: str,
          theta_lines: list[str]):
    """The new model text: theta lines after the last [ini] statement, the comment and factor
    line before the parameter's assignment, ``* factor`` appended to it."""
    from nlme_lab.model import Model

    lines = model.text.split("\n")
    stmt = _require_parameter(model, program, parameter)
    line = lines[stmt.span.line - 1]
    value = stmt.value
    start, end = value.span.col - 1, value.span.end_col - 1
    rhs = line[start:end]
    simple = (isinstance(value, ast.Name | ast.Call | ast.Num)
              or (isinstance(value, ast.BinOp) and value.op in ("*", "/", "**")))
    new_rhs = f"{rhs} * {factor}" if simple else f"({rhs}) * {factor}"
    lines[stmt.span.line - 1] = line[:start] + new_rhs + line[end:]
    indent = line[: len(line) - len(line.lstrip())]
    lines[stmt.span.line - 1:stmt.span.line - 1] = [f"{indent}# {comment} {MARK}", f"{indent}{factor} = {factor_expr}"]
    last_ini = max((s.span.line for s in program.ini), default=None)
    if last_ini is None:
        ini_header = next(s.span.line for s in program.sections if s.name == "ini")
        last_ini = ini_header
    lines[last_ini:last_ini] = theta_lines
    return Model._derived("\n".join(lines), model.name)


def _as_model(model):
    from nlme_lab.model import Model

    if isinstance(model, Model):
        return model
    raise TypeError(f"a covariate effect transforms a Model, not {type(model).__name__}")


# --------------------------------------------------------------------------- public transforms
def describe_effect(model, parameter: str, covariate: str, form: str, *, reference="median",
                    data=None) -> CovariateEffect:
    """The ``CovariateEffect`` that ``add_covariate_effect`` would add (names, df, reference),
    with every check it makes, without building the model."""
    return _plan(_as_model(model), parameter, covariate, form, reference, data)[0]


def add_covariate_effect(model, parameter: str, covariate: str, form: str = "linear", *, reference="median",
                         data=None):
    """A new model with a ``form`` effect of ``covariate`` multiplying ``parameter`` (a variable
    assigned in ``[model]``); see the module docstring for the forms. ``reference``: ``"median"``
    (over subjects; needs ``data``) or a number; ``data`` (a ``Dataset``) is needed for the
    median, linear bounds, the hockey stick and categorical levels, and is then checked: the
    covariate must be a column with no missing values. New thetas start at their neutral value
    (the factor is 1)."""
    model = _as_model(model)
    effect, factor_expr, theta_lines, comment = _plan(model, parameter, covariate, form, reference, data)
    program = parse(model.text)
    return _edit(model, program, parameter, _factor_name(parameter, effect.covariate), comment, factor_expr,
                 theta_lines)


def _plan(model, parameter, covariate, form, reference, data):
    if form not in FORMS:
        raise CovariateError(f"unknown covariate form '{form}' (choose from {', '.join(FORMS)})")
    program = parse(model.text)
    _require_parameter(model, program, parameter)
    values = covariate_values(data, covariate) if data is not None else None
    cov = values.name if values is not None else covariate
    factor = _factor_name(parameter, cov)
    if factor in _assignments(program):
        raise CovariateError(f"the model already has a {parameter}-{cov} effect ({factor}): remove it first "
                         "(nl.remove_covariate_effect)")
    base = f"{parameter}_{cov.lower()}"
    existing = {t.name for t in model.thetas}
    if form in ("categorical", "piecewise_linear") and values is None:
        raise CovariateError(f"a {form} effect needs the data (data=...) to find the covariate's levels or median")
    if isinstance(reference, str):
        if reference != "median":
            raise CovariateError(f"reference must be 'median' or a number, not {reference!r}")
        if values is None and form != "categorical":
            raise CovariateError(f"reference='median' needs the data (data=...) to compute the median of {cov}; "
                             "or pass a number")
        ref = values.median if values is not None else math.nan
        how = "median"
    else:
        ref = float(reference)
        how = "given"
    label = f"{parameter}-{cov} {form}"
    if form == "categorical":
        if len(values.levels) < 2:
            raise CovariateError(f"categorical covariate '{cov}' has a single level ({_num(values.levels[0])}): "
                             "it cannot explain any variability")
        ref_level = values.reference_level
        others = [lv for lv in values.levels if lv != ref_level]
        names = tuple(f"{base}_{_level_text(lv)}" for lv in others)
        terms = " + ".join(f"{n} * ({cov} == {_num(lv)})" for n, lv in zip(names, others))
        lines = [_theta_line(n, 0.0, *CATEGORICAL_BOUNDS, False, f"{label}: {cov} == {_num(lv)} vs {_num(ref_level)}")
                 for n, lv in zip(names, others)]
        effect = CovariateEffect(parameter, cov, form, ref_level, names, (ref_level, *others))
        comment = (f"{parameter}-{cov}: categorical covariate effect, reference level {_num(ref_level)} "
                   f"(held by the most subjects), {len(others)} df")
        _check_new(names, existing)
        return effect, f"1 + {terms}", lines, comment
    if not math.isfinite(ref):
        raise CovariateError(f"the reference of {cov} must be a finite number, got {reference!r}")
    r = _num(ref)
    lo_b, hi_b = None, None
    if values is not None:
        lo_b = _inside(-1.0 / (values.maximum - ref), 0.0) if values.maximum > ref else None
        hi_b = _inside(1.0 / (ref - values.minimum), 0.0) if values.minimum < ref else None
    if form == "linear":
        names = (base,)
        expr = f"1 + {base} * ({cov} - {r})"
        lines = [_theta_line(base, 0.0, lo_b, hi_b, False, label)]
    elif form == "power":
        if values is not None and values.minimum <= 0:
            raise CovariateError(f"a power effect needs {cov} > 0, but its minimum is {_num(values.minimum)}")
        if ref <= 0:
            raise CovariateError(f"a power effect needs a positive reference, got {r}")
        names = (base,)
        expr = f"({cov} / {r}) ** {base}"
        lines = [_theta_line(base, 0.0, None, None, False, label)]
    elif form == "exp":
        names = (base,)
        expr = f"exp({base} * ({cov} - {r}))"
        lines = [_theta_line(base, 0.0, None, None, False, label)]
    else:  # piecewise_linear: a hockey stick at the reference
        lo_n, hi_n = f"{base}_lo", f"{base}_hi"
        names = (lo_n, hi_n)
        expr = f"1 + {lo_n} * min({cov} - {r}, 0) + {hi_n} * max({cov} - {r}, 0)"
        lines = [_theta_line(lo_n, 0.0, None, hi_b, False, f"{label} below {r}") if hi_b is not None
                 else _theta_line(lo_n, 0.0, None, None, False, f"{label} below {r}"),
                 _theta_line(hi_n, 0.0, lo_b, None, False, f"{label} above {r}") if lo_b is not None
                 else _theta_line(hi_n, 0.0, None, None, False, f"{label} above {r}")]
    _check_new(names, existing)
    comment = f"{parameter}-{cov}: {form.replace('_', ' ')} covariate effect, reference {r} ({how})"
    return CovariateEffect(parameter, cov, form, ref, names), expr, lines, comment


def _check_new(names, existing):
    clash = [n for n in names if n in existing]
    if clash:
        raise CovariateError(f"the model already declares {', '.join(clash)}: remove that effect first")


def add_allometry(model, weight: str = "WT", reference: float = 70, exponents: dict | None = None, fixed: bool = True,
                  *, data=None):
    """A new model with allometric scaling ``(WT/reference)**exponent`` on each parameter of
    ``exponents`` the model assigns (default cl and q 0.75, v and v2 1); the exponents are fixed
    unless ``fixed=False``. Parameters in ``exponents`` the model does not have are skipped; none
    at all is an error."""
    model = _as_model(model)
    exponents = {"cl": 0.75, "q": 0.75, "v": 1.0, "v2": 1.0} if exponents is None else dict(exponents)
    ref = float(reference)
    if not (math.isfinite(ref) and ref > 0):
        raise CovariateError(f"the allometric reference weight must be a positive number, got {reference!r}")
    cov = covariate_values(data, weight).name if data is not None else weight
    assigned = _assignments(parse(model.text))
    targets = [(p, float(e)) for p, e in exponents.items() if p in assigned]
    if not targets:
        raise CovariateError(f"none of {', '.join(exponents)} is assigned in the model (variables: "
                         f"{', '.join(assigned)})")
    for parameter, exponent in targets:
        program = parse(model.text)
        factor = _factor_name(parameter, cov)
        if factor in _assignments(program):
            raise CovariateError(f"the model already has a {parameter}-{cov} effect ({factor}): remove it first")
        name = f"{parameter}_{cov.lower()}"
        _check_new((name,), {t.name for t in model.thetas})
        how = "fixed" if fixed else "estimated"
        line = _theta_line(name, exponent, None, None, fixed, f"{parameter}-{cov} allometric exponent")
        comment = f"{parameter}-{cov}: allometric scaling ({cov}/{_num(ref)})**{_num(exponent)}, exponent {how}"
        model = _edit(model, program, parameter, factor, comment, f"({cov} / {_num(ref)}) ** {name}", [line])
    return model


def covariate_relations(model) -> dict[str, tuple[str, ...]]:
    """The relations a model has from these transforms: ``{"cl-WT": ("cl_wt",), ...}`` (relation
    name -> its theta names), read from the ``cov_<parameter>_<covariate>`` lines."""
    program = parse(model.text)
    out = {}
    thetas = {t.name for t in model.thetas}
    for stmt in program.model:
        if isinstance(stmt, ast.Assign) and stmt.name.startswith("cov_"):
            user = _user_of(program, stmt.name)
            if user is None:
                continue
            cov = _covariate_of(stmt)
            names = tuple(dict.fromkeys(n.id for n in ast.names_in(stmt.value) if n.id in thetas))
            out[f"{user}-{cov}"] = names
    return out


def _user_of(program, factor: str) -> str | None:
    for stmt in program.model:
        uses = isinstance(stmt, ast.Assign) and any(n.id == factor for n in ast.names_in(stmt.value))
        if uses and stmt.name != factor:
            return stmt.name
    return None


def _covariate_of(stmt: ast.Assign) -> str:
    """The covariate column a factor line reads (the first upper-case-insensitive name that
    matches the factor's suffix)."""
    suffix = stmt.name.split("_", 2)[2]
    for n in ast.names_in(stmt.value):
        if n.id.lower() == suffix:
            return n.id
    return suffix.upper()


def remove_covariate_effect(model, parameter: str, covariate: str):
    """A new model without the ``parameter``-``covariate`` effect these transforms added (its
    comment, factor line, thetas, and the ``* cov_...`` in the parameter's line)."""
    from nlme_lab.model import Model

    model = _as_model(model)
    program = parse(model.text)
    _require_parameter(model, program, parameter)
    factor = _factor_name(parameter, covariate)
    assigned = _assignments(program)
    if factor not in assigned:
        have = ", ".join(covariate_relations(model)) or "none"
        raise CovariateError(f"the model has no {parameter}-{covariate} effect added by nl.add_covariate_effect "
                         f"(relations it has: {have})")
    stmt = assigned[factor]
    thetas = {t.name for t in model.thetas}
    drop_thetas = {n.id for n in ast.names_in(stmt.value) if n.id in thetas}
    lines = model.text.split("\n")
    drop = {stmt.span.line}
    above = stmt.span.line - 1
    if above >= 1 and lines[above - 1].lstrip().startswith(f"# {parameter}-") and MARK in lines[above - 1]:
        drop.add(above)
    for decl in program.ini:
        if isinstance(decl, ast.ThetaDecl) and decl.name in drop_thetas:
            drop.add(decl.span.line)
    user = _assignments(program)[parameter]
    k = user.span.line - 1
    lines[k] = re.sub(rf"\s*\*\s*{re.escape(factor)}\b", "", lines[k], count=1)
    kept = [line for i, line in enumerate(lines, start=1) if i not in drop]
    return Model._derived("\n".join(kept), model.name)
