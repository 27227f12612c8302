"""The trial points of the inner (eta-hat) Newton iteration, compiled end to end.

``estimation.individual.SubjectEngine.solve`` evaluates, at every Armijo trial, the predictions
and eta-sensitivities of every subject (``KernelProblem.evaluate_directions``: parameter
Jacobians, the engine, the gathers of the observations) and the FOCE-type terms there
(``SubjectEngine.terms``: ``subject_terms.gaussian_pieces`` and ``accumulate_terms``), then accepts
or halves per subject (``inner_newton.armijo_accept`` / ``armijo_advance``) and merges the
accepted subjects into its state. On theo_sd the engine is ~50 us of a trial and the Python
around it 150-250 us. Here a whole line search is one call: per trial and per subject still to
do, the same kernels in the same order on that subject's records and observations (subjects are
independent in all of them, so the numbers are those of the batched calls, bit for bit), and the
accepted subjects are written into the caller's state arrays in place. Only the runs of
consecutive subjects still to do are solved (one engine call per run): the Python path solves
every subject at every trial and discards the others.

The rest of a Newton iteration is two more calls (``iteration_status``: the Gauss-Newton
decrement, convergence, the chord Hessians that stopped contracting, which subjects need a
Hessian; ``after_search``: the BFGS update and the blind-step count), so only the iteration's
``np.linalg.solve`` calls stay in numpy (LAPACK's numbers: a compiled solve would not give them
to the bit). ``line_search`` also evaluates the solve's start and the chord Hessian's stencil gradients.
Measured on theo_sd FOCEI (12 subjects, 3 etas; 2 shared cores, one process, the compiled path
on and off in alternate rounds, medians of 12): the inner solves 31.4 -> 20.8 ms CPU per warm
fit, the fit 85.8 -> 71.8 (load 1.0; 84 -> 64 at load 3.5); pheno (59 subjects, whose trials
are mostly engine) solves 17.0 -> 16.4. Cost: ~10 CPU s of compiling on the first FOCEI fit
(``line_search`` 3-4.5, ``_evaluate_range`` ~3; was ~17 when ``_evaluate_range`` was also compiled
for a literal 0 and linked, and re-optimised, into ``_evaluate_runs`` and ``line_search``: both
are now late-bound, ``EVALUATE_RANGE``, ``EVALUATE_RUNS``; fresh machine, theo_sd, load ~1).

What it covers (``individual.SubjectEngine._fused``): closed-form or ODE-free ``KernelProblem``
models without occasions (kappas), uncensored Gaussian data on the natural scale (no log
transform), FOCEI (the variance basis is the prediction), an engine not threaded outright (serial, or
timed by ``AdaptiveThreads``: the trials here are serial either way), at most
``inner_newton.MAX_ETA`` etas. Everything else keeps the Python path.

The engine is reached through the addresses of ``population.compute_dp_at`` and
``population._solve_range_at`` (``engine_entry_points``): this module links no engine code.
A subject whose solution fails (any nonzero status: a failed or declined solution, or an
arithmetic exception inside the engine, which leaves the status at the ``NOT_LOADED`` it is set to
before the call), or whose theta directions stop being copies of its eta directions
(``KernelProblem._theta_directions``), stops the search before that trial is used: the caller
evaluates that trial in Python (which reports or handles the failure as always) and goes on.

Observations of subject s are ``starts[s]:starts[s] + counts[s]``; records
``offsets[s]:offsets[s + 1]``.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402

from .abi import COMPUTE_DP_SIG, NOT_LOADED, SOLVE_RANGE_SIG  # noqa: E402
from .abi import caster as _caster  # noqa: E402
from .jit import LateBound  # noqa: E402
from .inner_newton import armijo_accept, armijo_advance, armijo_start, count_blind, newton_status, secant_update  # noqa: E402,E501
from .subject_terms import ACCUMULATE_TERMS, GAUSSIAN_PIECES  # noqa: E402

#: the engine entry points called by address (``engine_entry_points``)
ComputeDpAtFn = types.FunctionType(types.void(types.int64, *COMPUTE_DP_SIG.args[1:]))
SolveRangeFn = types.FunctionType(SOLVE_RANGE_SIG)
_as_compute_dp, _as_solve_range = _caster(ComputeDpAtFn), _caster(SolveRangeFn)

#: numba options of the kernels called from Python (no C wrapper: nothing calls them by address)
#: and of those only compiled code calls (no Python wrapper either: it would unbox the tuples of
#: ~35 arrays they take, ~1 CPU s of compiling each). None allocates: no reference counting
#: (``_nrt``, as ``jit.engine_jit``; the increfs and decrefs of the ~50 arrays they unpack from their
#: tuples cost ~1 CPU s of compiling in ``line_search`` and in ``_evaluate_range`` each)
_OPTS = {"cache": True, "no_cfunc_wrapper": True, "error_model": "numpy", "_nrt": False}
_INNER = {**_OPTS, "no_cpython_wrapper": True}

#: ``line_search``'s codes: done (no subject left or the trial budget used), or stopped before a
#: trial whose evaluation the caller must do in Python
DONE, FAILED = 0, 1
#: ``line_search``'s modes
SEARCH, EVALUATE, STENCIL = 0, 1, 2


def _arrays(*specs):
    return types.Tuple(tuple(types.Array(dt, nd, "C") for dt, nd in specs))


_f, _i, _b = types.float64, types.int64, types.boolean
#: the types of ``_evaluate_range``'s arguments after its subject range (``SubjectEngine._fused``;
#: ``KernelProblem.inner_inputs``): engine, records, model, bufs, obs, err, E3, trial
ARG_TYPES = (types.UniTuple(_i, 2), _arrays((_i, 1), (_f, 1), (_i, 1), (_f, 1), (_i, 1), (_f, 1), (_f, 1), (_i, 1), (_i, 1)),
             types.Tuple((_i, types.Array(_f, 2, "C"), types.Array(_i, 2, "C"), types.Array(_i, 1, "C"), _b, _b,
                          types.Array(_f, 1, "C"), types.Array(_f, 1, "C"))),
             _arrays((_f, 2), (_f, 2), (_f, 3), (_f, 3), (_f, 3), (_f, 2), (_f, 3), (_i, 1), (_i, 1), (_i, 1), (_i, 1)),
             _arrays((_i, 1), (_i, 1), (_i, 1), (_i, 1)),
             _arrays((_f, 1), (_i, 1), (_i, 1), (_b, 1), (_f, 2), (_f, 3), (_f, 2)),
             types.Array(_f, 3, "C"),
             _arrays((_f, 2), (_f, 3), *((_f, 2),) * 7, (_f, 3), (_f, 4), (_f, 2)))
#: ``_evaluate_range`` and ``_evaluate_runs``, late-bound (``jit.LateBound``): each compiled once,
#: on its own, and called through ``LateBound.call``, instead of linked (and re-optimised) into each
#: caller (``engine_entry_points`` binds them before any kernel here runs)
EVALUATE_RANGE = LateBound("nlme_lab_inner_trial_evaluate_range", types.boolean(_i, _i, *ARG_TYPES))
EVALUATE_RUNS = LateBound("nlme_lab_inner_trial_evaluate_runs", types.boolean(types.Array(_b, 1, "C"), *ARG_TYPES))

_f1, _f2, _f3 = (types.Array(_f, n, "C") for n in (1, 2, 3))
_b1, _i1 = types.Array(_b, 1, "C"), types.Array(_i, 1, "C")
#: ``state`` (etas, inner, ...) and ``before`` / ``sy`` (pairs of matrices) of the kernels below
_STATE = types.Tuple((_f2, _f1, _f2, _f1, _f1, _f1, _f2, _f3, _f1, _f1))
_PAIR = types.UniTuple(_f2, 2)
#: the argument types ``SubjectEngine`` calls them with (``compile_kernels``; a test checks that a
#: fit adds no other signature)
LINE_SEARCH_ARGS = (_i, *ARG_TYPES, _STATE, _f2, _f1, _b1, _b, _PAIR, _b1, _f1, _f1, _b1, _b1, _b1, _f, _i, _i1, _f3, _f3)
ITERATION_STATUS_ARGS = (_f2, _f2, _f, _b1, _f1, _b1, _b1, _b1, _b, _f1, _b, _b1, _f, _f)
AFTER_SEARCH_ARGS = (_STATE, _PAIR, _f3, _b1, _b, _f, _b1, _b1, _b1, _i1, _i, _b1, _b1, _PAIR)


def engine_entry_points() -> tuple[int, int]:
    """(address of ``compute_dp_at``, of ``_solve_range_at``): compiles or loads them (and binds
    ``EVALUATE_RANGE`` and ``EVALUATE_RUNS``)."""
    from numba.experimental.function_type import _get_wrapper_address

    from . import population

    addresses = (_get_wrapper_address(population.compute_dp_at, ComputeDpAtFn.signature),
                 _get_wrapper_address(population._solve_range_at, SolveRangeFn.signature))
    compile_kernels()
    return addresses


def compile_kernels() -> None:
    """Compile (or load) this module's kernels for the one signature each that
    ``SubjectEngine`` calls them with, and bind ``EVALUATE_RANGE`` and ``EVALUATE_RUNS``. Nothing
    of the engine is compiled (it is reached by address): ``problem.background_compile`` runs
    this while another process compiles the engine."""
    for ref, dispatcher in ((EVALUATE_RANGE, _evaluate_range), (EVALUATE_RUNS, _evaluate_runs)):
        if not ref.bound:
            ref.bind(dispatcher)
    for dispatcher, args in ((line_search, LINE_SEARCH_ARGS), (iteration_status, ITERATION_STATUS_ARGS),
                             (after_search, AFTER_SEARCH_ARGS)):
        if args not in dispatcher.signatures:
            dispatcher.compile(args)


_gaussian_pieces, _accumulate_terms = GAUSSIAN_PIECES.call, ACCUMULATE_TERMS.call  # late-bound


@njit(**_INNER)
def _evaluate_range(s0, s1, engine, records, model, bufs, obs, err, E3, trial):
    """Subjects ``s0:s1`` at the etas ``E3[0, s0:s1]``: predictions and eta-sensitivities at
    their observations (``evaluate_directions``) and their terms (``_gaussian_terms``) into the
    rows of ``trial``; False if a solution failed or the twin check did not hold."""
    dp_addr, solve_addr = engine
    offsets, time, evid, amt, cmt, rate, ii, addl, ss = records
    dpk, cov, dose_index, fn, uses_time, linear, opts, theta_full = model
    eta_rec, P, dp_deta, dp_dtheta, dP, pred, dpred, status, fail, twin_theta, twin_eta = bufs
    obs_rec, endpoint, starts, counts = obs
    y, add, prop, log_scale, sd, omega_inv, zeros = err
    f, g, l, l_f, l_V, m00, m11, dv_dfv, inner, grad, A, logdet = trial
    r0, r1 = offsets[s0], offsets[s1]
    n_re = eta_rec.shape[1]
    for s in range(s0, s1):
        for r in range(offsets[s], offsets[s + 1]):
            for j in range(n_re):
                eta_rec[r, j] = E3[0, s, j]
    _as_compute_dp(dp_addr)(dpk, time[r0:r1], theta_full, eta_rec[r0:r1], cov[r0:r1], P[r0:r1], dp_deta[r0:r1],
                            dp_dtheta[r0:r1], uses_time)
    n_p, n_dir = dP.shape[1], dP.shape[2]
    for r in range(r0, r1):
        for a in range(n_p):
            for j in range(n_dir):
                dP[r, a, j] = dp_deta[r, a, j]
    for s in range(s0, s1):
        status[s] = NOT_LOADED  # stays so if the engine raises (its C wrapper swallows the exception)
    _as_solve_range(solve_addr)(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn,
                                linear, dP, opts, pred, dpred, status, fail)
    for s in range(s0, s1):
        if status[s] != 0:
            return False
    for k in range(twin_theta.shape[0]):
        tc, ec = twin_theta[k], twin_eta[k]
        for r in range(r0, r1):
            for a in range(n_p):
                if not dp_dtheta[r, a, tc] == dp_deta[r, a, ec]:
                    return False
    o0, o1 = starts[s0], starts[s1 - 1] + counts[s1 - 1]
    for o in range(o0, o1):
        r, e = obs_rec[o], endpoint[o]
        f[0, o] = pred[r, e]
        for j in range(n_dir):
            g[0, o, j] = dpred[r, e, j]
    fs = f[:, o0:o1]
    _gaussian_pieces(fs, fs, y[o0:o1], add[o0:o1], prop[o0:o1], log_scale[o0:o1], sd, l[:, o0:o1], l_f[:, o0:o1],
                     l_V[:, o0:o1], m00[:, o0:o1], m11[:, o0:o1], dv_dfv[:, o0:o1])
    _accumulate_terms(l, l_f, l_V, m00, zeros, m11, dv_dfv, g, g, True, E3[:, s0:s1], omega_inv, starts[s0:s1],
                      counts[s0:s1], inner[:, s0:s1], grad[:, s0:s1], A[:, s0:s1], logdet[:, s0:s1])
    return True


@njit(**_INNER)
def _evaluate_runs(sel, engine, records, model, bufs, obs, err, E3, trial):
    """``_evaluate_range`` on each run of consecutive subjects with ``sel`` (one engine call per
    run); False if one failed."""
    n_sub = sel.shape[0]
    s0 = n_sub - n_sub  # not the literal 0: typing would compile ``_evaluate_range`` for Literal[int](0) too
    while s0 < n_sub:
        if not sel[s0]:
            s0 += 1
            continue
        s1 = s0 + 1
        while s1 < n_sub and sel[s1]:
            s1 += 1
        if not _evaluate_range_call(s0, s1, engine, records, model, bufs, obs, err, E3, trial):
            return False
        s0 = s1
    return True


_evaluate_range_call, _evaluate_runs_call = EVALUATE_RANGE.call, EVALUATE_RUNS.call


@njit(**_INNER)
def _commit(s, E3, trial, state, starts, counts, logdet_omega):
    """Subject ``s``'s trial (etas, predictions, terms) into the state arrays."""
    f, g, l, l_f, l_V, m00, m11, dv_dfv, inner, grad, A, logdet = trial
    etas, f_s, g_s, l_f_s, l_fv_s, inner_s, grad_s, A_s, logdet_s, ofv_s = state
    n_e = etas.shape[1]
    for j in range(n_e):
        etas[s, j] = E3[0, s, j]
        grad_s[s, j] = grad[0, s, j]
        for k in range(n_e):
            A_s[s, j, k] = A[0, s, j, k]
    for o in range(starts[s], starts[s] + counts[s]):
        f_s[o] = f[0, o]
        for j in range(n_e):
            g_s[o, j] = g[0, o, j]
        l_f_s[o] = l_f[0, o]
        l_fv_s[o] = l_V[0, o] * dv_dfv[0, o]
    inner_s[s] = inner[0, s]
    logdet_s[s] = logdet[0, s]
    ofv_s[s] = inner[0, s] + logdet_omega + logdet[0, s]


