"""The population Fisher information matrix (FIM) of a design, and what it predicts.

``fim(model_or_fit, design)`` binds the design's elementary designs (one subject per group,
counted ``size`` times) to the model with the evaluation API (``estimation.evaluation.prepare``)
and takes the information of the model linearized in the etas from
``estimation.linearized_fim.linearized_information`` (the computation behind SAEM's SEs; no second
FIM here). Derivatives in the etas and the thetas are the engine's exact sensitivities.

* ``approximation="fo"``: linearized at eta = 0, the residual variance at the typical prediction
  (PopED's and PFIM's default).
* ``approximation="foce"``: linearized at individual etas, the average information over
  ``n_draws`` (default 25) eta vectors per group drawn from Omega (seeded, fixed per design, so
  the criterion is smooth in the times): each draw's data are Gaussian with mean
  ``f(eta_s) - G(eta_s) eta_s`` and variance ``G Omega G' + R(f(eta_s))`` (the individual
  prediction's residual variance, FOCEI's interaction). PopED's FOCE design approximation in
  spirit; its numbers are not a reference here.
* ``kind="block"``: fixed effects and variance parameters separately (PopED's reduced FIM, type
  1; PFIM's population FIM); ``kind="full"``: the thetas also move V (PopED type 0).
* Parameters: the model's free parameters on their ``[ini]`` scale (thetas as written, omegas as
  variances, residual parameters as SDs); ``scale="variance"`` reports residual parameters as
  variances (PopED's), the Jacobian applied; names are unchanged.

A singular FIM is not inverted: ``covariance`` is None, SEs are NaN and ``null_space`` names the
parameters of every direction the design does not determine, with a sentence in ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlme_lab.design.design import Design, Group
from nlme_lab.errors import NlmeError

__all__ = ["FIMResult", "DesignInformation", "fim"]

APPROXIMATIONS = ("fo", "foce")
KINDS = ("block", "full")
SCALES = ("declared", "variance")
SINGULAR = 1e-10  # eigenvalue of the unit-diagonal FIM below which a direction is undetermined


@dataclass(frozen=True)
class FIMResult:
    """The FIM of a design and what its inverse predicts (module docstring)."""

    parameters: tuple[str, ...]
    values: pd.Series  # the parameters' values on the reported scale (``scale``)
    matrix: pd.DataFrame  # labelled FIM
    det: float
    ln_det: float
    d_criterion: float  # det^(1/p)
    covariance: pd.DataFrame | None  # FIM^-1; None when singular
    se: pd.Series
    rse_percent: pd.Series
    condition_number: float
    null_space: tuple[str, ...]  # parameters in an undetermined direction (empty: identifiable)
    message: str
    approximation: str
    kind: str
    scale: str
    n_subjects: int = 0
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def singular(self) -> bool:
        return self.covariance is None

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"value": self.values, "se": self.se, "rse_percent": self.rse_percent})

    def to_dict(self) -> dict:
        """The CLI's JSON keys."""
        def num(x):
            x = float(x)
            return x if np.isfinite(x) else None

        return {"parameters": list(self.parameters), "fim": [[num(v) for v in row] for row in self.matrix.to_numpy()],
                "det": num(self.det), "ln_det": num(self.ln_det), "d_criterion": num(self.d_criterion),
                "se": {k: num(v) for k, v in self.se.items()},
                "rse_percent": {k: num(v) for k, v in self.rse_percent.items()},
                "condition_number": num(self.condition_number), "null_space": list(self.null_space),
                "message": self.message, "approximation": self.approximation, "kind": self.kind,
                "scale": self.scale, "n_subjects": self.n_subjects}

    def _repr_html_(self) -> str:
        head = (f"<p>FIM ({self.approximation.upper()}, {self.kind}, {self.scale} scale), {self.n_subjects} subjects: "
                f"ln det {self.ln_det:.4g}, D-criterion {self.d_criterion:.4g}</p>")
        warn = f"<p><b>{self.message}</b></p>" if self.message else ""
        return head + warn + self.summary().to_html(float_format=lambda x: f"{x:.4g}")


def _choice(value, allowed, what):
    v = str(value).lower()
    if v not in allowed:
        raise NlmeError(f"{what} {value!r}: one of {', '.join(repr(a) for a in allowed)}")
    return v


def _model_and_params(fit_or_model, params):
    from nlme_lab.model import Model

    if isinstance(fit_or_model, Model):
        model, base = fit_or_model, {}
    elif hasattr(fit_or_model, "estimates") and getattr(fit_or_model, "model", None) is not None:
        model, base = fit_or_model.model, dict(fit_or_model.estimates)
    else:
        raise NlmeError(f"fim() takes a Model or a FitResult with its model, got {type(fit_or_model).__name__}")
    base.update(params or {})
    return model, base


