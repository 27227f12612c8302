"""K-fold cross-validation: ``crossvalidate(fit_or_model, data, folds=5, seed=1)``.

For each fold: the model is estimated on the other folds (from the original estimates; the
estimation OFV), then the held-out subjects are evaluated at those estimates with nothing
re-estimated: the prediction OFV (``external.prediction_ofv``, PsN ``crossval``'s quantity)
and the PRED / IPRED prediction errors of their observations (``external.error_summary``).
Folds: subjects shuffled by ``seed`` (within strata of ``stratify_by``) and dealt in turn, or
given by ``fold_of`` (a subject-level column or a mapping ID -> fold) to reproduce a published
split. Two models cross-validated with the same ``seed`` (or ``fold_of``) see the same folds,
so their summed prediction OFVs compare their predictive performance.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError
from nlme_lab.validation.external import error_summary, objective_method, prediction_ofv, prediction_table
from nlme_lab.validation.refits import origin, refit, run
from nlme_lab.validation.subjects import SubjectBlocks, assign_folds, strata_of

FOLD_COLUMNS = ("fold", "ids", "n_train", "n_test", "status", "termination", "estimation_ofv", "prediction_ofv",
                "pred_mpe", "pred_rmse", "ipred_mpe", "ipred_rmse", "error")


@dataclass(frozen=True)
class FoldResult:
    """What one fold's task sends back."""

    estimation: object  # refits.Refit on the training folds
    prediction_ofv: float
    subject_ofv: np.ndarray
    pred: object  # external.PredictionErrors
    ipred: object
    notes: tuple = ()  # warnings of the held-out predictions (EBEs that did not converge)


@dataclass(frozen=True)
class CrossValidationResult:
    """``folds``: one row per fold (fold, held-out IDs, sizes, status, estimation and prediction
    OFV, PRED/IPRED MPE and RMSE); ``estimates`` the training estimates per fold;
    ``sum_prediction_ofv`` over the folds that finished."""

    folds: pd.DataFrame
    estimates: pd.DataFrame
    fold_of: dict  # subject ID -> fold label
    method: str
    seed: int | None
    results: tuple = ()  # FoldResult per fold (None where it failed)

    @property
    def sum_prediction_ofv(self) -> float:
        return float(self.folds["prediction_ofv"].sum(min_count=1))

    def to_dict(self) -> dict:
        from nlme_lab.diagnostics.export import plain

        folds = [{"fold": plain(r["fold"]), "ids": r["ids"].split(), "estimation_ofv": plain(r["estimation_ofv"]),
                  "prediction_ofv": plain(r["prediction_ofv"]), "status": r["status"], "error": r["error"]}
                 for r in self.folds.to_dict("records")]
        return {"method": self.method, "seed": self.seed, "folds": folds,
                "sum_prediction_ofv": plain(self.sum_prediction_ofv)}

    def _repr_html_(self) -> str:
        return (f"<b>Cross-validation</b> ({self.method}, {len(self.folds)} folds): summed prediction OFV "
                f"{self.sum_prediction_ofv:.4f}" + self.folds.to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                                                      na_rep=""))


def fold_labels(blocks: SubjectBlocks, folds, seed, fold_of, stratify_by) -> np.ndarray:
    """The fold label of each subject (module docstring)."""
    if fold_of is None:
        return assign_folds(strata_of(blocks, stratify_by), folds, np.random.default_rng(seed)) + 1
    if isinstance(fold_of, str):
        labels = blocks.subject_values(fold_of)
    elif isinstance(fold_of, dict):
        missing = [sid for sid in blocks.ids if sid not in fold_of]
        if missing:
            raise NlmeError(f"fold_of has no fold for subject ID {missing[0]} ({len(missing)} subject(s) without one)")
        labels = np.asarray([fold_of[sid] for sid in blocks.ids], dtype=object)
    else:
        raise NlmeError(f"fold_of must be a subject-level column or a mapping ID -> fold, not {type(fold_of).__name__}")
    distinct = len(pd.unique(labels))
    if distinct < 2:
        raise NlmeError("cross-validation needs at least two folds; fold_of gives one")
    if folds is not None and int(folds) != distinct:
        raise NlmeError(f"folds={folds} but fold_of gives {distinct} folds")
    return labels