@njit(**_OPTS)
def line_search(mode, engine, records, model, bufs, obs, err, E3, trial, state, step, slope, active, start, before,
                todo, t, noise, stalled, damped, ok, logdet_omega, max_trials, out, pts, G):
    """``mode`` ``SEARCH``: the line search below; ``EVALUATE``: every subject at the etas
    ``E3[0]`` into ``state`` (the solve's start), ``out[1]`` ``FAILED`` (nothing written) if
    some subject failed; ``STENCIL``: the exact eta-gradient of the subjects ``active`` at each
    of the B points ``pts`` (B, n_sub, n_eta) into their rows of ``G`` (``SubjectEngine._stacked_grad``,
    point by point; the other rows untouched), ``FAILED`` if a solution failed. (One kernel for the three: each kernel compiled
    from Python costs its own compile.)

    ``SEARCH``: up to ``max_trials`` trials of ``SubjectEngine._line_search_compiled`` (its ``t``,
    ``noise``, ``stalled``, ``todo``, ``damped``, ``ok`` carried in and out; ``start``: set
    them up from ``active`` first (``armijo_start``) and keep the state's etas and gradient in
    ``before``), the trial point of subject s ``etas[s] + t[s] step[s]`` (``E3[0]``, every
    subject), the accepted subjects written into ``state``. ``out`` = (trials done, ``DONE``
    or ``FAILED``, subjects left): on ``FAILED`` the next trial's point is in ``E3`` and
    nothing of it is used."""
    starts, counts = obs[2], obs[3]
    etas = state[0]
    inner, grad = state[5], state[6]
    inner_t, grad_t = trial[8], trial[9]
    n_sub, n_e = etas.shape
    if mode != SEARCH:
        n_b = pts.shape[0] if mode == STENCIL else 1
        out[0], out[1], out[2] = 0, FAILED, 0
        for b in range(n_b):
            if mode == STENCIL:
                for s in range(n_sub):
                    for j in range(n_e):
                        E3[0, s, j] = pts[b, s, j]
            if mode == STENCIL:  # the subjects in ``active``
                if not _evaluate_runs_call(active, engine, records, model, bufs, obs, err, E3, trial):
                    return
            # every subject: one run (``_evaluate_runs`` on all True, without allocating the mask)
            elif n_sub > 0 and not _evaluate_range_call(0, n_sub, engine, records, model, bufs, obs, err, E3, trial):
                return
            if mode == STENCIL:
                for s in range(n_sub):
                    if active[s]:
                        for j in range(n_e):
                            G[b, s, j] = grad_t[0, s, j]
        if mode == EVALUATE:
            for s in range(n_sub):
                _commit(s, E3, trial, state, starts, counts, logdet_omega)
        out[0], out[1] = n_b, DONE
        return
    left = False
    for s in range(n_sub):
        left = left or todo[s]
    if start:
        before_etas, before_grad = before
        for s in range(n_sub):
            todo[s] = active[s]
            damped[s] = False
            for j in range(n_e):
                before_etas[s, j] = etas[s, j]
                before_grad[s, j] = grad[s, j]
        left = armijo_start(active, slope, inner, t, noise, stalled)
    n_done = 0
    while n_done < max_trials and left:
        for s in range(n_sub):
            for j in range(n_e):
                E3[0, s, j] = etas[s, j] + t[s] * step[s, j]
        if not _evaluate_runs_call(todo, engine, records, model, bufs, obs, err, E3, trial):
            out[0], out[1], out[2] = n_done, FAILED, 1
            return
        n_ok = armijo_accept(todo, stalled, t, slope, noise, inner, inner_t[0], grad_t[0], ok)
        if n_ok:
            for s in range(n_sub):
                if ok[s]:
                    _commit(s, E3, trial, state, starts, counts, logdet_omega)
        left = armijo_advance(todo, ok, t, damped, slope, noise, stalled)
        n_done += 1
    out[0], out[1], out[2] = n_done, DONE, 1 if left else 0


