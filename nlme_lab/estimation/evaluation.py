"""The evaluation API: a model bound to a dataset once, then its numbers at given parameters.

Diagnostics, importance sampling (and the validation, design and dosing work to come) use this
and nothing else of estimation: they never build problems, layouts or inner-problem engines.

    prepare(model, data)              bind -> KernelProblem -> parameter_space -> ResidualLayout
    Evaluator(problem, space)         the same for any ``PredictionProblem``

    ev.values(params)                           ModelValues ([ini] updated by reported names)
    ev.predictions(values, etas)                ObservationPredictions (PRED at etas 0, IPRED at EBEs)
    ev.residual_variance(values, f)             V of every observation
    ev.modes(values, method)                    Modes: EBEs and the method's per-subject terms there
    ev.objectives(values, etas, method)         SubjectObjectives at given etas (curvature, covariance)
    ev.conditional_m2ll(values, eta_sets)       -2 log p(y_i | eta) for many eta sets at once
    ev.record_predictions(values, etas)         every endpoint on every record (PRED, IPRED)
    ev.individual_parameters(values, etas)      model variables on each subject's first record
    ev.record_variables(values, etas)           model variables on every record
    ev.shrinkage(values, etas, f)               eta and epsilon shrinkage

Every number comes from the engine the fits use (``SubjectEngine`` for the methods' terms,
``SubjectLikelihood`` for the conditional likelihood), so a diagnostic and a fit agree to the bit.
Results are frozen dataclasses. Predictions ``f`` are on the error model's scale (log for
``lnorm`` endpoints, where ``y`` is log DV); ``natural`` is on DV's scale.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.likelihood import ResidualLayout
from nlme_lab.estimation.methods import METHODS, InnerOptions, MethodKind

__all__ = ["Evaluator", "IndividualParameters", "MethodKind", "Modes", "ObservationPredictions", "Observations",
           "RecordPredictions", "SubjectObjectives", "prepare"]  # MethodKind: the ``method`` argument


@dataclass(frozen=True)
class Observations:
    """The observations the likelihood sees, sorted by subject (dataset order)."""

    record: np.ndarray | None  # (n_obs,) 0-based record in the dataset (None: not a model's problem)
    subject: np.ndarray  # (n_obs,) 0-based subject index
    endpoint: np.ndarray  # (n_obs,) 0-based endpoint
    cens: np.ndarray  # (n_obs,) 0 observed, 1 below DV, -1 above DV
    dv: np.ndarray  # (n_obs,) DV as given
    y: np.ndarray  # (n_obs,) DV on the error model's scale
    lower: np.ndarray  # (n_obs,) censoring interval on the error model's scale (nan: observed)
    upper: np.ndarray
    log_scale: np.ndarray  # (n_obs,) bool: the endpoint's error is lnorm
    censored: np.ndarray  # (n_obs,) bool

    def natural(self, f: np.ndarray) -> np.ndarray:
        """Error-scale values (predictions, limits) on DV's scale."""
        return np.where(self.log_scale, np.exp(f), f)


@dataclass(frozen=True)
class ObservationPredictions:
    """The model's predictions of every observation at one set of etas."""

    etas: np.ndarray  # (n_sub, n_eta) where the model was evaluated
    f: np.ndarray  # (n_obs,) on the error model's scale
    df_deta: np.ndarray | None  # (n_obs, n_eta) exact derivatives, same scale
    variance: np.ndarray  # (n_obs,) residual variance at f
    natural: np.ndarray  # (n_obs,) f on DV's scale (PRED at etas 0, IPRED at the EBEs)