class DesignInformation:
    """A model, its parameter values and the FIM options, evaluated on many designs (the
    optimiser and the Lab's live RSEs reuse one)."""

    def __init__(self, fit_or_model, *, params=None, approximation="fo", kind="block", scale="declared",
                 n_draws: int = 25, seed: int = 1, prior=None):
        self.model, self.params = _model_and_params(fit_or_model, params)
        self.prior = None if prior is None else (prior.matrix if isinstance(prior, FIMResult) else pd.DataFrame(prior))
        self.approximation = _choice(approximation, APPROXIMATIONS, "approximation")
        self.kind = _choice(kind, KINDS, "kind")
        self.scale = _choice(scale, SCALES, "scale")
        self.n_draws, self.seed = int(n_draws), int(seed)
        self.model.parameters.vector(self.params)  # unknown names fail here, by name
        self._bound: dict = {}  # design -> (evaluator, weights): a design seen again is not re-bound

    def _bind(self, design: Design):
        if design not in self._bound:
            if len(self._bound) > 64:
                self._bound.clear()
            self._bound[design] = self._bind_new(design)
        return self._bound[design]

    def _bind_new(self, design: Design):
        from nlme_lab.data import read_nonmem
        from nlme_lab.estimation.evaluation import prepare

        reps = self.n_draws if self.approximation == "foce" else 1
        frame = design.to_data(expand=False)
        weights = design.sizes
        if reps > 1:
            parts = []
            for r in range(reps):
                part = frame.copy()
                part["ID"] = (part["ID"] - 1) * reps + r + 1
                parts.append(part)
            frame = pd.concat(parts).sort_values(["ID", "TIME"], kind="stable").reset_index(drop=True)
            weights = np.repeat(weights, reps) / reps
        ev = prepare(self.model, read_nonmem(frame))
        return ev, weights

    def information(self, design: Design) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        """(FIM on the reported scale, names, values) of ``design``."""
        from nlme_lab.estimation.linearized_fim import linearized_information
        from nlme_lab.estimation.methods import MethodKind

        ev, weights = self._bind(design)
        space = ev.space
        z = space.table.vector(self.params)
        values = space.values_from_reported(z)
        if self.approximation == "fo":
            engine, etas = ev.subject_engine(MethodKind.FO), ev.zero_etas()
        else:
            engine = ev.subject_engine(MethodKind.FOCEI)
            rng = np.random.default_rng(self.seed)
            L = np.linalg.cholesky(values.omega + 1e-300 * np.eye(ev.n_eta)) if ev.n_eta else np.zeros((0, 0))
            etas = rng.standard_normal((ev.n_subjects, ev.n_eta)) @ L.T
        out = linearized_information(engine, space, z, etas, weights=weights, full=self.kind == "full")
        if out is None:
            raise NlmeError("the FIM needs the engine's theta sensitivities and uncensored observations; "
                            "this model and design give neither")
        info, names = out
        free = ~space.reported_fixed()
        zf = z[free].astype(float)
        if self.scale == "variance":
            kinds = [space.table.entry(n).kind.value for n in names]
            jac = np.array([1.0 / (2.0 * v) if k == "residual" else 1.0 for k, v in zip(kinds, zf)])
            info = info * np.outer(jac, jac)
            zf = np.array([v * v if k == "residual" else v for k, v in zip(kinds, zf)])
        if self.prior is not None:
            info = info + _aligned(self.prior, names)
        return info, names, zf

    def __call__(self, design: Design) -> FIMResult:
        import time

        t0 = time.perf_counter()
        info, names, zf = self.information(design)
        return make_result(info, names, zf, self, design.n_subjects, time.perf_counter() - t0)


def _aligned(prior: pd.DataFrame, names) -> np.ndarray:
    """A prior FIM (labelled) on this FIM's parameters: missing ones count as no information."""
    unknown = [n for n in prior.index if n not in names]
    if unknown:
        raise NlmeError(f"prior FIM: parameters {unknown} are not estimated parameters of the model ({list(names)})")
    return prior.reindex(index=list(names), columns=list(names)).fillna(0.0).to_numpy(dtype=float)


_INDEX: dict = {}


def _index(names: tuple[str, ...]) -> pd.Index:
    """One pandas Index per parameter list (building it is most of a small FIM's cost)."""
    if names not in _INDEX:
        _INDEX[names] = pd.Index(list(names))
    return _INDEX[names]


