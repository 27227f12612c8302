"""Population drivers: individual parameters per record, and all subjects' predictions.

* ``compute_p`` / ``compute_dp``: call the model's ``pk`` / ``dpk`` on every record (when p
  does not depend on t: only where the random effects or covariates change; else copy)
  (``compute_p_at`` / ``compute_dp_at``: the same with the function by address, see below).
* ``solve_population``: ``bolus_march.march`` (predictions) or ``bolus_march_sens.march_sens``
  (with directions) or else ``events.solve_records`` for each subject (see events.py), in parallel over chunks of subjects (``numba.prange``); each chunk
  allocates one workspace and reuses it for its subjects (``solve_records`` clears it), so the
  hot path does not allocate.
  ``solve_population_serial`` is the same loop without threads. Subjects are independent (each
  gets its own copy of ``opts``; nothing carries over in the workspace), so both give
  bit-identical results.
* ``solve_population_at`` / ``solve_population_at_serial``: the same, with the ten model
  functions given by the addresses of their C wrappers (an int64 array in ``FN_ORDER``, see
  ``function_refs.engine_addresses``) instead of as first-class function arguments: numba
  unboxes a function argument through Python on every call (~4 us each, 40 us per call, the
  largest fixed cost of a small fit's evaluations), an int64 array in nanoseconds. The
  functions are rebuilt inside the kernel (``_as_function``), so the compiled engine below
  is the same code.

The two ``_at`` entry points compile on first use (module ``__getattr__``); ``solve_population``
and ``_serial`` (tests, benchmarks) are Python functions that look the ten functions' addresses
up and call them. Every entry point reaches the engine through late-bound kernels
(``jit.LateBound``): ``_solve_range_at`` (one workspace, a range of subjects) and, from it,
``events.solve_records``, each compiled once, so the entry points themselves compile in seconds.
``_solve_range_at`` first offers every subject of its range to ``bolus_march.march`` (with a
scratch of its own, ``workspace.make_march_scratch``), then hands those it declined to
``_solve_declined_at`` (late-bound: the full workspace and ``events.solve_records``), which
``bind_engine`` binds on first need. Until then the declined subjects keep the status
``NOT_LOADED`` and ``problem.predict.Predictor.solve`` binds it and solves again, so a cold start
whose subjects the fast path takes entirely (a closed-form simulation of plain bolus doses)
compiles neither (theo_sd: the first simulate 73 -> 24 CPU s; the first fit with sensitivities
pays the rest).

``offsets`` (n_subject + 1,): the records of subject s are ``offsets[s]:offsets[s + 1]``.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402
from numba import get_num_threads, njit, prange, types  # noqa: E402

from .abi import (  # noqa: E402
    COMPUTE_DP_SIG,
    COMPUTE_P_SIG,
    FN_ORDER,  # noqa: F401 (the engine's names, ``function_refs``)
    SOLVE_AT_SIG,
    SOLVE_POPULATION_SIG,  # noqa: F401
    SOLVE_RANGE_SIG,
    DinitFn,
    DlinsysFn,
    DobsFn,
    DpkFn,
    InitFn,
    JacFn,
    LinsysFn,
    ObsFn,
    PkFn,
    RhsFn,
)
from .abi import caster as _caster  # noqa: E402
from .bolus_march import march  # noqa: E402
from .bolus_march_sens import MARCH_SENS_SUBJECT, bind_march_sens, make_sens_scratch, sens_path_applies  # noqa: E402
from .events import NOT_LOADED, SOLVE_RECORDS, bind_solve_records, fast_path_applies  # noqa: E402
from .jit import COMPILED_CALLERS_ONLY, LateBound, engine_jit  # noqa: E402
from .propagate import bind_ode  # noqa: E402
from .steady_state import bind_steady_state, needs_steady_state  # noqa: E402
from .workspace import make_march_scratch, make_subject_workspace, queue_capacity  # noqa: E402

#: ``solve_population`` splits the subjects into max(MIN_CHUNKS, n / SUBJECTS_PER_CHUNK)
#: contiguous chunks (load balance vs one workspace per chunk). Not from the thread count:
#: ``get_num_threads()`` inside a kernel makes numba refuse to cache it.
MIN_CHUNKS = 16
SUBJECTS_PER_CHUNK = 16



@engine_jit(inline=True)
def _same_inputs(eta_rec, cov, i, uses_time):
    """Record i has the random effects and covariates of record i - 1, and p does not depend
    on t (``CompiledModel.p_uses_time``): then its individual parameters are the same and
    ``pk`` is skipped (NaN never compares equal, so it is recomputed)."""
    if i == 0 or uses_time:
        return False
    for j in range(eta_rec.shape[1]):
        if eta_rec[i, j] != eta_rec[i - 1, j]:
            return False
    for j in range(cov.shape[1]):
        if cov[i, j] != cov[i - 1, j]:
            return False
    return True


@engine_jit(inline=True)
def _copy_previous(A, i):
    """A[i] = A[i - 1] (loops: slices would cost refcounts)."""
    for j in range(A.shape[1]):
        A[i, j] = A[i - 1, j]


@engine_jit(inline=True)
def _copy_previous3(A, i):
    for j in range(A.shape[1]):
        for k in range(A.shape[2]):
            A[i, j, k] = A[i - 1, j, k]


@engine_jit(COMPUTE_P_SIG)
def compute_p(pk, t, theta, eta_rec, cov, P_out, uses_time):
    """P_out[i] = pk(t[i], theta, eta_rec[i], cov[i]) for every record i."""
    for i in range(t.shape[0]):
        if _same_inputs(eta_rec, cov, i, uses_time):
            _copy_previous(P_out, i)
        else:
            pk(t[i], theta, eta_rec[i], cov[i], P_out[i])


def _compute_dp_py(dpk, t, theta, eta_rec, cov, P_out, dp_deta, dp_dtheta, uses_time):
    """P_out[i] and its Jacobians dp_deta[i] (n_p, n_re), dp_dtheta[i] (n_p, n_theta)."""
    for i in range(t.shape[0]):
        if _same_inputs(eta_rec, cov, i, uses_time):
            _copy_previous(P_out, i)
            _copy_previous3(dp_deta, i)
            _copy_previous3(dp_dtheta, i)
        else:
            dpk(t[i], theta, eta_rec[i], cov[i], P_out[i], dp_deta[i], dp_dtheta[i])




_as_rhs, _as_jac, _as_init, _as_dinit = _caster(RhsFn), _caster(JacFn), _caster(InitFn), _caster(DinitFn)
_as_obs, _as_dobs, _as_linsys, _as_dlinsys = _caster(ObsFn), _caster(DobsFn), _caster(LinsysFn), _caster(DlinsysFn)
_as_pk, _as_dpk = _caster(PkFn), _caster(DpkFn)
_solve_records, _solve_records_address = SOLVE_RECORDS.function, SOLVE_RECORDS.address


@engine_jit(types.void(types.int64, *COMPUTE_P_SIG.args[1:]))
def compute_p_at(pk, t, theta, eta_rec, cov, P_out, uses_time):
    """``compute_p`` with ``pk`` given by the address of its C wrapper (an int64 unboxes in
    nanoseconds, a function reference through Python in microseconds: SAEM calls this
    thousands of times per fit)."""
    compute_p(_as_pk(pk), t, theta, eta_rec, cov, P_out, uses_time)


def _compute_dp_at_py(dpk, t, theta, eta_rec, cov, P_out, dp_deta, dp_dtheta, uses_time):
    """``compute_dp`` with ``dpk`` by address (as ``compute_p_at``)."""
    compute_dp(_as_dpk(dpk), t, theta, eta_rec, cov, P_out, dp_deta, dp_dtheta, uses_time)  # noqa: F821 (set by _compile_dp)


_march_sens_subject = MARCH_SENS_SUBJECT.call  # ``march_sens``, late-bound


@njit(cache=True, **COMPILED_CALLERS_ONLY)  # no signature here: that would compile it on import (``MARCH_SENS.bind`` does)
def _march_sens_at(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn,
                   linear, dP, opts, pred, dpred, status, fail_rec):
    """``bolus_march_sens.march_sens`` on the subjects of s0:s1 whose status is ``NOT_LOADED`` (with
    directions ``bolus_march.march`` takes none), with a scratch of its own; True if some are left
    for the full engine. Late-bound (``MARCH_SENS``) and bound by ``bind_sensitivity_path``, so that
    a simulation compiles none of it and a FOCE fit whose subjects it all takes needs no
    ``events.solve_records``."""
    n, n_p, nd, n_end = dose_index.shape[1], P.shape[1], dP.shape[2], pred.shape[1]
    sc = make_sens_scratch(n, n_p, nd, n_end)
    left = False
    for s in range(s0, s1):
        if status[s] != NOT_LOADED:
            continue
        if _march_sens_subject(offsets[s], offsets[s + 1], time, evid, amt, cmt, rate, addl, ss, P, dP,
                               dose_index, _as_init(fn[3]), _as_dinit(fn[4]), _as_obs(fn[5]), _as_dobs(fn[6]),
                               _as_dobs(fn[7]), _as_linsys(fn[8]), _as_dlinsys(fn[9]), pred, dpred, sc):
            status[s] = 0
            fail_rec[s] = -1
        else:
            left = True
    return left


#: ``_march_sens_at``, late-bound (``jit.LateBound``)
MARCH_SENS = LateBound("nlme_lab_kernels_march_sens_at", types.boolean(types.int64, types.int64, *SOLVE_AT_SIG.args))
_march_sens, _march_sens_address = MARCH_SENS.function, MARCH_SENS.address


def bind_sensitivity_path() -> None:
    """Compile (or load) ``_march_sens_at`` and ``march_sens`` and let ``_solve_range_at`` use them:
    bound with ``compute_dp`` (what every caller that asks for directions uses first) and by
    ``bind_engine``."""
    bind_march_sens()
    if not MARCH_SENS.bound:
        MARCH_SENS.bind(_march_sens_at)


@njit(cache=True)
def _solve_declined_at(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index,
                       fn, linear, dP, opts, pred, dpred, status, fail_rec):
    """``events.solve_records`` for the subjects of s0:s1 whose status is ``NOT_LOADED`` (those
    ``bolus_march`` did not take, ``_solve_range_at``), one after the other, sharing one workspace
    (sized for the largest)."""
    cap = np.int64(4)  # not a literal: numba would compile make_subject_workspace for it too
    for s in range(s0, s1):
        if status[s] == NOT_LOADED:
            cap = max(cap, queue_capacity(evid, offsets[s], offsets[s + 1]))
    ws = make_subject_workspace(dose_index.shape[1], P.shape[1], dP.shape[2], pred.shape[1],
                                cap)
    info = np.zeros(2, np.int64)
    my_opts = np.empty_like(opts)
    for s in range(s0, s1):
        if status[s] != NOT_LOADED:
            continue
        a = offsets[s]
        for k in range(opts.shape[0]):
            my_opts[k] = opts[k]  # the ODE integrator writes warm-start values into opts
        st = _solve_records()(a, offsets[s + 1], time, evid, amt, cmt, rate, ii, addl, ss, P,
                              dose_index, _as_rhs(fn[0]), _as_jac(fn[1]), _as_jac(fn[2]),
                              _as_init(fn[3]), _as_dinit(fn[4]), _as_obs(fn[5]), _as_dobs(fn[6]),
                              _as_dobs(fn[7]), _as_linsys(fn[8]), _as_dlinsys(fn[9]), linear, dP,
                              pred, dpred, my_opts, info, ws)
        status[s] = st
        fail_rec[s] = a + info[0] if st != 0 else -1


#: ``_solve_declined_at``, late-bound (``jit.LateBound``) and bound with ``events.solve_records``
#: (``bind_engine``): with the full workspace it allocates, what a simulation that the fast path
#: handles entirely never compiles
SOLVE_DECLINED = LateBound("nlme_lab_kernels_solve_declined_at", SOLVE_RANGE_SIG)
_solve_declined, _solve_declined_address = SOLVE_DECLINED.function, SOLVE_DECLINED.address


def bind_engine() -> None:
    """Compile (or load) the full event engine (``events.bind_solve_records``) and let
    ``_solve_range_at`` hand it the subjects the fast path declines; until then it marks them
    ``NOT_LOADED`` (callers that cannot solve again bind it first, ``problem.predict.Predictor``)."""
    bind_solve_records()
    bind_sensitivity_path()
    if not SOLVE_DECLINED.bound:
        SOLVE_DECLINED.bind(_solve_declined_at)


@njit(SOLVE_RANGE_SIG, cache=True)
def _solve_range_at(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn,
                    linear, dP, opts, pred, dpred, status, fail_rec):
    """Subjects s0:s1 with the model functions at the addresses ``fn`` (``FN_ORDER``): first
    ``bolus_march.march`` on each (when ``fast_path_applies``: no directions), with directions
    ``bolus_march_sens.march_sens`` (``_march_sens_at``, once bound), then ``events.solve_records`` on
    those declined (``_solve_declined_at``; subjects are independent, so the order does not
    matter). While the full engine is not bound (``bind_engine``) the declined subjects keep the
    status ``NOT_LOADED``."""
    scratch = make_march_scratch(dose_index.shape[1], P.shape[1], pred.shape[1])
    fast = fast_path_applies(linear, dP.shape[2], opts)
    declined = False
    for s in range(s0, s1):
        a = offsets[s]
        if fast and march(a, offsets[s + 1], time, evid, amt, cmt, rate, addl, ss, P, dose_index,
                          _as_init(fn[3]), _as_obs(fn[5]), _as_linsys(fn[8]), pred, scratch):
            status[s] = 0
            fail_rec[s] = -1
        else:
            status[s] = NOT_LOADED
            fail_rec[s] = a
            declined = True
    if declined and _march_sens_address() != 0 and sens_path_applies(linear, dP.shape[2], opts):
        declined = _march_sens()(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index,
                                 fn, linear, dP, opts, pred, dpred, status, fail_rec)
    if declined and _solve_declined_address() != 0:
        _solve_declined()(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index,
                          fn, linear, dP, opts, pred, dpred, status, fail_rec)


#: ``_solve_range_at`` for the population entry points, late-bound (``jit.LateBound``)
SOLVE_RANGE = LateBound("nlme_lab_kernels_solve_range_at", SOLVE_RANGE_SIG)
SOLVE_RANGE.bind(_solve_range_at)
_solve_range = SOLVE_RANGE.function


def _parallel_at_py(offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn, linear,
                    dP, opts, pred, dpred, status, fail_rec):
    """``solve_population_at``: all subjects, in parallel over contiguous chunks of subjects (one
    workspace each). ``status[s]``: an ``events.Status``; ``fail_rec[s]``: the global index of
    the failing record (-1 when fine). Arguments as ``solve_subject``, the model functions by
    address (``FN_ORDER``)."""
    n_sub = offsets.shape[0] - 1
    n_chunk = min(n_sub, max(MIN_CHUNKS, n_sub // SUBJECTS_PER_CHUNK))
    for c in prange(n_chunk):
        _solve_range()(c * n_sub // n_chunk, (c + 1) * n_sub // n_chunk, offsets, time, evid,
                       amt, cmt, rate, ii, addl, ss, P, dose_index, fn, linear, dP, opts, pred,
                       dpred, status, fail_rec)


def _serial_at_py(offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn, linear,
                  dP, opts, pred, dpred, status, fail_rec):
    """``solve_population_at_serial``: one thread, functions by address (reference twin of the
    threaded one; also cheaper for tiny problems)."""
    _solve_range()(0, offsets.shape[0] - 1, offsets, time, evid, amt, cmt, rate, ii, addl, ss,
                   P, dose_index, fn, linear, dP, opts, pred, dpred, status, fail_rec)


def _by_address(entry: str):
    """``solve_population`` / ``_serial``: the ``_at`` entry point ``entry`` with the ten model
    functions given as first-class functions (dispatchers or ``FunctionRef``s), as the tests and
    benchmarks call the engine."""

    def solve(offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs, jac, dfdp,
              init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, opts, pred, dpred,
              status, fail_rec):
        from numba.experimental.function_type import _get_wrapper_address

        functions = (rhs, jac, dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys)
        fn = np.array([_get_wrapper_address(f, t.signature) for f, t in
                       zip(functions, SOLVE_POPULATION_SIG.args[11:21])], dtype=np.int64)
        if not linear:
            bind_ode()
        if needs_steady_state(ss):
            bind_steady_state()
        bind_engine()
        __getattr__(entry)(offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, fn,
                           linear, dP, opts, pred, dpred, status, fail_rec)

    solve.__name__ = solve.__qualname__ = entry.replace("_at", "")
    return solve


def numba_threads() -> int:
    """Threads ``solve_population`` runs on (``numba.get_num_threads()``)."""
    return get_num_threads()


_LAZY = {  # name: (python function, signature, parallel)
    "solve_population_at": (_parallel_at_py, SOLVE_AT_SIG, True),
    "solve_population_at_serial": (_serial_at_py, SOLVE_AT_SIG, False),
}
_compiled: dict = {}
solve_population = _by_address("solve_population_at")
solve_population_serial = _by_address("solve_population_at_serial")


def _compile_dp() -> None:
    """``compute_dp`` and ``compute_dp_at`` (what only the FOCE family and the covariance steps
    use): compiled on first use, not on a simulation's cold start."""
    bind_sensitivity_path()
    compile_sensitivity_entry_points()


def compile_sensitivity_entry_points() -> None:
    """Compile (or load) ``compute_dp``, ``compute_dp_at`` and ``_march_sens_at``, without binding
    ``march_sens`` (nor running anything): what ``problem.background_compile``'s second process
    compiles while the fit's process may be compiling ``march_sens``."""
    g = globals()
    if not MARCH_SENS.bound:
        MARCH_SENS.bind(_march_sens_at)
    if "compute_dp_at" not in g:
        g["compute_dp"] = engine_jit(COMPUTE_DP_SIG)(_compute_dp_py)  # the global compute_dp_at calls
        g["compute_dp_at"] = engine_jit(types.void(types.int64, *COMPUTE_DP_SIG.args[1:]))(_compute_dp_at_py)


def __getattr__(name):
    """The population entry points (and ``compute_dp``/``_at``, ``_compile_dp``) compile on first
    use only: compiling the engine is the costliest step of a cold start, and a session needs one
    or two of the four."""
    if name in ("compute_dp", "compute_dp_at"):
        _compile_dp()
        return globals()[name]
    if name in _LAZY:
        if name not in _compiled:
            fn, sig, parallel = _LAZY[name]
            _compiled[name] = njit(sig, parallel=parallel, cache=True)(fn)
        return _compiled[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