@dataclass(frozen=True)
class SubjectObjectives:
    """A method's per-subject terms at given etas: ``inner`` L_i = -2 log p(y_i | eta) +
    eta' Omega^-1 eta, the curvature A_i (half the Hessian approximation of L_i, the inverse
    conditional covariance of the etas) and ``ofv`` L_i + log det Omega + log det A_i, the
    subject's contribution to the method's objective when the etas are its modes."""

    method: MethodKind
    etas: np.ndarray  # (n_sub, n_eta)
    inner: np.ndarray  # (n_sub,)
    curvature: np.ndarray  # (n_sub, n_eta, n_eta)
    logdet_curvature: np.ndarray  # (n_sub,)
    ofv: np.ndarray  # (n_sub,)
    n_hessian_fallback: int = 0  # Laplace: subjects whose Hessian fell back to the FOCEI curvature

    @property
    def total(self) -> float:
        return float(np.sum(self.ofv))

    @cached_property
    def covariance(self) -> np.ndarray:
        """(n_sub, n_eta, n_eta) inverse curvature: the etas' conditional covariance (NaN for a
        subject whose curvature is singular)."""
        A = self.curvature
        try:
            return np.linalg.inv(A)
        except np.linalg.LinAlgError:
            out = np.full_like(A, np.nan)
            for i in range(A.shape[0]):
                try:
                    out[i] = np.linalg.inv(A[i])
                except np.linalg.LinAlgError:
                    pass
            return out


@dataclass(frozen=True)
class Modes:
    """The modes of a method's individual objectives (EBEs for FOCEI) and its terms there."""

    objectives: SubjectObjectives
    n_not_converged: int  # subjects whose Newton iteration stopped before its tolerance

    @property
    def etas(self) -> np.ndarray:
        return self.objectives.etas


@dataclass(frozen=True)
class RecordPredictions:
    """Every endpoint's prediction on every record: at etas 0 (PRED) and at given etas (IPRED)."""

    pred: np.ndarray  # (n_records, n_endpoint)
    ipred: np.ndarray  # (n_records, n_endpoint)


@dataclass(frozen=True)
class IndividualParameters:
    """The model's variables (inputs left out) on each subject's first record."""

    names: tuple[str, ...]
    values: np.ndarray  # (n_subjects, n_names)


def prepare(model, data, *, parallel: bool | None = None) -> "Evaluator":
    """``model`` (a ``Model``) bound to ``data`` (a ``Dataset``), ready for evaluations: the one
    place that builds the engine's problem and the parameter space of a model (``nlme_lab.fit``
    starts here too). ``parallel``: the engine's thread request (``problem.predict.Predictor``)."""
    from nlme_lab.estimation.kernel_problem import KernelProblem
    from nlme_lab.estimation.model_space import parameter_space
    from nlme_lab.problem import bind

    problem = KernelProblem(bind(model, data), parallel=parallel)
    n_occ = max(problem.n_occasions, 1)
    space = model_derived(model, ("parameter_space", n_occ), lambda: parameter_space(model.ir, n_occ))
    return Evaluator(problem, space, model=model, data=data)


#: ``Model`` -> {key: a structure derived from the model alone}, for what every fit of a model
#: would otherwise derive again (its ``ParameterSpace``, ~0.3 ms; the log-normal pairs of its
#: equations, ~0.2 ms of sympy). A ``Model`` is immutable (its text fixes its IR) and equal models
#: (same text and solver) give equal structures; the structures are frozen and hold no reference
#: to the model, so the weak keys let a model and its entries go together.
_MODEL_DERIVED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def model_derived(model, key, build):
    """``build()``, computed once per model and ``key`` (see ``_MODEL_DERIVED``): ``build`` must
    be a pure function of the model's IR returning an immutable value. A model that cannot be a
    weak key (not a ``Model``) gets ``build()`` every time."""
    try:
        entries = _MODEL_DERIVED.get(model)
        if entries is None:
            entries = _MODEL_DERIVED[model] = {}
    except TypeError:
        return build()
    if key not in entries:
        entries[key] = build()
    return entries[key]


