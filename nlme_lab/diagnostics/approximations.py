"""What FO, FOCE, FOCEI and Laplace approximate: one subject's marginal likelihood, exactly and
by each method, at fixed population parameters.

Subject i's contribution to the objective (no N log 2 pi constant, NONMEM's convention) is

    OFV_i = -2 log integral p(y_i | eta) N(eta; 0, Omega) d eta
          = -2 log integral exp(-L_i(eta) / 2) d eta + d log(2 pi) + log det Omega,

with ``L_i(eta) = sum_j l_j(eta) + eta' Omega^-1 eta`` the engine's inner objective. Every
method of the Laplace family replaces the integrand ``exp(-L_i / 2)`` by a Gaussian in eta,
``exp(-L_m(eta_m) / 2 - (eta - eta_m)' A_m (eta - eta_m) / 2)``, whose integral gives
``OFV_m,i = L_m(eta_m) + log det Omega + log det A_m`` (``estimation.methods``):

* FO: the prediction linearized at eta = 0, variance at f(0); ``L_FO`` is exactly quadratic;
* FOCE: the true prediction, variance at f(0), Gauss-Newton curvature at its mode;
* FOCEI: the true ``L``, curvature with the interaction term, at the true mode;
* Laplace: the true ``L`` and its true Hessian at the mode.

The methods' modes, curvatures and values come from the estimation engine itself
(``SubjectEngine.solve``, the same call the fits make), so their sum over subjects is the
engine's OFV. The exact integral is adaptive cubature (``scipy.integrate.cubature``) over a
box around the mode, evaluated with the engine's per-subject likelihood (``SubjectLikelihood``)
on a problem holding copies of the subject (``BATCH``), so one kernel call evaluates that many
quadrature nodes. One or two etas only: the cubature's cost grows as 21^d nodes per region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.methods import METHODS, InnerOptions, MethodKind

APPROXIMATIONS = (MethodKind.FO, MethodKind.FOCE, MethodKind.FOCEI, MethodKind.LAPLACE)
BATCH = {1: 64, 2: 448}  # quadrature nodes per kernel call (copies of the subject), by eta count:
# the cubature evaluates one region at a time, 21 nodes in 1-D and 21^2 = 441 in 2-D
MAX_QUADRATURE_ETAS = 2
BOX_SD = 12.0  # half-width of the first integration box, in conditional SDs at the mode
EDGE_TOLERANCE = 1e-14  # integrand (relative to the mode) allowed on the edge of the box


@dataclass(frozen=True)
class GaussianApproximation:
    """One method's Gaussian stand-in for ``exp(-L_i(eta) / 2)``."""

    method: MethodKind
    ofv: float  # the method's -2 log-likelihood of the subject (no constant)
    mode: np.ndarray  # (d,) where the Gaussian is centred (eta-hat of the method's L)
    precision: np.ndarray  # (d, d) A_m, the Gaussian's inverse covariance
    inner: float  # L_m at the mode (the Gaussian's height is exp(-inner / 2))

    @property
    def loglik(self) -> float:
        return -0.5 * self.ofv

    @property
    def covariance(self) -> np.ndarray:
        return np.linalg.inv(self.precision)


@dataclass(frozen=True)
class SubjectApproximations:
    """One subject at fixed parameters: the exact -2LL and each method's approximation."""

    subject_id: object
    index: int  # 0-based subject index in the dataset
    eta_names: tuple[str, ...]
    omega: np.ndarray
    exact_ofv: float  # -2 log of the quadrature integral (no constant)
    exact_error: float  # the cubature's error estimate, on the -2LL scale
    mode: np.ndarray  # the true mode of L_i (FOCEI's and Laplace's eta-hat)
    inner_min: float  # L_i at the mode: the integrand is drawn relative to exp(-inner_min / 2)
    methods: dict  # MethodKind -> GaussianApproximation
    params: dict  # the parameters given (the model's [ini] values hold for the others)

    @property
    def exact_loglik(self) -> float:
        return -0.5 * self.exact_ofv

    def summary(self) -> dict[str, float]:
        """-2LL by name: ``{"exact": ..., "fo": ..., ...}``."""
        return {"exact": self.exact_ofv, **{k.value: m.ofv for k, m in self.methods.items()}}


