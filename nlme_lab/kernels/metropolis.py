"""Compiled Metropolis-Hastings pieces of the SAEM E-step (numba, cached on disk).

* ``gaussian_terms``, ``subject_sums``, ``mh_accept`` (and ``mh_accept_gaussian``, the first
  and last in one call): the per-observation Gaussian -2LL, per-subject sums and the
  accept/reject of one kernel pass over B eta sets at once (chains, or importance draws).
  ``tests/estimation/test_saem.py`` checks them against their NumPy formulation.
* ``prior_proposals``: ``z @ chol.T`` per (set, subject), the prior kernel's proposal (one
  formula for both sweep paths, so they agree to the bit).
* ``importance_weights``: the log importance weights of one batch of draws (``estimation.
  importance``), engine included, the same way.
* ``mh_sweep``: one whole sweep of the three kernels (prior, random walk on all components,
  random walk on each single component) in one call, engine included. Why: a pass of theo_sd
  (60 subject-chains) is ~50 us of engine work, and the Python around it (drawing, proposing,
  the prediction call, the take of observations, the accept) cost as much again, ten passes
  per iteration. The engine is called through the addresses of its compiled entry points
  (``population.compute_p_at`` and ``_solve_range_at``) as first-class functions: this
  module links no engine code, so it compiles in seconds; it is listed in
  ``cache_guard.ENGINE_MODULES`` because it is compiled against the engine's signatures (an
  engine change recompiles it too). Random numbers come from the caller's
  ``numpy.random.Generator`` in the order of the Python sweep (``saem.sampler.Sampler``),
  which numba draws bit-identically, so both paths give the same numbers.
* Threads: a pass draws its random numbers first, then predicts and accepts in contiguous
  chunks of (set, subject) pairs, one per thread (``_pass_threaded``, one parallel kernel for
  both callers; numba's static schedule gives each thread one range anyway). Chunks share
  nothing, so serial and threaded runs give the same bits, and the record effects, ``pk`` and
  accept scale with the solve.
* Cold start: the chunk kernels (``_predict_chunk``, ``_accept_chunk``, ``_weights_chunk``,
  ``_chunk_at``) and ``_pass_threaded`` are late-bound (``jit.LateBound``, bound by
  ``engine_entry_points`` for the kernel and path that needs them): each compiles once, on its
  own, instead of being re-optimised into every caller. A pass hands its arrays to them by one
  stack address (``_stash``) and calls them directly (``LateBound.call``). With the other
  measures noted where they are taken (no wrappers that nothing calls, no slice assignments or
  reshapes, one specialisation per kernel), the SAEM step of a cold theo_sd fit after a FOCEI
  fit compiles in ~10 CPU s instead of ~48 (``benchmarks/bench_compile_simulate.py --fresh-only
  --compiles``, load ~2).
* The full event engine is not bound first: the engine entry point leaves the subjects the
  fast path declines ``NOT_LOADED`` until it is (``population``), and a pass that meets one
  stops the kernel (``ENGINE_NOT_BOUND``); the caller binds the engine and calls again from the
  state it kept (``saem.sampler.CompiledSweep``, ``estimation.importance``).

Observations of subject s are ``starts[s]:starts[s] + counts[s]`` (problems keep them sorted by
subject).
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import math  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, prange, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.core.imputils import impl_ret_borrowed  # noqa: E402
from numba.extending import intrinsic  # noqa: E402
from numba.np.arrayobj import make_array, populate_array  # noqa: E402

from .abi import COMPUTE_P_SIG, SOLVE_AT_SIG, arr3, mat, vec  # noqa: E402
from .abi import caster as _caster  # noqa: E402
from .error_model import gaussian_term, observation_variance  # noqa: E402
from .events import BAD_RECORD, NOT_LOADED, i64m, i64v  # noqa: E402
from .jit import LateBound  # noqa: E402

#: numba options of the kernels called from Python (no C wrapper: nothing calls them by address
#: through one) and of those only compiled code calls (no Python wrapper either: it unboxes the
#: tuples of ~35 arrays the passes take, ~1 CPU s to compile for each kernel)
_OUTER = {"cache": True, "no_cfunc_wrapper": True}
_INNER = {"cache": True, "no_cfunc_wrapper": True, "no_cpython_wrapper": True}

#: chunks of the threaded passes per thread (numba's static schedule: one contiguous range each)
CHUNKS_PER_THREAD = 1

#: the engine entry points the sweep calls by address (``engine_entry_points``)
ComputePAtFn = types.FunctionType(types.void(types.int64, *COMPUTE_P_SIG.args[1:]))
SolveRangeFn = types.FunctionType(types.void(types.int64, types.int64, *SOLVE_AT_SIG.args))
_as_compute_p, _as_solve_range = _caster(ComputePAtFn), _caster(SolveRangeFn)


@njit(**_OUTER, error_model="numpy")
def gaussian_terms(f, y, add, prop, log_scale, sd, out):
    """``out[b, o] = log V + (y - f)^2 / V`` with ``V = sd[add]^2 + sd[prop]^2 f^2`` (the
    proportional part on the natural scale only; index -1: term absent; ``error_model``), +inf
    where V is not positive. ``f`` (B, n_obs)."""
    n_b, n_obs = f.shape
    V_last, log_last = -1.0, 0.0  # an additive error has one V: its log is taken once
    for b in range(n_b):
        for o in range(n_obs):
            V, _ = observation_variance(sd, add[o], prop[o], log_scale[o], f[b, o])
            r = y[o] - f[b, o]
            if V != V_last:
                V_last, log_last = V, math.log(V) if V > 0.0 else 0.0
            out[b, o] = gaussian_term(log_last, r, V) if V > 0.0 else np.inf


@njit(**_OUTER)
def subject_sums(lobs, starts, counts, out):
    """``out[b, s]`` = sum of ``lobs[b]`` over subject s's observations; +inf if not finite."""
    n_b = lobs.shape[0]
    n_sub = starts.shape[0]
    for b in range(n_b):
        for s in range(n_sub):
            acc = 0.0
            for o in range(starts[s], starts[s] + counts[s]):
                acc += lobs[b, o]
            out[b, s] = acc if np.isfinite(acc) else np.inf


