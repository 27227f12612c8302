"""Per-subject terms of the objective and the individual (eta-hat) problem, batched over subjects.

``SubjectEngine`` turns (theta, etas) into predictions on the error scale for the chosen method
(``predictions``), predictions plus omega and SDs into per-subject terms (``terms``: the inner
objective L_i, its exact eta-gradient, the curvature A_i and OFV_i), and solves for eta-hat with
a damped Newton iteration that uses A as Hessian (``solve``). All subjects move at once; a
subject whose Newton decrement is below tolerance stops moving.

Laplace: A_i is half the Hessian of L_i obtained by central differences of the *exact* eta
gradient (which uses the kernels' exact df/deta) at eta-hat +- h e_m; a subject whose Hessian is
not positive definite falls back to the FOCEI curvature (counted in ``n_hessian_fallback``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms
from nlme_lab.estimation.methods import InnerOptions, MethodSpec
from nlme_lab.estimation.parameters import ModelValues


class SubjectIndex:
    """Sums over the observations of each subject (observations sorted by subject)."""

    def __init__(self, obs_subject: np.ndarray, n_subjects: int):
        self.obs_subject = np.asarray(obs_subject, dtype=int)
        self.n = n_subjects
        counts = np.bincount(self.obs_subject, minlength=n_subjects)
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.nonempty = counts > 0

    def sum(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n,) + x.shape[1:])
        if x.shape[0]:
            out[self.nonempty] = np.add.reduceat(x, self.starts[self.nonempty], axis=0)
        return out


@dataclass(frozen=True)
class Predictions:
    """Predictions on the error scale; ``fv`` is the variance basis, ``gv`` its eta-derivative."""

    f: np.ndarray
    g: np.ndarray
    fv: np.ndarray
    gv: np.ndarray | None
    around: tuple["Predictions", ...] = ()  # Laplace: at eta +- h e_m, order (+1, -1, +2, -2, ...)


@dataclass(frozen=True)
class SubjectTerms:
    inner: np.ndarray  # (n_sub,) L_i = sum l + eta' Omega^-1 eta
    grad: np.ndarray  # (n_sub, n_eta) dL_i/deta
    A: np.ndarray  # (n_sub, n_eta, n_eta)
    ofv: np.ndarray  # (n_sub,) L_i + log det Omega + log det A_i
    logdet_A: np.ndarray  # (n_sub,)
    l_f: np.ndarray  # (n_obs,) dl/df
    l_fv: np.ndarray  # (n_obs,) dl/dV * dV/dfv (derivative through the variance basis)
    n_hessian_fallback: int = 0


class SubjectEngine:
    def __init__(self, problem, layout: ResidualLayout, spec: MethodSpec, hessian_step: float = 1e-4):
        self.problem = problem
        self.layout = layout
        self.spec = spec
        self.index = SubjectIndex(problem.obs_subject, problem.n_subjects)
        self.n_eta = problem.n_eta
        self.hessian_step = hessian_step
        self._base: dict[bytes, Predictions] = {}
        self.n_evaluations = 0

    # --- predictions ------------------------------------------------------------------------
    def _evaluate(self, theta, etas) -> tuple[np.ndarray, np.ndarray]:
        self.n_evaluations += 1
        ev = self.problem.evaluate(theta, etas, derivs=True, theta_derivs=False)
        return self.layout.to_log_scale(np.asarray(ev.f, dtype=float), np.asarray(ev.df_deta, dtype=float))

    def base(self, theta) -> Predictions:
        """Predictions at eta = 0 (cached per theta): the FO expansion point, FOCE's variance basis."""
        key = np.asarray(theta, dtype=float).tobytes()
        if key not in self._base:
            if len(self._base) > 16:
                self._base.clear()
            f, g = self._evaluate(theta, np.zeros((self.problem.n_subjects, self.n_eta)))
            self._base[key] = Predictions(f, g, f, None)
        return self._base[key]

    def predictions(self, theta, etas, around: bool = False) -> Predictions:
        spec = self.spec
        if spec.linearized:
            b = self.base(theta)
            f = b.f + np.einsum("ne,ne->n", b.g, etas[self.index.obs_subject])
            p = Predictions(f, b.g, b.f, None)
        else:
            f, g = self._evaluate(theta, etas)
            p = Predictions(f, g, f, g) if spec.interaction else Predictions(f, g, self.base(theta).f, None)
        if around and spec.exact_hessian:
            h = self.hessian_step
            pts = []
            for m in range(self.n_eta):
                for sign in (1.0, -1.0):
                    e = etas.copy()
                    e[:, m] += sign * h
                    pts.append(self.predictions(theta, e))
            p = replace(p, around=tuple(pts))
        return p

    # --- terms ------------------------------------------------------------------------------
    def _gradient(self, p: Predictions, values: ModelValues, etas, omega_inv):
        V, dV_dfv = self.layout.variance(values.sd, p.fv)
        t = observation_terms(self.layout, p.f, V)
        per_obs = t.l_f[:, None] * p.g
        dV = None
        if p.gv is not None:
            dV = dV_dfv[:, None] * p.gv
            per_obs = per_obs + t.l_V[:, None] * dV
        grad = self.index.sum(per_obs) + 2.0 * etas @ omega_inv
        inner = self.index.sum(t.l) + np.einsum("ne,ef,nf->n", etas, omega_inv, etas)
        return inner, grad, t, dV, t.l_V * dV_dfv

    def terms(self, p: Predictions, values: ModelValues, etas, omega_inv=None, logdet_omega=None) -> SubjectTerms:
        if omega_inv is None:
            omega_inv, logdet_omega = omega_inverse(values.omega)
        inner, grad, t, dV, l_fv = self._gradient(p, values, etas, omega_inv)
        g = p.g
        curv = t.M[:, 0, 0][:, None, None] * np.einsum("ne,nf->nef", g, g)
        if dV is not None:
            gd = np.einsum("ne,nf->nef", g, dV)
            curv += t.M[:, 0, 1][:, None, None] * (gd + gd.transpose(0, 2, 1))
            curv += t.M[:, 1, 1][:, None, None] * np.einsum("ne,nf->nef", dV, dV)
        A = omega_inv[None] + self.index.sum(curv)
        fallback = 0
        if p.around:
            A, fallback = self._exact_curvature(p, values, etas, omega_inv, A)
        with np.errstate(invalid="ignore"):
            sign, logdet = np.linalg.slogdet(A)
        logdet = np.where(sign > 0, logdet, np.inf)
        ofv = inner + logdet_omega + logdet
        return SubjectTerms(inner, grad, A, ofv, logdet, t.l_f, l_fv, fallback)

    def _exact_curvature(self, p, values, etas, omega_inv, A_gn):
        h = self.hessian_step
        H = np.empty_like(A_gn)
        for m in range(self.n_eta):
            e_plus, e_minus = etas.copy(), etas.copy()
            e_plus[:, m] += h
            e_minus[:, m] -= h
            gp = self._gradient(p.around[2 * m], values, e_plus, omega_inv)[1]
            gm = self._gradient(p.around[2 * m + 1], values, e_minus, omega_inv)[1]
            H[:, :, m] = (gp - gm) / (2 * h)
        A = 0.25 * (H + H.transpose(0, 2, 1))
        bad = np.linalg.eigvalsh(A)[:, 0] <= 0
        A[bad] = A_gn[bad]
        return A, int(bad.sum())

    # --- the individual problem ---------------------------------------------------------------
    def hessian(self, values: ModelValues, etas, omega_inv, h: float) -> np.ndarray:
        """The Hessian of L_i in eta: central differences of the exact eta-gradient.

        (Forward differences, half the cost, were tried: their O(h) error left eta-hat too
        imprecise for the outer gradient near the optimum of warfarin_pk.)
        """
        H = np.empty((etas.shape[0], self.n_eta, self.n_eta))
        for m in range(self.n_eta):
            grads = []
            for sign in (1.0, -1.0):
                e = etas.copy()
                e[:, m] += sign * h
                grads.append(self._gradient(self.predictions(values.theta, e), values, e, omega_inv)[1])
            H[:, :, m] = (grads[0] - grads[1]) / (2 * h)
        return 0.5 * (H + H.transpose(0, 2, 1))

    def solve(self, values: ModelValues, etas0: np.ndarray, opts: InnerOptions, final_around: bool = True):
        """eta-hat for every subject; returns (etas, predictions, terms, n_not_converged).

        Damped Newton with A (FOCE-type curvature) as Hessian until the Newton decrement is
        below ``opts.switch``, then Newton steps with the exact Hessian (central differences of
        the exact gradient, computed once there and reused: near the mode it barely changes,
        so the steps shrink by orders of magnitude each time) until the largest step is below
        ``opts.step_tolerance``.
        """
        omega_inv, logdet_omega = omega_inverse(values.omega)
        etas = np.array(etas0, dtype=float, copy=True)
        p = self.predictions(values.theta, etas)
        T = self.terms(p, values, etas, omega_inv, logdet_omega)
        if not np.all(np.isfinite(T.inner)):  # a bad warm start: restart those subjects at 0
            etas[~np.isfinite(T.inner)] = 0.0
            p = self.predictions(values.theta, etas)
            T = self.terms(p, values, etas, omega_inv, logdet_omega)
        state = (etas, p, T)
        stuck = np.zeros(self.problem.n_subjects, dtype=bool)
        converged = np.zeros(self.problem.n_subjects, dtype=bool)
        exact_H = None  # computed once, near the mode, then reused (chord Newton)
        for it in range(opts.max_iterations):
            etas, p, T = state
            H = 2.0 * T.A
            if exact_H is None and it >= 1 and np.any(~converged) and self._near(T, opts):
                He = self.hessian(values, etas, omega_inv, opts.hessian_step)
                pd = np.linalg.eigvalsh(He)[:, 0] > 0
                exact_H = np.where(pd[:, None, None], He, H)
            if exact_H is not None:
                H = exact_H
            step = -np.linalg.solve(H, T.grad[..., None])[..., 0]
            slope = np.einsum("ne,ne->n", T.grad, step)
            converged = (np.max(np.abs(step), axis=1) < opts.step_tolerance) | (-slope < 1e-24)
            active = ~converged & ~stuck
            if not active.any():
                break
            state, failed = self._line_search(values, state, step, slope, active, opts, omega_inv, logdet_omega)
            stuck |= failed
        etas, p, T = state
        not_converged = int(np.sum(~converged))
        if final_around and self.spec.exact_hessian:
            p = self.predictions(values.theta, etas, around=True)
            T = self.terms(p, values, etas, omega_inv, logdet_omega)
        return etas, p, T, not_converged

    @staticmethod
    def _near(T: SubjectTerms, opts: InnerOptions) -> bool:
        step = -np.linalg.solve(2.0 * T.A, T.grad[..., None])[..., 0]
        return bool(np.max(-np.einsum("ne,ne->n", T.grad, step)) < opts.switch)

    def _line_search(self, values, state, step, slope, active, opts, omega_inv, logdet_omega):
        etas, p, T = state
        t = np.where(active, 1.0, 0.0)
        todo = active.copy()
        noise = 1e-13 * (1.0 + np.abs(T.inner))
        for _ in range(opts.max_halvings):
            trial = etas + t[:, None] * step
            pt = self.predictions(values.theta, trial)
            Tt = self.terms(pt, values, trial, omega_inv, logdet_omega)
            ok = (todo & np.isfinite(Tt.inner) & np.all(np.isfinite(Tt.grad), axis=1)
                  & (Tt.inner <= T.inner + 1e-4 * t * slope + noise))
            if ok.any():
                etas = np.where(ok[:, None], trial, etas)
                p = _merge(p, pt, ok[self.index.obs_subject])
                T = self.terms(p, values, etas, omega_inv, logdet_omega)
                todo &= ~ok
            if not todo.any():
                break
            t = np.where(todo, 0.5 * t, 0.0)
        return (etas, p, T), todo


def _merge(old: Predictions, new: Predictions, rows: np.ndarray) -> Predictions:
    gv = None if old.gv is None else np.where(rows[:, None], new.gv, old.gv)
    return Predictions(np.where(rows, new.f, old.f), np.where(rows[:, None], new.g, old.g),
                       np.where(rows, new.fv, old.fv), gv)


def omega_inverse(omega: np.ndarray) -> tuple[np.ndarray, float]:
    """Omega^-1 and log det Omega (inf when Omega is not positive definite)."""
    try:
        L = np.linalg.cholesky(omega)
    except np.linalg.LinAlgError:
        return np.full_like(omega, np.nan), np.inf
    Linv = np.linalg.inv(L)
    return Linv.T @ Linv, 2.0 * float(np.sum(np.log(np.diag(L))))
