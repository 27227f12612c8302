"""Stepwise covariate modeling (SCM, as PsN's ``scm``): forward inclusion then backward elimination.

Forward: at each step every remaining (relation, form) candidate is the current model plus that
effect, started from the current estimates (the new thetas at their neutral value, so the
candidate starts at the parent's OFV); the candidate with the smallest p-value (chi-square of
-dOFV with the relation's df) among those with p < ``p_forward`` is added. Backward: each relation
not forced in (``included``) is removed in turn from the current model; the one whose removal is
least significant is dropped while its p > ``p_backward``.

Candidates are fitted with ``nlme_lab.distributed.run_tasks`` (serial, the embedded LocalCluster or
a cluster; results identical bit for bit). A candidate whose fit fails, does not converge or
(forward) ends above its parent's OFV is refitted once from perturbed initial values and its status
says so; one that is still failed or worse is reported and never chosen. Completed candidate fits
are kept by model text: ``scm(..., resume=result)`` after a stop reuses them.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlme_lab.covariates.effects import (FORMS, CovariateError, add_covariate_effect, describe_effect,
                                         remove_covariate_effect)

STEP_COLUMNS = ("step", "direction", "relation", "form", "df", "ofv", "dofv", "p_value", "significant", "chosen",
                "status")
WORSE_TOLERANCE = 1e-3  # a forward candidate this much above its parent's OFV is refitted


# --------------------------------------------------------------------------- the fan-out task
def fit_candidate(item, seed=None) -> dict:
    """Fit one candidate (a worker task): ``item`` = (model, data, method[, keep_fit]); the OFV,
    estimates and convergence in plain values, and with ``keep_fit`` the whole ``FitResult`` as
    ``estimation.result_io.fit_to_dict`` writes it (under ``"fit"``, for the run history)."""
    from nlme_lab.estimation import fit

    model, data, method, *keep = item
    result = fit(model, data, method, covariance=None, parallel=False)
    out = {"ofv": float(result.ofv), "estimates": dict(result.estimates), "converged": bool(result.converged),
           "termination": result.termination.value, "n_parameters": int(result.n_parameters)}
    if keep and keep[0]:
        from nlme_lab.estimation.result_io import fit_to_dict

        out["fit"] = fit_to_dict(result)
    return out


def _warm():
    from nlme_lab.problem.compiling import warm_engine

    warm_engine()


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class Candidate:
    """One fitted candidate: its step, relation, form and the model text fitted."""

    step: int
    direction: str
    relation: str
    form: str
    df: int
    ofv: float
    dofv: float
    p_value: float
    significant: bool
    chosen: bool
    status: str
    model_text: str = field(repr=False, default="")
    estimates: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class SCMResult:
    """An SCM run: ``steps`` (one row per candidate), the base and final models and fits."""

    steps: pd.DataFrame
    candidates: tuple[Candidate, ...]
    base_model: object
    base_ofv: float
    final_model: object
    final_fit: object
    final_relations: tuple[str, ...]
    method: str
    p_forward: float
    p_backward: float
    elapsed_s: float
    stopped: bool = False
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """The chosen candidate of each step (what the search did), then the final OFV."""
        chosen = self.steps[self.steps["chosen"]][["step", "direction", "relation", "form", "df", "ofv", "dofv",
                                                   "p_value"]]
        return chosen.reset_index(drop=True)

    def to_dict(self) -> dict:
        """The JSON layout of ``nlme-lab scm --json`` (see the CLI)."""
        steps = []
        for step, rows in self.steps.groupby("step", sort=True):
            chosen = rows[rows["chosen"]]
            steps.append({
                "step": int(step), "direction": str(rows["direction"].iloc[0]),
                "candidates": [{"relation": r.relation, "form": r.form, "df": int(r.df), "ofv": _num(r.ofv),
                                "dofv": _num(r.dofv), "p_value": _num(r.p_value), "significant": bool(r.significant),
                                "status": r.status} for r in rows.itertuples()],
                "chosen": None if chosen.empty else str(chosen["relation"].iloc[0]),
            })
        return {"base_ofv": self.base_ofv, "steps": steps, "final_relations": list(self.final_relations),
                "final_ofv": float(self.final_fit.ofv) if self.final_fit is not None else None,
                "elapsed_s": self.elapsed_s}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def _repr_html_(self) -> str:
        head = (f"<b>SCM</b> ({self.method}, forward p &lt; {self.p_forward:g}, backward p &gt; {self.p_backward:g}): "
                f"final relations {', '.join(self.final_relations) or 'none'}, OFV {self.base_ofv:.3f} → "
                f"{self.final_fit.ofv:.3f}" if self.final_fit is not None else "<b>SCM</b> (stopped)")
        return f"<div>{head}{self.steps.to_html(index=False)}</div>"


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


# --------------------------------------------------------------------------- inputs
def _forms_for(covariate: str, forms) -> tuple[str, ...]:
    if forms is None:
        return ("linear",)
    if isinstance(forms, str):
        forms = {"*": forms}
    chosen = forms.get(covariate, forms.get(covariate.upper(), forms.get("*", "linear")))
    out = (chosen,) if isinstance(chosen, str) else tuple(chosen)
    for f in out:
        if f not in FORMS:
            raise CovariateError(f"unknown covariate form '{f}' for {covariate} (choose from {', '.join(FORMS)})")
    return out


def _relation_list(relations) -> list[tuple[str, str]]:
    if isinstance(relations, dict):
        out = [(p, c) for p, covs in relations.items() for c in ([covs] if isinstance(covs, str) else covs)]
    else:
        out = [tuple(r) for r in relations]
    if not out:
        raise CovariateError("relations is empty: give {parameter: [covariates]}, e.g. {'cl': ['WT']}")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- the search
def scm(model, data, relations, *, forms=None, included=(), p_forward: float = 0.05, p_backward: float = 0.001,
        method: str = "focei", scheduler=None, seed=None, on_step=None, stop=None, resume: SCMResult | None = None,
        progress: bool = False, on_fit=None) -> SCMResult:
    """Stepwise covariate modeling of ``model`` on ``data`` over ``relations``
    (``{"cl": ["WT", "APGR"], "v": ["WT"]}``); see the module docstring.

    ``forms``: a form for every covariate (``"power"``) or a dict covariate -> form or list of
    forms (several are tried as separate candidates), ``"*"`` the default (``"linear"``).
    ``included``: (parameter, covariate) pairs forced in and never removed. ``scheduler``,
    ``seed``: as ``nlme_lab.distributed.run_tasks``. ``on_step(steps)`` is called with the table so
    far (a DataFrame) as each candidate ends; ``stop`` (a ``threading.Event``) ends the search
    after the running candidates (the result has ``stopped=True``); ``resume`` (a previous result)
    reuses its completed candidate fits. ``on_fit(label, fit)`` is called with every fit of the
    search as its step's table is complete (the base model, then each candidate; ``fit`` a
    ``FitResult``, ``label`` e.g. ``"scm step 2: +cl-WT (linear)"``; a refitted candidate gives its
    kept fit), e.g. to put them in a run history. Every input is checked before any fit."""
    from nlme_lab.estimation import fit as run_fit
    from nlme_lab.problem import as_dataset, as_model

    t0 = time.perf_counter()
    model, data = as_model(model), as_dataset(data)
    if not (0 < p_forward < 1 and 0 < p_backward < 1):
        raise CovariateError(f"p_forward and p_backward must be in (0, 1), got {p_forward}, {p_backward}")
    pairs = _relation_list(relations)
    included = [tuple(r) for r in included]
    options = []  # (parameter, covariate, form, df) of every candidate, checked now
    for parameter, covariate in dict.fromkeys([*included, *pairs]):
        for form in _forms_for(covariate, forms):
            effect = describe_effect(model, parameter, covariate, form, data=data)
            options.append((parameter, effect.covariate, form, effect.df))
    cov_names = {c.lower(): c for c in data.covariate_names}
    included = [(p, cov_names.get(c.lower(), c)) for p, c in included]

    cache = dict(resume.cache) if resume is not None else {}
    rows: list[Candidate] = []
    state = _State(data, method, scheduler, seed, cache, rows, on_step, stop, progress)
    state.keep_fits = on_fit is not None

    current = model
    for parameter, covariate in included:
        form = next(f for p, c, f, _ in options if (p, c) == (parameter, covariate))
        current = add_covariate_effect(current, parameter, covariate, form, data=data)
    base = state.fit_models([current])[0]
    if "error" in base:
        raise CovariateError(f"the base model's fit failed: {base['error']}")
    base_ofv = base["ofv"]
    _report_fit(on_fit, "scm base model", base)
    current_est = base["estimates"]
    current_ofv = base_ofv
    active = {(p, c): (f, df) for p, c, f, df in options if (p, c) in included}
    step = 0
    # ---- forward
    while not state.stopped():
        pool = [(p, c, f, df) for p, c, f, df in options if (p, c) not in active]
        if not pool:
            break
        step += 1
        start = current.with_initial(**current_est)
        models = [add_covariate_effect(start, p, c, f, data=data) for p, c, f, _ in pool]
        results = state.fit_checked(models, current_ofv, forward=True, step=step,
                                    labels=[(f"{p}-{c}", f, "forward") for p, c, f, _ in pool])
        cands = []
        for (p, c, f, df), m, r in zip(pool, models, results):
            dofv = r["ofv"] - current_ofv if "ofv" in r else math.nan
            pv = _p_value(-dofv, df)
            ok = r["status"].startswith(("ok", "refitted"))
            cands.append(Candidate(step, "forward", f"{p}-{c}", f, df, r.get("ofv", math.nan), dofv, pv,
                                   bool(ok and pv < p_forward), False, r["status"], m.text,
                                   r.get("estimates", {})))
        best = None if state.stopped() else _pick(cands, forward=True)  # a stopped step chooses nothing
        if best is not None:
            cands[best] = _chosen(cands[best])
        state.add_rows(cands)
        for cand, r in zip(cands, results):
            _report_fit(on_fit, f"scm step {cand.step}: +{cand.relation} ({cand.form})", r)
        if best is None:
            break
        p, c = cands[best].relation.split("-", 1)
        active[(p, c)] = (cands[best].form, cands[best].df)
        current = models[best]
        current_est, current_ofv = cands[best].estimates, cands[best].ofv
    # ---- backward
    forced = set(included)
    while not state.stopped():
        pool = [(p, c) for (p, c) in active if (p, c) not in forced]
        if not pool:
            break
        step += 1
        start = current.with_initial(**current_est)
        models = [remove_covariate_effect(start, p, c) for p, c in pool]
        results = state.fit_checked(models, current_ofv, forward=False, step=step,
                                    labels=[(f"{p}-{c}", active[(p, c)][0], "backward") for p, c in pool])
        cands = []
        for (p, c), m, r in zip(pool, models, results):
            f, df = active[(p, c)]
            dofv = r["ofv"] - current_ofv if "ofv" in r else math.nan
            pv = _p_value(dofv, df)
            ok = r["status"].startswith(("ok", "refitted"))
            cands.append(Candidate(step, "backward", f"{p}-{c}", f, df, r.get("ofv", math.nan), dofv, pv,
                                   bool(ok and pv <= p_backward), False, r["status"], m.text,
                                   r.get("estimates", {})))
        worst = None if state.stopped() else _pick(cands, forward=False, p_backward=p_backward)
        if worst is not None:
            cands[worst] = _chosen(cands[worst])
        state.add_rows(cands)
        for cand, r in zip(cands, results):
            _report_fit(on_fit, f"scm step {cand.step}: -{cand.relation} ({cand.form})", r)
        if worst is None:
            break
        p, c = cands[worst].relation.split("-", 1)
        del active[(p, c)]
        current = models[worst]
        current_est, current_ofv = cands[worst].estimates, cands[worst].ofv

    stopped = state.stopped()
    final_fit = None
    if not stopped:
        final_fit = run_fit(current.with_initial(**current_est), data, method, parallel=False)
    return SCMResult(steps=state.frame(), candidates=tuple(rows), base_model=model, base_ofv=base_ofv,
                     final_model=current.with_initial(**current_est), final_fit=final_fit,
                     final_relations=tuple(f"{p}-{c}" for p, c in active), method=str(method),
                     p_forward=p_forward, p_backward=p_backward, elapsed_s=time.perf_counter() - t0,
                     stopped=stopped, cache=cache)


def _p_value(delta: float, df: int) -> float:
    """chi2.sf of an OFV drop (``delta`` >= 0 is a drop); a rise counts as 0; NaN for a failed fit."""
    from scipy.stats import chi2

    if math.isnan(delta):
        return math.nan
    return float(chi2.sf(max(delta, 0.0), df))


def _pick(cands: list[Candidate], *, forward: bool, p_backward: float = 0.0) -> int | None:
    usable = [(k, c) for k, c in enumerate(cands) if c.status.startswith(("ok", "refitted"))]
    if forward:
        sig = [(c.p_value, c.dofv, k) for k, c in usable if c.significant]
        return min(sig)[2] if sig else None
    drop = [(-c.p_value, -c.dofv, k) for k, c in usable if c.p_value > p_backward]
    return min(drop)[2] if drop else None


def _chosen(c: Candidate) -> Candidate:
    from dataclasses import replace

    return replace(c, chosen=True)


class _State:
    """The run's fan-out, cache of completed fits, rows so far and stop flag."""

    def __init__(self, data, method, scheduler, seed, cache, rows, on_step, stop, progress):
        self.data, self.method, self.scheduler, self.seed = data, method, scheduler, seed
        self.cache, self.rows, self.on_step, self.stop, self.progress = cache, rows, on_step, stop, progress
        self.live: list[Candidate] = []  # this step's candidates fitted so far (for on_step)
        self.keep_fits = False  # whole FitResults kept for on_fit

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def frame(self, extra=()) -> pd.DataFrame:
        rows = [*self.rows, *extra]
        return pd.DataFrame([{k: getattr(c, k) for k in STEP_COLUMNS} for c in rows], columns=list(STEP_COLUMNS))

    def add_rows(self, cands):
        self.live = []
        self.rows.extend(cands)
        if self.on_step is not None:
            self.on_step(self.frame())

    def fit_models(self, models, step: int = 0, labels=None) -> list[dict]:
        """Fit models (from the cache where done); failures as ``{"error": words}``."""
        from nlme_lab.distributed import run_tasks

        keys = [(m.text, str(self.method)) for m in models]
        todo = [k for k, key in enumerate(keys)
                if key not in self.cache or (self.keep_fits and "ofv" in self.cache[key] and "fit" not in self.cache[key])]
        if todo:
            def report(outcome):
                if self.on_step is not None and outcome.ok:
                    k = todo[outcome.index]
                    relation, form, direction = labels[k] if labels else ("base model", "", "base")
                    self.live.append(Candidate(step, direction, relation, form, 0, outcome.value["ofv"], math.nan,
                                               math.nan, False, False, "fitted"))
                    self.on_step(self.frame(self.live))

            outcomes = run_tasks(fit_candidate, [(models[k], self.data, self.method, self.keep_fits) for k in todo],
                                 scheduler=self.scheduler, seed=self.seed, description="scm candidates",
                                 stop=self.stop, warmup=_warm, progress=self.progress,
                                 on_result=report if self.on_step is not None else None)
            for k, outcome in zip(todo, outcomes):
                if outcome.ok:
                    self.cache[keys[k]] = outcome.value
                elif outcome.status.value == "failed":
                    self.cache[keys[k]] = {"error": outcome.error}
                else:
                    self.cache[keys[k]] = None  # cancelled: not kept
        out = []
        for key in keys:
            value = self.cache.get(key)
            if value is None:
                self.cache.pop(key, None)
                out.append({"error": "cancelled (the search was stopped)"})
            else:
                out.append(value)
        return out

    def fit_checked(self, models, parent_ofv: float, *, forward: bool, step: int, labels=None) -> list[dict]:
        """Fit candidates; refit once from perturbed initial values any that failed, did not
        converge or (forward) ended above the parent; a status in words for each."""
        first = self.fit_models(models, step, labels)
        problems = {k: _problem(r, parent_ofv, forward) for k, r in enumerate(first)}
        problems = {k: why for k, why in problems.items() if why and not why.startswith("cancelled")}
        out = [dict(r, status="ok" if "error" not in r else r["error"]) for r in first]
        for k, r in enumerate(first):
            if "error" in r and r["error"].startswith("cancelled"):
                out[k]["status"] = "cancelled"
        if problems and not self.stopped():
            rng = np.random.default_rng([abs(hash_text(models[k].text)) for k in sorted(problems)] + [step])
            again = [_perturbed(models[k], rng) for k in sorted(problems)]
            second = self.fit_models(again, step, [labels[k] for k in sorted(problems)] if labels else None)
            for k, r in zip(sorted(problems), second):
                why = _problem(r, parent_ofv, forward)
                if not why:
                    out[k] = dict(r, status=f"refitted from perturbed initial values ({problems[k]})")
                else:
                    keep = first[k] if "ofv" in first[k] else r
                    out[k] = dict(keep, status=f"failed: {problems[k]}; refit: {why}")
        return out