class Evaluator:
    """Evaluations of a ``PredictionProblem`` with its ``ParameterSpace`` (module docstring)."""

    def __init__(self, problem, space, *, model=None, data=None):
        self.problem, self.space, self.model, self.data = problem, space, model, data
        self.layout = ResidualLayout.build(space.residual, problem.endpoint, problem.dv, problem.cens, problem.limit)
        self._engines: dict[MethodKind, object] = {}
        self._likelihood = None

    # --- shapes and names --------------------------------------------------------------------
    @property
    def n_subjects(self) -> int:
        return int(self.problem.n_subjects)

    @property
    def n_eta(self) -> int:
        return int(self.problem.n_eta)

    @property
    def eta_labels(self) -> list[str]:
        """One label per eta column (occasion copies of a kappa as ``kappa#k``)."""
        return list(self.space.eta_labels)

    @cached_property
    def observations(self) -> Observations:
        pb, lay = self.problem, self.layout
        return Observations(getattr(pb, "obs_rec", None), np.asarray(pb.obs_subject), np.asarray(pb.endpoint),
                            np.asarray(pb.cens), np.asarray(pb.dv), lay.y, lay.lo, lay.hi, lay.log_scale,
                            lay.censored)

    def zero_etas(self) -> np.ndarray:
        return np.zeros((self.n_subjects, self.n_eta))

    def check_etas(self, etas) -> np.ndarray:
        """``etas`` as a float array of the problem's shape, or an error naming the etas."""
        etas = np.asarray(etas, dtype=float)
        want = (self.n_subjects, self.n_eta)
        if etas.shape != want:
            raise NlmeError(f"etas have shape {etas.shape}; the model and data need {want} "
                            f"(subjects x random effects {', '.join(self.eta_labels)})")
        return etas

    # --- parameter values --------------------------------------------------------------------
    def values(self, params: dict | None = None):
        """``ModelValues`` at the ``[ini]`` values updated by ``params`` (reported names:
        thetas, variances by eta name, covariances as ``"eta_a,eta_b"`` in either order, SDs;
        the model's ``ParameterTable`` reads them)."""
        return self.space.values_from_reported(self.space.table.vector(params))

    # --- predictions and variances -----------------------------------------------------------
    def predictions(self, values, etas=None, *, derivatives: bool = True) -> ObservationPredictions:
        """Every observation's prediction at ``etas`` (default 0: PRED) with its eta-derivatives
        (``derivatives``) and residual variance."""
        etas = self.zero_etas() if etas is None else np.ascontiguousarray(etas, dtype=float)
        ev = self.problem.evaluate(values.theta, etas, derivs=derivatives)
        g = np.asarray(ev.df_deta, dtype=float) if derivatives else None
        f, g = self.layout.to_log_scale(np.asarray(ev.f, dtype=float), g)
        return ObservationPredictions(etas, f, g, self.residual_variance(values, f), self.observations.natural(f))

    def residual_variance(self, values, f: np.ndarray) -> np.ndarray:
        """The residual variance of every observation at error-scale predictions ``f``
        (leading batch axes allowed)."""
        return self.layout.variance(values.sd, f)[0]

    # --- the individual problem ----------------------------------------------------------------
    def subject_engine(self, method) -> object:
        """``method``'s per-subject engine (``individual.SubjectEngine``: predictions with their
        eta/theta sensitivities, the inner solve), built once per method: what the linearised
        FIM and the fits' inner problem run on."""
        kind = _method(method)
        if kind not in self._engines:
            from nlme_lab.estimation.individual import SubjectEngine

            self._engines[kind] = SubjectEngine(self.problem, self.layout, METHODS[kind])
        return self._engines[kind]

    def modes(self, values, method=MethodKind.FOCEI, etas0=None, options: InnerOptions | None = None) -> Modes:
        """The modes of ``method``'s individual objectives (from ``etas0``, default 0): FOCEI's
        are the EBEs. The same inner solve as the fits' (``SubjectEngine.solve``)."""
        engine = self.subject_engine(method)
        start = self.zero_etas() if etas0 is None else np.asarray(etas0, dtype=float)
        sol = engine.solve(values, start, options or InnerOptions())
        return Modes(_objectives(engine.spec.kind, sol.etas, sol.terms), sol.n_not_converged)

    def objectives(self, values, etas, method=MethodKind.FOCEI) -> SubjectObjectives:
        """``method``'s per-subject terms at given ``etas`` (a fit's EBEs, say), no solve."""
        engine = self.subject_engine(method)
        etas = np.asarray(etas, dtype=float)
        T = engine.terms(engine.predictions(values.theta, etas, around=True), values, etas)
        return _objectives(engine.spec.kind, etas, T)

    def conditional_m2ll(self, values, eta_sets) -> np.ndarray:
        """``-2 log p(y_i | eta)`` (no log 2 pi constant; +inf where not finite) per eta set and
        subject: ``eta_sets`` (B, n_sub, n_eta) -> (B, n_sub), all sets in one engine call."""
        lik = self.likelihood
        return lik.per_subject(lik.predict_sets(values.theta, eta_sets), values.sd)

    @property
    def likelihood(self):
        """The per-subject conditional likelihood (``saem.sampler.SubjectLikelihood``), whose
        compiled batches importance sampling runs on."""
        if self._likelihood is None:
            from nlme_lab.estimation.saem.sampler import SubjectLikelihood

            self._likelihood = SubjectLikelihood(self.problem, self.layout)
        return self._likelihood

    # --- what a model's dataset adds ------------------------------------------------------------
    def record_predictions(self, values, etas) -> RecordPredictions:
        """Every endpoint on every record of the dataset (including non-observation records, on
        DV's scale) at etas 0 and at ``etas``; a failed solution raises ``SolverError``."""
        pb = self.problem
        return RecordPredictions(pb.predict_endpoints(values.theta, self.zero_etas()),
                                 pb.predict_endpoints(values.theta, self.check_etas(etas)))

    def individual_parameters(self, values, etas) -> IndividualParameters:
        """The model's variables (not its inputs) on each subject's first record."""
        every = self.record_variables(values, etas)
        first = np.asarray(self.problem.bound.dataset.offsets[:-1])
        return IndividualParameters(every.names, every.values[first])

    def record_variables(self, values, etas) -> IndividualParameters:
        """The model's variables (not its inputs) on every record of the dataset (time-varying
        covariates change them within a subject): ``values`` is (n_records, n_names)."""
        pb = self.problem
        cm = pb.compiled
        P = pb.individual_parameters(values.theta, etas)
        keep = [k for k, kind in enumerate(cm.p_kinds) if kind != "input"]
        return IndividualParameters(tuple(cm.p_names[k] for k in keep), P[:, keep])

    def shrinkage(self, values, etas, f: np.ndarray):
        """Eta (SD and variance based) and epsilon shrinkage at ``etas`` with error-scale
        predictions ``f`` there (``estimation.shrinkage``; subjects without observations left out)."""
        from nlme_lab.estimation.shrinkage import shrinkage

        has_obs = np.bincount(self.problem.obs_subject, minlength=self.n_subjects) > 0
        return shrinkage(etas, values.omega, self.eta_labels, has_obs, self.layout, f, values.sd)


def _objectives(kind: MethodKind, etas: np.ndarray, T) -> SubjectObjectives:
    return SubjectObjectives(kind, etas, T.inner, T.A, T.logdet_A, T.ofv, T.n_hessian_fallback)


#: the methods whose individual objectives the engine evaluates (the Laplace family)
INDIVIDUAL_METHODS = (MethodKind.FO, MethodKind.FOCE, MethodKind.FOCEI, MethodKind.LAPLACE)


def _method(method) -> MethodKind:
    try:
        kind = method if isinstance(method, MethodKind) else MethodKind(str(method).lower())
    except ValueError:
        kind = None
    if kind not in INDIVIDUAL_METHODS:
        raise NlmeError(f"method {method!r}: the individual objectives are those of "
                        f"{', '.join(repr(k.value) for k in INDIVIDUAL_METHODS)}")
    return kind