@njit(**_OPTS)
def iteration_status(grad, gn_step, tol, stuck, dec, converged, active, use, has_exact, dec_prev, has_prev, need,
                     gn_slow, gn_near):
    """The start of a Newton iteration of ``SubjectEngine.solve`` after its Gauss-Newton
    step: ``newton_status``; with a Hessian in use (``has_exact``) and a previous decrement,
    the subjects whose chord does not contract (dec > 0.1 dec_prev) leave ``use``; ``need``
    = active subjects without a Hessian in use. Returns (any active, any need, the largest
    decrement of ``need`` (NaN propagates, as ``np.max``), whether the Gauss-Newton steps of
    ``need`` are slow (``_slow_gauss_newton``))."""
    if not newton_status(grad, gn_step, tol, stuck, dec, converged, active):
        return False, False, 0.0, False
    n = dec.shape[0]
    if has_exact and has_prev:
        for s in range(n):
            if active[s] and use[s] and dec[s] > 0.1 * dec_prev[s] and dec[s] > 1e-20:
                use[s] = False
    any_need, big, slow = False, 0.0, False
    for s in range(n):
        nd = active[s] and not (has_exact and use[s])
        need[s] = nd
        if nd:
            d = dec[s]
            if not any_need:
                big = d
            elif not np.isnan(big) and (np.isnan(d) or d > big):
                big = d
            any_need = True
            if has_prev and d > gn_slow * dec_prev[s] and d > 1e-20:
                slow = True
    slow = slow and has_prev and big < gn_near
    return True, any_need, big, slow


@njit(**_OPTS)
def after_search(state, before, H, use, has_exact, min_step, failed, stalled, damped, blind, blind_steps, stuck,
                 rounded, sy):
    """The end of a Newton iteration of ``SubjectEngine.solve``: with a Hessian in use, its
    BFGS update (``secant_update``) with each subject's move and gradient change since
    ``before``, then ``count_blind``, then the damped subjects leave ``use``."""
    etas, grad = state[0], state[6]
    before_etas, before_grad = before
    s_, y_ = sy
    n_sub, n_e = etas.shape
    if has_exact:
        for s in range(n_sub):
            for j in range(n_e):
                s_[s, j] = etas[s, j] - before_etas[s, j]
                y_[s, j] = grad[s, j] - before_grad[s, j]
        secant_update(H, use, s_, y_, min_step)
    count_blind(stalled, failed, blind, blind_steps, stuck, rounded)
    if has_exact:
        for s in range(n_sub):
            use[s] = use[s] and not damped[s]