@njit(**_INNER)
def _quad(x, omega_inv):
    n = x.shape[0]
    acc = 0.0
    for i in range(n):
        row = 0.0
        for j in range(n):
            row += omega_inv[i, j] * x[j]
        acc += x[i] * row
    return acc


@njit(**_OUTER, error_model="numpy")
def mh_accept_gaussian(f_new, y, add, prop_sd, log_scale, sd, starts, counts, prop, log_u, omega_inv,
                       prior_ratio, etas, l, f):
    """``gaussian_terms`` then ``mh_accept`` in one call (uncensored data): the terms of one
    (set, subject) are summed as they are computed, in the same order, so the numbers are
    those of the two calls (the compiled sweep's accept, ``_accept_chunk``, on one chunk)."""
    acc = np.zeros(1, np.int64)
    _accept_chunk(0, 1, (y, add, prop_sd, log_scale, sd, starts, counts),
                  (log_u, omega_inv, prior_ratio, etas, l, f, acc), prop, f_new)
    return acc[0]


@njit(**_INNER)
def _mh_rule(b, s, ln, o0, o1, prop, f_new, log_u, omega_inv, prior_ratio, etas, l, f):
    """The accept/reject of (set b, subject s) with the proposal's -2LL ``ln`` (``mh_accept``);
    1 if accepted (the proposal then replaces etas, l and the subject's predictions)."""
    if not np.isfinite(ln):
        return 0
    log_r = -0.5 * (ln - l[b, s])
    if prior_ratio:
        log_r -= 0.5 * (_quad(prop[b, s], omega_inv) - _quad(etas[b, s], omega_inv))
    if not log_u[b, s] < log_r:
        return 0
    for i in range(etas.shape[2]):  # a loop, not a slice assignment (``mh_sweep``)
        etas[b, s, i] = prop[b, s, i]
    l[b, s] = ln
    for o in range(o0, o1):
        f[b, o] = f_new[b, o]
    return 1


