"""Per-subject terms of the objective and the individual (eta-hat) problem, batched over subjects.

``SubjectEngine`` turns (theta, etas) into predictions on the error scale for the chosen method
(``predictions``), predictions plus omega and SDs into per-subject terms (``terms``: the inner
objective L_i, its exact eta-gradient, the curvature A_i and OFV_i), and solves for eta-hat with
a damped Newton iteration (``solve``). All subjects move at once; a subject whose Newton step is
below tolerance stops moving. ``batch_terms`` evaluates the same terms at a batch of points at
once (a leading axis), which the outer gradient uses for its directional differences; its
per-subject sums (and, without censoring, the per-observation pieces) run in the compiled
``kernels.subject_terms``, with ``batch_terms_reference`` as the numpy twin.

Newton's Hessian: the FOCE-type curvature 2 A (exact for the Gauss-Newton part), or a
``chord`` Hessian handed in by the caller (the exact eta-Hessian at the previous outer point,
which the outer gradient computes anyway); without one, the exact Hessian is computed once near
the mode (central differences of the exact gradient) and reused.

Compiled path (``_fused``, ``kernels.inner_trial``): FOCEI on uncensored natural-scale data of a
closed-form ``KernelProblem`` with an engine not threaded outright and at most ``inner_newton.MAX_ETA`` etas
runs the Newton iteration with its trials, Armijo searches and bookkeeping compiled
(``_newton_fused``), the same steps and numbers as the Python path, with the same evaluation
counts; a trial it cannot evaluate (a failed solution) is evaluated in Python.

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
from nlme_lab.estimation.stacked import solve_vectors
from nlme_lab.kernels import inner_newton

BLIND_STEPS = 3  # Newton steps taken below the line search's resolution before a subject counts as done


class SubjectIndex:
    """Sums over the observations of each subject (observations sorted by subject)."""

    def __init__(self, obs_subject: np.ndarray, n_subjects: int):
        self.obs_subject = np.asarray(obs_subject, dtype=int)
        self.n = n_subjects
        counts = np.bincount(self.obs_subject, minlength=n_subjects)
        self.counts = counts.astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.nonempty = counts > 0
        self._all = bool(self.nonempty.all())
        self._starts_nonempty = self.starts[self.nonempty]

    def sum(self, x: np.ndarray, axis: int = 0) -> np.ndarray:
        """Per-subject sums along ``axis`` (the observation axis) of ``x``."""
        if self._all and x.shape[axis]:
            return np.add.reduceat(x, self._starts_nonempty, axis=axis)
        shape = x.shape[:axis] + (self.n,) + x.shape[axis + 1:]
        out = np.zeros(shape)
        if x.shape[axis]:
            idx = (slice(None),) * axis + (self.nonempty,)
            out[idx] = np.add.reduceat(x, self._starts_nonempty, axis=axis)
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


@dataclass(frozen=True)
class InnerSolution:
    """``SubjectEngine.solve``: eta-hat per subject, the predictions and terms there, and the
    number of subjects whose Newton iteration stopped before its step tolerance."""

    etas: np.ndarray  # (n_sub, n_eta)
    predictions: Predictions
    terms: SubjectTerms
    n_not_converged: int


@dataclass(frozen=True)
class BatchTerms:
    """``SubjectTerms`` at B points (leading axis); ``A`` only when asked for."""

    inner: np.ndarray  # (B, n_sub)
    grad: np.ndarray  # (B, n_sub, n_eta)
    logdet_A: np.ndarray  # (B, n_sub)
    A: np.ndarray | None
    l_f: np.ndarray  # (B, n_obs)
    l_fv: np.ndarray  # (B, n_obs)


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
        self._gaussian = not layout.censored.any()  # every observation uncensored: compiled pieces
        # (f, all derivatives in one array) straight from a KernelProblem; other problems: ``evaluate``
        self._directions = getattr(problem, "evaluate_directions", None)
        # ((theta, etas, step), result) of the last ``Objective._second_order``: the covariance
        # step's gradient at the estimates repeats the fit's last one (same theta, same eta-hat)
        self.last_second_order: tuple | None = None
        self._zero_arrays: dict[tuple, np.ndarray] = {}
        self._fused_setup: dict | bool | None = None  # ``_fused``: the compiled trials' arrays (False: not here)
        self._python_evaluated = False  # an evaluation went through ``_evaluate`` since the last compiled one

    # --- predictions ------------------------------------------------------------------------
    def _evaluate(self, theta, etas) -> tuple[np.ndarray, np.ndarray]:
        self.n_evaluations += 1
        self._python_evaluated = True
        if self._directions is not None:
            return self.layout.to_log_scale(*self._directions(theta, etas, True, False))
        ev = self.problem.evaluate(theta, etas, derivs=True, theta_derivs=False)
        return self.layout.to_log_scale(np.asarray(ev.f, dtype=float), np.asarray(ev.df_deta, dtype=float))

    def evaluate_with_theta(self, theta, etas):
        """(f, df/deta, df/dtheta) on the error scale, or None when the problem gives no
        theta derivatives. The derivatives may be column views of one array."""
        n_e = self.n_eta
        if self._directions is not None and self.problem.n_theta:
            calls = self.problem.n_calls  # (a repeat of the previous point is answered without the engine)
            f, d = self.layout.to_log_scale(*self._directions(theta, etas, True, True))
            self.n_evaluations += self.problem.n_calls - calls
            return f, d[:, :n_e], d[:, n_e:]
        self.n_evaluations += 1
        ev = self.problem.evaluate(theta, etas, derivs=True, theta_derivs=True)
        if ev.df_dtheta is None:
            return None
        d = np.concatenate([np.asarray(ev.df_deta, dtype=float).reshape(len(ev.f), n_e),
                            np.asarray(ev.df_dtheta, dtype=float)], axis=1)
        f, d = self.layout.to_log_scale(np.asarray(ev.f, dtype=float), d)
        return f, d[:, :n_e], d[:, n_e:]

    def evaluate_stencil_with_theta(self, theta, etas, h):
        """(f, df/deta, df/dtheta, d2f/deta2 (symmetrized), d2f/deta dtheta) on the error scale
        at ``etas``, the second derivatives central differences of the exact first derivatives
        at ``etas`` +- h e_m, every point from one engine call (``KernelProblem.evaluate_stencil``,
        or its compiled ``stencil_second_order`` without log-scale observations: the same
        numbers); None where the problem cannot (then call point by point)."""
        n_e = self.n_eta
        if not self.layout.log_scale.any():
            direct = getattr(self.problem, "stencil_second_order", None)
            if direct is not None:
                out = direct(theta, etas, h)
                if out is not None:
                    self.n_evaluations += 1 + 2 * n_e  # (points evaluated: the engine was called once)
                return out
        stencil = getattr(self.problem, "evaluate_stencil", None)
        out = None if stencil is None else stencil(theta, etas, h)
        if out is None:
            return None
        F, D = out
        self.n_evaluations += F.shape[0]  # (points evaluated: the engine was called once)
        if self.layout.log_scale.any():  # point by point (to_log_scale's shapes)
            for b in range(F.shape[0]):
                F[b], D[b] = self.layout.to_log_scale(F[b], D[b])
        # (gp - gm) / (2 h) of every m at once, laid out C-contiguous as a loop over m fills them
        # (einsum's summation order follows the strides)
        diff = (D[1::2] - D[2::2]) / (2 * h)  # (n_eta, n_obs, n_dir)
        g_eta = np.ascontiguousarray(diff[:, :, :n_e].transpose(1, 2, 0))
        g_th = np.ascontiguousarray(diff[:, :, n_e:].transpose(1, 0, 2))
        return F[0], D[0, :, :n_e], D[0, :, n_e:], 0.5 * (g_eta + g_eta.transpose(0, 2, 1)), g_th

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
            p = replace(p, around=tuple(self.predictions(theta, e) for e in _stencil(etas, self.hessian_step)))
        return p

    # --- terms ------------------------------------------------------------------------------
    def batch_terms(self, f, g, fv, gv, etas, sd, omega_inv, logdet_omega=None, with_A: bool = False) -> BatchTerms:
        """Terms at B points: ``f``, ``fv`` (B, n_obs); ``g``, ``gv`` (B, n_obs, n_eta) (``gv``
        None: the variance basis does not move with eta); ``etas`` (B, n_sub, n_eta); ``sd``
        (B, n_sd); ``omega_inv`` (B, n_eta, n_eta)."""
        if self._gaussian:  # less Python around the kernels
            return self._gaussian_terms(f, g, fv, gv, etas, sd, omega_inv, with_A)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite points are rejected by the callers
            return self._batch_terms(f, g, fv, gv, etas, sd, omega_inv, with_A)

    def _gaussian_terms(self, f, g, fv, gv, etas, sd, omega_inv, with_A) -> BatchTerms:
        """``_batch_terms`` of uncensored data with less Python around the two kernels (the
        same kernels, the same numbers)."""
        from nlme_lab.kernels.subject_terms import accumulate_terms, gaussian_pieces

        n_b, n_sub, n_e = etas.shape
        lay, idx, shape = self.layout, self.index, f.shape
        l, l_f, l_V, m00, m11, dV_dfv = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape), \
            np.empty(shape), np.empty(shape)
        gaussian_pieces(_writable(f), _writable(fv), lay.y, lay.add, lay.prop, lay.log_scale, _writable(sd),
                        l, l_f, l_V, m00, m11, dV_dfv)
        inner, logdet = np.empty((n_b, n_sub)), np.empty((n_b, n_sub))
        grad, A = np.empty((n_b, n_sub, n_e)), np.empty((n_b, n_sub, n_e, n_e))
        g = _writable(g)
        accumulate_terms(l, l_f, l_V, m00, self._zeros(shape), m11, dV_dfv, g, g if gv is None else _writable(gv),
                         gv is not None, _writable(etas), _writable(omega_inv), idx.starts, idx.counts, inner, grad,
                         A, logdet)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite points are rejected by the callers
            np.multiply(l_V, dV_dfv, out=l_V)  # l_fv = l_V dV/dfv (l_V is not returned)
        return BatchTerms(inner, grad, logdet, A if with_A else None, l_f, l_V)

    def _zeros(self, shape) -> np.ndarray:
        """A read-only-by-convention array of zeros of ``shape`` (the kernels' absent M01), kept."""
        z = self._zero_arrays.get(shape)
        if z is None:
            if len(self._zero_arrays) > 8:
                self._zero_arrays.clear()
            z = self._zero_arrays[shape] = np.zeros(shape)
        return z

    def _batch_terms(self, f, g, fv, gv, etas, sd, omega_inv, with_A) -> BatchTerms:
        """The per-subject sums in the compiled kernel (``kernels.subject_terms``) for data with
        censored observations (uncensored data: ``_gaussian_terms``); the numpy twin
        ``batch_terms_reference`` is the same computation, kept for the tests."""
        from nlme_lab.kernels.subject_terms import accumulate_terms

        n_b, n_sub, n_e = etas.shape
        V, dV_dfv = self.layout.variance(sd, fv)
        t = observation_terms(self.layout, f, V)
        l, l_f, l_V, dV_dfv = t.l, t.l_f, t.l_V, _writable(dV_dfv)
        m00, m01, m11 = t.M[..., 0, 0], t.M[..., 0, 1], t.M[..., 1, 1]
        inner, logdet = np.empty((n_b, n_sub)), np.empty((n_b, n_sub))
        grad, A = np.empty((n_b, n_sub, n_e)), np.empty((n_b, n_sub, n_e, n_e))
        g = _writable(g)
        accumulate_terms(l, l_f, l_V, m00, m01, m11, dV_dfv, g, g if gv is None else _writable(gv),
                         gv is not None, _writable(etas), _writable(omega_inv), self.index.starts,
                         self.index.counts, inner, grad, A, logdet)
        return BatchTerms(inner, grad, logdet, A if with_A else None, l_f, l_V * dV_dfv)

    def batch_terms_reference(self, f, g, fv, gv, etas, sd, omega_inv, with_A: bool = False) -> BatchTerms:
        """``batch_terms`` in numpy (the reference twin of the compiled kernel)."""
        with np.errstate(invalid="ignore", over="ignore"):
            V, dV_dfv = self.layout.variance(sd, fv)
            t = observation_terms(self.layout, f, V)
            per_obs = t.l_f[..., None] * g
            dV = None
            if gv is not None:
                dV = dV_dfv[..., None] * gv
                per_obs = per_obs + t.l_V[..., None] * dV
            eo = np.matmul(etas, omega_inv)  # (B, n_sub, n_eta)
            grad = self.index.sum(per_obs, axis=1) + 2.0 * eo
            inner = self.index.sum(t.l, axis=1) + np.einsum("bse,bse->bs", eo, etas)
            curv = t.M[..., 0, 0, None, None] * (g[..., :, None] * g[..., None, :])
            if dV is not None:
                gd = g[..., :, None] * dV[..., None, :]
                curv += t.M[..., 0, 1, None, None] * (gd + np.swapaxes(gd, -1, -2))
                curv += t.M[..., 1, 1, None, None] * (dV[..., :, None] * dV[..., None, :])
            A = omega_inv[:, None] + self.index.sum(curv, axis=1)
            sign, logdet = np.linalg.slogdet(A)
            logdet = np.where(sign > 0, logdet, np.inf)
        return BatchTerms(inner, grad, logdet, A if with_A else None, t.l_f, t.l_V * dV_dfv)

    def terms(self, p: Predictions, values: ModelValues, etas, omega_inv=None, logdet_omega=None) -> SubjectTerms:
        if omega_inv is None:
            omega_inv, logdet_omega = omega_inverse(values.omega)
        gv = None if p.gv is None else p.gv[None]
        b = self.batch_terms(p.f[None], p.g[None], p.fv[None], gv, etas[None], values.sd[None], omega_inv[None],
                             with_A=True)
        A, logdet, fallback = b.A[0], b.logdet_A[0], 0
        if p.around:
            A, fallback = self._exact_curvature(p, values, etas, omega_inv, A)
            with np.errstate(invalid="ignore"):
                sign, logdet = np.linalg.slogdet(A)
            logdet = np.where(sign > 0, logdet, np.inf)
        ofv = b.inner[0] + logdet_omega + logdet
        return SubjectTerms(b.inner[0], b.grad[0], A, ofv, logdet, b.l_f[0], b.l_fv[0], fallback)

    def _stacked_grad(self, preds, etas_list, values, omega_inv):
        """The exact eta-gradient at several (prediction, eta) points in one batch."""
        gv = None if preds[0].gv is None else np.stack([p.gv for p in preds])
        n = len(preds)
        b = self.batch_terms(np.stack([p.f for p in preds]), np.stack([p.g for p in preds]),
                             np.stack([p.fv for p in preds]), gv, np.stack(etas_list),
                             np.broadcast_to(values.sd, (n,) + values.sd.shape),
                             np.broadcast_to(omega_inv, (n,) + omega_inv.shape))
        return b.grad

    def _central_differences(self, preds, pts, values, omega_inv, h) -> np.ndarray:
        """The eta-Hessian of L_i (not symmetrised) by central differences of the exact gradient
        at the ``_stencil`` points ``pts`` with predictions ``preds``."""
        G = self._stacked_grad(preds, pts, values, omega_inv)
        return np.stack([(G[2 * m] - G[2 * m + 1]) / (2 * h) for m in range(self.n_eta)], axis=-1)

    def _exact_curvature(self, p, values, etas, omega_inv, A_gn):
        h = self.hessian_step
        H = self._central_differences(p.around, _stencil(etas, h), values, omega_inv, h)
        A = 0.25 * (H + H.transpose(0, 2, 1))
        bad = np.linalg.eigvalsh(A)[:, 0] <= 0
        A[bad] = A_gn[bad]
        return A, int(bad.sum())

    # --- the individual problem ---------------------------------------------------------------
    def hessian(self, values: ModelValues, etas, omega_inv, h: float, fused: "_FusedRun | None" = None,
                subjects: np.ndarray | None = None) -> np.ndarray:
        """The Hessian of L_i in eta: central differences of the exact eta-gradient (``fused``:
        the gradients from the compiled evaluations, the same numbers; with ``subjects``, indices,
        only theirs: the other subjects' Hessians are NaN).

        (Forward differences, half the cost, were tried: their O(h) error left eta-hat too
        imprecise for the outer gradient near the optimum of warfarin_pk.)
        """
        pts = _stencil(etas, h)
        G = None if fused is None else fused.gradients(np.stack(pts), subjects)
        if G is not None:
            H = np.stack([(G[2 * m] - G[2 * m + 1]) / (2 * h) for m in range(self.n_eta)], axis=-1)
        else:
            H = self._central_differences([self.predictions(values.theta, e) for e in pts], pts, values, omega_inv, h)
        return 0.5 * (H + H.transpose(0, 2, 1))

    def solve(self, values: ModelValues, etas0: np.ndarray, opts: InnerOptions, final_around: bool = True,
              chord: np.ndarray | None = None) -> InnerSolution:
        """eta-hat for every subject, with the predictions and terms there (``InnerSolution``).

        Damped Newton until the largest step is below ``opts.step_tolerance``. The Hessian:
        ``chord`` (n_sub, n_eta, n_eta) where it is positive definite; otherwise the FOCE-type
        curvature 2 A until the Newton decrement is below ``opts.switch``, then the exact
        Hessian (central differences of the exact gradient, computed once there and reused:
        near the mode it barely changes, so the steps shrink by orders of magnitude each time).
        """
        omega_inv, logdet_omega = omega_inverse(values.omega)
        etas = np.array(etas0, dtype=float, copy=True)
        fused = self._fused(values, etas, omega_inv, logdet_omega)
        p, T = self._start(values, etas, omega_inv, logdet_omega, fused)
        if fused is None and self._fused_setup is not False:  # the first evaluation made the twin check
            fused = self._fused(values, etas, omega_inv, logdet_omega)
            if fused is not None:
                fused.adopt(p, T)
                p, T = fused.p, fused.T
        if not np.all(np.isfinite(T.inner)):  # a bad warm start: restart those subjects at 0
            etas[~np.isfinite(T.inner)] = 0.0
            p, T = self._start(values, etas, omega_inv, logdet_omega, fused)
        state = (etas, p, T)
        if fused is not None:
            return self._newton_fused(values, fused, opts, chord, omega_inv, logdet_omega)
        stuck = np.zeros(self.problem.n_subjects, dtype=bool)
        converged = np.zeros(self.problem.n_subjects, dtype=bool)
        exact_H = None if chord is None else _positive_definite(np.array(chord, dtype=float))  # updated below
        dec_prev, refreshed = None, 0
        rounded = np.zeros(self.problem.n_subjects, dtype=bool)  # stopped at the rounding level of L_i
        blind = np.zeros(self.problem.n_subjects, dtype=np.int64)
        compiled = self.n_eta <= inner_newton.MAX_ETA  # the bookkeeping in kernels.inner_newton
        for it in range(opts.max_iterations):
            etas, p, T = state
            # the Gauss-Newton step (matrix 2 A) and its decrement; the step with the exact
            # Hessian where one is in use is computed below once ``exact_H`` is settled
            H = 2.0 * T.A
            gn_step = -solve_vectors(H, T.grad)
            # converged: the Gauss-Newton step (a scaled gradient, whatever matrix moves eta)
            if compiled:
                dec, converged, active = np.empty(len(stuck)), np.empty_like(stuck), np.empty_like(stuck)
                if not inner_newton.newton_status(T.grad, gn_step, opts.step_tolerance, stuck, dec, converged,
                                                  active):
                    break
            else:
                dec = -np.einsum("ne,ne->n", T.grad, gn_step)  # Newton decrement (Gauss-Newton)
                converged = (np.max(np.abs(gn_step), axis=1) < opts.step_tolerance) | (dec < 1e-24)
                active = ~converged & ~stuck
                if not active.any():
                    break
            if exact_H is not None and dec_prev is not None:  # a chord that does not contract: drop it
                slow = active & exact_H[1] & (dec > 0.1 * dec_prev) & (dec > 1e-20)
                exact_H = (exact_H[0], exact_H[1] & ~slow)
            need = active if exact_H is None else active & ~exact_H[1]
            if refreshed < 2 and it >= 1 and need.any() and (np.max(dec[need]) < opts.switch
                                                              or _slow_gauss_newton(dec, dec_prev, need)):
                exact_H = _positive_definite(self.hessian(values, etas, omega_inv, opts.hessian_step, fused))
                refreshed += 1
            step, slope = gn_step, -dec  # (-dec is grad' gn_step to the bit)
            if exact_H is not None and exact_H[1].any():  # (elsewhere this solve gives gn_step)
                step = -solve_vectors(np.where(exact_H[1][:, None, None], exact_H[0], H), T.grad)
                slope = _dots(T.grad, step, compiled)
            state, failed, damped, stalled = self._line_search(values, state, step, slope, active, opts,
                                                               omega_inv, logdet_omega)
            if exact_H is not None:
                _secant_update(exact_H, state[0] - etas, state[2].grad - T.grad)
            if compiled:
                inner_newton.count_blind(stalled, failed, blind, BLIND_STEPS, stuck, rounded)
            else:
                blind = np.where(stalled, blind + 1, 0)
                done = blind >= BLIND_STEPS  # no measurable progress left: converged to rounding
                stuck |= failed | done
                rounded |= done
            if exact_H is not None and damped.any():  # the Hessian did not fit there: Gauss-Newton
                exact_H = (exact_H[0], exact_H[1] & ~damped)
            dec_prev = dec
        etas, p, T = state
        not_converged = int(np.sum(~(converged | rounded)))
        if final_around and self.spec.exact_hessian:
            p = self.predictions(values.theta, etas, around=True)
            T = self.terms(p, values, etas, omega_inv, logdet_omega)
        return InnerSolution(etas, p, T, not_converged)

    # --- the compiled trials (``kernels.inner_trial``) ----------------------------------------
    def _fused(self, values: ModelValues, etas, omega_inv, logdet_omega) -> "_FusedRun | None":
        """The arrays of one solve's compiled trials (``kernels.inner_trial``: each subject's
        evaluation and terms, and the whole Armijo search, in one call), or None where they do
        not apply: FOCEI on uncensored data on the natural scale, at most ``MAX_ETA`` etas, and
        a problem that offers its engine (``KernelProblem.inner_inputs``)."""
        setup = self._fused_setup
        if setup is False:
            return None
        if setup is None:
            spec, lay = self.spec, self.layout
            if not (spec.interaction and not spec.linearized and not spec.exact_hessian and self._gaussian
                    and not lay.log_scale.any() and 0 < self.n_eta <= inner_newton.MAX_ETA
                    and hasattr(self.problem, "inner_inputs")):
                self._fused_setup = False
                return None
            n_obs, n_sub, n_e = len(lay.y), self.index.n, self.n_eta
            one = (1, n_obs)
            setup = self._fused_setup = {
                "err": tuple(np.ascontiguousarray(a) for a in (lay.y, lay.add.astype(np.int64),
                                                               lay.prop.astype(np.int64), lay.log_scale)),
                "zeros": np.zeros(one), "E3": np.zeros((1, n_sub, n_e)), "out": np.zeros(3, dtype=np.int64),
                "trial": (np.zeros(one), np.zeros((1, n_obs, n_e)), *(np.zeros(one) for _ in range(6)),
                          np.zeros((1, n_sub)), np.zeros((1, n_sub, n_e)), np.zeros((1, n_sub, n_e, n_e)),
                          np.zeros((1, n_sub)))}
        inputs = self.problem.inner_inputs(values.theta)
        if inputs is None:
            return None
        engine, records, model, bufs, (obs_rec, endpoint) = inputs
        idx = self.index
        err = (*setup["err"], np.ascontiguousarray(values.sd, dtype=np.float64)[None],
               np.ascontiguousarray(omega_inv, dtype=np.float64)[None], setup["zeros"])
        args = (engine, records, model, bufs, (obs_rec, endpoint, idx.starts, idx.counts), err)
        if "typed" not in setup:  # the late-bound kernels' fixed argument types (``inner_trial.ARG_TYPES``)
            from nlme_lab.kernels.inner_trial import ARG_TYPES
            from nlme_lab.kernels.jit import types_match

            if not types_match(args, ARG_TYPES[:6]):
                self._fused_setup = False
                return None
            setup["typed"] = True
        return _FusedRun(self, args, setup, etas, float(logdet_omega))

    def _start(self, values, etas, omega_inv, logdet_omega, fused):
        """(predictions, terms) at the solve's start ``etas``: compiled into ``fused``'s state
        where it applies, else in Python (and copied into that state)."""
        if fused is not None:
            if fused.evaluate():
                return fused.p, fused.T
        p = self.predictions(values.theta, etas)
        T = self.terms(p, values, etas, omega_inv, logdet_omega)
        if fused is not None:
            fused.adopt(p, T)
            return fused.p, fused.T
        return p, T

    def _newton_fused(self, values, fused: "_FusedRun", opts: InnerOptions, chord, omega_inv, logdet_omega):
        """``solve``'s Newton iteration (FOCEI, no Laplace curvature) from ``fused``'s state,
        the bookkeeping and the Armijo searches compiled (``kernels.inner_trial``: one call
        before and two after the step's linear solves, which stay numpy's gufunc,
        ``stacked.solve_vectors``); the same steps, the same numbers."""
        from nlme_lab.kernels.inner_trial import after_search, iteration_status

        etas, p, T = fused.state[0], fused.p, fused.T
        n = len(etas)
        stuck, converged, rounded = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        active, need, blind = np.empty(n, dtype=bool), np.empty(n, dtype=bool), np.zeros(n, dtype=np.int64)
        dec, dec_prev = np.empty(n), np.empty(n)
        exact_H = None if chord is None else _positive_definite(np.array(chord, dtype=float))
        refreshed, has_prev = 0, False
        search = fused.search_arrays()
        no_H = search["no_H"]
        gn_step = None
        for it in range(opts.max_iterations):
            # the Gauss-Newton steps of the subjects the last search could move (``active``:
            # an inactive subject stays so, its state and step unchanged): per subject the
            # same LAPACK call as on the whole stack, so the same numbers, in O(active) (a slow
            # subject, 88 of 100 iterations alone at 2000 subjects, no longer solves them all)
            rows = _rows(active) if it else None
            if rows is None:
                gn_step = -solve_vectors(2.0 * T.A, T.grad)
            else:
                gn_step[rows] = -solve_vectors(2.0 * T.A[rows], T.grad[rows])
            has_exact = exact_H is not None
            use = exact_H[1] if has_exact else search["no_use"]
            go, any_need, big, slow = iteration_status(T.grad, gn_step, opts.step_tolerance, stuck, dec, converged,
                                                       active, use, has_exact, dec_prev, has_prev, need, GN_SLOW,
                                                       GN_NEAR)
            if not go:
                break
            if refreshed < 2 and it >= 1 and any_need and (big < opts.switch or slow):
                # the active subjects' Hessians (an inactive subject takes no step: NaN, not in use;
                # a late refresh for a few slow subjects no longer evaluates them all 2 n_eta times)
                H = self.hessian(values, etas, omega_inv, opts.hessian_step, fused, _rows(active))
                exact_H = _positive_definite(H)
                refreshed += 1
                has_exact, use = True, exact_H[1]
            step, slope = gn_step, -dec  # (-dec is grad' gn_step to the bit)
            if has_exact and use.any():
                rows = _rows(use & active)  # (an inactive subject's step is not taken: any finite one will do)
                if rows is None:
                    H = np.where(use[:, None, None], exact_H[0], 2.0 * T.A)
                    step = -solve_vectors(H, T.grad)
                else:
                    step = gn_step.copy()
                    step[rows] = -solve_vectors(exact_H[0][rows], T.grad[rows])
                slope = _dots(T.grad, step, True)
            failed, damped, stalled = self._line_search_fused(fused, values, step, slope, active, opts, omega_inv,
                                                              logdet_omega)
            after_search(fused.state, search["before"], exact_H[0] if has_exact else no_H, use, has_exact,
                         SECANT_MIN_STEP, failed, stalled, damped, blind, BLIND_STEPS, stuck, rounded, search["sy"])
            dec, dec_prev, has_prev = dec_prev, dec, True
        if not self._python_evaluated:  # the last evaluation was compiled: keep it as the problem would
            last = np.array_equal(fused.E3[0], etas)  # (else the last trial was elsewhere: nothing to keep)
            self.problem.count_inner(0, values.theta, etas if last else None, p.f, p.g)
        return InnerSolution(etas, p, T, int(np.sum(~(converged | rounded))))

    def _line_search_fused(self, fused, values, step, slope, active, opts, omega_inv, logdet_omega):
        """``_line_search_compiled`` with the trials compiled (``inner_trial.line_search``),
        the state moved in place; a trial the kernel cannot evaluate (a failed solution) is
        evaluated here, as ``_line_search_compiled`` does, and the search goes on. Returns
        (failed, damped, stalled)."""
        from nlme_lab.kernels.inner_trial import FAILED

        a = fused.search_arrays()
        todo, t, noise, stalled, damped, ok = a["todo"], a["t"], a["noise"], a["stalled"], a["damped"], a["ok"]
        etas, T = fused.state[0], fused.T
        done, left, start = 0, True, True
        while start or (left and done < opts.max_halvings):  # (the first call sets the search up)
            n_done, code, left = fused.search(step, slope, active, start, todo, t, noise, stalled, damped, ok,
                                              max(opts.max_halvings - done, 0))
            done += n_done
            start = False
            if code == FAILED:
                trial = etas + t[:, None] * step
                pt = self.predictions(values.theta, trial)
                Tt = self.terms(pt, values, trial, omega_inv, logdet_omega)
                if inner_newton.armijo_accept(todo, stalled, t, slope, noise, T.inner, Tt.inner, Tt.grad, ok):
                    fused.merge(ok, trial, pt, Tt)
                left = inner_newton.armijo_advance(todo, ok, t, damped, slope, noise, stalled)
                done += 1
        return todo, damped, stalled

    def _line_search(self, values, state, step, slope, active, opts, omega_inv, logdet_omega):
        """Armijo backtracking per subject. Returns the new state, the subjects whose search
        failed, those that needed a shorter step and those stalled at rounding (the decrease
        to verify is below the resolution of L_i: the Newton step is then taken unchecked,
        and halving stops there)."""
        etas, p, T = state
        if self.n_eta <= inner_newton.MAX_ETA:  # the same steps, compiled
            return self._line_search_compiled(values, state, step, slope, active, opts, omega_inv, logdet_omega)
        t = np.where(active, 1.0, 0.0)
        todo = active.copy()
        damped = np.zeros_like(active)
        noise = 1e-13 * (1.0 + np.abs(T.inner))
        stalled = todo & (-slope < noise)  # below resolution: the Newton step is taken unchecked
        for _ in range(opts.max_halvings):
            if not todo.any():
                break
            trial = etas + t[:, None] * step
            pt = self.predictions(values.theta, trial)
            Tt = self.terms(pt, values, trial, omega_inv, logdet_omega)
            ok = (todo & np.isfinite(Tt.inner) & np.all(np.isfinite(Tt.grad), axis=1)
                  & ((Tt.inner <= T.inner + 1e-4 * t * slope + noise) | stalled))
            if ok.any():
                etas = np.where(ok[:, None], trial, etas)
                if ok.all():
                    p, T = pt, Tt
                else:
                    p = _merge(p, pt, ok[self.index.obs_subject])
                    T = _merge_terms(T, Tt, ok, ok[self.index.obs_subject])
                todo &= ~ok
            t = np.where(todo, 0.5 * t, 0.0)
            damped |= todo
            tiny = todo & (-t * slope < noise)
            stalled |= tiny
            todo &= ~tiny
        return (etas, p, T), todo, damped, stalled

    def _line_search_compiled(self, values, state, step, slope, active, opts, omega_inv, logdet_omega):
        """``_line_search`` with its per-subject bookkeeping in ``kernels.inner_newton``."""
        etas, p, T = state
        n = len(active)
        t, noise, stalled = np.empty(n), np.empty(n), np.empty(n, dtype=bool)
        todo, damped, ok = active.copy(), np.zeros(n, dtype=bool), np.empty(n, dtype=bool)
        left = inner_newton.armijo_start(active, slope, T.inner, t, noise, stalled)
        for _ in range(opts.max_halvings):
            if not left:
                break
            trial = etas + t[:, None] * step
            pt = self.predictions(values.theta, trial)
            Tt = self.terms(pt, values, trial, omega_inv, logdet_omega)
            n_ok = inner_newton.armijo_accept(todo, stalled, t, slope, noise, T.inner, Tt.inner, Tt.grad, ok)
            if n_ok:
                if n_ok == n:
                    etas, p, T = trial, pt, Tt
                else:
                    etas = np.where(ok[:, None], trial, etas)
                    p = _merge(p, pt, ok[self.index.obs_subject])
                    T = _merge_terms(T, Tt, ok, ok[self.index.obs_subject])
            left = inner_newton.armijo_advance(todo, ok, t, damped, slope, noise, stalled)
        return (etas, p, T), todo, damped, stalled


class _FusedRun:
    """One solve's compiled trials (``SubjectEngine._fused``): the kernel's arguments, and the
    solve's state (etas, predictions, terms) as arrays the kernel writes the accepted subjects
    into; ``p`` and ``T`` are views of that state (updated in place)."""

    def __init__(self, engine: SubjectEngine, args: tuple, setup: dict, etas: np.ndarray, logdet_omega: float):
        self.engine, self.args, self.logdet_omega = engine, args, logdet_omega
        self.setup, self.E3, self.trial, self.out = setup, setup["E3"], setup["trial"], setup["out"]
        n_obs, n_e = setup["trial"][1].shape[1:]
        n_sub = etas.shape[0]
        self.state = (etas, np.empty(n_obs), np.empty((n_obs, n_e)), np.empty(n_obs), np.empty(n_obs), np.empty(n_sub),
                      np.empty((n_sub, n_e)), np.empty((n_sub, n_e, n_e)), np.empty(n_sub), np.empty(n_sub))
        _, f, g, l_f, l_fv, inner, grad, A, logdet, ofv = self.state
        self.p = Predictions(f, g, f, g)
        self.T = SubjectTerms(inner, grad, A, ofv, logdet, l_f, l_fv, 0)

    def _counted(self, n: int) -> None:
        self.engine.n_evaluations += n
        self.engine.problem.count_inner(n)
        if n:
            self.engine._python_evaluated = False

    def evaluate(self) -> bool:
        """Every subject at the state's etas into the state; False (nothing written, nothing
        counted) where some subject's solution failed."""
        from nlme_lab.kernels.inner_trial import EVALUATE, FAILED

        self.E3[0] = self.state[0]
        if self._call(EVALUATE, self.search_arrays()["no_pts"], None) == FAILED:
            return False
        self._counted(1)
        return True

    def _call(self, mode, pts, G, step=None, slope=None, active=None, start=False, max_trials=0) -> int:
        """``inner_trial.line_search`` in ``mode`` (the arrays a mode does not use: placeholders
        of the same types); returns its code."""
        from nlme_lab.kernels.inner_trial import line_search

        a = self.search_arrays()
        n = len(a["t"])
        line_search(mode, *self.args, self.E3, self.trial, self.state, a["before"][0] if step is None else step,
                    a["t"] if slope is None else slope, a["ok"] if active is None else active, start, a["before"],
                    a["todo"], a["t"], a["noise"], a["stalled"], a["damped"], a["ok"], self.logdet_omega,
                    max_trials, self.out, pts, a["before"][0].reshape(1, n, -1) if G is None else G)
        return int(self.out[1])

    def adopt(self, p: Predictions, T: SubjectTerms) -> None:
        """The state from predictions and terms evaluated in Python."""
        _, f, g, l_f, l_fv, inner, grad, A, logdet, ofv = self.state
        for dst, src in ((f, p.f), (g, p.g), (l_f, T.l_f), (l_fv, T.l_fv), (inner, T.inner), (grad, T.grad),
                         (A, T.A), (logdet, T.logdet_A), (ofv, T.ofv)):
            dst[...] = src

    def merge(self, ok: np.ndarray, trial: np.ndarray, p: Predictions, T: SubjectTerms) -> None:
        """The subjects ``ok`` from a trial evaluated in Python (``_merge``, ``_merge_terms``)."""
        etas, f, g, l_f, l_fv, inner, grad, A, logdet, ofv = self.state
        rows = ok[self.engine.index.obs_subject]
        etas[ok] = trial[ok]
        for dst, src, at in ((f, p.f, rows), (g, p.g, rows), (l_f, T.l_f, rows), (l_fv, T.l_fv, rows),
                             (inner, T.inner, ok), (grad, T.grad, ok), (A, T.A, ok), (logdet, T.logdet_A, ok),
                             (ofv, T.ofv, ok)):
            dst[at] = src[at]

    def gradients(self, pts: np.ndarray, subjects: np.ndarray | None = None) -> np.ndarray | None:
        """The exact eta-gradients (``inner_trial.line_search``'s ``STENCIL``) at ``pts`` (B,
        n_sub, n_eta): (B, n_sub, n_eta), or None (nothing counted) where some solution failed;
        ``subjects`` (indices): only theirs, NaN elsewhere (counted as whole points all the same)."""
        from nlme_lab.kernels.inner_trial import FAILED, STENCIL

        if subjects is None:
            G, sel = np.empty(pts.shape), np.ones(pts.shape[1], dtype=bool)
        else:
            G, sel = np.full(pts.shape, np.nan), np.zeros(pts.shape[1], dtype=bool)
            sel[subjects] = True
        if self._call(STENCIL, pts, G, active=sel) == FAILED:
            return None
        self._counted(len(pts))
        return G

    def search_arrays(self) -> dict:
        """The line search's per-subject arrays (kept by the engine, reused)."""
        setup = self.setup
        if "search" not in setup:
            n, n_e = self.state[0].shape
            setup["search"] = {
                "todo": np.zeros(n, dtype=bool), "t": np.zeros(n), "noise": np.zeros(n),
                "stalled": np.zeros(n, dtype=bool), "damped": np.zeros(n, dtype=bool), "ok": np.zeros(n, dtype=bool),
                "before": (np.zeros((n, n_e)), np.zeros((n, n_e))), "sy": (np.zeros((n, n_e)), np.zeros((n, n_e))),
                "no_H": np.zeros((n, n_e, n_e)), "no_use": np.zeros(n, dtype=bool), "no_pts": np.zeros((0, n, n_e))}
        return setup["search"]

    def search(self, step, slope, active, start, todo, t, noise, stalled, damped, ok,
               max_trials) -> tuple[int, int, bool]:
        """``inner_trial.line_search``: (trials done, its code, whether subjects are left)."""
        from nlme_lab.kernels.inner_trial import SEARCH

        a = self.search_arrays()
        assert todo is a["todo"] and t is a["t"] and ok is a["ok"]
        self._call(SEARCH, a["no_pts"], None, np.ascontiguousarray(step), slope, active, start, max_trials)
        out = self.out
        self._counted(int(out[0]))
        return int(out[0]), int(out[1]), bool(out[2])


GN_SLOW = 0.1  # a Gauss-Newton decrement shrinking by less than this per step: use the exact Hessian
GN_NEAR = 1e-2  # ... once every decrement is below this (near enough for the exact Hessian to be positive)


def _slow_gauss_newton(dec, dec_prev, need) -> bool:
    """The Gauss-Newton steps of the subjects that ``need`` a Hessian contract only linearly
    (the decrement shrinks by less than ``GN_SLOW`` per step) while already near the mode: the
    exact Hessian then saves more steps than its 2 n_eta evaluations cost (theo_sd's first
    solve from eta = 0: 13 steps at 0.3-0.6 per step before the decrement reached ``switch``)."""
    if dec_prev is None:
        return False
    d, p = dec[need], dec_prev[need]
    return bool(np.max(d) < GN_NEAR and np.any((d > GN_SLOW * p) & (d > 1e-20)))


SECANT_MIN_STEP = 1e-8  # below this eta move the gradient difference is mostly rounding


def _secant_update(exact_H: tuple[np.ndarray, np.ndarray], s: np.ndarray, y: np.ndarray) -> None:
    """BFGS update, in place, of the Hessians in use (``exact_H``: (H, mask)) with each
    subject's eta move ``s`` and gradient change ``y``: a chord Hessian from the previous outer
    point contracts the Newton steps only linearly (a factor 0.2-0.3 per step on theo_sd); the
    update, free of engine evaluations, makes the iteration superlinear. Subjects whose move is
    below rounding or whose curvature s'y is not clearly positive keep their matrix."""
    H, use = exact_H
    if s.shape[1] <= inner_newton.MAX_ETA:  # compiled, the same numbers (kernels.inner_newton)
        inner_newton.secant_update(H, use, _writable(s), _writable(y), SECANT_MIN_STEP)
        return
    ss = np.einsum("ne,ne->n", s, s)
    sy = np.einsum("ne,ne->n", s, y)
    ok = use & (np.max(np.abs(s), axis=1) > SECANT_MIN_STEP) & (sy > 1e-10 * np.sqrt(ss * np.einsum("ne,ne->n", y, y)))
    if not ok.any():
        return
    Hs = np.einsum("nij,nj->ni", H[ok], s[ok])
    sHs = np.einsum("ni,ni->n", s[ok], Hs)
    yk = y[ok]
    H[ok] += yk[:, :, None] * yk[:, None, :] / sy[ok][:, None, None] - Hs[:, :, None] * Hs[:, None, :] / sHs[:, None, None]


FEW_SKIPPED = 32  # fewer subjects left out than this: ``_rows`` solves them all (fancy indexing costs more)


def _rows(mask: np.ndarray) -> np.ndarray | None:
    """The subjects of ``mask`` whose Newton steps ``_newton_fused`` solves, or None: solve
    every subject (at least all but ``FEW_SKIPPED``; each matrix is its own LAPACK call, so
    the numbers are the same either way)."""
    n = len(mask)
    if n < FEW_SKIPPED:
        return None
    rows = np.flatnonzero(mask)
    return None if n - rows.size < FEW_SKIPPED else rows


def _dots(a: np.ndarray, b: np.ndarray, compiled: bool) -> np.ndarray:
    """Per subject a[s]' b[s] (``einsum("ne,ne->n")``; ``compiled``: the kernel that sums in
    its order, ``inner_newton.dots``)."""
    if not compiled:
        return np.einsum("ne,ne->n", a, b)
    out = np.empty(len(a))
    inner_newton.dots(_writable(a), _writable(b), out)
    return out


def _stencil(etas: np.ndarray, h: float) -> list[np.ndarray]:
    """``etas +- h e_m`` for every eta column m, in the order (+1, -1, +2, -2, ...)."""
    pts = []
    for m in range(etas.shape[1]):
        for sign in (1.0, -1.0):
            e = etas.copy()
            e[:, m] += sign * h
            pts.append(e)
    return pts


def _writable(x: np.ndarray) -> np.ndarray:
    """``x`` as a writable float64 array (the kernels' signatures; broadcast views are copied).
    Already one: ``x`` itself, without ``np.require``'s ~5 us (called ~700 times per fit)."""
    if type(x) is np.ndarray and x.dtype == np.float64 and x.flags.writeable:
        return x
    return np.require(x, dtype=np.float64, requirements=["W"])


def _positive_definite(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, mask of the subjects where H is finite and positive definite)."""
    pd = np.all(np.isfinite(H), axis=(1, 2))
    if pd.any():
        pd[pd] = np.linalg.eigvalsh(H[pd])[:, 0] > 0
    return H, pd


def _merge(old: Predictions, new: Predictions, rows: np.ndarray) -> Predictions:
    gv = None if old.gv is None else np.where(rows[:, None], new.gv, old.gv)
    return Predictions(np.where(rows, new.f, old.f), np.where(rows[:, None], new.g, old.g),
                       np.where(rows, new.fv, old.fv), gv)


def _merge_terms(old: SubjectTerms, new: SubjectTerms, subjects: np.ndarray, rows: np.ndarray) -> SubjectTerms:
    """Per-subject terms are independent of other subjects: take ``new`` where ``subjects``."""
    s1, s2, s3 = subjects, subjects[:, None], subjects[:, None, None]
    return SubjectTerms(np.where(s1, new.inner, old.inner), np.where(s2, new.grad, old.grad),
                        np.where(s3, new.A, old.A), np.where(s1, new.ofv, old.ofv),
                        np.where(s1, new.logdet_A, old.logdet_A), np.where(rows, new.l_f, old.l_f),
                        np.where(rows, new.l_fv, old.l_fv), new.n_hessian_fallback)


_OMEGA_CACHE: dict[bytes, tuple[np.ndarray, float]] = {}
_OMEGA_CACHE_SIZE = 32  # a gradient visits 2 n_eta perturbed omegas besides the current one


def omega_inverse(omega: np.ndarray) -> tuple[np.ndarray, float]:
    """Omega^-1 and log det Omega (inf when Omega is not positive definite).

    The last few results are kept (keyed by Omega's bytes): a fit asks for the same Omega in
    its value, its inner solve and its gradient, hundreds of times per fit. The returned
    inverse is shared, so callers must not write into it (none does)."""
    omega = np.asarray(omega, dtype=float)
    key = omega.tobytes() + bytes(omega.shape)
    hit = _OMEGA_CACHE.get(key)
    if hit is not None:
        return hit
    try:
        L = np.linalg.cholesky(omega)
    except np.linalg.LinAlgError:
        out = np.full_like(omega, np.nan), np.inf
    else:
        Linv = np.linalg.inv(L)
        out = Linv.T @ Linv, 2.0 * float(np.sum(np.log(np.diag(L))))
    if len(_OMEGA_CACHE) >= _OMEGA_CACHE_SIZE:
        _OMEGA_CACHE.clear()  # (atomic: safe where fits run in threads)
    _OMEGA_CACHE[key] = out
    return out
