"""What a fit returns and what it reports while it runs.

``FitResult`` is frozen; dict fields map reported parameter names (thetas by name, variances by
eta name, covariances by ``"eta_a,eta_b"``, residual SDs by name; ``model.parameter_table``) to
numbers. ``IterationEvent``
is sent to the ``callback`` of ``fit`` once per outer iteration; a ``StopToken`` (or Ctrl-C)
ends a fit cleanly with the best point so far and ``Termination.STOPPED``.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field

import numpy as np

from nlme_lab.estimation.methods import CovarianceKind, MethodKind
from nlme_lab.model.parameter_table import ParameterTable


class Termination(enum.Enum):
    CONVERGED = "converged"
    MAX_ITERATIONS = "maximum number of iterations reached"
    ROUNDING_ERRORS = "stopped by rounding errors (the objective cannot be decreased further along the search direction)"
    STOPPED = "stopped by the user"
    FAILED = "failed"
    EVALUATED = "evaluated (every parameter fixed)"


class StopToken(threading.Event):
    """Set it (``stop()``) from another thread or a widget to end a running fit."""

    def stop(self) -> None:
        self.set()


class ObjectiveKind(enum.Enum):
    """What ``IterationEvent.ofv`` is: a value on the scale of the final ``FitResult.ofv``, or
    the complete-data -2 log p(y, eta) a stochastic method (SAEM) tracks while it runs (a
    convergence trace on another scale: ~-12 on theo_sd, where the final IS OFV is ~118)."""

    OFV = "objective function value"
    COMPLETE_DATA = "complete-data -2 log-likelihood"


class OFVKind(enum.Enum):
    """What ``FitResult.ofv`` is. Two OFVs can be subtracted (a ΔOFV, a likelihood-ratio test)
    only when they are of the same kind and the fits are to the same data: FO, FOCE, FOCEI and
    Laplace are different approximations of the -2LL, importance sampling a Monte-Carlo estimate of
    it (``FitResult.ofv_mc_se``), and the linearised OFV the FOCEI objective evaluated at estimates
    another method found (SAEM without importance sampling, or stopped before it). A NUTS fit
    summarises a posterior: its ``ofv`` (the -2LL at the posterior medians) is no maximum of the
    likelihood and is compared with nothing."""

    FO = "FO objective"
    FOCE = "FOCE objective"
    FOCEI = "FOCEI objective"
    LAPLACE = "Laplace objective"
    IMPORTANCE_SAMPLING = "importance sampling"
    LINEARIZED = "the FOCEI objective at the estimates"
    POSTERIOR = "a NUTS posterior: the -2LL at its medians, no maximum"

    @classmethod
    def of_method(cls, method: MethodKind) -> OFVKind:
        """The objective FO, FOCE, FOCEI or Laplace minimises."""
        return cls[method.name]

    @property
    def comparable(self) -> bool:
        """Whether two OFVs of this kind (same data) may be subtracted."""
        return self is not OFVKind.POSTERIOR


@dataclass(frozen=True)
class IterationEvent:
    iteration: int
    ofv: float
    estimates: dict[str, float]
    gradient_norm: float  # max |dOFV/du| over the optimizer's unconstrained parameters
    n_evaluations: int  # calls of problem.evaluate so far
    elapsed_s: float
    method: MethodKind
    objective: ObjectiveKind = ObjectiveKind.OFV  # what ``ofv`` is (label the live trace by it)


@dataclass(frozen=True)
class HistoryEntry:
    iteration: int
    ofv: float
    estimates: dict[str, float]


@dataclass(frozen=True)
class Shrinkage:
    eta_sd: dict[str, float]  # percent, 100 (1 - SD(EBE)/omega)
    eta_variance: dict[str, float]  # percent, 100 (1 - Var(EBE)/omega^2)
    epsilon_sd: float  # percent, 100 (1 - SD(IWRES))


@dataclass(frozen=True)
class CovarianceResult:
    kind: CovarianceKind
    names: tuple[str, ...]  # estimated parameters, reported scale
    covariance: np.ndarray | None
    r_matrix: np.ndarray | None
    s_matrix: np.ndarray | None
    message: str = ""  # empty when the step succeeded

    @property
    def ok(self) -> bool:
        return self.covariance is not None


@dataclass(frozen=True)
class SAEMDetails:
    """What a SAEM run adds to its result."""

    n_chains: int
    mu_referenced: dict  # eta label -> its theta ("tcl", or "log(tcl)" for exp(tcl + eta_cl))
    conditional_sd: np.ndarray  # (n_subjects, n_eta): SD of each eta given the data (the chains)
    ebe: np.ndarray  # (n_subjects, n_eta): FOCEI eta-hat at the SAEM estimates


@dataclass(frozen=True)
class Posterior:
    """What a NUTS run adds to its result: the kept draws (reported scale), their diagnostics
    (rank-normalised R-hat, bulk and tail ESS, divergences) and the priors."""

    draws: np.ndarray  # (chain, draw, n_free), estimated parameters named by ``draw_names``
    draw_names: tuple[str, ...]
    eta_draws: np.ndarray  # (chain, draw, n_subjects, n_eta)
    eta_sd: np.ndarray  # (n_subjects, n_eta) posterior SD of each eta
    loglik_draws: np.ndarray  # (chain, draw) log p(y | draw), no constants
    complete_ofv_draws: np.ndarray  # (chain, draw) -2 log p(y, eta | draw), no constants
    sample_stats: dict  # diverging, logp, step_size, depth -> (chain, draw)
    chains: int  # chains kept
    draws_per_chain: int
    chains_dropped: int  # chains left out of a stopped run (too short)
    tune: int
    sampler: str
    rhat: dict  # name -> R-hat
    ess_bulk: dict
    ess_tail: dict
    divergences: int
    priors: str  # the priors, as printed
    failed_evaluations: int
    live_trace_s: float = 0.0  # time spent on the live trace


class Deferred:
    """A ``FitResult`` field's value computed when the field is first read (``_DeferredField``):
    ``nlme_lab.fit`` defers its per-subject and per-record tables this way, so a fit whose
    tables are never read does not build them (two DataFrames and two engine calls, ~1.5 ms of
    a ~60 ms small fit). ``compute()`` gives the value."""

    __slots__ = ("compute",)

    def __init__(self, compute):
        self.compute = compute


class _DeferredField:
    """A data descriptor for a ``FitResult`` field that may be given a ``Deferred``: the value
    lives in the instance's ``__dict__`` under the field's own name (as a plain field's would:
    pickles, copies and ``vars()`` look the same) and a ``Deferred`` there is replaced by its
    value on the first read. Reading it is the only way to see the field, so every reader
    (attributes, ``dataclasses.replace`` / ``fields``, ``to_dict``, equality) gets the value."""

    REQUIRED = object()  # ``default``: the field has none (dataclasses is told so by an AttributeError)

    def __init__(self, default=None):
        self.default = default

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:  # the class (dataclasses reads the default this way)
            if self.default is _DeferredField.REQUIRED:
                raise AttributeError(self.name)
            return self.default
        value = obj.__dict__.get(self.name, self.default)
        if isinstance(value, Deferred):
            value = value.compute()
            obj.__dict__[self.name] = value
        return value

    def __set__(self, obj, value):  # the frozen dataclass's __init__ (object.__setattr__) only
        obj.__dict__[self.name] = value


@dataclass(frozen=True, repr=False)
class FitResult:
    """A fit: estimates by reported name (``parameters`` is the table they come from), standard
    errors, EBEs, shrinkage, termination, history and warnings; after ``nlme_lab.fit`` also the
    model, the dataset (and its fingerprint), tables per subject and per record.

    ``print(fit)`` shows the estimates table; ``fit.summary()`` gives it as a DataFrame;
    ``to_dict()`` / ``FitResult.from_dict()`` save and restore every field (the dataset as its
    fingerprint)."""

    method: MethodKind
    ofv: float  # -2 log-likelihood without the N log(2 pi) constant (NONMEM's OFV)
    loglik: float  # log-likelihood with the constant
    aic: float
    bic: float  # log(number of observations) penalty, as nlmixr2
    n_subjects: int
    n_observations: int
    n_parameters: int  # estimated (free) parameters
    estimates: dict[str, float]
    fixed: tuple[str, ...]
    se: dict[str, float]
    rse: dict[str, float]  # percent
    ci: dict[str, tuple[float, float]]  # 95 %, estimate +- 1.96 SE
    correlation: np.ndarray | None
    condition_number: float | None
    covariance: CovarianceResult | None
    etas: np.ndarray  # (n_subjects, n_eta) empirical Bayes estimates
    eta_names: tuple[str, ...]
    shrinkage: Shrinkage | None
    termination: Termination
    message: str
    history: tuple[HistoryEntry, ...] = _DeferredField(_DeferredField.REQUIRED)  # may be given as a ``Deferred``
    warnings: tuple[str, ...]
    elapsed_s: float
    n_evaluations: int
    iterations: int
    ofv_kind: OFVKind | None = None  # what ``ofv`` is (every method sets it; None: a hand-built result)
    parameters: ParameterTable | None = None  # the declared parameters (kinds, bounds, initial values)
    # how ``ofv`` was computed when not by the method's own objective (SAEM, NUTS), and the
    # FOCEI objective at the estimates (``ofv_linearization``) with the Monte-Carlo SE of an IS OFV
    ofv_method: str = ""
    ofv_linearization: float | None = None
    ofv_mc_se: float | None = None
    covariance_method: str = ""  # how the standard errors were computed ("" without a covariance step)
    saem: SAEMDetails | None = None
    posterior: Posterior | None = None
    # filled by ``nlme_lab.fit`` (a model fitted to a dataset); empty for a bare PredictionProblem
    subject_ids: tuple = ()
    # (both may be given as a ``Deferred``: built on first read, see ``_DeferredField``)
    individual: object = _DeferredField()  # pandas DataFrame: ID, EBEs, individual parameters (first record)
    predictions: object = _DeferredField()  # pandas DataFrame, one row per record: PRED, IPRED, IRES, IWRES
    lognormal: tuple = ()  # dicts: parameter, eta, theta, median, mean, cv_percent
    model_name: str = ""
    data_name: str = ""
    seed: int | None = None
    data_fingerprint: str = ""  # ``compare.data_fingerprint`` of the dataset
    # the fitted Model and Dataset (both immutable), so diagnostics need nothing else
    model: object = field(default=None, compare=False)
    data: object = field(default=None, compare=False)

    @property
    def converged(self) -> bool:
        return self.termination in (Termination.CONVERGED, Termination.EVALUATED)

    def __getstate__(self):
        """Pickled and copied with the deferred tables built (a ``Deferred`` holds the fit's
        bound model: the receiving process need not compile the model to read them)."""
        for name in _DEFERRED_FIELDS:
            getattr(self, name)
        return self.__dict__

    # --- presentations (``tables``) ----------------------------------------------------------
    def table(self) -> str:
        """The estimates as plain text (the CLI prints this; so does ``print(fit)``)."""
        from nlme_lab.estimation.tables import text_table

        return text_table(self)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        from nlme_lab.estimation.tables import header_lines

        return "\n".join(["<FitResult>", *header_lines(self)])

    def _repr_html_(self) -> str:
        from nlme_lab.estimation.tables import html_table

        return html_table(self)

    def summary(self):
        """The estimates table as a pandas DataFrame, one row per parameter (``tables.summary``);
        ``nlme_lab.to_polars(fit.summary())`` for polars."""
        from nlme_lab.estimation.tables import summary

        return summary(self)

    def correlation_matrix(self):
        """The correlation matrix of the estimates as a DataFrame labelled by parameter (None
        without a covariance step)."""
        from nlme_lab.estimation.tables import labelled_matrix

        return labelled_matrix(self, self.correlation)

    def covariance_matrix(self):
        """The covariance matrix of the estimates as a DataFrame labelled by parameter (None
        without a covariance step)."""
        from nlme_lab.estimation.tables import labelled_matrix

        cov = self.covariance
        return labelled_matrix(self, cov.covariance if cov is not None else None)

    # --- saving (``result_io``) -----------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every field as JSON-ready values (the CLI's ``--json``): the model as its text, the
        dataset as its fingerprint. ``FitResult.from_dict`` restores it."""
        from nlme_lab.estimation.result_io import fit_to_dict

        return fit_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FitResult:
        """The result ``to_dict`` wrote (the model rebuilt from its text; ``data`` is None:
        ``data_fingerprint`` tells whether another dataset is the same)."""
        from nlme_lab.estimation.result_io import fit_from_dict

        return fit_from_dict(d)

    def lognormal_table(self, pairs: dict[str, str]) -> list[dict]:
        """Log-normal parameter summaries; ``pairs`` maps a log-scale theta to its eta."""
        return lognormal_table(self.estimates, pairs)

    def importance_sampling_ofv(self, n: int = 2000, seed=None, df: float = 5.0):
        """The -2LL of this fit by importance sampling (``estimation.importance``): an
        ``ImportanceResult`` with ``ofv`` and its Monte-Carlo ``se`` (loaded on first use)."""
        from nlme_lab.estimation.importance import fit_importance_sampling

        return fit_importance_sampling(self, n=n, seed=seed, df=df)

    def to_arviz(self):
        """The posterior draws of a NUTS fit as an ``arviz.InferenceData`` (``posterior``: every
        estimated parameter and ``eta``; ``sample_stats``); arviz is loaded on first use."""
        from nlme_lab.estimation.bayes.draws import to_inference_data

        return to_inference_data(self)