@njit(**_OUTER)
def mh_accept(lobs_new, starts, counts, prop, f_new, log_u, omega_inv, prior_ratio, etas, l, f):
    """One Metropolis-Hastings accept/reject for every (set, subject), in place.

    ``l_new = sum_o lobs_new`` per subject; ``log r = -(l_new - l) / 2`` minus, for a random
    walk (``prior_ratio``), ``(prop' Om^-1 prop - eta' Om^-1 eta) / 2`` (an independence
    proposal from the prior has the prior cancel). Accepted where ``log_u < log r`` and l_new
    is finite: ``etas``, ``l`` and the subject's rows of ``f`` take the proposal. Returns the
    number of accepted (set, subject) pairs.
    """
    n_b, n_sub, _ = etas.shape
    n_acc = 0
    for b in range(n_b):
        for s in range(n_sub):
            o0, o1 = starts[s], starts[s] + counts[s]
            ln = 0.0
            for o in range(o0, o1):
                ln += lobs_new[b, o]
            n_acc += _mh_rule(b, s, ln, o0, o1, prop, f_new, log_u, omega_inv, prior_ratio, etas, l, f)
    return n_acc


@njit(**_OUTER)
def prior_proposals(z, chol, out):
    """``out[b, s] = chol @ z[b, s]`` (the prior kernel's eta' ~ N(0, chol chol'))."""
    n_b, n_sub, n_eta = z.shape
    for b in range(n_b):
        for s in range(n_sub):
            for i in range(n_eta):
                acc = 0.0
                for j in range(i + 1):
                    acc += chol[i, j] * z[b, s, j]
                out[b, s, i] = acc


# ------------------------------------------------------------------- the passes, late-bound
# The chunk kernels below (predict, accept, importance weights) and the threaded passes are
# reached through late-bound cells (``jit.LateBound``): each is compiled once, on its own, and
# only when a kernel that needs it is first prepared (``engine_entry_points``). Linked, numba
# re-optimised ``_predict_chunk`` into each of the four passes and again into ``mh_sweep`` and
# ``importance_weights``, and compiled every chunk kernel twice (``c`` int64 from the serial
# loop, uint64 from ``prange``): the SAEM step of a cold theo_sd fit spent ~48 CPU s compiling.
# The serial pass is a loop over the chunks inside ``mh_sweep`` / ``importance_weights``.

ENGINE_T = types.Tuple((types.int64, types.int64, types.int64, types.boolean))
RECORDS_T = types.Tuple(SOLVE_AT_SIG.args[:9])
MODEL_T = types.Tuple((types.int64, mat, i64m, i64v, types.boolean, types.boolean, vec, vec))
BUFFERS_T = types.Tuple((i64m, mat, mat, arr3, mat, arr3, i64v, i64v))
OBS_T = types.Tuple((i64v, types.boolean[::1], types.boolean, i64v, i64v))
LIK_T = types.Tuple((vec, i64v, i64v, types.boolean[::1], vec, i64v, i64v))
_i64, _f64, _bool = types.int64, types.float64, types.boolean

PREDICT_SIG = types.void(_i64, arr3, ENGINE_T, RECORDS_T, MODEL_T, BUFFERS_T, OBS_T, mat, i64m)
#: the arguments of an MH pass's accept (log_u, omega_inv, prior_ratio, etas, l, f, acc_out)
ACCEPT_T = types.Tuple((mat, mat, _bool, arr3, mat, mat, i64v))
#: the arguments of the importance weights (m, z, scale, omega_inv, const, df, w)
WEIGHTS_T = types.Tuple((_i64, arr3, mat, mat, vec, _f64, mat))
ACCEPT_SIG = types.void(_i64, _i64, LIK_T, ACCEPT_T, arr3, mat)
WEIGHTS_SIG = types.void(_i64, _i64, LIK_T, WEIGHTS_T, arr3, mat)
#: everything one chunk of a pass reads and writes (``_chunk_at``): eta, engine, records, model,
#: buffers, obs, lik, f_new, fails, accept, weights
PASS_ARGS_T = types.Tuple((arr3, ENGINE_T, RECORDS_T, MODEL_T, BUFFERS_T, OBS_T, LIK_T, mat, i64m, ACCEPT_T, WEIGHTS_T))
#: (chunk or number of chunks, address of a ``PASS_ARGS_T`` on the caller's stack (``_stash``),
#: the MH pass's ``prior_ratio``: the one argument that changes between the passes of a sweep)
CHUNK_SIG = types.void(_i64, _i64, _bool)
PASS_SIG = types.void(_i64, _i64, _bool)