@dataclass(frozen=True)
class PopulationApproximations:
    """Per-subject -2LL of every subject (arrays in dataset order) and their sums."""

    subject_ids: tuple
    exact: np.ndarray
    methods: dict  # MethodKind -> (n_sub,) array

    def total(self, method: MethodKind | str | None = None) -> float:
        """Sum over subjects: the exact marginal -2LL (``None``) or a method's OFV."""
        if method is None or method == "exact":
            return float(np.sum(self.exact))
        return float(np.sum(self.methods[_kind(method)]))


@dataclass(frozen=True)
class IntegrandProfile:
    """The integrand along one eta, relative to its value at the mode: ``exact`` is
    ``exp(-(L_i - inner_min) / 2)`` (with two etas: integrated over the other one), each
    Gaussian the same view of a method's stand-in. Areas under the curves give the methods'
    likelihoods up to one common factor."""

    eta_name: str
    eta: np.ndarray
    exact: np.ndarray
    gaussians: dict  # MethodKind -> array like ``exact``


def _kind(method) -> MethodKind:
    kind = method if isinstance(method, MethodKind) else MethodKind(str(method).lower())
    if kind not in APPROXIMATIONS:
        raise NlmeError(f"{kind.value} is not one of the approximations {[k.value for k in APPROXIMATIONS]}")
    return kind


