"""Case-deletion diagnostics: ``cdd(fit)`` refits the model leaving out each subject (or each
group of subjects) from the original estimates, as PsN's ``cdd``.

For left-out group i with refit estimates theta_i (estimated parameters), C the original
covariance matrix and C_i the refit's:

* Cook's score = sqrt((theta_i - theta)' C^-1 (theta_i - theta));
* covariance ratio = sqrt(det C_i / det C);
* dOFV = (original OFV - the original per-subject OFV terms of the left-out subjects) - the
  refit's OFV: how much better the reduced data are fitted by their own estimates (>= 0 up to
  the optimiser's tolerance).

The same leave-one-subject-out refits (without covariance step) are the jackknife of a BCa
bootstrap.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError
from nlme_lab.validation.refits import Origin, origin, refit, run
from nlme_lab.validation.subjects import SubjectBlocks

CDD_COLUMNS = ("group", "ids", "n_left_out", "status", "termination", "ofv", "dofv", "cook_score",
               "covariance_ratio", "error")


@dataclass(frozen=True)
class LeaveOut:
    """Leave-group-out refits: ``table`` one row per group (group, ids, status, ofv, error),
    ``estimates`` one row per group (NaN when the refit failed), ``covariances`` each refit's
    covariance matrix (None without one)."""

    table: pd.DataFrame
    estimates: pd.DataFrame
    covariances: tuple
    names: tuple


def groups_of(blocks: SubjectBlocks, groups) -> tuple[list, list[np.ndarray]]:
    """Group labels and each group's subjects (0-based): one subject each (None), a
    subject-level column, or a mapping ID -> group."""
    if groups is None:
        return list(blocks.ids), [np.array([i]) for i in range(blocks.n_subjects)]
    if isinstance(groups, str):
        labels = blocks.subject_values(groups)
    elif isinstance(groups, dict):
        missing = [sid for sid in blocks.ids if sid not in groups]
        if missing:
            raise NlmeError(f"the groups mapping has no group for subject ID {missing[0]} "
                            f"({len(missing)} subject(s) without one)")
        labels = np.asarray([groups[sid] for sid in blocks.ids], dtype=object)
    else:
        raise NlmeError(f"groups must be None, a subject-level column name or a mapping ID -> group, "
                        f"not {type(groups).__name__}")
    names = list(pd.unique(labels))
    if len(names) < 2:
        raise NlmeError("case deletion needs at least two groups")
    return names, [np.flatnonzero(labels == g) for g in names]


def leave_group_out(k, seed, *, blocks: SubjectBlocks, members: tuple, model, method: str, covariance):
    """Task ``k``: refit without group ``k``'s subjects (module level: it runs on workers)."""
    left = {int(i) for i in members[k]}
    kept = [i for i in range(blocks.n_subjects) if i not in left]
    return refit(blocks.subset(kept), model=model, method=method, covariance=covariance)


def leave_out(start: Origin, groups=None, *, covariance=None, scheduler=None, stop=None, progress=False,
              on_result=None) -> LeaveOut:
    """Refit ``start`` leaving out each group in turn (``groups_of``)."""
    blocks = SubjectBlocks.of(start.data)
    labels, members = groups_of(blocks, groups)
    task = functools.partial(leave_group_out, blocks=blocks, members=tuple(members), model=start.start,
                             method=start.method, covariance=covariance)
    outcomes = run(task, range(len(labels)), scheduler=scheduler, seed=None, description="case deletion",
                   on_result=on_result, stop=stop, progress=progress)
    names = start.estimated
    rows, est, covs = [], [], []
    for label, subj, o in zip(labels, members, outcomes):
        r = o.value if o.ok else None
        status = "failed" if r is None else ("ok" if r.converged else "not converged")
        if o.status.value == "cancelled":
            status = "cancelled"
        rows.append({"group": label, "ids": " ".join(str(blocks.ids[i]) for i in subj), "n_left_out": len(subj),
                     "status": status, "termination": r.termination if r else "", "ofv": r.ofv if r else math.nan,
                     "error": o.error})
        est.append({n: (r.estimates.get(n, math.nan) if r else math.nan) for n in names})
        covs.append(_ordered(r, names) if r is not None else None)
    return LeaveOut(pd.DataFrame(rows), pd.DataFrame(est, columns=names), tuple(covs), tuple(names))