PREDICT = LateBound("nlme_lab_metropolis_predict_chunk", PREDICT_SIG)
ACCEPT = LateBound("nlme_lab_metropolis_accept_chunk", ACCEPT_SIG)
WEIGHTS = LateBound("nlme_lab_metropolis_weights_chunk", WEIGHTS_SIG)
CHUNK = LateBound("nlme_lab_metropolis_chunk_at", CHUNK_SIG)
PASS = LateBound("nlme_lab_metropolis_pass_threaded", PASS_SIG)
#: called through ``LateBound.call``: each is bound before a kernel that calls it runs
#: (``engine_entry_points``)
_predict, _accept, _weights = PREDICT.call, ACCEPT.call, WEIGHTS.call
_chunk, _pass = CHUNK.call, PASS.call


@intrinsic
def _stash(typingctx, args):
    """The address of a copy of ``args`` (a ``PASS_ARGS_T``) on the caller's stack, valid while the
    caller runs: how a pass hands its ~50 arrays to ``_pass_threaded`` and ``_chunk_at`` as one
    int64. A parallel loop passes every array its body uses to each thread's function as an
    argument of its own: with the tuples themselves in the body, ``_pass_threaded`` took ~2.5 CPU
    s to compile, with one int64 ~0.4 s. The copy holds a reference to each array (numba may
    release the caller's temporaries after their last use it sees, this call) until
    ``_release(address)``, which the caller calls after the pass; ``_unstash`` borrows them."""
    if args != PASS_ARGS_T:
        return None

    def codegen(context, builder, signature, llargs):
        context.nrt.incref(builder, PASS_ARGS_T, llargs[0])
        slot = cgutils.alloca_once_value(builder, llargs[0])
        return builder.ptrtoint(slot, context.get_value_type(types.int64))

    return types.int64(args), codegen


@intrinsic
def _release(typingctx, address):
    """Drop the references that ``_stash`` took for the copy at ``address``."""
    if address != types.int64:
        return None

    def codegen(context, builder, signature, llargs):
        ptr = builder.inttoptr(llargs[0], context.get_value_type(PASS_ARGS_T).as_pointer())
        context.nrt.decref(builder, PASS_ARGS_T, builder.load(ptr))
        return context.get_dummy_value()

    return types.none(types.int64), codegen


@intrinsic
def _unstash(typingctx, address):
    """The ``PASS_ARGS_T`` that ``_stash`` put at ``address`` (its arrays borrowed)."""
    if address != types.int64:
        return None

    def codegen(context, builder, signature, llargs):
        ptr = builder.inttoptr(llargs[0], context.get_value_type(PASS_ARGS_T).as_pointer())
        return impl_ret_borrowed(context, builder, PASS_ARGS_T, builder.load(ptr))

    return PASS_ARGS_T(types.int64), codegen


@intrinsic
def _flat(typingctx, a):
    """``a.reshape(-1)`` of a C-contiguous array: the same view (data, owner), built directly
    (numba's reshape compiles its shape checks and error path: ~0.3 CPU s on a cold start)."""
    if not isinstance(a, types.Array) or a.layout != "C":
        return None
    flat = a.copy(ndim=1, layout="C")

    def codegen(context, builder, signature, args):
        src = make_array(signature.args[0])(context, builder, args[0])
        out = make_array(signature.return_type)(context, builder)
        populate_array(out, data=src.data, shape=cgutils.pack_array(builder, [src.nitems]),
                       strides=cgutils.pack_array(builder, [src.itemsize]), itemsize=src.itemsize,
                       meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, signature.return_type, out._getvalue())

    return flat(a), codegen


