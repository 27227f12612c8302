"""Virtual trials: simulated subjects under named regimens, exposure metrics, target attainment.

A trial draws its population values (``population.parameter_draws``), ``n_subjects`` covariate
vectors (``Population``) and etas, and computes every subject's exposure under every regimen
(the same subjects under each regimen) through ``exposure.ExposureModel``. Trials go in chunks
of subjects to ``nlme_lab.distributed.run_tasks`` (``scheduler`` as everywhere), each chunk
seeded by its task seed, so a result is the same on any number of workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError
from nlme_lab.trials.exposure import N_GRID, ExposureModel, variable_column, variable_times
from nlme_lab.trials.map import population_of
from nlme_lab.trials.population import Population, parameter_draws
from nlme_lab.trials.regimen import METRICS, Regimen, Target, mvn_draws, regimens_of

CHUNK = 5000  # subjects per task


@dataclass(frozen=True)
class TrialResult:
    """Per-subject exposures of a virtual trial (``subjects``: one row per trial, subject and
    regimen, with the covariates, the model's individual variables and the metrics)."""

    subjects: pd.DataFrame
    regimens: tuple[Regimen, ...]
    n_subjects: int
    n_trials: int
    uncertainty: str
    metrics: tuple[str, ...]
    elapsed_s: float
    failures: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    params: tuple = field(default=(), repr=False)  # the population values of each trial
    threshold: float | None = None  # the concentration of ``time_above``
    conc_at: float | None = None  # the time of ``conc``
    variables: dict = field(default_factory=dict)  # {name: times}: the ``name@time`` metric columns

    def target_attainment(self, metric, window=None, *, by=("regimen",), subgroups: dict | None = None,
                          level: float = 0.95) -> pd.DataFrame:
        """The probability of target attainment (PTA) per group of ``by`` (``"regimen"``, a
        covariate, or a name of ``subgroups``: ``{name: {label: "WT < 50", ...}}``): the pooled
        PTA and its trial-to-trial interval (``level``; with fewer than 10 trials, the binomial
        normal interval). ``metric``: a ``Target`` or a metric name with ``window = (low, high)``."""
        target = metric if isinstance(metric, Target) else Target(metric, *tuple(window))
        if target.metric not in self.subjects:
            raise NlmeError(f"metric {target.metric!r} was not computed in this trial (it has "
                            f"{', '.join(self.metrics)}; time_above and conc need threshold= and conc_at=, "
                            "'name@time' needs variables=)")
        for name, simulated in (("time_above", self.threshold), ("conc", self.conc_at)):
            if target.metric == name and target.at is not None and target.at != simulated:
                raise NlmeError(f"the target's {name} is at {target.at:g} but the trial computed it at {simulated} "
                                f"({'threshold' if name == 'time_above' else 'conc_at'}= of virtual_trial)")
        frame = with_subgroups(self.subjects, subgroups)
        by = [by] if isinstance(by, str) else list(by)
        for b in by:
            if b not in frame:
                raise NlmeError(f"by={b!r}: not a column of the trial (regimen, covariates "
                                f"{', '.join(self.covariates) or 'none'}) nor a subgroup name")
        frame = frame.assign(_hit=target.attained(frame[target.metric].to_numpy()))
        per_trial = frame.groupby([*by, "trial"], sort=False, observed=True)["_hit"].agg(["mean", "size"])
        rows = []
        a = (1 - level) / 2
        for key, g in per_trial.groupby(level=list(range(len(by))), sort=False):
            key = key if isinstance(key, tuple) else (key,)
            n = int(g["size"].sum())
            pta = float((g["mean"] * g["size"]).sum() / n)
            if len(g) >= 10:
                lo, hi = np.quantile(g["mean"], [a, 1 - a])
            else:
                from scipy.stats import norm

                half = norm.ppf(1 - a) * np.sqrt(pta * (1 - pta) / max(n, 1))
                lo, hi = max(0.0, pta - half), min(1.0, pta + half)
            rows.append({**dict(zip(by, key)), "pta": pta, "lower": float(lo), "upper": float(hi),
                         "n_subjects": n, "n_trials": len(g)})
        out = pd.DataFrame(rows)
        if "regimen" in by:
            order = {r.name: k for k, r in enumerate(self.regimens)}
            out = out.sort_values("regimen", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
        out.attrs["target"] = target.describe()
        return out

    def summary(self, metric: str = "auc") -> pd.DataFrame:
        """Median and 5th/95th percentiles of ``metric`` per regimen."""
        g = self.subjects.groupby("regimen", sort=False)[metric]
        return pd.DataFrame({"median": g.median(), "p05": g.quantile(0.05), "p95": g.quantile(0.95)})


def with_subgroups(frame: pd.DataFrame, subgroups: dict | None) -> pd.DataFrame:
    """``frame`` with one column per subgroup name: the label of the first query a row meets
    (``{"weight": {"under 50 kg": "WT < 50", "50 kg or more": "WT >= 50"}}``)."""
    if not subgroups:
        return frame
    frame = frame.copy()
    for name, levels in subgroups.items():
        if isinstance(levels, str) and levels in frame:
            continue
        col = pd.Series(pd.NA, index=frame.index, dtype="object")
        for label, query in levels.items():
            try:
                hit = frame.eval(query).to_numpy(dtype=bool)
            except Exception as e:  # pandas raises many kinds for a bad expression
                raise NlmeError(f"subgroup {name!r}, {label!r}: cannot evaluate {query!r} on the trial's columns "
                                f"({e})") from None
            col[hit & col.isna().to_numpy()] = label
        frame[name] = pd.Categorical(col, categories=list(levels))
    return frame


@lru_cache(maxsize=8)
def _model(text: str):
    from nlme_lab.model import Model

    return Model(text)


def _run_chunk(item: dict, seed) -> pd.DataFrame:
    """One task: ``item["pieces"]`` = [(trial, first subject, n)], each with its population values."""
    model = _model(item["model"])
    rng = np.random.default_rng(seed)
    pop: Population = item["population"]
    em = ExposureModel(model)
    covs = item["covariates"]
    frames = []
    pieces = item["pieces"]
    drawn = []
    for (trial, first, n), params in zip(pieces, item["params"]):
        cov = pop.sample(rng, n, covs) if covs else pd.DataFrame(index=range(n))
        omega = model.parameters.values(params).omega if hasattr(model, "parameters") else None
        drawn.append((trial, first, n, params, cov, _etas(rng, omega, n)))
    same = item["same_params"]
    groups = [drawn] if same else [[d] for d in drawn]
    for group in groups:
        cov = pd.concat([d[4] for d in group], ignore_index=True)
        etas = np.concatenate([d[5] for d in group])
        ids = np.concatenate([np.arange(d[1], d[1] + d[2]) for d in group])
        trials = np.concatenate([np.full(d[2], d[0]) for d in group])
        regs = item["regimens"]
        batches = em.evaluate_many(regs, cov, etas, params=group[0][3], threshold=item["threshold"],
                                   conc_at=item["conc_at"], n_grid=item["n_grid"],
                                   variables=item.get("variables"))
        for reg, b in zip(regs, batches):
            f = pd.concat([pd.DataFrame({"trial": trials, "subject": ids, "regimen": reg.name, "dose": reg.dose}),
                           cov.reset_index(drop=True), b.individual, b.metrics], axis=1)
            frames.append(f.loc[:, ~f.columns.duplicated()])
    return pd.concat(frames, ignore_index=True)


def _etas(rng, omega, n: int) -> np.ndarray:
    omega = np.atleast_2d(np.asarray(omega, dtype=float))
    if omega.size == 0:
        return np.zeros((n, 0))
    return mvn_draws(rng, 0.0, omega, n)


def _pieces(n_subjects: int, n_trials: int, chunk: int) -> list[list[tuple[int, int, int]]]:
    """Tasks of at most ``chunk`` subjects: whole trials grouped, big trials split."""
    tasks, cur, size = [], [], 0
    for t in range(n_trials):
        first = 0
        while first < n_subjects:
            n = min(chunk - size, n_subjects - first)
            cur.append((t, first, n))
            size += n
            first += n
            if size >= chunk:
                tasks.append(cur)
                cur, size = [], 0
    if cur:
        tasks.append(cur)
    return tasks


def virtual_trial(model_or_fit, regimens, *, population=None, n_subjects: int, n_trials: int = 200,
                  uncertainty="none", seed: int = 1, scheduler=None, params: dict | None = None,
                  threshold: float | None = None, conc_at: float | None = None, n_grid: int = N_GRID,
                  chunk: int = CHUNK, progress: bool = False, variables: dict | None = None) -> TrialResult:
    """Simulate ``n_trials`` trials of ``n_subjects`` each under every regimen.

    ``model_or_fit``: a ``FitResult`` (its estimates; its covariance for
    ``uncertainty="covariance"``) or a ``Model`` ([ini]). ``regimens``: ``{name: Regimen or
    dict(dose=, interval=, duration=, cmt=)}`` or a list of ``Regimen``; a regimen may instead be
    NONMEM dose records (``{"records": [{"TIME": 0, "AMT": 100, "ADDL": 2, "II": 12}],
    "window": [24, 36]}``: the metrics over that window). ``population``: a
    dataset to resample covariate vectors from, or per-covariate distributions
    (``Population.of``). ``uncertainty``: ``"none"``, ``"covariance"`` or a bootstrap result.
    ``threshold``: the concentration of the ``time_above`` metric; ``conc_at``: the time of
    ``conc``. ``variables``: ``{name: times}``, any model variable (an endpoint or a ``[model]``
    variable) at times from the start of the window, as metrics ``"name@time"`` (``{"effect":
    [24, 48]}`` gives ``effect@24`` and ``effect@48``). ``scheduler``: ``run_tasks``'s (None: the
    local cluster; ``"serial"``: here).
    """
    from nlme_lab.distributed import run_tasks
    from nlme_lab.problem.compiling import warm_engine

    t0 = time.perf_counter()
    if n_subjects < 1 or n_trials < 1:
        raise NlmeError(f"n_subjects and n_trials must be >= 1 (got {n_subjects}, {n_trials})")
    model, pop_values = population_of(model_or_fit, params)
    wanted = variable_times(variables)
    var_spec = {}
    for name, t in wanted:
        var_spec.setdefault(name, []).append(t)
    regs = tuple(regimens_of(regimens))
    covs = tuple(model.ir.covariates)
    population = Population.of(population, covs)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    draws = parameter_draws(model.parameters, pop_values, uncertainty, n_trials, rng,
                            covariance=getattr(model_or_fit, "covariance", None),
                            n_subjects=getattr(model_or_fit, "n_subjects", None))
    same = isinstance(uncertainty, str) and uncertainty == "none"
    items = [{"model": model.text, "population": population, "covariates": covs, "regimens": regs,
              "pieces": p, "params": [draws[t] for t, _, _ in p], "same_params": same, "threshold": threshold,
              "conc_at": conc_at, "n_grid": n_grid, "variables": var_spec} for p in _pieces(n_subjects, n_trials, chunk)]
    outcomes = run_tasks(_run_chunk, items, scheduler=scheduler, seed=seed, description="virtual trial",
                         warmup=warm_engine, progress=progress)
    failures = tuple(o.error for o in outcomes if not o.ok)
    frames = [o.value for o in outcomes if o.ok]
    if not frames:
        raise NlmeError("every chunk of the virtual trial failed: " + "; ".join(failures[:3]))
    subjects = pd.concat(frames, ignore_index=True)
    metrics = tuple(m for m in METRICS if m in subjects) + tuple(variable_column(n, t) for n, t in wanted)
    label = uncertainty if isinstance(uncertainty, str) else "bootstrap"
    return TrialResult(subjects, regs, n_subjects, n_trials, label, metrics, time.perf_counter() - t0, failures,
                       covs, tuple(draws), threshold, conc_at, var_spec)