def _report_fit(on_fit, label: str, r: dict) -> None:
    """``on_fit(label, FitResult)`` for a fit that kept its result (none for a failed one)."""
    if on_fit is None or "fit" not in r:
        return
    from nlme_lab.estimation.result_io import fit_from_dict

    on_fit(label, fit_from_dict(r["fit"]))


def hash_text(text: str) -> int:
    """A stable 32-bit hash of a model text (Python's ``hash`` of a str varies per process)."""
    import zlib

    return zlib.crc32(text.encode())


def _problem(r: dict, parent_ofv: float, forward: bool) -> str:
    if "error" in r:
        return f"fit failed: {r['error']}"
    if not r["converged"]:
        return f"not converged ({r['termination']})"
    if forward and r["ofv"] > parent_ofv + WORSE_TOLERANCE:
        return f"OFV {r['ofv']:.4f} above the parent's {parent_ofv:.4f}"
    return ""


def _perturbed(model, rng):
    """The model with its estimated thetas' initial values moved by about 10 % (kept inside their
    bounds); a theta at 0 (a new covariate theta) moves by a tenth of its nearer bound (0.01
    without bounds), in a random direction."""
    values = {}
    for t in model.thetas:
        if t.fixed:
            continue
        if t.init != 0:
            x = t.init * math.exp(rng.normal(0, 0.1))
        else:
            span = min([abs(b) for b in (t.lower, t.upper) if math.isfinite(b) and b != 0] or [0.1])
            x = 0.1 * span * (1 if rng.random() < 0.5 else -1)
        if math.isfinite(t.lower) and x <= t.lower:
            x = t.lower + 0.5 * (t.init - t.lower)
        if math.isfinite(t.upper) and x >= t.upper:
            x = t.upper - 0.5 * (t.upper - t.init)
        values[t.name] = x
    return model.with_initial(**values)