@njit(**_INNER, error_model="numpy")
def _predict_chunk(c, eta, engine, records, model, buffers, obs, f_new, counts_out):
    """Predictions (error scale) of chunk ``c`` of the (set, subject) pairs of ``eta`` (B,
    n_sub, n_eta) into ``f_new`` (B, n_obs): the record effects, individual parameters and
    engine solution of the chunk's subjects only (replicated subject r = b * n_sub + i), NaN
    for a failed subject. ``counts_out[c]`` = (failed subjects, data errors, subjects left
    ``NOT_LOADED``: the fast path declined them before the full engine was bound)."""
    compute_p_addr, solve_addr, n_chunk = engine[0], engine[1], engine[2]
    offsets, time, evid, amt, cmt, rate, ii, addl, ss = records
    pk, cov, dose_index, fn, uses_time, linear, opts, theta_full = model
    flat, eta_rec, P, dP, pred, dpred, status, fail = buffers
    obs_flat, log_scale, any_log, starts, counts = obs
    n_rep = status.shape[0]
    n_sub = starts.shape[0]
    n_obs = f_new.shape[1]
    r0, r1 = c * n_rep // n_chunk, (c + 1) * n_rep // n_chunk
    counts_out[c, 0] = 0
    counts_out[c, 1] = 0
    counts_out[c, 2] = 0
    if r0 == r1:
        return
    g0, g1 = offsets[r0], offsets[r1]
    src, dst, idx = _flat(eta), _flat(eta_rec), _flat(flat)
    n_re = eta_rec.shape[1]
    for j in range(g0 * n_re, g1 * n_re):
        dst[j] = src[idx[j]]
    _as_compute_p(compute_p_addr)(pk, time[g0:g1], theta_full, eta_rec[g0:g1], cov[g0:g1], P[g0:g1], uses_time)
    _as_solve_range(solve_addr)(r0, r1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn,
                                linear, dP, opts, pred, dpred, status, fail)
    pf = _flat(pred)
    for r in range(r0, r1):
        b, i = r // n_sub, r % n_sub
        for o in range(starts[i], starts[i] + counts[i]):
            v = pf[obs_flat[b * n_obs + o]]
            f_new[b, o] = math.log(v) if any_log and log_scale[o] else v
        if status[r] != 0:
            counts_out[c, 0] += 1
            if status[r] == BAD_RECORD:
                counts_out[c, 1] += 1
            elif status[r] == NOT_LOADED:
                counts_out[c, 2] += 1
            for o in range(starts[i], starts[i] + counts[i]):
                f_new[b, o] = np.nan


@njit(**_INNER, error_model="numpy")
def _subject_l(f_row, y, add, prop_sd, log_scale, sd, o0, o1):
    """sum over observations o0:o1 of ``gaussian_terms`` (the same terms, the same order; log V
    taken once while V repeats, as there); +inf if not finite."""
    acc = 0.0
    V_last, log_last = -1.0, 0.0
    for o in range(o0, o1):
        V, _ = observation_variance(sd, add[o], prop_sd[o], log_scale[o], f_row[o])
        r = y[o] - f_row[o]
        if V != V_last:
            V_last, log_last = V, math.log(V) if V > 0.0 else 0.0
        acc += gaussian_term(log_last, r, V) if V > 0.0 else np.inf
    return acc if np.isfinite(acc) else np.inf


@njit(**_OUTER, error_model="numpy")
def subject_likelihoods(f, y, add, prop_sd, log_scale, sd, starts, counts, out):
    """``out[b, s]``: ``gaussian_terms`` of ``f`` (B, n_obs) summed per subject as ``subject_sums``
    does (+inf if not finite), in one pass (``_subject_l``: the same numbers; compiled with the
    sampler's accept, so a SAEM start compiles neither of the two)."""
    for b in range(f.shape[0]):
        for s in range(starts.shape[0]):
            out[b, s] = _subject_l(f[b], y, add, prop_sd, log_scale, sd, starts[s], starts[s] + counts[s])


