"""``KernelProblem``: a model bound to a dataset, seen by the estimation engine as a
``PredictionProblem``.

* Observations: the records with EVID 0 and MDV 0, in dataset order (sorted by subject).
* ``f``: each observation's own endpoint prediction from the engine (``kernels.population``).
* ``df_deta``: exact sensitivities from the engine. The directions are the subject's random
  effects: its etas, then the occasion kappas expanded per occasion (column
  ``n_eta + occasion * n_kappa + k``, tied to one variance by ``ParameterSpace.placements``).
  On a record, ``dP[:, :, j]`` is the ``dp_deta`` column of random effect ``j`` if it applies
  to the record's occasion, else 0.
* ``df_dtheta`` (on request): the structural thetas as further directions (``dp_dtheta``).
* The model's theta vector also holds the residual SDs (the ABI); the problem's ``theta`` is
  the structural part only, the SDs stay at their initial values in the kernel's vector (the
  model equations may not use them; ``parameter_space`` checks).

The engine is reached through ``problem.predict.Predictor`` (the record arrays, ODE options,
the solver call and the failure messages live there once). Buffers are allocated once per
shape and reused; the arrays handed back are fresh (the engine keeps them). A subject whose
solution fails numerically (ODE failure, non-finite state) gets NaN predictions, so the
engine's line searches back off; a bad record raises ``SolverError``.

The outer gradient's points (eta-hat and eta-hat +- h e_m, with theta directions) are solved in
one engine call on the dataset stacked 1 + 2 n_eta times (``evaluate_stencil``; linear models):
one call instead of 1 + 2 n_eta, the same numbers bit for bit.

ODE models, directions the same on every record of a subject (no time-varying covariates, no
IOV): the sensitivity equations are linear in ``dP``, so the directions are the contraction with
``dP`` of the sensitivities along the n_p parameters themselves. Where the model qualifies
(``_first_order``: doses free of p, no steady state, at most ``MAX_FULL_STATES`` states) these
come from the generated first-order model (``model.codegen.second_order.first_order_model``: y
and dy/dp for every p as its states, one right-hand side, no engine directions; on the MM 2-cmt
benchmark a call with the 4 eta directions 10.3 -> 4.6 ms for 100 subjects); else, with more
directions than parameters, from the engine's sensitivities along ``dP`` = identity
(``_parameter_space``). The integrator's steps are those of the model's own states (the
sensitivities are out of its error control), so the result equals the direct one to rounding,
and the predictions are the model's bit for bit.

ODE models, second derivatives (``second_order``): one solve of a model augmented with the
sensitivities as states (``model.codegen.second_order``: the full model, y, dy/dp and each
d2y/dp_a dp_b once, up to ``MAX_FULL_STATES`` states; above, the model augmented with dy/dp along
the etas' parameters with the engine's sensitivities along p) gives f, df/dp and the needed rows
of d2f/dp2 exactly; the FOCE-family gradient takes them instead of differencing first-order
calls at eta +- h (``estimation.objective``).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.estimation.problem import Evaluation
from nlme_lab.kernels import outer_batch
from nlme_lab.problem.predict import DEFAULT_ATOL, DEFAULT_RTOL, Predictor, _owned


#: the exact second-order route (``KernelProblem.second_order``) only for augmented systems up to
#: this many states: sympy's derivatives and numba's compile of the augmented model grow with it
#: (MM 2-cmt, 4 etas: 10 states, ~1 s sympy + ~8 s numba once per machine at load 4; a 4-state
#: TMDD QSS model augmented along all its 10 parameters, 44 states: 16 s of sympy alone)
MAX_AUGMENTED_STATES = 32
#: the full second-order model (``model.codegen.second_order.full_model``: y, dy/dp for every p and
#: d2y/dp_a dp_b once per pair, solved without engine sensitivities) up to this many states; above
#: it the augmented model with the engine's sensitivities along p. Also the limit of the
#: first-order model (``_first_order``). MM 2-cmt, 4 etas: 40 states, an exact call 38 -> 9-13 ms
#: CPU for 100 subjects serial (the augmented model: 10 states with 5 sensitivity columns, each
#: stage two Jacobian calls and their products); ~2.5 s of sympy once per machine
MAX_FULL_STATES = 64


class KernelProblem:
    """The ``PredictionProblem`` of a ``BoundModel`` (see the module docstring)."""

    def __init__(self, bound, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                 parallel: bool | None = None):
        self.bound = bound
        self.rtol, self.atol = float(rtol), float(atol)
        ir = bound.model.ir
        cm = self.compiled = bound.model.compiled
        ds = bound.dataset
        self.n_subjects = int(ds.n_subjects)
        self.n_records = n_rec = int(ds.n_records)
        self.predictor = Predictor(bound, rtol=rtol, atol=atol, parallel=parallel)
        sd_names = set(bound.model.parameters.residuals)
        self.theta_full = np.array([t.init for t in ir.thetas], dtype=np.float64)
        self.structural = np.array([k for k, t in enumerate(ir.thetas) if t.name not in sd_names], dtype=np.int64)
        self.theta_names = tuple(ir.thetas[k].name for k in self.structural)
        self.n_theta = len(self.structural)
        # the structural thetas' columns of dp_dtheta: a slice (a view, no copy) when they come first
        first = np.array_equal(self.structural, np.arange(self.n_theta))
        self._structural_cols = slice(0, self.n_theta) if first else self.structural

        self.record_subject = np.repeat(np.arange(self.n_subjects), np.diff(ds.offsets))
        self.obs_rec = np.flatnonzero(bound.observed)
        self.obs_subject = self.record_subject[self.obs_rec].copy()
        self.dv = _owned(ds.dv[self.obs_rec], np.float64)
        self.cens = _owned(ds.cens[self.obs_rec], np.int64)
        self.limit = _owned(ds.limit[self.obs_rec], np.float64)
        self.endpoint = _owned(bound.endpoint[self.obs_rec], np.int64)

        self.n_subject_eta = len(ir.etas)
        self.n_kappa = len(ir.kappas)
        self.n_occasions = int(bound.n_occasions) if self.n_kappa else 0
        self.n_eta = self.n_subject_eta + self.n_kappa * self.n_occasions
        self._columns = self._direction_columns(np.asarray(bound.occasion, dtype=np.int64))
        self._flat = (self.record_subject[:, None] * self.n_eta + self._columns) if self.n_eta else None

        n_p, n_re, n_end = cm.n_p, cm.n_re, cm.n_endpoint
        self._eta_rec = np.zeros((n_rec, n_re))
        self._P = np.zeros((n_rec, n_p))
        self._dp_deta = np.zeros((n_rec, n_p, n_re))
        self._dp_dtheta = np.zeros((n_rec, n_p, len(ir.thetas)))
        self._pred = np.zeros((n_rec, n_end))
        self._by_dirs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # ODE models: sensitivities along the parameters when there are more directions (module docstring)
        self._ode = not cm.is_linear
        self._first_rec = np.asarray(ds.offsets[:-1], dtype=np.int64)[self.record_subject]
        self._subject_first = np.asarray(ds.offsets[:-1], dtype=np.int64)  # each subject's first record
        self._along_p: tuple[np.ndarray, np.ndarray] | None = None  # (identity dP, dpred): built on first use
        self._obs_endpoint = (self.obs_rec, self.endpoint)
        self._obs_flat = self.obs_rec * n_end + self.endpoint  # into the raveled ``_pred``
        self.last_failure: str = ""
        self.n_calls = 0
        self._twins: np.ndarray | None = None  # per structural theta, the eta it copies (-1: none)
        self._last: tuple | None = None  # (theta, etas, f, D) of a call without theta derivatives
        self._aug = None  # exact second order (``second_order``): False, or {along: augmented predictor}
        self._fo = None  # first-order sensitivity model's predictor (``_first_order``): False where it does not apply
        self._inner: dict | None = None  # ``inner_inputs``' arrays, built on first use

    def with_tolerances(self, rtol: float, atol: float) -> "KernelProblem":
        """The same problem with other ODE tolerances (and the same thread request)."""
        return KernelProblem(self.bound, rtol=rtol, atol=atol, parallel=self.predictor.requested_parallel)

    def _direction_columns(self, occasion: np.ndarray) -> np.ndarray:
        """Direction column of each record's random effect j (etas, then its occasion's kappas)."""
        n_e, n_k = self.n_subject_eta, self.n_kappa
        cols = np.empty((self.n_records, n_e + n_k), dtype=np.int64)
        cols[:, :n_e] = np.arange(n_e)
        if n_k:
            cols[:, n_e:] = n_e + occasion[:, None] * n_k + np.arange(n_k)
        return cols

    def _buffers(self, n_dir: int) -> tuple[np.ndarray, np.ndarray]:
        if n_dir not in self._by_dirs:
            n_p, n_end = self.compiled.n_p, self.compiled.n_endpoint
            self._by_dirs[n_dir] = (np.zeros((self.n_records, n_p, n_dir)),
                                    np.zeros((self.n_records, n_end, n_dir)))
        return self._by_dirs[n_dir]

    # ------------------------------------------------------------------ evaluation
    def record_effects(self, etas: np.ndarray) -> np.ndarray:
        """Per-record random effects (the kernel's ``eta`` vectors) from per-subject etas."""
        if self.n_eta:
            np.take(np.ascontiguousarray(etas, dtype=np.float64).reshape(-1), self._flat, out=self._eta_rec)
        return self._eta_rec

    def predict_observations(self, theta, etas) -> np.ndarray:
        """``evaluate(theta, etas, derivs=False).f`` without the ``Evaluation`` around it: the
        SAEM sampler calls this thousands of times per fit, where the Python around the
        engine call costs as much as the engine."""
        self.n_calls += 1
        self.theta_full[self.structural] = theta
        self.predictor.individual_parameters(self.theta_full, self.record_effects(etas), out=self._P)
        dP, dpred = self._buffers(0)
        failure = self.predictor.solve(self._P, dP, self._pred, dpred)
        f = np.take(self._pred.reshape(-1), self._obs_flat)
        if failure is not None:
            self._mark_failures(failure, f, None, None)
        return f

    @property
    def observation_index(self) -> np.ndarray:
        """Each observation's position in the raveled (n_records, n_endpoint) predictions."""
        return self._obs_flat

    def engine_inputs(self, theta) -> tuple[tuple, tuple, tuple]:
        """The arrays a compiled caller passes the engine for predictions without derivatives at
        ``theta`` and etas it writes into the record effects itself (``kernels.metropolis``):
        the predictor's records and model inputs (the model's full theta vector appended) and
        (eta index per record effect into the raveled (n_subjects, n_eta) etas, record
        effects, P, dP, pred, dpred, status, fail), all this problem's own buffers. The
        observations are ``pred.ravel()[self.observation_index]``."""
        self.theta_full[self.structural] = theta
        records, model, outputs = self.predictor.engine_inputs()
        dP, dpred = self._buffers(0)
        return records, model + (self.theta_full,), (self._flat, self._eta_rec, self._P, dP, self._pred, dpred,
                                                      *outputs)

    def evaluate(self, theta, etas, derivs: bool = True, theta_derivs: bool = False):
        if not derivs and not theta_derivs:
            return Evaluation(self.predict_observations(theta, etas), None, None)
        f, D = self.evaluate_directions(theta, etas, derivs, theta_derivs)
        n_e = self.n_eta if derivs else 0
        g = np.ascontiguousarray(D[:, :n_e]) if derivs else None
        dth = np.ascontiguousarray(D[:, n_e:]) if theta_derivs else None
        return Evaluation(f, g, dth)

    def evaluate_directions(self, theta, etas, derivs: bool = True, theta_derivs: bool = False):
        """(f, D): the observations' predictions and, in one (n_obs, n_dir) array, their
        derivatives along the etas (``derivs``) then the structural thetas (``theta_derivs``):
        ``evaluate`` without splitting D (the estimation engine takes its columns as views).

        A theta whose parameter direction equals an eta's on every record (``tcl`` in
        ``cl = exp(tcl + eta_cl)``, mu-referencing) is not sent to the engine: its column is a
        copy of the eta's (the engine's sensitivities are linear in the direction and each
        direction is computed alone, so the copy is bit-identical to what the engine returns).
        When every theta has a twin, the eta derivatives are all the engine computes, so a call
        with theta derivatives at the (theta, etas) of the previous call without them (the
        outer gradient at the inner solve's last point) is answered from that call."""
        if derivs and theta_derivs and self._last is not None:
            hit = self._repeat(theta, etas)
            if hit is not None:
                return hit
        self._last = None
        self.n_calls += 1
        self.theta_full[self.structural] = theta
        eta_rec = self.record_effects(etas)
        n_e = self.n_eta if derivs else 0
        n_th = self.n_theta if theta_derivs else 0
        if n_e + n_th == 0:
            self.predictor.individual_parameters(self.theta_full, eta_rec, out=self._P)
        else:
            self.predictor.parameter_jacobians(self.theta_full, eta_rec, self._P, self._dp_deta, self._dp_dtheta)
        own = self._theta_directions() if derivs else None  # thetas the engine must see (with theta_derivs)
        twinned = own is not None and not own.size  # every theta has a twin
        if not theta_derivs:
            own = None
        n_own = n_th if own is None else len(own)
        n_dir = n_e + n_own
        dP, dpred = self._buffers(n_dir)
        if n_dir:
            self._fill_directions(dP, derivs, theta_derivs, own)
        D = None
        constant = n_dir > 0 and self._ode and self._constant_within_subjects(dP)
        fo = self._first_order() if constant else None
        if fo is not None:
            failure, D = self._first_order_solve(fo, dP)
        elif constant and n_dir > self.compiled.n_p:
            failure, D = self._parameter_space(dP)
        else:
            failure = self.predictor.solve(self._P, dP, self._pred, dpred)
        f = np.take(self._pred.reshape(-1), self._obs_flat)
        if D is None:
            D = np.take(dpred.reshape(-1, n_dir), self._obs_flat, axis=0) if n_dir else np.empty((len(f), 0))
        if own is not None and n_own < n_th:
            D = D[:, self._twin_columns]
        if failure is not None:
            self._mark_failures(failure, f, D, None)
        elif derivs and not theta_derivs and twinned:
            self._last = (np.array(theta, dtype=float), np.array(etas, dtype=float), f.copy(), D.copy())
        return f, D

    def inner_inputs(self, theta):
        """What ``kernels.inner_trial`` needs to do ``evaluate_directions(theta, e, True, False)``
        subject by subject inside the inner solve: (engine entry points, the predictor's
        records, (dpk address, covariates, dose index, model function addresses, p_uses_time,
        linear, ODE options, the full theta vector at ``theta``), (record effects, P, dp_deta,
        dp_dtheta, dP, pred, dpred, status, fail, the twin check's theta and eta columns),
        (observation records, endpoints)), all this problem's own buffers; None where it does
        not apply (ODE models, kappas, an engine threaded outright, no twin check made yet: the
        first call goes through ``evaluate_directions``). The caller counts its calls
        (``count_inner``).

        A timed engine (``parallel=None``: ``AdaptiveThreads``, from 96 subjects) takes it too: a
        trial solves only the subjects still to do, where ``evaluate_directions`` solves every
        subject, and the last trials of an inner solve have one or two (2-cmt closed form, 2000
        subjects: 100 trials, 88 of them for one subject; objective 1.9 -> 0.2 CPU s). Only an
        engine threaded outright (``parallel=True``) keeps ``evaluate_directions``."""
        pr = self.predictor
        if self._ode or self.n_kappa or not self.n_eta or pr.parallel or self._twins is None:
            return None
        if self._inner is None:
            from nlme_lab.kernels.inner_trial import engine_entry_points

            dP, dpred = self._buffers(self.n_eta)
            self._inner = {"engine": engine_entry_points(),
                           "model": (pr._refs["dpk"].address, pr._cov, pr._dose_index, pr._fn_addresses,
                                     pr._p_uses_time, bool(self.compiled.is_linear), pr._opts, self.theta_full),
                           "obs": (self.obs_rec, self.endpoint), "dirs": (dP, dpred), "twins": None}
        st = self._inner
        if st["twins"] is None or st["twins"][0] is not self._twins:
            pick = self._twinned
            dP, dpred = st["dirs"]
            st["twins"] = (self._twins, (self._eta_rec, self._P, self._dp_deta, self._dp_dtheta, dP, self._pred, dpred,
                                         pr._status, pr._fail, np.ascontiguousarray(self.structural[pick]),
                                         np.ascontiguousarray(self._twins[pick])))
        self.theta_full[self.structural] = theta
        self._last = None
        return st["engine"], pr._records, st["model"], st["twins"][1], st["obs"]

    def count_inner(self, n: int, theta=None, etas=None, f=None, D=None) -> None:
        """``n`` evaluations made through ``inner_inputs``; with ``etas``: the last of them was at
        (``theta``, ``etas``) with predictions ``f`` and directions ``D``, kept as
        ``evaluate_directions`` keeps its last call (``_last``) when every theta has a twin."""
        self.n_calls += n
        if n or etas is not None:
            self._last = None
        if etas is not None and self.n_theta and self._twinned.size and not self._own.size:
            self._last = (np.array(theta, dtype=float), np.array(etas, dtype=float), f.copy(), D.copy())

    def evaluate_stencil(self, theta, etas, h: float):
        """(F, D) of ``evaluate_directions(theta, e, True, True)`` at the 1 + 2 n_eta points
        e = ``etas``, then ``etas`` +- h e_m (m = 0, 1, ...: +h first), stacked on a leading axis,
        from one engine call: the subjects are solved B times over as B copies of the dataset
        (subjects are independent in the engine, so each copy gives the numbers its own call
        gives, bit for bit). What the outer gradient asks for (``Objective._second_order``): one
        call instead of 1 + 2 n_eta, whose Python around the engine cost more than the engine on
        theo_sd. None where it does not apply (ODE models, kappas, no thetas) or a subject failed:
        the caller then evaluates the points one by one."""
        out = self._stencil_solve(theta, etas, h)
        if out is None:
            return None
        B, n_dir, own, pred, dpred, idx = out
        F = np.take(pred.reshape(-1), idx).reshape(B, len(self.obs_rec))
        D = np.take(dpred.reshape(-1, n_dir), idx, axis=0).reshape(B, len(self.obs_rec), n_dir)
        if own is not None and n_dir < self.n_eta + self.n_theta:
            D = D[:, :, self._twin_columns]
        return F, D

    def stencil_second_order(self, theta, etas, h: float):
        """(f, df/deta, df/dtheta, d2f/deta2, d2f/deta dtheta) at ``etas`` from
        ``evaluate_stencil``'s engine call, the second derivatives central differences of the
        first at ``etas`` +- h e_m (d2f/deta2 symmetrized), in one compiled pass over the engine's
        outputs (``kernels.outer_batch.stencil_second_order``: the numbers of the takes and
        differences of the (F, D) route); df/deta and df/dtheta are column views of one
        (n_obs, n_eta + n_theta) array laid out as D[0] is there (einsum's summation order, in
        FO's expansion, follows the strides). None where ``evaluate_stencil`` is."""
        out = self._stencil_solve(theta, etas, h)
        if out is None:
            return None
        B, n_dir, own, pred, dpred, idx = out
        n_e, n_obs = self.n_eta, len(self.obs_rec)
        n_all = n_e + self.n_theta
        f = np.empty(n_obs)
        if own is not None and n_dir < n_all:  # laid out as numpy's D[:, :, twin_columns][0]: columns outermost
            cols, D0 = self._twin_columns, np.empty((n_all, B, n_obs))[:, 0, :].T
        else:  # as the take's D[0]: C-contiguous
            cols, D0 = self._identity_columns(n_all), np.empty((n_obs, n_all))
        g_eta, g_raw, g_th = np.empty((n_obs, n_e, n_e)), np.empty((n_obs, n_e, n_e)), np.empty((n_obs, n_e, self.n_theta))
        outer_batch.stencil_second_order(pred.reshape(-1), dpred.reshape(-1, n_dir), idx, cols, n_e, 2 * h, f, D0,
                                         g_eta, g_raw, g_th)
        return f, D0[:, :n_e], D0[:, n_e:], g_eta, g_th

    def _identity_columns(self, n: int) -> np.ndarray:
        key = ("identity", n)
        if key not in self._by_dirs:
            self._by_dirs[key] = np.arange(n, dtype=np.int64)
        return self._by_dirs[key]

    def _stencil_solve(self, theta, etas, h: float):
        """The engine call of ``evaluate_stencil``: (B, number of engine directions, the thetas
        sent (``_theta_directions``), pred, dpred, the observations' index into the raveled
        copies), or None (see there)."""
        if self._ode or self.n_kappa or not self.n_theta or not self.n_eta:
            return None
        n_e, n_rec = self.n_eta, self.n_records
        B = 1 + 2 * n_e
        st = self._stacked(B)
        etas = np.asarray(etas, dtype=np.float64)
        E = np.repeat(etas[None], B, 0)
        m = np.arange(n_e)  # E[1 + 2m, :, m] = etas[:, m] + h, E[2 + 2m, :, m] = etas[:, m] - h for every m
        E[1 + 2 * m, :, m] = (etas + h).T
        E[2 + 2 * m, :, m] = (etas - h).T
        eta_rec = st["eta_rec"]
        np.take(E.reshape(B, -1), self._flat, axis=1, out=eta_rec.reshape(B, n_rec, -1))
        self._last = None
        self.n_calls += 1
        self.theta_full[self.structural] = theta
        pr = self.predictor
        pr._population.compute_dp_at(pr._refs["dpk"].address, st["records"][1], self.theta_full, eta_rec,
                                     st["cov"], st["P"], st["dp_deta"], st["dp_dtheta"], pr._p_uses_time)
        saved = self._dp_deta, self._dp_dtheta
        self._dp_deta, self._dp_dtheta = st["dp_deta"], st["dp_dtheta"]
        try:
            own = self._theta_directions()
        finally:
            self._dp_deta, self._dp_dtheta = saved
        n_own = self.n_theta if own is None else len(own)
        n_dir = n_e + n_own
        dP, pred, dpred = self._stacked_buffers(st, n_dir)
        dP[:, :, :n_e] = st["dp_deta"]
        dP[:, :, n_e:] = st["dp_dtheta"][:, :, self._structural_cols if own is None else self.structural[own]]
        status, fail = st["status"], st["fail"]
        try:
            pr._solve(*st["records"], st["P"], pr._dose_index, pr._fn_addresses, bool(self.compiled.is_linear), dP,
                      pr._opts, pred, dpred, status, fail)
        except ArithmeticError:
            return None
        if np.count_nonzero(status):
            return None
        return B, n_dir, own, pred, dpred, st["obs_flat"]

    def _stacked(self, B: int) -> dict:
        """The records, covariates and buffers of B copies of the dataset (``evaluate_stencil``)."""
        key = ("stacked", B)
        if key not in self._by_dirs:
            pr, cm, n_rec = self.predictor, self.compiled, self.n_records
            offsets, *cols = pr._records
            off = np.concatenate([offsets[:-1] + b * n_rec for b in range(B)] + [[B * n_rec]]).astype(np.int64)
            records = (off, *(np.ascontiguousarray(np.tile(c, B)) for c in cols))
            n_obs_all = n_rec * cm.n_endpoint
            self._by_dirs[key] = {
                "records": records, "cov": np.ascontiguousarray(np.tile(pr._cov, (B, 1))),
                "eta_rec": np.zeros((B * n_rec, cm.n_re)), "P": np.zeros((B * n_rec, cm.n_p)),
                "dp_deta": np.zeros((B * n_rec, cm.n_p, cm.n_re)),
                "dp_dtheta": np.zeros((B * n_rec, cm.n_p, len(self.theta_full))),
                "status": np.zeros(B * self.n_subjects, dtype=np.int64),
                "fail": np.zeros(B * self.n_subjects, dtype=np.int64),
                "obs_flat": (np.arange(B)[:, None] * n_obs_all + self._obs_flat[None]).reshape(-1),
                "dirs": {}}
        return self._by_dirs[key]

    def _stacked_buffers(self, st: dict, n_dir: int):
        if n_dir not in st["dirs"]:
            n_all, cm = st["P"].shape[0], self.compiled
            st["dirs"][n_dir] = (np.zeros((n_all, cm.n_p, n_dir)), np.zeros((n_all, cm.n_endpoint)),
                                 np.zeros((n_all, cm.n_endpoint, n_dir)))
        return st["dirs"][n_dir]

    def _constant_within_subjects(self, dP: np.ndarray) -> bool:
        """Whether every record's ``dP`` equals its subject's first record's."""
        return bool(np.array_equal(dP, dP[self._first_rec]))

    def _parameter_space(self, dP: np.ndarray):
        """Solve with sensitivities along the n_p parameters and contract them with ``dP`` (the
        same on all records of a subject): (failure, directions at the observations (n_obs, n_dir))."""
        if self._along_p is None:
            self._parameter_space_buffers()
        identity, dpred_p = self._along_p
        failure = self.predictor.solve(self._P, identity, self._pred, dpred_p)
        rows, ep = self._obs_endpoint
        return failure, np.einsum("oa,oad->od", dpred_p[rows, ep], dP[rows])

    def second_order(self, theta, etas, step: float = 1e-5):
        """ODE models: (f, df/deta, df/dtheta, d2f/deta2, d2f/deta dtheta) at ``etas`` from one
        solve of the model augmented with its sensitivities along the parameters the etas move
        (``model.codegen.second_order``), or None where that does not apply (see
        ``_augmented``). The second derivatives of f in the parameters come exact from the
        solve; those of the parameters in (eta, theta) (closed form, per record) are central
        differences of their exact Jacobians at eta +- ``step``."""
        aug = self._augmented(theta, etas)
        if aug is None:
            return None
        predictor, along = aug
        n_e, n_th, n_p = self.n_eta, self.n_theta, self.compiled.n_p
        cols, first = self._structural_cols, self._subject_first
        # the parameters' Jacobians per subject (the same on all its records: ``_augmented``)
        dPs = np.concatenate([self._dp_deta[first], self._dp_dtheta[first][:, :, cols]], axis=2)
        # their second derivatives d/deta_m of (dp_deta, dp_dtheta), per subject
        n_d = n_e + n_th
        d2 = np.zeros((len(first), n_p, n_e, n_d))
        eta_rec = self._eta_rec.copy()
        Pw, de, dt = np.empty_like(self._P), np.empty_like(self._dp_deta), np.empty_like(self._dp_dtheta)
        for m in range(n_e):
            h = step * max(1.0, float(np.max(np.abs(eta_rec[:, m]))))
            col = eta_rec[:, m].copy()
            for sign in (1.0, -1.0):
                eta_rec[:, m] = col + sign * h
                self.predictor.parameter_jacobians(self.theta_full, eta_rec, Pw, de, dt)
                if not (np.array_equal(de, de[self._first_rec]) and np.array_equal(dt, dt[self._first_rec])):
                    return None
                d2[:, :, m, :n_e] += sign * de[first]
                d2[:, :, m, n_e:] += sign * dt[first][:, :, cols]
            eta_rec[:, m] = col
            d2[:, :, m, :] /= 2 * h
        self.n_calls += 1
        self._last = None
        rows, ep = self._obs_endpoint
        osub = self.obs_subject
        n_obs = len(rows)
        n_end, k, al = self.compiled.n_endpoint, len(along), list(along)
        pairs = predictor.compiled.pairs
        key = ("aug", id(predictor))
        if key not in self._by_dirs:
            n_rec, n_aug = self.n_records, predictor.compiled.n_endpoint
            if pairs:  # the full model: every derivative is an endpoint, no directions
                self._by_dirs[key] = (np.zeros((n_rec, n_aug)), np.zeros((n_rec, n_aug, 0)),
                                      np.zeros((n_rec, n_p, 0)), _pair_columns(along, n_p, pairs))
            else:
                if self._along_p is None:
                    self._parameter_space_buffers()
                self._by_dirs[key] = (np.zeros((n_rec, n_aug)), np.zeros((n_rec, n_aug, n_p)), self._along_p[0], None)
        pred, dpred, dirs, pair_cols = self._by_dirs[key]
        failure = predictor.solve(self._P, dirs, pred, dpred)
        f = pred[rows, ep]
        if pairs:  # endpoints: f, df/dp_b (n_end + e n_p + b), d2f/dp_a dp_b (n_end (1 + n_p) + e n_pairs + q)
            gp = pred[rows[:, None], n_end + ep[:, None] * n_p + np.arange(n_p)]  # (n_obs, n_p) df/dp
            H = pred[rows[:, None, None], n_end * (1 + n_p) + ep[:, None, None] * len(pairs) + pair_cols]
        else:
            gp = dpred[rows, ep]  # (n_obs, n_p) df/dp
            H = dpred[rows[:, None], n_end + ep[:, None] * k + np.arange(k)]  # (n_obs, k, n_p): rows ``along`` of d2f/dp2
            block = H[:, :, al]
            H[:, :, al] = 0.5 * (block + block.transpose(0, 2, 1))
        dP = dPs[osub]  # (n_obs, n_p, n_d)
        D = (gp[:, None, :] @ dP)[:, 0]
        # sum_ab d2f/dp_a dp_b dp_a/deta_i dp_b/d(direction) + sum_a df/dp_a d2p_a/deta_i d(direction)
        G2 = dPs[:, al, :n_e][osub].transpose(0, 2, 1) @ (H @ dP)
        G2 += (gp[:, None, :] @ d2.reshape(len(first), n_p, n_e * n_d)[osub]).reshape(n_obs, n_e, n_d)
        g_eta = G2[:, :, :n_e]
        g_eta = 0.5 * (g_eta + g_eta.transpose(0, 2, 1))
        g_th = np.ascontiguousarray(G2[:, :, n_e:])
        if failure is not None:
            self._mark_failures(failure, f, D, None)
            bad = np.isnan(f)
            g_eta[bad], g_th[bad] = np.nan, np.nan
        return f, np.ascontiguousarray(D[:, :n_e]), np.ascontiguousarray(D[:, n_e:]), g_eta, g_th

    def _augmented(self, theta, etas):
        """(predictor of the augmented model, the parameters it differentiates twice) when the
        exact second-order route applies at (theta, etas): an ODE model whose doses do not
        depend on the parameters, no occasions, no steady-state records, and parameter
        directions the same on every record of a subject; else None. Fills ``_P``,
        ``_dp_deta``, ``_dp_dtheta``, ``_eta_rec`` at (theta, etas)."""
        if self._aug is False:
            return None
        if self._aug is None:
            from nlme_lab.kernels.steady_state import needs_steady_state
            from nlme_lab.model.codegen.second_order import qualifies

            ok = (self._ode and not self.n_kappa and self.n_eta and self.n_theta and qualifies(self.compiled)
                  and not needs_steady_state(self.bound.dataset.ss))
            self._aug = {} if ok else False
            if not ok:
                return None
        self.theta_full[self.structural] = theta
        eta_rec = self.record_effects(etas)
        self.predictor.parameter_jacobians(self.theta_full, eta_rec, self._P, self._dp_deta, self._dp_dtheta)
        dpe, dpt = self._dp_deta, self._dp_dtheta
        first = self._first_rec
        if not (np.array_equal(dpe, dpe[first]) and np.array_equal(dpt, dpt[first])):
            return None
        along = tuple(int(a) for a in np.flatnonzero(np.any(dpe != 0.0, axis=(0, 2))))
        if not along:
            return None
        if along not in self._aug:
            from nlme_lab.model.codegen.second_order import augmented_model, full_model, full_state_count

            cm = self.compiled
            if full_state_count(cm.n_state, cm.n_p, along) <= MAX_FULL_STATES:
                make = full_model
            elif cm.n_state * (1 + len(along)) <= MAX_AUGMENTED_STATES:
                make = augmented_model
            else:
                return None
            try:
                model = make(self.compiled, along)
            except ValueError:  # a linear system forced onto the ODE solver (solver="ode"): differences
                self._aug = False
                return None
            self._aug[along] = self._derived_predictor(model)
        return self._aug[along], along

    def _derived_predictor(self, model) -> Predictor:
        """A predictor of a model derived from this one (``model.codegen.second_order``) on the same
        data, whose added states ride on the steps the model's own states choose."""
        from types import SimpleNamespace

        from nlme_lab.kernels.ode import with_controlled_states

        bound = SimpleNamespace(model=SimpleNamespace(compiled=model), dataset=self.bound.dataset,
                                cmt_index=self.bound.cmt_index, covariates=self.bound.covariates)
        predictor = Predictor(bound, rtol=self.rtol, atol=self.atol, parallel=self.predictor.requested_parallel)
        predictor._opts = with_controlled_states(predictor._opts, self.compiled.n_state)
        return predictor

    def _first_order(self):
        """The predictor of the first-order sensitivity model (``second_order.first_order_model``:
        dy/dp for every p as states) where it applies (as ``_augmented``, with at most
        ``MAX_FULL_STATES`` states), else None."""
        if self._fo is None:
            self._fo = False
            from nlme_lab.kernels.steady_state import needs_steady_state
            from nlme_lab.model.codegen.second_order import first_order_model, qualifies

            cm = self.compiled
            if (self._ode and not self.n_kappa and qualifies(cm) and not needs_steady_state(self.bound.dataset.ss)
                    and cm.n_state * (1 + cm.n_p) <= MAX_FULL_STATES):
                try:
                    self._fo = self._derived_predictor(first_order_model(cm))
                except ValueError:  # a linear system forced onto the ODE solver
                    pass
        return self._fo or None

    def _first_order_solve(self, predictor, dP: np.ndarray):
        """(failure, directions at the observations) from one solve of the first-order model,
        its df/dp contracted with ``dP`` (the same on all records of a subject); fills ``_pred``."""
        n_p, n_end = self.compiled.n_p, self.compiled.n_endpoint
        key = ("first", n_p)
        if key not in self._by_dirs:
            n_rec, n_aug = self.n_records, predictor.compiled.n_endpoint
            self._by_dirs[key] = (np.zeros((n_rec, n_aug)), np.zeros((n_rec, n_aug, 0)), np.zeros((n_rec, n_p, 0)))
        pred, dpred, dirs = self._by_dirs[key]
        failure = predictor.solve(self._P, dirs, pred, dpred)
        self._pred[:] = pred[:, :n_end]
        rows, ep = self._obs_endpoint
        gp = pred[rows[:, None], n_end + ep[:, None] * n_p + np.arange(n_p)]  # (n_obs, n_p) df/dp
        return failure, np.einsum("oa,oad->od", gp, dP[rows])

    def _parameter_space_buffers(self) -> None:
        n_p, n_rec = self.compiled.n_p, self.n_records
        self._along_p = (np.ascontiguousarray(np.broadcast_to(np.eye(n_p), (n_rec, n_p, n_p))),
                         np.zeros((n_rec, self.compiled.n_endpoint, n_p)))

    def _repeat(self, theta, etas):
        """(f, D with the theta columns) from the previous call when it was at ``theta``,
        ``etas`` and every theta has a twin (``evaluate_directions``); else None."""
        th, et, f, D = self._last
        if (th == theta).all() and et.shape == np.shape(etas) and (et == etas).all():
            return f.copy(), D[:, self._twin_columns]
        return None

    def _theta_directions(self) -> np.ndarray | None:
        """The structural thetas whose parameter direction (``_dp_dtheta``, just computed) is
        not a copy of an eta's; None when every theta is sent (no twins, kappas, or none to
        drop). Which eta a theta copies is found once and checked on every call."""
        if self.n_kappa or not self.n_theta:
            return None
        if self._twins is None:  # first call: find each theta's twin eta (-1: none)
            dth = self._dp_dtheta[:, :, self._structural_cols]
            twins = np.full(self.n_theta, -1, dtype=np.int64)
            for k in range(self.n_theta):
                for j in range(self.n_subject_eta):
                    if np.array_equal(dth[:, :, k], self._dp_deta[:, :, j]):
                        twins[k] = j
                        break
            self._set_twins(twins)
        if not self._twinned.size:
            return None
        if not outer_batch.columns_equal(self._dp_dtheta, self._dp_deta, self._twin_cols_theta, self._twin_cols_eta):
            self._set_twins(np.full(self.n_theta, -1, dtype=np.int64))  # not twins at these values: never again
            return None
        return self._own

    def _set_twins(self, twins: np.ndarray) -> None:
        self._twins = twins
        self._twinned = np.flatnonzero(twins >= 0)
        self._own = np.flatnonzero(twins < 0)
        # the columns compared on every call: slices (views, no copies) when the twins are in order
        self._twin_pick, self._twin_of = _as_slice(self._twinned), _as_slice(twins[self._twinned])
        # the same columns for the compiled check: of the full dp_dtheta, of dp_deta
        self._twin_cols_theta = np.ascontiguousarray(self.structural[self._twinned], dtype=np.int64)
        self._twin_cols_eta = np.ascontiguousarray(twins[self._twinned], dtype=np.int64)
        cols = np.arange(self.n_eta + self.n_theta)
        cols[self.n_eta + self._twinned] = twins[self._twinned]
        cols[self.n_eta + self._own] = self.n_eta + np.arange(len(self._own))
        self._twin_columns = cols  # (n_eta + n_theta) columns of the reduced D, in order

    def _fill_directions(self, dP: np.ndarray, derivs: bool, theta_derivs: bool, own=None) -> None:
        """The engine's directions: the etas' (when ``derivs``), then the structural thetas'
        (``own``: only those thetas)."""
        n_eta = self.n_eta if derivs else 0
        th_cols = self._structural_cols if own is None else self.structural[own]
        if self.n_kappa == 0:  # every direction column is written: no clearing, no fancy indexing
            if derivs:
                dP[:, :, :n_eta] = self._dp_deta
            if theta_derivs:
                dP[:, :, n_eta:] = self._dp_dtheta[:, :, th_cols]
            return
        dP.fill(0.0)
        if derivs and self.n_eta:
            rows = np.arange(self.n_records)[:, None]
            dP[rows, :, self._columns] = self._dp_deta.transpose(0, 2, 1)
        if theta_derivs:
            dP[:, :, n_eta:] = self._dp_dtheta[:, :, th_cols]

    def _mark_failures(self, failure, f, g, dth) -> None:
        if failure.is_data_error:
            raise failure.error()
        self.last_failure = f"{failure.message} (subject {failure.subject}, time {failure.time:g})"
        rows = np.isin(self.obs_subject, failure.subjects)
        for arr in (f, g, dth):
            if arr is not None:
                arr[rows] = np.nan

    # ------------------------------------------------------------------ reporting helpers
    def predict_records(self, theta, etas) -> np.ndarray:
        """Each record's own-endpoint prediction (all records), for PRED/IPRED tables."""
        self.evaluate(theta, etas, derivs=False)
        return self._pred[np.arange(self.n_records), np.asarray(self.bound.endpoint)].copy()

    def predict_endpoints(self, theta, etas) -> np.ndarray:
        """Every endpoint's prediction on every record (n_records, n_endpoint), for prediction
        curves; a failed solution raises its ``SolverError`` (nothing to back off from here)."""
        self.n_calls += 1
        self.theta_full[self.structural] = theta
        self.predictor.individual_parameters(self.theta_full, self.record_effects(etas), out=self._P)
        dP, dpred = self._buffers(0)
        failure = self.predictor.solve(self._P, dP, self._pred, dpred)
        if failure is not None:
            raise failure.error()
        return self._pred.copy()

    def individual_parameters(self, theta, etas) -> np.ndarray:
        """``P`` (n_records, n_p) at the given per-subject etas."""
        self.theta_full[self.structural] = theta
        return self.predictor.individual_parameters(self.theta_full, self.record_effects(etas))


def _pair_columns(along, n_p: int, pairs) -> np.ndarray:
    """(len(along), n_p): the pair index of d2/dp_along[i] dp_b in the full model's ``pairs``
    (each unordered pair stored once)."""
    where = {pair: q for q, pair in enumerate(pairs)}
    cols = np.empty((len(along), n_p), dtype=np.int64)
    for i, a in enumerate(along):
        for b in range(n_p):
            cols[i, b] = where[(a, b)] if (a, b) in where else where[(b, a)]
    return cols


def _as_slice(index: np.ndarray):
    """``index`` as an equivalent slice when it is a run of consecutive integers (indexing by
    it is then a view), else as it is."""
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index