class ApproximationProblem:
    """A model bound to a dataset once, for repeated looks at single subjects.

    >>> ap = ApproximationProblem(model, data)
    >>> s = ap.subject({"prop_sd": 0.3}, subject_id=1)   # parameters: [ini] values updated by these
    >>> s.exact_ofv, s.methods[MethodKind.FOCEI].ofv
    """

    def __init__(self, model, data):
        from nlme_lab.estimation.kernel_problem import KernelProblem
        from nlme_lab.estimation.model_space import parameter_space
        from nlme_lab.problem import as_dataset, as_model, bind

        self.model, self.dataset = as_model(model), as_dataset(data)
        self.problem = KernelProblem(bind(self.model, self.dataset))
        if self.problem.n_kappa:
            raise NlmeError("approximations: models with occasion kappas are not supported (etas only)")
        self.space = parameter_space(self.model.ir, 1)
        self.eta_names = tuple(e.name for e in self.model.ir.etas)
        self._engines: dict[MethodKind, object] = {}
        self._copies: dict[int, tuple] = {}

    # --- parameters ---------------------------------------------------------------------
    def values(self, params: dict | None = None):
        """``ModelValues`` at the model's ``[ini]`` values updated by ``params`` (reported names,
        a covariance in either order)."""
        return self.space.values_from_reported(self.space.table.vector(params))

    def subject_index(self, subject_id) -> int:
        ids = [self.dataset.subject_id(i) for i in range(self.dataset.n_subjects)]
        for i, sid in enumerate(ids):
            if sid == subject_id or str(sid) == str(subject_id):
                return i
        raise NlmeError(f"approximations: no subject with ID {subject_id!r} in {self.dataset.source}; "
                        f"IDs {ids[0]} ... {ids[-1]}")

    # --- the methods (the engine's own terms) -------------------------------------------
    def _engine(self, kind: MethodKind):
        if kind not in self._engines:
            from nlme_lab.estimation.individual import SubjectEngine
            from nlme_lab.estimation.likelihood import ResidualLayout

            p = self.problem
            layout = ResidualLayout.build(self.space.residual, p.endpoint, p.dv, p.cens, p.limit)
            self._engines[kind] = SubjectEngine(p, layout, METHODS[kind])
        return self._engines[kind]

    def method_terms(self, values, kind: MethodKind):
        """(eta-hat (n_sub, d), SubjectTerms) of ``kind`` at ``values``: ``Objective.value``'s
        inner solve, from eta = 0."""
        engine = self._engine(kind)
        etas, _, terms, _ = engine.solve(values, np.zeros((self.problem.n_subjects, self.problem.n_eta)),
                                         InnerOptions())
        return etas, terms

    def _gaussians(self, values) -> dict[MethodKind, tuple[np.ndarray, object]]:
        return {kind: self.method_terms(values, kind) for kind in APPROXIMATIONS}

    # --- public views -------------------------------------------------------------------
    def subject(self, params: dict | None = None, subject_id=None, *, index: int | None = None,
                rtol: float = 1e-10) -> SubjectApproximations:
        """One subject (by ``subject_id``, or 0-based ``index``; default the first) at ``params``."""
        i = self.subject_index(subject_id) if subject_id is not None else (0 if index is None else int(index))
        values = self.values(params)
        return self._subject(values, i, self._gaussians(values), rtol, params)

    def population(self, params: dict | None = None, rtol: float = 1e-10) -> PopulationApproximations:
        """Every subject: the exact -2LL by quadrature and each method's, per subject."""
        values = self.values(params)
        gauss = self._gaussians(values)
        subjects = [self._subject(values, i, gauss, rtol, params) for i in range(self.problem.n_subjects)]
        ids = tuple(self.dataset.subject_id(i) for i in range(self.problem.n_subjects))
        return PopulationApproximations(ids, np.array([s.exact_ofv for s in subjects]),
                                        {k: np.array([float(t.ofv[i]) for i in range(len(ids))])
                                         for k, (_, t) in gauss.items()})

    def _subject(self, values, i: int, gauss, rtol: float, params) -> SubjectApproximations:
        d = self.problem.n_eta
        if not 1 <= d <= MAX_QUADRATURE_ETAS:
            raise NlmeError(f"approximations: the exact integral is computed for 1 or 2 etas; model "
                            f"{self.model.name or '<text>'} has {d} ({', '.join(self.eta_names)})")
        methods = {k: GaussianApproximation(k, float(t.ofv[i]), etas[i].copy(), t.A[i].copy(), float(t.inner[i]))
                   for k, (etas, t) in gauss.items()}
        lap = methods[MethodKind.LAPLACE]
        exact, err = self._exact(values, i, lap.mode, lap.covariance, lap.inner, rtol)
        return SubjectApproximations(self.dataset.subject_id(i), i, self.eta_names, values.omega.copy(), exact, err,
                                     lap.mode, lap.inner, methods, dict(params or {}))

    # --- the exact integral -------------------------------------------------------------
    def inner_objective(self, values, i: int, etas: np.ndarray) -> np.ndarray:
        """``L_i`` (the true model, variance at f(eta)) at each row of ``etas`` (n, d)."""
        problem, lik = self._copy_problem(i)
        etas = np.atleast_2d(np.asarray(etas, dtype=float))
        omega_inv = np.linalg.inv(values.omega)
        out = np.empty(len(etas))
        n = problem.n_subjects
        for start in range(0, len(etas), n):
            chunk = etas[start:start + n]
            block = np.zeros((n, problem.n_eta))
            block[:len(chunk)] = chunk
            f = lik.predict(values.theta, block)
            out[start:start + len(chunk)] = lik.per_subject(f, values.sd)[:len(chunk)]
        return out + np.einsum("ne,ef,nf->n", etas, omega_inv, etas)

    def _copy_problem(self, i: int):
        """A ``KernelProblem`` holding copies of subject ``i`` (``BATCH``; built once per subject)."""
        if i not in self._copies:
            from nlme_lab.estimation.kernel_problem import KernelProblem
            from nlme_lab.estimation.likelihood import ResidualLayout
            from nlme_lab.estimation.saem.sampler import SubjectLikelihood
            from nlme_lab.problem import bind

            data = _copies_of_subject(self.dataset, i, BATCH.get(self.problem.n_eta, BATCH[2]))
            problem = KernelProblem(bind(self.model, data))
            layout = ResidualLayout.build(self.space.residual, problem.endpoint, problem.dv, problem.cens,
                                          problem.limit)
            if len(self._copies) > 8:
                self._copies.clear()
            self._copies[i] = (problem, SubjectLikelihood(problem, layout))
        return self._copies[i]

    def _exact(self, values, i, mode, cov, inner_min, rtol) -> tuple[float, float]:
        """-2 log of the integral by adaptive cubature on a box around the mode, in the
        coordinates z = R^-1 (eta - mode) (R R' = cov); the box doubles until the integrand is
        negligible on its edge."""
        from scipy.integrate import cubature

        d = len(mode)
        R = np.linalg.cholesky(cov)
        jac = float(np.prod(np.diag(R)))

        def integrand(z):
            return np.exp(-0.5 * (self.inner_objective(values, i, mode + z @ R.T) - inner_min))

        half = BOX_SD
        for _ in range(4):
            if _edge_max(integrand, half, d) < EDGE_TOLERANCE:
                break
            half *= 2
        else:
            raise NlmeError(f"approximations: the integrand of subject {self.dataset.subject_id(i)} does not "
                            f"decay within {half:g} conditional SDs of its mode")
        res = cubature(integrand, np.full(d, -half), np.full(d, half), rtol=rtol, atol=0.0)
        if res.status != "converged":
            raise NlmeError(f"approximations: the cubature for subject {self.dataset.subject_id(i)} did not "
                            f"converge (estimate {res.estimate}, error {res.error})")
        integral = float(res.estimate) * jac
        _, logdet_omega = np.linalg.slogdet(values.omega)
        ofv = inner_min - 2.0 * np.log(integral) + d * np.log(2 * np.pi) + logdet_omega
        return float(ofv), float(2.0 * res.error / res.estimate)

    # --- curves for the plot ------------------------------------------------------------
    def profile(self, approx: SubjectApproximations, eta: int | str = 0, n: int = 201,
                width: float = 5.0) -> IntegrandProfile:
        """The integrand of ``approx`` along eta ``eta`` (index or name) on ``n`` points spanning
        ``width`` conditional SDs either side of every method's mode."""
        values = self.values(approx.params)
        k = self.eta_names.index(eta) if isinstance(eta, str) else int(eta)
        d = len(self.eta_names)
        sds = [np.sqrt(m.covariance[k, k]) for m in approx.methods.values()]
        centres = [m.mode[k] for m in approx.methods.values()]
        lo = min(c - width * s for c, s in zip(centres, sds))
        hi = max(c + width * s for c, s in zip(centres, sds))
        grid = np.linspace(lo, hi, n)
        if d == 1:
            exact = np.exp(-0.5 * (self.inner_objective(values, approx.index, grid[:, None]) - approx.inner_min))
        else:
            exact = self._marginal(values, approx, k, grid, n, width)
        gaussians = {kind: _gaussian_marginal(m, k, grid, approx.inner_min) for kind, m in approx.methods.items()}
        return IntegrandProfile(self.eta_names[k], grid, exact, gaussians)

    def _marginal(self, values, approx, k, grid, n, width):
        """Two etas: the integrand integrated over the other eta (trapezoid on a wide grid)."""
        j = 1 - k
        sds = [np.sqrt(m.covariance[j, j]) for m in approx.methods.values()]
        centres = [m.mode[j] for m in approx.methods.values()]
        other = np.linspace(min(c - 2 * width * s for c, s in zip(centres, sds)),
                            max(c + 2 * width * s for c, s in zip(centres, sds)), 2 * n + 1)
        pts = np.empty((len(grid) * len(other), 2))
        pts[:, k] = np.repeat(grid, len(other))
        pts[:, j] = np.tile(other, len(grid))
        vals = np.exp(-0.5 * (self.inner_objective(values, approx.index, pts) - approx.inner_min))
        return np.trapezoid(vals.reshape(len(grid), len(other)), other, axis=1)


