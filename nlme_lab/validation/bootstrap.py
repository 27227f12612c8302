"""Nonparametric (case) bootstrap of a fit: ``bootstrap(fit_or_model, data, n=200, seed=1)``.

Each replicate draws the subjects with replacement (within each stratum of ``stratify_by``,
keeping its size), numbers them 1..n (a subject drawn twice is two subjects) and refits the
model from the original estimates by the original method, without a covariance step. Replicate
``k`` gets the ``k``-th child of ``numpy.random.SeedSequence(seed)`` from
``nlme_lab.distributed.run_tasks``; the table records the integer it seeded its generator with,
so a table is the same bit for bit serially or on any number of workers, and a replicate can be
redrawn alone. Intervals: ``validation.intervals``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError
from nlme_lab.validation import intervals
from nlme_lab.validation.refits import origin, refit, run
from nlme_lab.validation.subjects import SubjectBlocks, draw_subjects, strata_of

CI_METHODS = ("percentile", "bca")
INCLUDE = ("converged", "all")
STATUS_OK, STATUS_NOT_CONVERGED, STATUS_FAILED, STATUS_CANCELLED = "ok", "not converged", "failed", "cancelled"
SUMMARY_COLUMNS = ("parameter", "estimate", "median", "mean", "se", "bias", "bias_percent", "ci_low", "ci_high",
                   "rse_percent", "covariance_se", "n", "ci_note")


@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap: ``replicates`` (one row per replicate: replicate, seed, subjects, status,
    termination, ofv, error, then every parameter), the original estimates and covariance-step
    SEs, and how it was run. ``summary()`` gives the intervals."""

    replicates: pd.DataFrame
    parameters: tuple[str, ...]  # the estimated parameters (columns of ``replicates``)
    estimates: dict  # the original fit's estimates
    covariance_se: dict  # the original fit's covariance-step SEs (empty without one)
    original_ofv: float
    method: str
    n: int
    seed: int
    stratify_by: str | None = None
    ci: str = "percentile"
    include: str = "converged"
    level: float = 0.95
    jackknife: pd.DataFrame | None = None  # leave-one-subject-out estimates (BCa's acceleration)
    derived: tuple[str, ...] = ()  # columns computed from the estimates: sd(eta), cv%(eta), corr(a,b)

    @property
    def n_successful(self) -> int:
        """Replicates whose fit converged."""
        return int(np.count_nonzero(self.replicates["status"] == STATUS_OK))

    @property
    def failed(self) -> pd.DataFrame:
        """The replicates that failed, did not converge or were cancelled, with the reason."""
        bad = self.replicates["status"] != STATUS_OK
        return self.replicates.loc[bad, ["replicate", "seed", "status", "termination", "error"]].reset_index(drop=True)

    def included(self, include: str | None = None) -> pd.DataFrame:
        """The replicates the intervals use: converged ones (``"converged"``) or every one with
        estimates (``"all"``)."""
        include = _choice(include or self.include, INCLUDE, "include")
        table = self.replicates
        keep = table["status"] == STATUS_OK
        if include == "all":
            keep = keep | (table["status"] == STATUS_NOT_CONVERGED)
        return table[keep]

    def summary(self, ci: str | None = None, include: str | None = None, level: float | None = None) -> pd.DataFrame:
        """One row per estimated parameter: the original estimate, the replicates' median, mean,
        SE (SD, n-1), bias (mean - estimate) and bias %, the interval (``ci``), RSE % (SE over
        the estimate) and the covariance-step SE beside it; ``ci_note`` says why an interval is
        missing."""
        ci = _choice(ci or self.ci, CI_METHODS, "ci")
        level = float(level if level is not None else self.level)
        if not 0 < level < 1:
            raise NlmeError(f"level must be between 0 and 1, not {level!r}")
        if ci == "bca" and self.jackknife is None:
            raise NlmeError("BCa intervals need the jackknife estimates: run bootstrap(..., ci='bca')")
        table = self.included(include)
        rows = []
        for name in (*self.parameters, *self.derived):
            x = table[name].to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            est = float(self.estimates[name])
            if ci == "bca":
                jack = self.jackknife[name].to_numpy(dtype=float) if name in self.jackknife else np.zeros(0)
                interval = intervals.bca_interval(x, est, jack, level)
            else:
                interval = intervals.percentile_interval(x, level)
            se = float(np.std(x, ddof=1)) if x.size > 1 else math.nan
            mean = float(np.mean(x)) if x.size else math.nan
            bias = mean - est
            scale = abs(est) if est != 0 else math.nan
            rows.append({"parameter": name, "estimate": est, "median": float(np.median(x)) if x.size else math.nan,
                         "mean": mean, "se": se, "bias": bias, "bias_percent": 100 * bias / scale,
                         "ci_low": interval.low, "ci_high": interval.high, "rse_percent": 100 * se / scale,
                         "covariance_se": float(self.covariance_se.get(name, math.nan)), "n": int(x.size),
                         "ci_note": interval.note})
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))

    def to_dict(self) -> dict:
        """The CLI's JSON: ``n``, ``n_successful``, ``seed`` and per parameter its summary."""
        params = {}
        for row in self.summary().to_dict("records"):
            params[row["parameter"]] = {k: _plain(row[k]) for k in ("estimate", "median", "mean", "se", "bias",
                                                                   "bias_percent", "ci_low", "ci_high")}
        return {"n": self.n, "n_successful": self.n_successful, "seed": self.seed, "method": self.method,
                "ci": self.ci, "include": self.include, "stratify_by": self.stratify_by, "parameters": params}

    def _repr_html_(self) -> str:
        head = (f"<b>Bootstrap</b>: {self.n_successful} of {self.n} replicates converged "
                f"({self.method}, seed {self.seed}, {self.ci} intervals)")
        return head + self.summary().to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")


