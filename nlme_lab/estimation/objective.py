"""The population objective as a function of a free parameter vector, and its gradient.

``Objective.value(v)`` solves the individual problems and sums OFV_i. The inner solve starts
from eta-hat predicted at ``v`` (the last gradient point's eta-hat plus d eta-hat/dv times the
move, first order in the move) and uses the exact eta-Hessian of that point as its Newton
matrix. ``Objective.gradient(v)`` returns the total derivative without re-solving the inner
problems (per subject, so the covariance step's S matrix comes for free):

    dOFV_i/dp = dQ_i/dp |_(eta fixed at eta-hat)  +  dQ_i/deta . d eta-hat_i/dp
    d eta-hat_i/dp = -H_i^-1  d(grad_eta L_i)/dp          (implicit function theorem)

where Q_i = L_i + log det Omega + log det A_i, L_i the inner objective and H_i its exact
Hessian in eta.

Sensitivity gradient (FO, FOCE, FOCEI on problems that give df/dtheta): one evaluation at
eta-hat with eta and theta directions gives f, df/deta and df/dtheta exactly; 2 n_eta more at
eta-hat +- h e_m give the second derivatives d2f/deta2 and d2f/deta dtheta (central
differences of exact first derivatives; ODE models that qualify give all of them exactly
from one solve of the model augmented with dy/dp, ``KernelProblem.second_order``). Every term
is then a smooth function of these predictions: the derivatives of Q_i and grad_eta L_i along
each free parameter and each eta are central differences of ``SubjectEngine.batch_terms`` on
predictions moved along their first-order Taylor expansion (no kernel call; exact to O(h^2)),
all points in one batch; the dominant dL_i/dtheta is the chain rule sum_j dl/df df_j/dtheta
exactly. Cost per gradient: 1 + 2 n_eta kernel evaluations, or 1 on the exact ODE route (FO:
at eta = 0, cached per theta; FOCE: + 1 at eta = 0).

Difference gradient (Laplace, whose A is itself a difference of exact gradients, and problems
without df/dtheta): df/dtheta from central differences of the predictions, two kernel
evaluations per theta plus two per eta (times 2 n_eta + 1 for Laplace).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.estimation.individual import SubjectEngine, SubjectTerms, _writable, omega_inverse
from nlme_lab.estimation.methods import InnerOptions
from nlme_lab.estimation.parameters import Parameterization, ReportedScale, Unconstrained
from nlme_lab.estimation.stacked import solve_stacked
from nlme_lab.kernels import inner_newton, outer_batch


@dataclass(frozen=True)
class GradientResult:
    ofv: float
    gradient: np.ndarray  # (n_free,)
    per_subject: np.ndarray  # (n_sub, n_free)


@dataclass(frozen=True)
class Anchor:
    """The last gradient point: eta-hat, d eta-hat/dv (n_sub, n_eta, n_free) and the exact
    eta-Hessian of L (n_sub, n_eta, n_eta); it predicts eta-hat near ``v`` for warm starts."""

    v: np.ndarray
    etas: np.ndarray
    jac: np.ndarray
    H: np.ndarray

    def predict(self, v: np.ndarray) -> np.ndarray:
        return self.etas + np.einsum("sek,k->se", self.jac, np.asarray(v, dtype=float) - self.v)


@dataclass(frozen=True)
class Sensitivities:
    """Predictions at eta-hat for the method, with their first and second derivatives."""

    f: np.ndarray  # (n_obs,)
    g: np.ndarray  # (n_obs, n_eta) df/deta
    f_th: np.ndarray  # (n_obs, n_theta)
    g_eta: np.ndarray  # (n_obs, n_eta, n_eta) d2f/deta2
    g_th: np.ndarray  # (n_obs, n_eta, n_theta) d2f/deta dtheta
    fv: np.ndarray  # variance basis and its theta derivative
    fv_th: np.ndarray


class Objective:
    def __init__(self, engine: SubjectEngine, param: Parameterization, etas0: np.ndarray,
                 inner: InnerOptions, param_step: float = 1e-5, eta_step: float = 1e-4):
        self.engine = engine
        self.param = param
        self.etas = np.array(etas0, dtype=float)
        self.inner = inner
        self.param_step = param_step
        self.eta_step = eta_step
        self.last_terms: SubjectTerms | None = None
        self.last_v: np.ndarray | None = None
        self.anchor: Anchor | None = None
        self.not_converged = 0
        self.n_value = 0
        self._theta_derivs: bool | None = None  # does the problem give df/dtheta? (known after one call)
        self._zero_cache: dict[bytes, tuple] = {}
        self._batch_plan: _BatchPlan | None = None
        self._batch_buffers: tuple | None = None
        self._last_values: tuple | None = None

    def _values(self, v: np.ndarray):
        """``param.values(v)``, the last one kept (a gradient follows the value at its point)."""
        key = np.asarray(v, dtype=float).tobytes()
        if self._last_values is None or self._last_values[0] != key:
            self._last_values = (key, self.param.values(v))
        return self._last_values[1]

    def value(self, v: np.ndarray) -> float:
        self.n_value += 1
        values = self._values(v)
        _, logdet = omega_inverse(values.omega)
        if not np.isfinite(logdet):
            return np.inf
        start, chord = self.etas, None
        if self.anchor is not None:
            start, chord = self.anchor.predict(v), self.anchor.H
        sol = self.engine.solve(values, start, self.inner, chord=chord)
        etas, T, nc = sol.etas, sol.terms, sol.n_not_converged
        ofv = float(np.sum(T.ofv))
        if np.isfinite(ofv):
            self.etas = etas
            self.last_terms, self.last_v, self.not_converged = T, np.array(v, dtype=float), nc
        return ofv

    def solved_at(self, v: np.ndarray, etas: np.ndarray) -> bool:
        """Whether the last ``value`` was at ``v``, ended at ``etas`` with every subject
        converged: solving again there would start from its own eta-hat and stop at once."""
        return (self.last_v is not None and self.not_converged == 0 and np.array_equal(self.last_v, v)
                and np.array_equal(self.etas, etas))

    def value_and_gradient(self, v: np.ndarray) -> GradientResult:
        ofv = self.value(v)
        if not np.isfinite(ofv):
            return GradientResult(ofv, np.full(len(v), np.nan), np.full((self.engine.problem.n_subjects, len(v)), np.nan))
        return self.gradient(v, ofv)

    def steps(self, v: np.ndarray) -> np.ndarray:
        return self.param_step * np.maximum(np.abs(v), self.param.step_floor)

    def gradient(self, v: np.ndarray, ofv: float) -> GradientResult:
        """Gradient at ``v`` with eta held at the eta-hat of the last ``value(v)``."""
        if not self.engine.spec.exact_hessian and self._theta_derivs is not False:
            out = self._sensitivity_gradient(np.asarray(v, dtype=float), ofv)
            if out is not None:
                return out
        return self._difference_gradient(v, ofv)

    # --- sensitivity gradient ---------------------------------------------------------------
    def _second_order(self, theta, etas):
        """f, g, df/dtheta at ``etas`` and the second derivatives (central differences of the
        exact first derivatives at etas +- h e_m); None without theta derivatives."""
        eng, h = self.engine, self.eta_step
        key = (np.asarray(theta, dtype=float).tobytes(), np.asarray(etas, dtype=float).tobytes(), h)
        if eng.last_second_order is not None and eng.last_second_order[0] == key:
            return eng.last_second_order[1]  # the covariance step's gradient at the fit's last point
        out = self._second_order_at(theta, etas)
        eng.last_second_order = (key, out)
        return out

    def _second_order_at(self, theta, etas):
        eng, h = self.engine, self.eta_step
        exact = getattr(eng.problem, "second_order", None)  # ODE models: one augmented solve
        if exact is not None and not eng.layout.log_scale.any():
            out = exact(theta, etas)
            if out is not None:
                eng.n_evaluations += 1
                self._theta_derivs = True
                return out
        points = eng.evaluate_stencil_with_theta(theta, etas, h)
        if points is not None:  # every point from one engine call
            self._theta_derivs = True
            return points
        base = eng.evaluate_with_theta(theta, etas)
        self._theta_derivs = base is not None
        if base is None:
            return None
        f, g, f_th = base
        n_obs, n_e = g.shape
        g_eta = np.empty((n_obs, n_e, n_e))
        g_th = np.empty((n_obs, n_e, f_th.shape[1]))
        e = np.array(etas, dtype=float)  # moved in place, one column at a time
        for m in range(n_e):
            e[:, m] = etas[:, m] + h
            _, gp, tp = eng.evaluate_with_theta(theta, e)
            e[:, m] = etas[:, m] - h
            _, gm, tm = eng.evaluate_with_theta(theta, e)
            e[:, m] = etas[:, m]
            g_eta[:, :, m] = (gp - gm) / (2 * h)
            g_th[:, m, :] = (tp - tm) / (2 * h)
        return f, g, f_th, 0.5 * (g_eta + g_eta.transpose(0, 2, 1)), g_th

    def _sensitivities(self, theta, etas) -> Sensitivities | None:
        spec = self.engine.spec
        obs_subject = self.engine.index.obs_subject
        if spec.linearized or not spec.interaction:
            zero = self._at_zero(theta)
            if zero is None:
                return None
            f0, g0, f0_th, g0_th = zero
        if spec.linearized:  # FO: f0 + G0 eta, expanded at eta = 0
            e_obs = etas[obs_subject]
            f = f0 + np.einsum("oe,oe->o", g0, e_obs)
            f_th = f0_th + np.einsum("oek,oe->ok", g0_th, e_obs)
            n_e = g0.shape[1]
            return Sensitivities(f, g0, f_th, np.zeros((len(f), n_e, n_e)), g0_th, f0, f0_th)
        so = self._second_order(theta, etas)
        if so is None:
            return None
        f, g, f_th, g_eta, g_th = so
        if spec.interaction:
            return Sensitivities(f, g, f_th, g_eta, g_th, f, f_th)
        return Sensitivities(f, g, f_th, g_eta, g_th, f0, f0_th)  # FOCE: variance at f(eta = 0)

    def _at_zero(self, theta):
        """FO's expansion (f, G, their theta derivatives) and FOCE's variance basis at eta = 0,
        cached per theta (FOCE needs only f and df/dtheta: one evaluation)."""
        key = np.asarray(theta, dtype=float).tobytes()
        if key not in self._zero_cache:
            zeros = np.zeros((self.engine.problem.n_subjects, self.engine.n_eta))
            if self.engine.spec.linearized:
                so = self._second_order(theta, zeros)
                out = None if so is None else (so[0], so[1], so[2], so[4])
            else:
                base = self.engine.evaluate_with_theta(theta, zeros)
                self._theta_derivs = base is not None
                out = None if base is None else (base[0], base[1], base[2], None)
            if len(self._zero_cache) > 8:
                self._zero_cache.clear()
            self._zero_cache[key] = out
        return self._zero_cache[key]

    def _sensitivity_gradient(self, v: np.ndarray, ofv: float) -> GradientResult | None:
        eng, etas = self.engine, self.etas
        values = self._values(v)
        s = self._sensitivities(values.theta, etas)
        if s is None:
            return None
        n = len(v)
        h, he = self.steps(v), self.eta_step
        batch = self._perturbed_batch(v, values, etas, s, h)
        F, FV = batch[0], batch[2]
        bt = eng.batch_terms(*batch)
        Q = bt.inner + batch[7][:, None] + bt.logdet_A
        # all n central differences at once: rows 1, 3, ... are v + h_k e_k, rows 2, 4, ... v - h_k e_k
        p, m, h2 = slice(1, 1 + 2 * n, 2), slice(2, 2 + 2 * n, 2), 2 * h[:, None]
        plan = self._plan()
        dQ = (Q[p] - Q[m]) / h2  # (n, n_sub): omega and SD components
        if plan.th.size:  # thetas: the exact chain rule through the moved predictions, log det A by differences
            th, rp, rm = plan.th, plan.rows_p, plan.rows_m  # (rp: the rows of F[p][affects_theta])
            dL = eng.index.sum(bt.l_f[0] * (F[rp] - F[rm]) + bt.l_fv[0] * (FV[rp] - FV[rm]), axis=1)
            dQ[th] = (dL + bt.logdet_A[rp] - bt.logdet_A[rm]) / h2[th]
        dQ = dQ.T
        dG = ((bt.grad[p] - bt.grad[m]) / h2[:, :, None]).transpose(1, 0, 2)  # (n_sub, n, n_eta)
        r = 1 + 2 * n
        dlogdet = (bt.logdet_A[r::2] - bt.logdet_A[r + 1::2]).T / (2 * he)  # (n_sub, n_eta)
        H = (bt.grad[r::2] - bt.grad[r + 1::2]).transpose(1, 2, 0) / (2 * he)  # (np.moveaxis(., 0, -1))
        H = 0.5 * (H + H.transpose(0, 2, 1))
        return self._combine(v, ofv, dQ, dG, bt.grad[0] + dlogdet, H)

    def _perturbed_batch(self, v, values, etas, s: Sensitivities, h):
        """Arguments of ``batch_terms`` at: the point; v +- h_k e_k (predictions moved along
        df/dtheta, omega or SDs changed); eta +- h e_m (predictions moved along df/deta)."""
        spec = self.engine.spec
        n, n_e = len(v), self.engine.n_eta
        B = 1 + 2 * n + 2 * n_e
        plan = self._plan()
        moves, cm = _theta_moves(self.param, plan, v, h, values.theta)  # cm: component_moves(v, h) or None
        F, G, E, FV = self._buffers(B, s.f.shape[0], etas.shape[0], n_e, not spec.interaction)
        if moves is None:
            moves = np.zeros((2, 0, s.f_th.shape[1]))
        # one compiled call (kernels.outer_batch): the numbers of the numpy below, which runs only
        # where a theta move changes more than one theta (no parameterization's does)
        if outer_batch.fill_batch(F, G, FV if FV is not None else F, E, _writable(s.f), _writable(s.g),
                                  _writable(s.fv), _writable(s.f_th), _writable(s.g_th), _writable(s.fv_th),
                                  _writable(etas), plan.rows_p, plan.rows_m, moves, FV is not None):
            if FV is None:
                FV = F
        else:
            F[:], G[:], E[:] = s.f, s.g, etas
            if FV is None:
                FV = F
            else:
                FV[:] = s.fv
            for i, rows in enumerate(plan.theta_rows):  # theta moves: predictions moved along df/dtheta
                F[rows] += moves[i] @ s.f_th.T
                G[rows] += np.einsum("oet,kt->koe", s.g_th, moves[i])
                if not spec.interaction:
                    FV[rows] += moves[i] @ s.fv_th.T
        # eta +- h e_m: rows r + 2m +h, r + 1 + 2m -h (predictions moved along df/deta)
        inner_newton.eta_rows(F, G, E, _writable(s.g), _writable(s.g_eta), self.eta_step, 1 + 2 * n)
        SD = np.repeat(values.sd[None], B, 0)
        oi, ldo = omega_inverse(values.omega)
        OI = np.repeat(oi[None], B, 0)
        LDO = np.full(B, ldo)
        if plan.sd[0].size or plan.om[0].size:  # one SD or one one-element omega block moves: in place
            moves = cm if cm is not None else self.param.component_moves(v, h)
            rows, k, sign, where = plan.sd
            SD[rows, where] = moves[sign, k]
            rows, k, sign, where = plan.om  # Omega is block diagonal: that block's inverse is 1/new
            OI[rows, where, where] = 1.0 / moves[sign, k]
            rows, k, sign, n_where, first = plan.ldo
            with np.errstate(invalid="ignore", divide="ignore"):  # (a non-finite point is rejected by the caller)
                LDO[rows] = ldo + n_where * (np.log(moves[sign, k]) - np.log(values.omega[first, first]))
        for k in plan.rebuilt:  # elements of larger omega blocks: omega rebuilt
            for j, sign in ((1 + 2 * k, 1.0), (2 + 2 * k, -1.0)):
                w = v.copy()
                w[k] += sign * h[k]
                val = self.param.values(w)
                SD[j] = val.sd
                if not np.array_equal(val.omega, values.omega):  # (an SD moved: omega^-1 as is)
                    OI[j], LDO[j] = omega_inverse(val.omega)
        return F, G, FV, (G if spec.interaction else None), E, SD, OI, LDO

    def _buffers(self, B, n_obs, n_sub, n_e, own_fv):
        """F, G, E (and FV with ``own_fv``) of ``_perturbed_batch``, kept across calls (every
        element is written on every call; nothing returned from a gradient refers to them)."""
        key = (B, n_obs, n_sub, n_e, own_fv)
        if self._batch_buffers is None or self._batch_buffers[0] != key:
            self._batch_buffers = (key, (np.empty((B, n_obs)), np.empty((B, n_obs, n_e)), np.empty((B, n_sub, n_e)),
                                         np.empty((B, n_obs)) if own_fv else None))
        return self._batch_buffers[1]

    def _plan(self) -> "_BatchPlan":
        """The row indices of ``_perturbed_batch`` (fixed per parameterization), made once."""
        if self._batch_plan is None:
            self._batch_plan = _BatchPlan.of(self.param)
        return self._batch_plan

    def _combine(self, v, ofv, dQ, dG, dQ_deta, H) -> GradientResult:
        """Total derivative: dQ + dQ/deta . d eta-hat/dv, d eta-hat/dv = -H^-1 dG'; keeps the
        anchor for the next warm start."""
        deta = -solve_stacked(H, dG.transpose(0, 2, 1))  # (n_sub, n_eta, n)
        per_subject = dQ + np.einsum("ne,nek->nk", dQ_deta, deta)
        if np.isfinite(deta).all():
            self.anchor = Anchor(np.array(v, dtype=float), self.etas.copy(), deta, H)
        return GradientResult(ofv, per_subject.sum(axis=0), per_subject)

    # --- difference gradient ----------------------------------------------------------------
    def _difference_gradient(self, v: np.ndarray, ofv: float) -> GradientResult:
        eng, etas = self.engine, self.etas
        values = self.param.values(v)
        around = eng.spec.exact_hessian
        p0 = eng.predictions(values.theta, etas, around=around)
        T0 = eng.terms(p0, values, etas)
        n_sub, n_eta, n = etas.shape[0], etas.shape[1], len(v)
        dQ = np.empty((n_sub, n))
        dG = np.empty((n_sub, n, n_eta))
        h = self.steps(v)
        for k in range(n):
            vp, vm = v.copy(), v.copy()
            vp[k] += h[k]
            vm[k] -= h[k]
            valp, valm = self.param.values(vp), self.param.values(vm)
            if self.param.affects_theta[k]:
                pp = eng.predictions(valp.theta, etas, around=around)
                pm = eng.predictions(valm.theta, etas, around=around)
                Tp, Tm = eng.terms(pp, valp, etas), eng.terms(pm, valm, etas)
                dL = eng.index.sum(T0.l_f * (pp.f - pm.f) + T0.l_fv * (pp.fv - pm.fv)) / (2 * h[k])
                dQ[:, k] = dL + (Tp.logdet_A - Tm.logdet_A) / (2 * h[k])
            else:
                Tp, Tm = eng.terms(p0, valp, etas), eng.terms(p0, valm, etas)
                dQ[:, k] = (Tp.ofv - Tm.ofv) / (2 * h[k])
            dG[:, k, :] = (Tp.grad - Tm.grad) / (2 * h[k])
        dlogdet_eta, H = self._eta_derivatives(values, etas, around)
        return self._combine(v, ofv, dQ, dG, T0.grad + dlogdet_eta, H)

    def _eta_derivatives(self, values, etas, around):
        """d log det A_i / d eta (differences) and the Hessian of L_i (differences of its exact gradient)."""
        eng = self.engine
        n_sub, n_eta = etas.shape
        he = self.eta_step
        dlogdet = np.empty((n_sub, n_eta))
        H = np.empty((n_sub, n_eta, n_eta))
        for m in range(n_eta):
            out = []
            for sign in (1.0, -1.0):
                e = etas.copy()
                e[:, m] += sign * he
                out.append(eng.terms(eng.predictions(values.theta, e, around=around), values, e))
            dlogdet[:, m] = (out[0].logdet_A - out[1].logdet_A) / (2 * he)
            H[:, :, m] = (out[0].grad - out[1].grad) / (2 * he)
        return dlogdet, 0.5 * (H + H.transpose(0, 2, 1))


def _theta_moves(param, plan: "_BatchPlan", v, h, theta):
    """(``param.theta_moves(v, h, theta)[:, plan.th]`` (2, n_th_free, n_theta), None without
    free thetas; ``param.component_moves(v, h)`` where it was taken, else None). The
    parameterizations whose theta moves are component_moves minus theta (``plan``) take one
    transform instead of two."""
    th = plan.th
    if not th.size:
        return None, None
    if not plan.derived_theta_moves:
        return param.theta_moves(v, h, theta)[:, th], None
    cm = param.component_moves(v, h)
    moves = np.zeros((2, th.size, len(theta)))
    moves[:, plan.th_order, plan.th_cols] = cm[:, th] - theta[plan.th_cols]
    return moves, cm




@dataclass(frozen=True)
class _BatchPlan:
    """Where ``Objective._perturbed_batch`` writes each free component's moves (rows 1 + 2k
    for +h_k, 2 + 2k for -h_k): ``th`` the thetas and ``theta_rows`` their + and - rows
    (strided slices when the thetas are contiguous: in place, no gather/scatter); ``sd``
    (rows, k, sign index, SD index) and ``om`` (rows, k, sign index, eta column) the in-place
    SD and one-element omega moves (a block on several columns: one entry per column),
    ``ldo`` (rows, k, sign index, number of columns, first column) their log det Omega;
    ``rebuilt`` the components whose moves rebuild omega. The assignments are the per-element
    ones of a loop, vectorized (the same numbers)."""

    th: np.ndarray
    theta_rows: tuple
    rows_p: np.ndarray  # theta_rows as index arrays (the compiled fill)
    rows_m: np.ndarray
    th_order: np.ndarray  # 0 .. len(th) - 1
    th_cols: np.ndarray  # the reported theta each free theta component moves
    derived_theta_moves: bool  # theta_moves(v, h, theta)[:, th] is component_moves(v, h)[:, th] - theta there
    sd: tuple
    om: tuple
    ldo: tuple
    rebuilt: tuple

    @staticmethod
    def of(param) -> "_BatchPlan":
        th = np.flatnonzero(param.affects_theta)
        theta_rows: tuple = (1 + 2 * th, 2 + 2 * th)
        rows_p, rows_m = (r.astype(np.int64) for r in theta_rows)
        if th.size and th[-1] - th[0] == th.size - 1:
            theta_rows = tuple(slice(int(r[0]), int(r[-1]) + 1, 2) for r in theta_rows)
        sd, om, ldo, rebuilt = [], [], [], []
        for k, role in enumerate(param.component_roles):
            if param.affects_theta[k]:
                continue
            if role is None:
                rebuilt.append(k)
                continue
            kind, where = role
            for i in (0, 1):
                j = 1 + 2 * k + i
                if kind == "sd":
                    sd.append((j, k, i, where))
                else:
                    om.extend((j, k, i, c) for c in np.atleast_1d(where))
                    ldo.append((j, k, i, len(where), where[0]))

        def cols(rows, n):
            return tuple(np.array([r[c] for r in rows], dtype=np.int64) for c in range(n))

        # ``ReportedScale`` and ``Unconstrained`` move theta k alone, to the value component_moves
        # gives (the same elementwise transform of the same v +- h: ``_one_theta_moves``), so
        # their theta moves are those minus theta (the same subtraction, the same numbers)
        derived = type(param) in (ReportedScale, Unconstrained)
        th_cols = np.flatnonzero(param.free)[th]
        return _BatchPlan(th, theta_rows, rows_p, rows_m, np.arange(th.size), th_cols, derived, cols(sd, 4), cols(om, 4), cols(ldo, 5), tuple(rebuilt))