def _ordered(r, names):
    """The refit's covariance matrix in ``names`` order (None without one)."""
    if r.covariance is None:
        return None
    where = {n: k for k, n in enumerate(r.names)}
    if any(n not in where for n in names):
        return None
    idx = [where[n] for n in names]
    return np.asarray(r.covariance)[np.ix_(idx, idx)]


@dataclass(frozen=True)
class CDDResult:
    """``cdd``'s result: ``table`` one row per left-out group, most influential (largest Cook's
    score) first; ``estimates`` each refit's estimates (same order)."""

    table: pd.DataFrame
    estimates: pd.DataFrame
    original: dict
    original_ofv: float
    method: str

    def to_dict(self) -> dict:
        from nlme_lab.diagnostics.export import plain

        return {"method": self.method, "original_ofv": self.original_ofv, "original": plain(self.original),
                "groups": plain(self.table.to_dict("records"))}

    def _repr_html_(self) -> str:
        return "<b>Case deletion</b> (most influential first)" + self.table.to_html(
            index=False, float_format=lambda v: f"{v:.4g}", na_rep="")


def cdd(fit, groups=None, *, method=None, scheduler=None, stop=None, progress: bool = False,
        on_result=None) -> CDDResult:
    """Case-deletion diagnostics of ``fit`` (module docstring): ``groups`` None (each subject),
    a subject-level column or a mapping ID -> group. Refits run through ``run_tasks``
    (``scheduler`` as there) with a covariance step each (for the covariance ratio)."""
    from nlme_lab.validation.external import objective_method, prediction_ofv

    start = origin(fit, None, method)
    if start.fit.covariance is None or not start.fit.covariance.ok:
        raise NlmeError("case-deletion diagnostics need the original fit's covariance step (Cook's score); "
                        "fit with covariance='sandwich' or 'r'")
    out = leave_out(start, groups, covariance="default", scheduler=scheduler, stop=stop, progress=progress,
                    on_result=on_result)
    names = list(out.names)
    C = _ordered_original(start.fit, names)
    Cinv, det = np.linalg.inv(C), np.linalg.det(C)
    _, per = prediction_ofv(start.model, start.data, start.fit.estimates, objective_method(start.method))
    blocks = SubjectBlocks.of(start.data)
    _, members = groups_of(blocks, groups)
    table = out.table.copy()
    theta = np.array([start.fit.estimates[n] for n in names])
    cook, ratio, dofv = [], [], []
    for k in range(len(table)):
        d = out.estimates.iloc[k].to_numpy(dtype=float) - theta
        cook.append(float(np.sqrt(d @ Cinv @ d)) if np.all(np.isfinite(d)) else math.nan)
        Ck = out.covariances[k]
        det_k = np.linalg.det(Ck) if Ck is not None else math.nan
        # a refit whose covariance matrix is not positive definite has no ratio
        ratio.append(float(np.sqrt(det_k / det)) if det_k > 0 and det > 0 else math.nan)
        dofv.append(float(start.fit.ofv - per[members[k]].sum() - table["ofv"].iloc[k]))
    table["dofv"], table["cook_score"], table["covariance_ratio"] = dofv, cook, ratio
    order = np.argsort(-np.nan_to_num(np.asarray(cook), nan=-np.inf), kind="stable")
    table = table.iloc[order][list(CDD_COLUMNS)].reset_index(drop=True)
    return CDDResult(table, out.estimates.iloc[order].reset_index(drop=True), dict(start.fit.estimates),
                     float(start.fit.ofv), start.method)


def _ordered_original(fit, names):
    cov = fit.covariance
    where = {n: k for k, n in enumerate(cov.names)}
    missing = [n for n in names if n not in where]
    if missing:
        raise NlmeError(f"the covariance step has no row for {', '.join(missing)}")
    idx = [where[n] for n in names]
    return np.asarray(cov.covariance)[np.ix_(idx, idx)]
