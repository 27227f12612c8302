"""``compare(fits)``: one table of OFV, dOFV, AIC, BIC and the likelihood-ratio test of each fit
against a reference, built on ``nlme_lab.estimation.compare.likelihood_ratio``.

AIC = -2 log L + 2 k with the log-likelihood including its constant (``FitResult.loglik``), k the
number of estimated parameters. BIC = -2 log L + penalty, with the penalty named by ``bic``:

- ``"mixed"`` (Pharmpy's default): fixed effects (thetas and residual SDs) by log(n observations),
  variance parameters (omegas, kappas) by log(n subjects);
- ``"observations"`` (nlmixr2, R's ``BIC``): every parameter by log(n observations);
- ``"subjects"`` (Monolix, saemix): every parameter by log(n subjects).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nlme_lab.covariates.effects import CovariateError
from nlme_lab.estimation.compare import likelihood_ratio
from nlme_lab.model.parameter_table import ParameterKind

BIC_CONVENTIONS = ("mixed", "observations", "subjects")
COLUMNS = ("model", "method", "ofv", "dofv", "n_parameters", "aic", "bic", "lrt_df", "p_value", "condition_number",
           "note")


def minus2ll(fit) -> float:
    """-2 log-likelihood with its constant (what AIC and BIC penalise)."""
    return -2.0 * float(fit.loglik)


def n_variance_parameters(fit) -> int:
    """Estimated omega and kappa entries (the rest of ``n_parameters`` are fixed effects)."""
    table = fit.parameters
    if table is None:
        return 0
    fixed = set(fit.fixed)
    return sum(1 for p in table.of_kind(ParameterKind.OMEGA, ParameterKind.KAPPA) if p.name not in fixed)


def bic(fit, convention: str = "mixed") -> float:
    """BIC of one fit under ``convention`` (see the module docstring)."""
    if convention not in BIC_CONVENTIONS:
        raise CovariateError(f"bic must be one of {', '.join(BIC_CONVENTIONS)}, not {convention!r}")
    k = int(fit.n_parameters)
    log_obs, log_sub = math.log(fit.n_observations), math.log(fit.n_subjects)
    if convention == "observations":
        penalty = k * log_obs
    elif convention == "subjects":
        penalty = k * log_sub
    else:
        n_var = n_variance_parameters(fit)
        penalty = (k - n_var) * log_obs + n_var * log_sub
    return minus2ll(fit) + penalty


def _named(fits) -> list[tuple[str, object]]:
    if isinstance(fits, dict):
        pairs = [(str(k), v) for k, v in fits.items()]
    else:
        pairs = []
        for k, f in enumerate(fits):
            pairs.append((getattr(f, "model_name", "") or f"model {k + 1}", f))
        seen: dict[str, int] = {}
        for k, (name, f) in enumerate(pairs):  # duplicate names get their position
            seen[name] = seen.get(name, 0) + 1
        pairs = [(f"{name} ({k + 1})" if seen[name] > 1 else name, f) for k, (name, f) in enumerate(pairs)]
    if not pairs:
        raise CovariateError("compare needs at least one fit")
    return pairs


def compare(fits, reference=None, bic: str = "mixed") -> pd.DataFrame:
    """A table comparing ``fits`` (a list of ``FitResult`` or a dict name -> fit): OFV, dOFV
    (OFV minus the reference's; negative is better), estimated parameters, AIC, BIC (``bic``
    names the convention), the likelihood-ratio test against the reference where the two are
    nested (df, p-value: ``scipy.stats.chi2.sf``), the condition number and a plain-words note
    where no test applies or a caveat holds. ``reference``: a position or a name (default the
    first fit)."""
    if bic not in BIC_CONVENTIONS:
        raise CovariateError(f"bic must be one of {', '.join(BIC_CONVENTIONS)}, not {bic!r}")
    pairs = _named(fits)
    names = [n for n, _ in pairs]
    if reference is None:
        ref_index = 0
    elif isinstance(reference, int | np.integer) and not isinstance(reference, bool):
        if not 0 <= reference < len(pairs):
            raise CovariateError(f"reference {reference} is not a position among {len(pairs)} fits")
        ref_index = int(reference)
    elif reference in names:
        ref_index = names.index(reference)
    else:
        raise CovariateError(f"reference {reference!r} is not one of the fits ({', '.join(names)})")
    ref_name, ref = pairs[ref_index]
    rows = []
    for k, (name, fit) in enumerate(pairs):
        row = {"model": name, "method": fit.method.value, "ofv": float(fit.ofv), "dofv": float(fit.ofv - ref.ofv),
               "n_parameters": int(fit.n_parameters),
               "aic": minus2ll(fit) + 2 * int(fit.n_parameters), "bic": _bic(fit, bic),
               "lrt_df": np.nan, "p_value": np.nan,
               "condition_number": np.nan if fit.condition_number is None else float(fit.condition_number),
               "note": ""}
        if k == ref_index:
            row["note"] = "reference"
        else:
            row.update(_test(name, fit, ref_name, ref))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


_bic = bic


def _test(name, fit, ref_name, ref) -> dict:
    if fit.n_parameters == ref.n_parameters:
        return {"note": f"same number of estimated parameters as {ref_name}: no likelihood-ratio test "
                        "(compare AIC/BIC)"}
    reduced, full = (fit, ref) if fit.n_parameters < ref.n_parameters else (ref, fit)
    lr = likelihood_ratio(reduced, full)
    if "not nested" in lr.note or "different data" in lr.note or "different methods" in lr.note:
        return {"note": f"no likelihood-ratio test against {ref_name}: {lr.note}"}
    return {"lrt_df": lr.df, "p_value": lr.p_value, "note": lr.note}
