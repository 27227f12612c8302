"""Comparing two fits: the likelihood-ratio test for nested models.

``likelihood_ratio(fit_reduced, fit_full)``: ΔOFV = OFV(reduced) - OFV(full) is referred to a
chi-square distribution with df = the difference in estimated parameters. The test is only valid
for nested models fitted to the same data by the same method; ``nested`` says whether that could
be verified, and ``note`` says why not (or what to watch for) otherwise.

Nesting is verified when both fits carry their model and their dataset's fingerprint (a fit read
back by ``FitResult.from_dict`` has both) and either
- the two models have the same structure (``ModelIR.key()``) and the same parameters, the reduced
  one fixing a superset of the full one's fixed parameters (at the same values where both fix); or
- the reduced model's parameter names are a subset of the full one's and the structures differ:
  then nesting cannot be verified from the text (the extra thetas must reduce the full model to
  the reduced one), which ``note`` says; ``nested`` is False and the p-value is given as if nested.
A variance fixed at 0 under the null lies on the boundary: the chi-square p-value is then
conservative (a 50:50 mixture applies), which ``note`` also says.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from nlme_lab.model.parameter_table import Scale

# what makes two datasets the same data for a likelihood: every per-record array the engine reads
FINGERPRINT_ARRAYS = ("offsets", "time", "dv", "amt", "rate", "ii", "limit", "evid", "mdv", "cmt", "addl", "ss",
                      "cens", "occ", "covariates")


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
    if reduced.model is None or full.model is None or not _fingerprint(reduced) or not _fingerprint(full):
        yield "a fit does not carry its model and dataset: nesting cannot be told"
        return
    if _fingerprint(reduced) != _fingerprint(full):
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
    table = reduced.parameters
    boundary = [n for n in set(reduced.fixed) - set(full.fixed)
                if table is not None and table.entry(n).scale is Scale.VARIANCE and reduced.estimates.get(n) == 0]
    if boundary:
        out.append(f"{', '.join(sorted(boundary))} fixed at 0 is on the boundary: the chi-square p-value "
                   "is conservative (a 50:50 mixture of chi-square distributions applies)")
    for label, f in (("reduced", reduced), ("full", full)):
        if not f.converged:
            out.append(f"the {label} fit did not converge ({f.termination.value})")
    return out


def data_fingerprint(data) -> str:
    """A SHA-256 of what a likelihood reads from a dataset (subject IDs and the arrays of
    ``FINGERPRINT_ARRAYS``, covariate names): equal for the same data however it was read."""
    h = hashlib.sha256()
    h.update(repr([str(i) for i in np.asarray(data.ids).tolist()]).encode())
    h.update(repr(tuple(data.covariate_names)).encode())
    for name in FINGERPRINT_ARRAYS:
        a = np.asarray(getattr(data, name))
        a = np.ascontiguousarray(a, dtype=np.float64 if a.dtype.kind == "f" else np.int64)
        h.update(f"{name}{a.shape}".encode())
        h.update(np.where(np.isnan(a), np.nan, a).tobytes() if a.dtype.kind == "f" else a.tobytes())
    return h.hexdigest()


def _fingerprint(fit) -> str:
    if fit.data_fingerprint:
        return fit.data_fingerprint
    return data_fingerprint(fit.data) if fit.data is not None else ""


def same_data(a, b) -> bool:
    """Whether two datasets hold the same data (``data_fingerprint``)."""
    if a is b:
        return True
    try:
        return data_fingerprint(a) == data_fingerprint(b)
    except AttributeError:
        return False
