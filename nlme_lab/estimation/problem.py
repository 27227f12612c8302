"""What the estimation engine consumes: a batched prediction problem and a residual error spec.

The engine never sees a model or a dataset. It sees a ``PredictionProblem``: the observations
(sorted by subject) and one function that predicts every observation of every subject at once
for given thetas and per-subject etas, with the exact derivatives of the predictions with
respect to the etas (and optionally the thetas). The kernels' adapter implements it; the tests
implement it with a few lines of numpy.

Conventions:

* ``n_eta`` counts every per-subject random effect, occasion kappas already expanded (kappa_cl
  on occasions 1..3 is three columns); ``ParameterSpace.placements`` ties copies to one variance.
* ``n_theta`` counts the structural thetas only (fixed ones included, declaration order); the
  residual SDs live in ``ResidualModel`` and never reach ``evaluate``.
* ``cens``: 0 observed; 1 the value is below ``dv`` (M3, left censored); -1 above ``dv``.
  ``limit``: nan = no other end (M3); finite = the value lies between ``dv`` and ``limit``
  (M4-type interval, whichever order).
* ``endpoint``: 0-based index into ``ResidualModel.endpoints``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from nlme_lab.errors import NlmeError

if TYPE_CHECKING:
    from nlme_lab.model.ir import Theta


@dataclass(frozen=True)
class Evaluation:
    """Predictions of every observation and their derivatives."""

    f: np.ndarray  # (n_obs,)
    df_deta: np.ndarray | None = None  # (n_obs, n_eta)
    df_dtheta: np.ndarray | None = None  # (n_obs, n_theta)


@runtime_checkable
class PredictionProblem(Protocol):
    """The batched interface between the prediction kernels and the estimation engine."""

    n_subjects: int
    n_eta: int
    n_theta: int
    obs_subject: np.ndarray  # int (n_obs,), non-decreasing
    dv: np.ndarray  # (n_obs,)
    cens: np.ndarray  # int (n_obs,)
    limit: np.ndarray  # (n_obs,)
    endpoint: np.ndarray  # int (n_obs,)

    def evaluate(self, theta: np.ndarray, etas: np.ndarray, derivs: bool = True,
                 theta_derivs: bool = False) -> Evaluation: ...


@dataclass(frozen=True)
class EndpointError:
    """Residual error of one endpoint: indices into ``ResidualModel.sd_names``.

    ``add`` and/or ``prop``: variance = add^2 + prop^2 f^2. ``lnorm``: log DV = log f + eps,
    eps ~ N(0, lnorm^2); the objective is that of log DV (no Jacobian), as NONMEM reports a
    log-transform-both-sides fit.
    """

    add: int | None = None
    prop: int | None = None
    lnorm: int | None = None

    def __post_init__(self):
        if self.lnorm is not None and (self.add is not None or self.prop is not None):
            raise NlmeError("an endpoint's error is either lnorm(sd) or add(sd)/prop(sd), not both")
        if self.lnorm is None and self.add is None and self.prop is None:
            raise NlmeError("an endpoint needs a residual error term: add, prop or lnorm")


@dataclass(frozen=True)
class ResidualModel:
    """The residual SDs (``Theta``s of the ``ParameterTable``, standard deviations, never
    variances) and the error of each endpoint."""

    sds: tuple[Theta, ...]
    endpoints: tuple[EndpointError, ...]

    @property
    def sd_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sds)

    def check(self) -> None:
        n = len(self.sds)
        for k, ep in enumerate(self.endpoints):
            for role in ("add", "prop", "lnorm"):
                idx = getattr(ep, role)
                if idx is not None and not 0 <= idx < n:
                    raise NlmeError(f"endpoint {k + 1}: {role} refers to residual SD #{idx}, "
                                    f"but there are {n} ({', '.join(self.sd_names)})")
        for s in self.sds:
            if not (s.lower <= s.init <= s.upper) or s.init < 0:
                raise NlmeError(f"residual SD {s.name}: initial value {s.init} is outside "
                                f"({s.lower}, {s.upper}) or negative")
            if not s.fixed and s.init in (s.lower, s.upper):
                raise NlmeError(f"residual SD {s.name}: an estimated SD must start inside its bounds "
                                f"({s.lower}, {s.upper}), not at {s.init}")


def check_problem(problem: PredictionProblem, residual: ResidualModel) -> None:
    """Shapes and codes of a problem's observation arrays; errors name the observation."""
    n_obs = len(problem.dv)
    if n_obs == 0:
        raise NlmeError("the data have no observations (every record is a dose, or has EVID != 0 or MDV = 1): "
                        "there is nothing to fit")
    for name in ("obs_subject", "cens", "limit", "endpoint"):
        arr = np.asarray(getattr(problem, name))
        if arr.shape != (n_obs,):
            raise NlmeError(f"problem.{name} has shape {arr.shape}; expected ({n_obs},) like dv")
    subj = np.asarray(problem.obs_subject)
    if n_obs and (np.any(np.diff(subj) < 0) or subj.min() < 0 or subj.max() >= problem.n_subjects):
        raise NlmeError("problem.obs_subject must be sorted and within 0..n_subjects-1")
    cens = np.asarray(problem.cens)
    bad = np.flatnonzero((cens != -1) & (cens != 0) & (cens != 1))  # ~isin(cens, (-1, 0, 1)), without isin's set-up
    if bad.size:
        raise NlmeError(f"observation {bad[0]} (subject index {subj[bad[0]]}): CENS must be -1, 0 or 1")
    ep = np.asarray(problem.endpoint)
    bad = np.flatnonzero((ep < 0) | (ep >= len(residual.endpoints)))
    if bad.size:
        raise NlmeError(f"observation {bad[0]} (subject index {subj[bad[0]]}): endpoint {ep[bad[0]]} "
                        f"has no residual error model ({len(residual.endpoints)} endpoints)")
    bad = np.flatnonzero(~np.isfinite(problem.dv))
    if bad.size:
        raise NlmeError(f"observation {bad[0]} (subject index {subj[bad[0]]}): DV is not finite")
    lnorm = np.array([e.lnorm is not None for e in residual.endpoints])[ep]
    bad = np.flatnonzero(lnorm & (problem.dv <= 0) & (problem.cens == 0))
    if bad.size:
        raise NlmeError(f"observation {bad[0]} (subject index {subj[bad[0]]}): DV {problem.dv[bad[0]]} "
                        "is not positive, but its endpoint's error is lnorm (log scale)")
