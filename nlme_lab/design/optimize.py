"""Optimal sampling times: ``optimize_design(model, design, criterion="D", ...)``.

* ``method="continuous"``: scipy's L-BFGS-B on the sampling times within their windows (SLSQP
  with the ordering constraints when ``min_spacing > 0``); the gradient by differences of the
  criterion (the FIM itself uses the engine's exact sensitivities).
* ``method="discrete"``: an exchange algorithm on a candidate grid (in the spirit of
  Fedorov-Wynn): each sample in turn is moved to the grid point that improves the criterion
  most, passes repeat until none does.
* ``method="auto"`` (default): the exchange on a coarse grid (``grid`` or 24 log-spaced points
  per window), which escapes the local optima a start may sit in, then the continuous polish.

Criteria (all maximised through a value that is minimised): ``"D"`` and ``"lnD"`` maximise the
determinant (the same optimum; ``lnD`` reports ln det), ``"A"`` minimises the sum of the
expected variances, ``"Ds"`` maximises det of the information about ``ds_parameters`` with the
others as nuisance (``det I / det I_nuisance``).

The result's ``efficiency`` is the D-efficiency ``(det_opt / det_start)^(1/p)`` whatever the
criterion; ``trace`` has one row per improvement (evaluation, criterion, times).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlme_lab.design.design import Design
from nlme_lab.design.fim import DesignInformation, FIMResult, make_result
from nlme_lab.errors import NlmeError

__all__ = ["OptimalDesign", "optimize_design"]

CRITERIA = ("D", "lnD", "A", "Ds")
METHODS = ("auto", "continuous", "discrete")
PENALTY = 1e10  # a singular design's criterion


@dataclass(frozen=True)
class OptimalDesign:
    """The optimised design, its FIM and how far it moved from the start."""

    design: Design
    fim: FIMResult
    start: Design  # the design given (efficiency is relative to it)
    start_fim: FIMResult
    criterion: str
    value: float  # the criterion at the optimum (ln det for D/lnD/Ds, sum of variances for A)
    start_value: float
    efficiency: float  # (det_opt / det_start)^(1/p)
    trace: pd.DataFrame  # evaluation, criterion value, times (one row per improvement)
    n_evaluations: int
    elapsed_s: float
    method: str
    message: str = ""
    stopped: bool = field(default=False)

    @property
    def times(self) -> list[list[float]]:
        return [list(t) for t in self.design.sampling_times()]


def _choice(value, allowed, what):
    for a in allowed:
        if str(value).lower() == a.lower():
            return a
    raise NlmeError(f"{what} {value!r}: one of {', '.join(repr(a) for a in allowed)}")


class _Problem:
    """The design as a vector of free sampling times, and the criterion of any such vector."""

    def __init__(self, info: DesignInformation, design: Design, criterion, ds_parameters, group_idx, on_step, stop):
        self.info, self.design, self.criterion = info, design, criterion
        self.expected: list[DesignInformation] = []  # ED: the FIMs at parameter draws, averaged
        self.groups = group_idx
        self.all_times = [np.asarray(t, dtype=float) for t in design.sampling_times()]
        self.ds = ds_parameters
        self.on_step, self.stop = on_step, stop
        self.n_eval, self.best, self.best_x, self.best_fim = 0, np.inf, None, None
        self.trace: list[dict] = []
        self.cache: dict[bytes, float] = {}

    def design_at(self, x) -> Design:
        times, k = [t.copy() for t in self.all_times], 0
        for g in self.groups:
            n = len(times[g])
            times[g] = np.asarray(x[k:k + n], dtype=float)
            k += n
        return self.design.with_times(times)

    def x0(self) -> np.ndarray:
        return np.concatenate([self.all_times[g] for g in self.groups])

    def value(self, result_info, names) -> float:
        info = 0.5 * (result_info + result_info.T)
        sign, ld = np.linalg.slogdet(info)
        if sign <= 0 or not np.isfinite(ld):
            return PENALTY
        if self.criterion in ("D", "lnD"):
            return -ld
        if self.criterion == "A":
            try:
                return float(np.trace(np.linalg.inv(info)))
            except np.linalg.LinAlgError:
                return PENALTY
        nuis = [i for i, n in enumerate(names) if n not in self.ds]
        if not nuis:
            return -ld
        s2, ld2 = np.linalg.slogdet(info[np.ix_(nuis, nuis)])
        return -(ld - ld2) if s2 > 0 else PENALTY

    def __call__(self, x) -> float:
        if self.stop is not None and self.stop.is_set():
            raise _Stopped
        key = np.round(np.asarray(x, dtype=float), 12).tobytes()
        if key in self.cache:
            return self.cache[key]
        self.n_eval += 1
        design = self.design_at(x)
        try:
            info, names, zf = self.info.information(design)
            v = self.value(info, names)
            if self.expected:
                v = float(np.mean([v] + [self.value(e.information(design)[0], names) for e in self.expected]))
        except Exception:  # noqa: BLE001 - a design the engine cannot evaluate is just a bad design
            v, info = PENALTY, None
        self.cache[key] = v
        if v < self.best - 1e-12:
            self.best, self.best_x = v, np.array(x, dtype=float)
            self.trace.append({"evaluation": self.n_eval, "criterion": v,
                               "times": [list(map(float, t)) for t in design.sampling_times()]})
            if self.on_step is not None and info is not None:
                self.on_step(design, make_result(info, names, zf, self.info, design.n_subjects))
        return v


class _Stopped(Exception):
    pass


def _windows(windows, x0, n_free) -> np.ndarray:
    if windows is None:
        hi = float(np.max(x0)) if len(x0) else 1.0
        return np.tile([0.0, hi], (n_free, 1))
    w = np.asarray(windows, dtype=float)
    if w.shape == (2,):
        w = np.tile(w, (n_free, 1))
    if w.shape != (n_free, 2):
        raise NlmeError(f"windows: one (low, high) pair for all samples or one per sample ({n_free}), "
                        f"got shape {w.shape}")
    if np.any(w[:, 0] > w[:, 1]) or np.any(w[:, 0] < 0):
        raise NlmeError(f"windows: each needs 0 <= low <= high, got {w.tolist()}")
    return w


def _grid(lo, hi, n=24) -> np.ndarray:
    if hi <= lo:
        return np.array([lo])
    a = max(lo, 1e-2 * (hi - lo) if lo == 0 else lo)
    pts = np.concatenate([[lo, hi], np.geomspace(a, hi, n)])
    return np.unique(np.round(pts, 6))


def _exchange(problem: _Problem, x, bounds, grid, min_spacing, max_passes=20) -> np.ndarray:
    x = np.array(x, dtype=float)
    best = problem(x)
    for _ in range(max_passes):
        improved = False
        for i in range(len(x)):
            cands = grid if grid is not None else _grid(*bounds[i])
            cands = cands[(cands >= bounds[i][0]) & (cands <= bounds[i][1])]
            for c in cands:
                if c == x[i]:
                    continue
                y = x.copy()
                y[i] = c
                if min_spacing > 0 and np.any(np.abs(np.delete(y, i) - c) < min_spacing):
                    continue
                v = problem(y)
                if v < best - 1e-10:
                    best, x, improved = v, y, True
        if not improved:
            break
    return x


def _continuous(problem: _Problem, x, bounds, min_spacing, max_iter) -> np.ndarray:
    from scipy.optimize import minimize

    x = np.clip(np.array(x, dtype=float), bounds[:, 0], bounds[:, 1])
    span = np.maximum(bounds[:, 1] - bounds[:, 0], 1e-9)
    lo = bounds[:, 0]

    def f(u):  # times scaled to [0, 1] in their windows
        return problem(lo + u * span)

    u0 = (x - lo) / span
    ub = [(0.0, 1.0)] * len(x)
    if min_spacing > 0:
        order = np.argsort(x)
        cons = [{"type": "ineq", "fun": (lambda u, a=a, b=b: (lo[b] + u[b] * span[b]) - (lo[a] + u[a] * span[a])
                                          - min_spacing)}
                for a, b in zip(order[:-1], order[1:])]
        res = minimize(f, u0, method="SLSQP", bounds=ub, constraints=cons, options={"maxiter": max_iter})
    else:
        res = minimize(f, u0, method="L-BFGS-B", bounds=ub, options={"maxiter": max_iter, "eps": 1e-7})
    return lo + res.x * span


def optimize_samples(fit_or_model, design: Design, budget: int, *, min_samples: int = 1, **options) -> OptimalDesign:
    """How many samples per group under a total ``budget`` of samples (sum over groups of size x
    samples per subject), with their times: greedy allocation, each step adding one sample to the
    group whose criterion gains most per sample spent (each candidate's times optimised by
    ``optimize_design(**options)``), until no group's next sample fits the budget. The result is
    the last step's optimum; ``message`` gives the allocation; ``efficiency`` is relative to
    ``design``. One endpoint per group."""
    if not isinstance(design, Design):
        design = Design.from_data(design)
    counts = {g.name: int(min_samples) for g in design.groups}
    sizes = {g.name: g.size for g in design.groups}
    used = sum(sizes[n] * c for n, c in counts.items())
    if used > budget:
        raise NlmeError(f"budget {budget}: {min_samples} sample(s) per subject already need {used}")
    criterion = options.get("criterion", "D")
    sign = -1.0 if criterion == "A" else 1.0  # larger is better
    best = optimize_design(fit_or_model, design, n_samples=dict(counts), **options)
    steps = [dict(counts)]
    while True:
        trials = []
        for name in counts:
            if used + sizes[name] > budget:
                continue
            trial = dict(counts, **{name: counts[name] + 1})
            opt = optimize_design(fit_or_model, design, n_samples=trial, **options)
            trials.append(((sign * (opt.value - best.value)) / sizes[name], name, opt))
        if not trials:
            break
        gain, name, opt = max(trials, key=lambda x: x[0])
        counts[name] += 1
        used += sizes[name]
        best = opt
        steps.append(dict(counts))
    from dataclasses import replace as _replace

    words = ", ".join(f"{n}: {c}" for n, c in counts.items())
    return _replace(best, message=f"samples per subject by group ({used} of {budget} used): {words}",
                    trace=pd.DataFrame({"step": range(len(steps)), "samples": steps}))


def optimize_design(fit_or_model, design: Design, *, criterion: str = "D", times="all", windows=None,
                    n_samples: int | None = None, min_spacing: float = 0.0, method: str = "auto", seed: int = 1,
                    params: dict | None = None, approximation: str = "fo", kind: str = "block",
                    scale: str = "declared", grid=None, ds_parameters=(), max_iter: int = 200, prior=None,
                    on_step=None, stop: threading.Event | None = None, parameter_draws=None) -> OptimalDesign:
    """Optimise the sampling times of ``design`` (module docstring).

    ``times``: ``"all"`` or the names of the groups whose times move; ``windows``: one
    ``(low, high)`` for every sample or one per sample (default: the grid's range, or ``[0, latest time]``);
    ``n_samples``: give each moving group this many samples (one endpoint per group; an int,
    or ``{group name: n}``), started spread over its current times; ``min_spacing``: least distance between a group's times;
    ``seed``: the FOCE draws (the optimisers are deterministic); ``on_step(design, fim_result)``
    is called at every improvement (the Lab animates it); ``stop`` (an Event) ends the search
    early with the best design so far; ``prior``: a FIM added to every design's (``nl.fim``);
    ``parameter_draws`` (ED-optimality): a list of parameter dicts (draws from the uncertainty
    of the parameters, e.g. from a fit's covariance); the criterion is averaged over them and
    the given ``params`` (PopED's ED criterion: E[ln det] for D)."""
    criterion = _choice(criterion, CRITERIA, "criterion")
    method = _choice(method, METHODS, "method")
    if criterion == "Ds" and not ds_parameters:
        raise NlmeError("criterion 'Ds' needs ds_parameters: the names of the parameters of interest")
    if not isinstance(design, Design):
        design = Design.from_data(design)
    t0 = time.perf_counter()
    info = DesignInformation(fit_or_model, params=params, approximation=approximation, kind=kind, scale=scale,
                             seed=seed, prior=prior)
    names = [g.name for g in design.groups]
    if times == "all":
        group_idx = list(range(len(design.groups)))
    else:
        wanted = [times] if isinstance(times, str) else list(times)
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise NlmeError(f"times: no design group {unknown} (groups: {names})")
        group_idx = [names.index(n) for n in wanted]
    if ds_parameters:
        known = set(info.model.parameters.names)
        bad = [p for p in ds_parameters if p not in known]
        if bad:
            raise NlmeError(f"ds_parameters: {bad} are not parameters of the model ({sorted(known)})")
    first = design  # where the search starts: the design, or its times respread to n_samples
    if n_samples is not None:
        per_group = n_samples if isinstance(n_samples, dict) else {design.groups[k].name: n_samples for k in group_idx}
        unknown = [g for g in per_group if g not in names]
        if unknown:
            raise NlmeError(f"n_samples: no design group {unknown} (groups: {names})")
        new = []
        for k, grp in enumerate(design.groups):
            if k not in group_idx or grp.name not in per_group:
                new.append(dict(grp.times))
                continue
            n = int(per_group[grp.name])
            if n < 1:
                raise NlmeError(f"n_samples must be at least 1, got {n} for group {grp.name!r}")
            if len(grp.times) != 1:
                raise NlmeError(f"n_samples: group {grp.name!r} has several endpoints; give its times per DVID instead")
            cur = np.asarray(grp.times[0][1])
            new.append({grp.times[0][0]: np.quantile(cur, np.linspace(0, 1, n)) if len(cur) else np.linspace(0, 1, n)})
        first = design.with_times(new)
    problem = _Problem(info, first, criterion, tuple(ds_parameters), group_idx, on_step, stop)
    for draw in parameter_draws or ():
        problem.expected.append(DesignInformation(fit_or_model, params={**(params or {}), **draw},
                                                  approximation=approximation, kind=kind, scale=scale, seed=seed,
                                                  prior=prior))
    x0 = problem.x0()
    latest = np.concatenate([design.sampling_times()[g] for g in group_idx])
    if windows is None and grid is not None:
        windows = (float(np.min(grid)), float(np.max(grid)))
    bounds = _windows(windows, latest if len(latest) else np.ones(1), len(x0))
    x0 = np.clip(x0, bounds[:, 0], bounds[:, 1])
    grid_arr = None if grid is None else np.unique(np.asarray(grid, dtype=float))
    start_fim = info(design)
    start_value = problem.value(start_fim.matrix.to_numpy(), start_fim.parameters)
    if problem.expected:
        start_value = float(np.mean([start_value] + [problem.value(e.information(design)[0], start_fim.parameters)
                                                      for e in problem.expected]))
    stopped, message = False, ""
    try:
        x = x0
        if method in ("discrete", "auto"):
            x = _exchange(problem, x, bounds, grid_arr, min_spacing)
        if method in ("continuous", "auto") and not (method == "auto" and grid_arr is not None):
            x = _continuous(problem, problem.best_x if problem.best_x is not None else x, bounds, min_spacing,
                            max_iter)
    except _Stopped:
        stopped, message = True, "stopped before convergence: the best design so far"
    best_x = problem.best_x if problem.best_x is not None else x0
    opt = problem.design_at(np.round(best_x, 10))
    opt_fim = info(opt)
    p = len(opt_fim.parameters)
    if start_fim.ln_det > -np.inf and opt_fim.ln_det > -np.inf:
        eff = float(np.exp((opt_fim.ln_det - start_fim.ln_det) / p))
    else:
        eff = np.inf if opt_fim.ln_det > -np.inf else np.nan
    value = problem.best if criterion in ("A",) else -problem.best
    sv = start_value if criterion == "A" else -start_value
    return OptimalDesign(opt, opt_fim, design, start_fim, criterion, float(value), float(sv), eff,
                         pd.DataFrame(problem.trace), problem.n_eval, time.perf_counter() - t0, method, message,
                         stopped)
