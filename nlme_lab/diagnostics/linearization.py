"""The engine's view of a model at given parameter values, for the residual diagnostics.

``LinearizedModel`` binds the model to the data as ``nlme_lab.fit`` does (``KernelProblem``,
``parameter_space``, ``ResidualLayout``) and gives, on the scale of the error model (log scale
for ``lnorm`` endpoints), the predictions of every observation and their exact eta-derivatives
from the engine (``KernelProblem.evaluate(theta, etas, derivs=True)``), the residual variances,
the EBEs (FOCEI inner problem, when no fit supplies them) and the conditional covariance of
the etas (the inverse of the FOCEI curvature at the EBEs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError


@dataclass(frozen=True)
class Linearization:
    """Predictions of the observations at some etas, on the error model's scale."""

    f: np.ndarray  # (n_obs,)
    g: np.ndarray  # (n_obs, n_eta) df/deta
    variance: np.ndarray  # (n_obs,) residual variance at f


class LinearizedModel:
    def __init__(self, model, data, params: dict):
        from nlme_lab.estimation.kernel_problem import KernelProblem
        from nlme_lab.estimation.likelihood import ResidualLayout
        from nlme_lab.estimation.model_space import parameter_space
        from nlme_lab.problem import bind

        self.model, self.data = model, data
        self.bound = bind(model, data)
        self.problem = KernelProblem(self.bound)
        self.space = parameter_space(model.ir, max(self.problem.n_occasions, 1))
        self.values = self.space.values_from_reported(self.space.table.vector(params))
        pb = self.problem
        self.layout = ResidualLayout.build(self.space.residual, pb.endpoint, pb.dv, pb.cens, pb.limit)

    @property
    def eta_labels(self) -> list[str]:
        return list(self.space.eta_labels)

    def at(self, etas: np.ndarray) -> Linearization:
        ev = self.problem.evaluate(self.values.theta, np.ascontiguousarray(etas, dtype=float), derivs=True)
        f, g = self.layout.to_log_scale(np.asarray(ev.f, dtype=float), np.asarray(ev.df_deta, dtype=float))
        V, _ = self.layout.variance(self.values.sd, f)
        return Linearization(f, g, V)

    def zero_etas(self) -> np.ndarray:
        return np.zeros((self.problem.n_subjects, self.problem.n_eta))

    def check_etas(self, etas) -> np.ndarray:
        etas = np.asarray(etas, dtype=float)
        want = (self.problem.n_subjects, self.problem.n_eta)
        if etas.shape != want:
            raise NlmeError(f"etas have shape {etas.shape}; the model and data need {want} "
                            f"(subjects x random effects {', '.join(self.eta_labels)})")
        return etas

    def _engine(self):
        from nlme_lab.estimation.individual import SubjectEngine
        from nlme_lab.estimation.methods import METHODS, MethodKind

        return SubjectEngine(self.problem, self.layout, METHODS[MethodKind.FOCEI])

    def ebes(self) -> np.ndarray:
        """The empirical Bayes estimates (modes of the FOCEI conditional density)."""
        from nlme_lab.estimation.methods import InnerOptions

        etas, _, _, not_converged = self._engine().solve(self.values, self.zero_etas(), InnerOptions(),
                                                         final_around=False)
        if not_converged:
            import warnings

            warnings.warn(f"the EBEs of {not_converged} subject(s) did not converge", stacklevel=3)
        return etas

    def conditional_covariance(self, etas: np.ndarray) -> np.ndarray:
        """(n_subjects, n_eta, n_eta): the inverse of the FOCEI curvature of the individual
        objective at ``etas`` (sum over observations of g g'/V + dV dV'/(2 V^2), plus Omega^-1)."""
        engine = self._engine()
        p = engine.predictions(self.values.theta, etas)
        A = engine.terms(p, self.values, etas).A
        out = np.full_like(A, np.nan)
        for i in range(A.shape[0]):
            try:
                out[i] = np.linalg.inv(A[i])
            except np.linalg.LinAlgError:
                pass
        return out

    def individual_parameters(self, etas: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Model variables on each subject's first record (names, (n_subjects, n_var))."""
        cm = self.model.compiled
        P = self.problem.individual_parameters(self.values.theta, etas)
        first = np.asarray(self.data.offsets[:-1])
        keep = [k for k, kind in enumerate(cm.p_kinds) if kind != "input"]
        return [cm.p_names[k] for k in keep], P[first][:, keep]