_DEFERRED_FIELDS = ("history", "individual", "predictions")


def deferred_as_stored(fit: FitResult, *exclude: str) -> dict:
    """The deferred fields of ``fit`` as stored (a ``Deferred`` not built yet stays one), but
    ``exclude``: for ``dataclasses.replace(fit, **changes, **deferred_as_stored(fit, *changes))``,
    which would otherwise read (build) them."""
    return {name: fit.__dict__[name] for name in _DEFERRED_FIELDS if name not in exclude and name in fit.__dict__}


def lognormal_moments(theta: float, w2: float) -> tuple[float, float, float]:
    """(median exp(theta), mean exp(theta + w^2/2), CV% 100 sqrt(exp(w^2) - 1)) of
    ``exp(theta + eta)``, eta ~ N(0, w^2)."""
    return float(np.exp(theta)), float(np.exp(theta + w2 / 2)), float(100 * np.sqrt(np.expm1(w2)))


def lognormal_table(estimates: dict[str, float], pairs: dict[str, str]) -> list[dict]:
    """median, mean and CV% (``lognormal_moments``) per pair of log-scale theta and eta."""
    out = []
    for theta, eta in pairs.items():
        median, mean, cv = lognormal_moments(estimates[theta], estimates[eta])
        out.append({"theta": theta, "eta": eta, "median": median, "mean": mean, "cv_percent": cv})
    return out
