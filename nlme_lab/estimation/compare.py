"""Comparing two fits: the likelihood-ratio test for nested models.

``likelihood_ratio(fit_reduced, fit_full)``: ΔOFV = OFV(reduced) - OFV(full) is referred to a
chi-square distribution with df = the difference in estimated parameters. The test is only valid
for nested models fitted to the same data by the same method; ``nested`` says whether that could
be verified, and ``note`` says why not (or what to watch for) otherwise.

Nesting is verified when both fits carry their model and dataset and either
- the two models have the same structure (``ModelIR.key()``) and the same parameters, the reduced
  one fixing a superset of the full one's fixed parameters (at the same values where both fix); or
- the reduced model's parameter names are a subset of the full one's and the structures differ:
  then nesting cannot be verified from the text (the extra thetas must reduce the full model to
  the reduced one), which ``note`` says; ``nested`` is False and the p-value is given as if nested.
A variance fixed at 0 under the null lies on the boundary: the chi-square p-value is then
conservative (a 50:50 mixture applies), which ``note`` also says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LikelihoodRatio:
    delta_ofv: float  # OFV(reduced) - OFV(full), >= 0 when the full model fits at least as well
    df: int  # estimated parameters of the full model minus the reduced model's
    p_value: float  # chi2.sf(delta_ofv, df); NaN when df <= 0
    nested: bool  # nesting (same data and method, reduced = full with parameters fixed) verified
    note: str  # why nesting could not be verified, or caveats; empty when none

    def _repr_html_(self) -> str:
        tag = "nested" if self.nested else "nesting not verified"
        return (f"<b>Likelihood ratio</b>: ΔOFV = {self.delta_ofv:.4f}, df = {self.df}, "
                f"p = {self.p_value:.4g} ({tag}){'<br>' + self.note if self.note else ''}")


def likelihood_ratio(fit_reduced, fit_full) -> LikelihoodRatio:
    """The LRT of ``fit_reduced`` (fewer estimated parameters) against ``fit_full``."""
    from scipy.stats import chi2

    delta = float(fit_reduced.ofv - fit_full.ofv)
    df = int(fit_full.n_parameters - fit_reduced.n_parameters)
    notes = list(_problems(fit_reduced, fit_full, df))
    nested = not notes
    notes += _caveats(fit_reduced, fit_full, delta)
    p = float(chi2.sf(max(delta, 0.0), df)) if df > 0 else math.nan
    return LikelihoodRatio(delta_ofv=delta, df=df, p_value=p, nested=nested, note="; ".join(notes))


def _problems(reduced, full, df: int):
    """Reasons nesting is not verified (empty: verified)."""
    if df <= 0:
        yield (f"the 'full' fit has {full.n_parameters} estimated parameters and the 'reduced' one "
               f"{reduced.n_parameters}: df = {df}, no test (pass the fit with fewer parameters first)")
        return
    if reduced.method != full.method:
        yield (f"different methods ({reduced.method.value} vs {full.method.value}): their OFVs are "
               "different approximations and cannot be compared")
    if reduced.model is None or full.model is None or reduced.data is None or full.data is None:
        yield "a fit does not carry its model and dataset: nesting cannot be told"
        return
    if not same_data(reduced.data, full.data):
        yield "the fits are to different data (records or DV differ): no likelihood-ratio test applies"
    names_r, names_f = set(reduced.estimates), set(full.estimates)
    if reduced.model.ir.key() == full.model.ir.key() and names_r == names_f:
        yield from _fixed_problems(reduced, full)
    elif names_r < names_f:
        extra = ", ".join(sorted(names_f - names_r))
        yield (f"the models differ in structure (full model adds {extra}): nesting cannot be verified "
               "from the text; the p-value assumes the full model reduces to the reduced one at a fixed "
               "value of those parameters")
    else:
        only = ", ".join(sorted(names_r - names_f)) or "none"
        yield (f"not nested: the models differ in structure and the reduced model has parameters the "
               f"full one lacks ({only})")


def _fixed_problems(reduced, full):
    fixed_r, fixed_f = set(reduced.fixed), set(full.fixed)
    if not fixed_f <= fixed_r:
        yield (f"not nested: the full fit fixes {', '.join(sorted(fixed_f - fixed_r))}, which the "
               "reduced fit estimates")
    for name in sorted(fixed_f & fixed_r):
        a, b = reduced.estimates[name], full.estimates[name]
        if not np.isclose(a, b, rtol=1e-12, atol=1e-12):
            yield f"not nested: {name} is fixed in both fits but at different values ({a:g} vs {b:g})"


def _caveats(reduced, full, delta: float) -> list[str]:
    out = []
    if delta < 0:
        out.append(f"the full model's OFV is higher by {-delta:.4g}: a local minimum or a failed fit "
                   "(p set from ΔOFV = 0)")
    kinds = getattr(reduced, "kinds", {}) or {}
    boundary = [n for n in set(reduced.fixed) - set(full.fixed)
                if kinds.get(n) == "omega_var" and reduced.estimates.get(n) == 0]
    if boundary:
        out.append(f"{', '.join(sorted(boundary))} fixed at 0 is on the boundary: the chi-square p-value "
                   "is conservative (a 50:50 mixture of chi-square distributions applies)")
    for label, f in (("reduced", reduced), ("full", full)):
        if not f.converged:
            out.append(f"the {label} fit did not converge ({f.termination.value})")
    return out


def same_data(a, b) -> bool:
    """Whether two datasets hold the same records (subjects, times and observations)."""
    if a is b:
        return True
    try:
        return (a.n_subjects == b.n_subjects and a.n_records == b.n_records
                and np.array_equal(np.asarray(a.time), np.asarray(b.time))
                and np.array_equal(np.asarray(a.dv), np.asarray(b.dv), equal_nan=True))
    except AttributeError:
        return False