def _plain(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _choice(value, options, what):
    text = str(value).lower()
    if text not in options:
        raise NlmeError(f"{what}={value!r}: expected one of {', '.join(map(repr, options))}")
    return text


def replicate_seed(seed) -> int:
    """The integer a replicate seeds its generator with (from its SeedSequence)."""
    return int(seed.generate_state(1, dtype=np.uint32)[0])


def draw_replicate(k, seed, *, blocks: SubjectBlocks, strata: np.ndarray, model, method: str):
    """Task ``k``: draw the subjects by the task's seed and refit (module level: it runs on
    worker processes)."""
    rng = np.random.default_rng(replicate_seed(seed))
    drawn = draw_subjects(strata, rng)
    result = refit(blocks.subset(drawn, renumber=True), model=model, method=method)
    return tuple(blocks.ids[i] for i in drawn), result


def bootstrap(fit_or_model, data=None, *, n: int = 200, seed: int = 1, method=None, stratify_by=None,
              ci: str = "percentile", include: str = "converged", level: float = 0.95, scheduler=None,
              on_result=None, stop=None, progress: bool = False) -> BootstrapResult:
    """Bootstrap ``fit_or_model`` (a ``FitResult``, or a model and ``data``, fitted first) by
    resampling subjects ``n`` times (module docstring). ``method``: the fit's (default) or
    another. ``stratify_by``: a subject-level column. ``ci``: ``"percentile"`` or ``"bca"``
    (which adds one leave-one-subject-out refit per subject). ``include``: which replicates
    the intervals use. ``scheduler``: as ``run_tasks`` (None: the embedded local cluster;
    ``"serial"``: here). ``on_result(row)`` receives each replicate's table row (a dict) as it
    ends; ``stop`` (an Event) cancels the rest and keeps the finished replicates."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise NlmeError(f"n must be a whole number of replicates >= 1, not {n!r}")
    ci, include = _choice(ci, CI_METHODS, "ci"), _choice(include, INCLUDE, "include")
    start = origin(fit_or_model, data, method)
    blocks = SubjectBlocks.of(start.data)
    strata = strata_of(blocks, stratify_by)
    names = start.estimated
    task = functools.partial(draw_replicate, blocks=blocks, strata=strata, model=start.start, method=start.method)
    report = None if on_result is None else (lambda outcome: on_result(_row(outcome, names)))
    outcomes = run(task, range(int(n)), scheduler=scheduler, seed=seed, description="bootstrap",
                   on_result=report, stop=stop, progress=progress)
    table = pd.DataFrame([_row(o, names) for o in outcomes])
    extra = derived_quantities(start.fit)
    estimates = dict(start.fit.estimates)
    for name, fn in extra.items():
        table[name] = [fn(row) for row in table.to_dict("records")]
        estimates[name] = fn(estimates)
    jack = None
    if ci == "bca":
        from nlme_lab.validation.cdd import leave_out

        jack = leave_out(start, None, covariance=None, scheduler=scheduler, stop=stop, progress=progress).estimates
        for name, fn in extra.items():
            jack[name] = [fn(row) for row in jack.to_dict("records")]
    return BootstrapResult(table, tuple(names), estimates, dict(start.fit.se), float(start.fit.ofv),
                           start.method, int(n), int(seed), stratify_by, ci, include, float(level), jack,
                           tuple(extra))


def derived_quantities(fit) -> dict:
    """Name -> function of an estimates dict, for the scales a reader reads random effects on:
    ``sd(eta)`` of every variance, ``cv%(eta)`` (100 sqrt(exp(w^2) - 1)) of an eta of a
    log-normal parameter (``fit.lognormal``), ``corr(a,b)`` of every covariance."""
    from nlme_lab.model.parameter_names import split_name
    from nlme_lab.model.parameter_table import ParameterKind, Scale

    table = fit.parameters
    if table is None:
        return {}
    lognormal = {entry.get("eta") for entry in (fit.lognormal or ())}
    fixed = set(fit.fixed)
    out = {}
    for p in table.of_kind(ParameterKind.OMEGA, ParameterKind.KAPPA):
        if p.name in fixed:
            continue
        if p.scale is Scale.VARIANCE:
            out[f"sd({p.name})"] = functools.partial(_sd, p.name)
            if p.name in lognormal:
                out[f"cv%({p.name})"] = functools.partial(_cv, p.name)
        elif p.scale is Scale.COVARIANCE:
            a, b = split_name(p.name)
            out[f"corr({p.name})"] = functools.partial(_corr, p.name, a, b)
    return out


def _sd(name, values) -> float:
    v = float(values.get(name, math.nan))
    return math.sqrt(v) if v >= 0 else math.nan


def _cv(name, values) -> float:
    v = float(values.get(name, math.nan))
    return 100 * math.sqrt(math.expm1(v)) if v >= 0 else math.nan


def _corr(name, a, b, values) -> float:
    c, va, vb = (float(values.get(k, math.nan)) for k in (name, a, b))
    return c / math.sqrt(va * vb) if va > 0 and vb > 0 else math.nan


def _row(outcome, names) -> dict:
    row = {"replicate": outcome.index + 1, "seed": replicate_seed(outcome.seed) if outcome.seed is not None else None,
           "subjects": "", "status": STATUS_FAILED, "termination": "", "ofv": math.nan, "error": outcome.error}
    estimates = {}
    if outcome.ok:
        drawn, result = outcome.value
        row.update(subjects=" ".join(map(str, drawn)), termination=result.termination, ofv=result.ofv,
                   status=STATUS_OK if result.converged else STATUS_NOT_CONVERGED,
                   error="" if result.converged else f"the fit ended: {result.termination}")
        estimates = result.estimates
    elif outcome.status.value == STATUS_CANCELLED:
        row["status"] = STATUS_CANCELLED
    for name in names:
        row[name] = float(estimates.get(name, math.nan))
    return row
