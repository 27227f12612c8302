"""What a fit returns and what it reports while it runs.

``FitResult`` is frozen; dict fields map reported parameter names (thetas by name, variances by
eta name, covariances by ``"eta_a,eta_b"``, residual SDs by name) to numbers. ``IterationEvent``
is sent to the ``callback`` of ``fit`` once per outer iteration; a ``StopToken`` (or Ctrl-C)
ends a fit cleanly with the best point so far and ``Termination.STOPPED``.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field

import numpy as np

from nlme_lab.estimation.methods import CovarianceKind, MethodKind


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
    it (``FitResult.ofv_se``), and the linearised OFV the FOCEI objective evaluated at estimates
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
class FitResult:
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
    history: tuple[HistoryEntry, ...]
    warnings: tuple[str, ...]
    elapsed_s: float
    n_evaluations: int
    iterations: int
    ofv_kind: OFVKind | None = None  # what ``ofv`` is (every method sets it; None: a hand-built result)
    ofv_se: float | None = None  # the Monte-Carlo SE of an importance-sampling ``ofv``
    extra: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)  # reported name -> theta, omega_var, omega_cov or sd
    # filled by ``nlme_lab.fit`` (a model fitted to a dataset); empty for a bare PredictionProblem
    subject_ids: tuple = ()
    individual: object = None  # pandas DataFrame: ID, EBEs, individual parameters (first record)
    predictions: object = None  # pandas DataFrame, one row per record: PRED, IPRED, IRES, IWRES
    lognormal: tuple = ()  # dicts: parameter, eta, theta, median, mean, cv_percent
    model_name: str = ""
    data_name: str = ""
    seed: int | None = None
    # the fitted Model and Dataset (both immutable), so diagnostics need nothing else
    model: object = field(default=None, repr=False, compare=False)
    data: object = field(default=None, repr=False, compare=False)

    @property
    def converged(self) -> bool:
        return self.termination in (Termination.CONVERGED, Termination.EVALUATED)

    def table(self) -> str:
        """The estimates as plain text (the CLI prints this)."""
        from nlme_lab.estimation.tables import text_table

        return text_table(self)

    def to_dict(self) -> dict:
        """JSON-ready values (the CLI's ``--json``)."""
        from nlme_lab.estimation.tables import fit_to_dict

        return fit_to_dict(self)

    def lognormal_table(self, pairs: dict[str, str]) -> list[dict]:
        """Log-normal parameter summaries; ``pairs`` maps a log-scale theta to its eta."""
        return lognormal_table(self.estimates, pairs)

    def _repr_html_(self) -> str:
        from nlme_lab.estimation.tables import html_table

        return html_table(self)

    def importance_sampling_ofv(self, n: int = 2000, seed=None, df: float = 5.0):
        """The -2LL of this fit by importance sampling (``estimation.importance``): an
        ``ImportanceResult`` with ``ofv`` and its Monte-Carlo ``se`` (loaded on first use)."""
        import importlib

        return importlib.import_module("nlme_lab.estimation.importance").fit_importance_sampling(
            self, n=n, seed=seed, df=df)

    def to_arviz(self):
        """The posterior draws of a NUTS fit as an ``arviz.InferenceData`` (``posterior``: every
        estimated parameter and ``eta``; ``sample_stats``); arviz is loaded on first use."""
        import importlib

        return importlib.import_module("nlme_lab.estimation.bayes.draws").to_inference_data(self)

    def report(self, path="report.html", **options):
        """Write the self-contained HTML report of this fit (see ``nlme_lab.plots.report``).

        A convenience hook in the spirit of pandas' ``DataFrame.plot``: the figures live in the
        plots layer, which this layer must not import statically, so the writer is looked up
        by name at call time. Options: ``n_vpc``, ``n_sim``, ``seed``, ``vpc_options``.
        """
        import importlib

        writer = importlib.import_module("nlme_lab.plots.report").write_report
        return writer(self, path, model=self.model, data=self.data, **options)


def lognormal_table(estimates: dict[str, float], pairs: dict[str, str]) -> list[dict]:
    """median exp(theta), mean exp(theta + w^2/2), CV% 100 sqrt(exp(w^2) - 1) per pair."""
    out = []
    for theta, eta in pairs.items():
        t = estimates[theta]
        w2 = estimates[eta]
        out.append({"theta": theta, "eta": eta, "median": float(np.exp(t)),
                    "mean": float(np.exp(t + w2 / 2)), "cv_percent": float(100 * np.sqrt(np.expm1(w2)))})
    return out