def make_result(info, names, zf, opts, n_subjects=0, elapsed=0.0) -> FIMResult:
    names = tuple(names)
    idx = _index(names)
    p = len(names)
    info = 0.5 * (info + info.T)
    sign, ln_det = np.linalg.slogdet(info) if p else (1.0, 0.0)
    det = float(sign * np.exp(ln_det)) if sign > 0 else 0.0
    ln_det = float(ln_det) if sign > 0 else -np.inf
    d_crit = float(np.exp(ln_det / p)) if (p and sign > 0) else 0.0
    null, message, cond = _null_space(info, names, zf)
    if null or sign <= 0:
        cov, se, rse = None, pd.Series(np.full(p, np.nan), index=idx), pd.Series(np.full(p, np.nan), index=idx)
    else:
        C = np.linalg.inv(info)
        se_v = np.sqrt(np.clip(np.diag(C), 0, None))
        cov = pd.DataFrame(C, index=idx, columns=idx)
        se = pd.Series(se_v, index=idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            rse = pd.Series(100.0 * se_v / np.abs(zf), index=idx)
    return FIMResult(names, pd.Series(zf, index=idx), pd.DataFrame(info, index=idx, columns=idx),
                     det, ln_det, d_crit, cov, se, rse, cond, null, message, opts.approximation, opts.kind,
                     opts.scale, n_subjects, elapsed)


def _null_space(info, names, zf) -> tuple[tuple[str, ...], str, float]:
    """Parameters in undetermined directions, a sentence, and the condition number (of the
    unit-diagonal matrix, so units do not count)."""
    d = np.diag(info)
    zero = [n for n, x in zip(names, d) if not x > 0]
    if zero:
        return tuple(zero), (f"{_join(zero)} {'does' if len(zero) == 1 else 'do'} not affect the predicted data "
                             "with this design: the FIM is singular"), np.inf
    s = 1.0 / np.sqrt(d)
    w, U = np.linalg.eigh(info * np.outer(s, s))
    cond = float(w[-1] / w[0]) if w[0] > 0 else np.inf
    small = np.flatnonzero(w <= SINGULAR * w[-1])
    if not len(small):
        return (), "", cond
    involved: list[str] = []
    sentences = []
    for k in small:
        v = U[:, k] * s  # direction in the parameters' own units
        rel = v / np.where(zf != 0, zf, 1.0)  # relative change of each parameter along it
        weight = np.abs(U[:, k])
        who = [i for i in np.argsort(-weight) if weight[i] > 0.1]
        for i in who:
            if names[i] not in involved:
                involved.append(names[i])
        if len(who) == 2:
            a, b = who
            if abs(abs(rel[a]) - abs(rel[b])) < 0.05 * max(abs(rel[a]), abs(rel[b])):
                how = "ratio" if np.sign(rel[a]) == np.sign(rel[b]) else "product"
                sentences.append(f"{names[a]} and {names[b]} enter only as their {how} with this design")
                continue
        sentences.append(f"only a combination of {_join([names[i] for i in who])} is determined, not each")
    if len(small) > 2:  # many directions: say how many, and who
        sentences = [f"the design determines only {len(names) - len(small)} combinations of the {len(names)} "
                     f"parameters; {_join(involved)} cannot all be estimated"]
    msg = ("The FIM is singular (not inverted): " + "; ".join(sentences)
           + ". Add sampling times or subjects that separate them, or fix some of them.")
    return tuple(involved), msg, np.inf if w[0] <= 0 else cond


def _join(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def fim(fit_or_model, design: Design, *, params: dict | None = None, approximation: str = "fo",
        kind: str = "block", scale: str = "declared", n_draws: int = 25, seed: int = 1, prior=None) -> FIMResult:
    """The population FIM of ``design`` for a model at ``params`` (default: a fit's estimates or
    the model's ``[ini]`` values), with the expected SEs and RSEs (module docstring).

    >>> r = nl.fim(model, nl.Design.single(doses=[nl.Dose(70)], times=[0.5, 2, 24], size=32))
    >>> r.rse_percent, r.det, r.null_space

    ``prior``: a FIM (a ``FIMResult`` or a labelled DataFrame, on the same scale) added to the
    design's: the information of an earlier study; parameters it leaves out count as zero.
    """
    if not isinstance(design, Design):
        design = Design.from_data(design)
    return DesignInformation(fit_or_model, params=params, approximation=approximation, kind=kind, scale=scale,
                             n_draws=n_draws, seed=seed, prior=prior)(design)


def typical_curve(fit_or_model, design: Design, group: int = 0, *, dvid: int | None = None, params=None,
                  n: int = 200, t_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times, PRED): the typical prediction (etas 0) of one group's endpoint ``dvid`` (default
    its first) on ``n`` times from 0 to ``t_max`` (default 1.05 x its latest sampling time),
    on DV's scale; the Lab draws its sampling times on it."""
    from nlme_lab.data import read_nonmem
    from nlme_lab.estimation.evaluation import prepare

    model, values = _model_and_params(fit_or_model, params)
    g = design.groups[group]
    dvid = g.times[0][0] if dvid is None else int(dvid)
    latest = max([max(ts) for _, ts in g.times if ts] + [1.0])
    t = np.linspace(0.0, float(t_max or 1.05 * latest), int(n))
    one = Design((Group(g.name, 1, g.doses, ((dvid, tuple(t)),), g.covariates, g.observation_cmt, g.occasions),))
    frame = one.to_data(expand=False)
    ev = prepare(model, read_nonmem(frame))
    pred = ev.predictions(ev.values(values), derivatives=False)
    return np.asarray(frame.loc[frame.EVID == 0, "TIME"], float), np.asarray(pred.natural, float)