@njit(**_INNER, error_model="numpy")
def _accept_chunk(c, n_chunk, lik, accept, prop, f_new):
    """``mh_accept_gaussian`` for the (set, subject) pairs of chunk ``c``: ``acc_out[c]``;
    ``accept`` = (log_u, omega_inv, prior_ratio, etas, l, f, acc_out) (``ACCEPT_T``)."""
    log_u, omega_inv, prior_ratio, etas, l, f, acc_out = accept
    y, add, prop_sd, log_scale, sd, starts, counts = lik
    n_b, n_sub, _ = etas.shape
    n_rep = n_b * n_sub
    n_acc = 0
    for r in range(c * n_rep // n_chunk, (c + 1) * n_rep // n_chunk):
        b, s = r // n_sub, r % n_sub
        o0, o1 = starts[s], starts[s] + counts[s]
        ln = _subject_l(f_new[b], y, add, prop_sd, log_scale, sd, o0, o1)
        n_acc += _mh_rule(b, s, ln, o0, o1, prop, f_new, log_u, omega_inv, prior_ratio, etas, l, f)
    acc_out[c] = n_acc


@njit(**_INNER, error_model="numpy")
def _weights_chunk(c, n_chunk, lik, weights, eta, f_new):
    """The log weights of ``importance_weights`` for the (draw, subject) pairs of chunk ``c``
    among the first ``m`` draws; ``weights`` = (m, z, scale, omega_inv, const, df, w)
    (``WEIGHTS_T``)."""
    m, z, scale, omega_inv, const, df, w = weights
    y, add, prop_sd, log_scale, sd, starts, counts = lik
    n_b, n_sub, d = eta.shape
    n_rep = n_b * n_sub
    for r in range(c * n_rep // n_chunk, (c + 1) * n_rep // n_chunk):
        b, s = r // n_sub, r % n_sub
        if b >= m:
            continue
        ls = _subject_l(f_new[b], y, add, prop_sd, log_scale, sd, starts[s], starts[s] + counts[s])
        delta = 0.0
        for j in range(d):
            delta += z[b, s, j] * z[b, s, j]
        delta *= scale[b, s] * scale[b, s]
        tail = 0.5 * delta if not np.isfinite(df) else 0.5 * (df + d) * math.log1p(delta / df)
        w[b, s] = -0.5 * ls - 0.5 * _quad(eta[b, s], omega_inv) + const[s] + tail


@njit(**_INNER, error_model="numpy")
def _chunk_at(c, address, prior_ratio):
    """Chunk ``c`` of one pass whose arguments (``PASS_ARGS_T``) ``_stash`` put at ``address``:
    its predictions, then its accept (``mh_sweep``: ``weights[0]``, the number of draws, < 0, and
    ``accept`` holds the MH pass's arguments, with ``prior_ratio`` for the one in it) or its
    importance weights (``importance_weights``: ``weights`` holds them; ``accept`` is unused)."""
    eta, engine, records, model, buffers, obs, lik, f_new, fails, accept, weights = _unstash(address)
    _predict(c, eta, engine, records, model, buffers, obs, f_new, fails)
    if weights[0] < 0:
        log_u, omega_inv, _, etas, l, f, acc_out = accept
        _accept(c, engine[2], lik, (log_u, omega_inv, prior_ratio, etas, l, f, acc_out), eta, f_new)
    else:
        _weights(c, engine[2], lik, weights, eta, f_new)


@njit(**_INNER, parallel=True)
def _pass_threaded(n_chunk, address, prior_ratio):
    """One pass with its ``n_chunk`` chunks (``_chunk_at``) on numba's threads (they share nothing):
    the serial loop of ``mh_sweep`` or ``importance_weights``, in parallel. One kernel for both,
    and its arguments by address (``_stash``): a parallel kernel costs seconds to compile."""
    for c in prange(n_chunk):
        _chunk(np.int64(c), address, prior_ratio)  # prange's index is unsigned: the chunk kernel takes int64


#: what each compiled caller of the engine needs bound: (serial, and threaded in addition)
_NEEDS = {
    "mh_sweep": (((PREDICT, _predict_chunk), (ACCEPT, _accept_chunk), (CHUNK, _chunk_at)), ((PASS, _pass_threaded),)),
    "importance_weights": (((PREDICT, _predict_chunk), (WEIGHTS, _weights_chunk), (CHUNK, _chunk_at)),
                           ((PASS, _pass_threaded),)),
}


def engine_entry_points(threaded: bool, kernel=None) -> tuple:
    """The ``engine`` argument of ``mh_sweep`` and ``importance_weights``: the addresses of
    ``compute_p_at`` and of ``_solve_range_at`` (the engine on a range of subjects), the number
    of chunks a pass is split into, and whether the chunks run on threads (numba's,
    ``get_num_threads()`` of them; serial: one chunk). Binds (compiling or loading them) the
    late-bound passes that ``kernel`` (one of the two; None: both) needs on that path."""
    from numba import get_num_threads
    from numba.experimental.function_type import _get_wrapper_address

    from . import population

    name = getattr(getattr(kernel, "py_func", kernel), "__name__", None)
    for key, (serial, threads) in _NEEDS.items():
        if name is None or name == key:
            for ref, dispatcher in serial + (threads if threaded else ()):
                if not ref.bound:
                    ref.bind(dispatcher)
    n_chunk = max(1, CHUNKS_PER_THREAD * get_num_threads()) if threaded else 1
    return (_get_wrapper_address(population.compute_p_at, ComputePAtFn.signature),
            _get_wrapper_address(population._solve_range_at, SolveRangeFn.signature), n_chunk, bool(threaded))


#: why a compiled pass stopped early (the last value ``mh_sweep`` / ``importance_weights`` return)
GO_ON, DATA_ERROR, ENGINE_NOT_BOUND = 0, 1, 2


@njit(**_INNER)
def _failures(fails):
    """(failed subjects, ``GO_ON`` / ``DATA_ERROR`` / ``ENGINE_NOT_BOUND``) from ``fails``
    (n_chunk, 3) (loops: a column slice would compile a second ``sum``, a column argument one
    kernel per literal). A subject left ``NOT_LOADED`` comes first: the full engine, once bound,
    may find it a data error or solve it."""
    n_failed, n_bad, n_unbound = 0, 0, 0
    for i in range(fails.shape[0]):
        n_failed += fails[i, 0]
        n_bad += fails[i, 1]
        n_unbound += fails[i, 2]
    if n_unbound:
        return n_failed, ENGINE_NOT_BOUND
    return n_failed, DATA_ERROR if n_bad else GO_ON


@njit(**_OUTER, error_model="numpy")
def mh_sweep(engine, rng, n_kernel, chol, omega_inv, s_all, s_one, records, model, buffers, obs, y, add,
             prop_sd, sd, etas, l, f, prop, f_new, target):
    """One sweep of the MH kernels on every chain (``saem.sampler.Sampler.sweep``, which documents
    the kernels and the adaptation of ``s_all`` / ``s_one`` towards the acceptance ``target``),
    in place on ``etas, l, f``. A pass draws its normals and uniforms first (one stream, the
    Python sweep's order), then predicts and accepts chunk by chunk of (chain, subject) pairs
    (``engine_entry_points``: one chunk, or one per thread). Returns (passes, passes with
    failed subjects, why it stopped: ``GO_ON`` (it did not), ``DATA_ERROR`` (the caller raises
    the predictor's failure) or ``ENGINE_NOT_BOUND`` (a subject the fast path declined while
    the full engine was not bound: the caller restores the chains, the scales and the
    generator, binds the engine and sweeps again, ``saem.sampler.CompiledSweep``))."""
    n_prior, n_all, n_one = n_kernel[0], n_kernel[1], n_kernel[2]
    n_b, n_sub, n_eta = etas.shape
    size = n_b * n_sub
    lik = (y, add, prop_sd, obs[1], sd, obs[3], obs[4])
    n_chunk, threaded = engine[2], engine[3]
    fails = np.zeros((n_chunk, 3), np.int64)
    accepted = np.zeros(n_chunk, np.int64)
    log_u = np.empty((n_b, n_sub))
    unused = (np.int64(-1), prop, l, omega_inv, s_all, 0.0, l)  # no weights: an MH pass (``_chunk_at``)
    # every pass reads and writes the same arrays: stashed once (each tuple of them built in the
    # loop cost an incref and a decref per array, ~1 CPU s of compile)
    accept = (log_u, omega_inv, False, etas, l, f, accepted)
    address = _stash((prop, engine, records, model, buffers, obs, lik, f_new, fails, accept, unused))
    n_pass, n_fail_pass, stop = 0, 0, GO_ON
    for kind in range(2 + n_eta):  # one return, at the end: each return releases every live array
        reps = n_prior if kind == 0 else (n_all if kind == 1 else n_one)
        acc = 0.0
        k = kind - 2
        for _ in range(reps):
            # the draws of the Python sweep in its order, flat: a size tuple per shape would compile
            # the generator's methods once per shape (numba fills an array of any shape in C order)
            z = rng.standard_normal(size * n_eta if kind < 2 else size)
            for b in range(n_b):  # loops, not prop[:] = etas: a slice assignment compiles
                for s in range(n_sub):  # numba's shape-error messages (strings, ~2 s cold)
                    r = b * n_sub + s
                    for i in range(n_eta):
                        if kind == 0:  # ``prior_proposals``: chol @ z, the same sum in the same order
                            a = 0.0
                            for j in range(i + 1):
                                a += chol[i, j] * z[r * n_eta + j]
                            prop[b, s, i] = a
                        elif kind == 1:
                            prop[b, s, i] = etas[b, s, i] + z[r * n_eta + i] * s_all[i]
                        else:
                            prop[b, s, i] = etas[b, s, i]
                    if kind >= 2:
                        prop[b, s, k] += s_one[k] * z[r]
            u = rng.random(size)
            for b in range(n_b):
                for s in range(n_sub):
                    log_u[b, s] = math.log(u[b * n_sub + s])
            if threaded:
                _pass(n_chunk, address, kind != 0)
            else:
                for c in range(n_chunk):
                    _chunk(c, address, kind != 0)
            n_pass += 1
            n_failed, stop = _failures(fails)
            if n_failed or stop != GO_ON:
                n_fail_pass += 1
            if stop != GO_ON:
                break
            n_acc = 0
            for c in range(n_chunk):
                n_acc += accepted[c]
            acc += n_acc / size
        if stop != GO_ON:
            break
        if kind == 1 and n_all:
            for i in range(n_eta):
                s_all[i] *= 1 + 0.4 * (acc / n_all - target)
        elif kind >= 2 and n_one:
            s_one[kind - 2] *= 1 + 0.4 * (acc / n_one - target)
    _release(address)
    return n_pass, n_fail_pass, stop


@njit(**_OUTER, error_model="numpy")
def importance_weights(engine, z, scale, center, L, omega_inv, const, df, records, model, buffers, obs, y, add,
                       prop_sd, sd, eta, f_new, w):
    """Log importance weights ``w[b, s]`` of the draws ``eta = center + (L z) scale`` (z (m,
    n_sub, d), scale (m, n_sub); ``eta`` (B >= m, n_sub, d) scratch whose rows from m on are
    zero, ``f_new`` (B, n_obs) scratch): ``-l / 2 - eta' Omega^-1 eta / 2 + const[s]`` minus
    the t (``df``; inf: normal) proposal's kernel at the Mahalanobis distance ``|z|^2
    scale^2``; ``const`` holds the normalising constants. ``l`` = +inf where the prediction
    failed. Chunks as ``mh_sweep``. Returns (failed subjects, ``GO_ON`` / ``DATA_ERROR`` (the
    caller raises the predictor's failure) / ``ENGINE_NOT_BOUND`` (the caller binds the engine
    and calls again: nothing but the outputs was written))."""
    m, n_sub, d = z.shape
    for b in range(m):
        for s in range(n_sub):
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += L[s, i, j] * z[b, s, j]
                eta[b, s, i] = center[s, i] + acc * scale[b, s]
    for b in range(m, eta.shape[0]):  # a short last batch: the padding copies sit at eta = 0
        for s in range(n_sub):
            for i in range(d):
                eta[b, s, i] = 0.0
    lik = (y, add, prop_sd, obs[1], sd, obs[3], obs[4])
    n_chunk = engine[2]
    fails = np.zeros((n_chunk, 3), np.int64)
    weights = (m, z, scale, omega_inv, const, df, w)
    unused = (scale, omega_inv, m < 0, eta, w, f_new, obs[0])  # ``_chunk_at`` takes no accept here
    address = _stash((eta, engine, records, model, buffers, obs, lik, f_new, fails, unused, weights))
    if engine[3]:
        _pass(n_chunk, address, False)
    else:
        for c in range(n_chunk):
            _chunk(c, address, False)
    _release(address)
    return _failures(fails)