def run_fold(label, seed, *, blocks: SubjectBlocks, labels: np.ndarray, model, method: str) -> FoldResult:
    """One fold (module level: it runs on workers): estimate without it, predict it."""
    test = np.flatnonzero(labels == label)
    train = np.flatnonzero(labels != label)
    fitted = refit(blocks.subset(train), model=model, method=method)
    from nlme_lab.data import read_nonmem

    held = read_nonmem(blocks.subset(test))
    total, per = prediction_ofv(model, held, fitted.estimates, objective_method(method))
    table, notes = prediction_table(model, held, fitted.estimates)
    return FoldResult(fitted, total, per, error_summary(table["PRED"], table["DV"], "PRED"),
                      error_summary(table["IPRED"], table["DV"], "IPRED"), notes)


def _fold_row(o, *, blocks: SubjectBlocks, labels: np.ndarray, folds: list) -> dict:
    """The fold table's row of task outcome ``o``."""
    label = folds[o.index]
    test = np.flatnonzero(labels == label)
    r = o.value if o.ok else None
    fitted = r.estimation if r is not None else None
    status = "failed" if r is None else ("ok" if fitted.converged else "not converged")
    if o.status.value == "cancelled":
        status = "cancelled"
    return {"fold": label, "ids": " ".join(str(blocks.ids[i]) for i in test),
            "n_train": int(blocks.n_subjects - test.size), "n_test": int(test.size), "status": status,
            "termination": fitted.termination if fitted else "", "estimation_ofv": fitted.ofv if fitted else math.nan,
            "prediction_ofv": r.prediction_ofv if r else math.nan,
            "pred_mpe": r.pred.mpe if r else math.nan, "pred_rmse": r.pred.rmse if r else math.nan,
            "ipred_mpe": r.ipred.mpe if r else math.nan, "ipred_rmse": r.ipred.rmse if r else math.nan,
            "error": o.error or ("; ".join(r.notes) if r else "")}


def crossvalidate(fit_or_model, data=None, *, folds: int | None = 5, seed: int = 1, fold_of=None, stratify_by=None,
                  method=None, scheduler=None, on_result=None, stop=None, progress: bool = False
                  ) -> CrossValidationResult:
    """Cross-validate ``fit_or_model`` (a ``FitResult``, or a model and ``data``; module
    docstring). ``folds``: how many (checked against ``fold_of`` when both are given).
    ``scheduler`` and ``stop``: as ``run_tasks``; ``on_result(row)`` receives each fold's table row
    (a dict) as it ends."""
    start = origin(fit_or_model, data, method, covariance=None)
    blocks = SubjectBlocks.of(start.data)
    labels = fold_labels(blocks, folds, seed, fold_of, stratify_by)
    distinct = list(pd.unique(labels))
    try:
        distinct = sorted(distinct)
    except TypeError:
        pass
    task = functools.partial(run_fold, blocks=blocks, labels=labels, model=start.start, method=start.method)
    row_of = functools.partial(_fold_row, blocks=blocks, labels=labels, folds=distinct)
    report = None if on_result is None else (lambda outcome: on_result(row_of(outcome)))
    outcomes = run(task, distinct, scheduler=scheduler, seed=None, description="cross-validation",
                   on_result=report, stop=stop, progress=progress)
    names = start.estimated
    rows, est, results = [], [], []
    for label, o in zip(distinct, outcomes):
        r = o.value if o.ok else None
        results.append(r)
        fitted = r.estimation if r is not None else None
        rows.append(row_of(o))
        est.append({"fold": label, **{n: (fitted.estimates.get(n, math.nan) if fitted else math.nan) for n in names}})
    mapping = {blocks.ids[i]: labels[i] for i in range(blocks.n_subjects)}
    return CrossValidationResult(pd.DataFrame(rows, columns=list(FOLD_COLUMNS)), pd.DataFrame(est), mapping,
                                 start.method, seed if fold_of is None else None, tuple(results))