def _gaussian_marginal(m: GaussianApproximation, k: int, grid: np.ndarray, inner_min: float) -> np.ndarray:
    """The method's Gaussian along eta k, integrated over the other etas (exact for a Gaussian)."""
    cov = m.covariance
    d = len(m.mode)
    height = np.exp(-0.5 * (m.inner - inner_min))
    mass = height * np.sqrt((2 * np.pi) ** (d - 1) * np.linalg.det(cov) / cov[k, k])  # other etas integrated
    return mass * np.exp(-0.5 * (grid - m.mode[k]) ** 2 / cov[k, k])


def _edge_max(integrand, half: float, d: int) -> float:
    """Largest integrand value on the edges of the box [-half, half]^d (a coarse grid of them)."""
    line = np.linspace(-half, half, 41)
    if d == 1:
        pts = np.array([[-half], [half]])
    else:
        edges = [np.column_stack([np.full_like(line, s * half), line]) for s in (-1, 1)]
        edges += [np.column_stack([line, np.full_like(line, s * half)]) for s in (-1, 1)]
        pts = np.vstack(edges)
    with np.errstate(over="ignore", invalid="ignore"):
        vals = integrand(pts)
    return float(np.max(np.where(np.isfinite(vals), vals, np.inf)))


def _copies_of_subject(dataset, i: int, n: int):
    """A dataset of ``n`` copies of subject ``i`` (IDs 1..n), read like the original."""
    import pandas as pd

    from nlme_lab.data import read_nonmem

    table = dataset.table
    sl = dataset.subject_slice(i)
    rows = table.iloc[sl.start:sl.stop]
    frame = pd.concat([rows.assign(ID=k + 1) for k in range(n)], ignore_index=True)
    return read_nonmem(frame)
