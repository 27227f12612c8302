"""Population drivers: individual parameters per record, and all subjects' predictions.

* ``compute_p`` / ``compute_dp``: call the model's ``pk`` / ``dpk`` on every record.
* ``solve_population``: ``events.solve_records`` for each subject, in parallel over chunks of
  subjects (``numba.prange``); each chunk allocates one workspace and reuses it for its
  subjects (``solve_records`` clears it), so the hot path does not allocate.
  ``solve_population_serial`` is the same loop without threads. Subjects are independent (each
  gets its own copy of ``opts``; nothing carries over in the workspace), so both give
  bit-identical results.

``offsets`` (n_subject + 1,): the records of subject s are ``offsets[s]:offsets[s + 1]``.
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

import numpy as np  # noqa: E402
from numba import get_num_threads, njit, prange, types  # noqa: E402

from .abi import (  # noqa: E402
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
    arr3,
    mat,
    vec,
)
from .events import i64m, i64v, make_subject_workspace, queue_capacity, solve_records  # noqa: E402
from .propagate import CACHE  # noqa: E402

#: ``solve_population`` splits the subjects into max(MIN_CHUNKS, n / SUBJECTS_PER_CHUNK)
#: contiguous chunks (load balance vs one workspace per chunk). Not from the thread count:
#: ``get_num_threads()`` inside a kernel makes numba refuse to cache it.
MIN_CHUNKS = 16
SUBJECTS_PER_CHUNK = 16

COMPUTE_P_SIG = types.void(PkFn, vec, vec, mat, mat, mat)
COMPUTE_DP_SIG = types.void(DpkFn, vec, vec, mat, mat, mat, arr3, arr3)
SOLVE_POPULATION_SIG = types.void(
    i64v, vec, i64v, vec, i64v, vec, vec, i64v, i64v,  # offsets, record columns
    mat, i64m,  # P, dose_index
    RhsFn, JacFn, JacFn, InitFn, DinitFn, ObsFn, DobsFn, DobsFn, LinsysFn, DlinsysFn,
    types.boolean, arr3, vec, mat, arr3, i64v, i64v,  # linear dP opts pred dpred status fail
)


@njit(COMPUTE_P_SIG, cache=True)
def compute_p(pk, t, theta, eta_rec, cov, P_out):
    """P_out[i] = pk(t[i], theta, eta_rec[i], cov[i]) for every record i."""
    for i in range(t.shape[0]):
        pk(t[i], theta, eta_rec[i], cov[i], P_out[i])


@njit(COMPUTE_DP_SIG, cache=True)
def compute_dp(dpk, t, theta, eta_rec, cov, P_out, dp_deta, dp_dtheta):
    """P_out[i] and its Jacobians dp_deta[i] (n_p, n_re), dp_dtheta[i] (n_p, n_theta)."""
    for i in range(t.shape[0]):
        dpk(t[i], theta, eta_rec[i], cov[i], P_out[i], dp_deta[i], dp_dtheta[i])


@njit(types.void(types.int64, types.int64, *SOLVE_POPULATION_SIG.args), cache=CACHE)
def _solve_range(s0, s1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs,
                 jac, dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, opts,
                 pred, dpred, status, fail_rec):
    """Subjects s0:s1 one after the other, sharing one workspace (sized for the largest)."""
    cap = 4
    for s in range(s0, s1):
        cap = max(cap, queue_capacity(evid, offsets[s], offsets[s + 1]))
    ws = make_subject_workspace(dose_index.shape[1], P.shape[1], dP.shape[2], pred.shape[1],
                                cap)
    info = np.zeros(2, np.int64)
    my_opts = np.empty_like(opts)
    for s in range(s0, s1):
        a = offsets[s]
        for k in range(opts.shape[0]):
            my_opts[k] = opts[k]  # the ODE integrator writes warm-start values into opts
        st = solve_records(a, offsets[s + 1], time, evid, amt, cmt, rate, ii, addl, ss, P,
                           dose_index, rhs, jac, dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys,
                           dlinsys, linear, dP, pred, dpred, my_opts, info, ws)
        status[s] = st
        fail_rec[s] = a + info[0] if st != 0 else -1


@njit(SOLVE_POPULATION_SIG, parallel=True, cache=CACHE)
def solve_population(offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs, jac,
                     dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, opts,
                     pred, dpred, status, fail_rec):
    """All subjects, in parallel over contiguous chunks of subjects (one workspace each).
    ``status[s]``: an ``events.Status``; ``fail_rec[s]``: the global index of the
    failing record (-1 when fine). Arguments as ``solve_subject``."""
    n_sub = offsets.shape[0] - 1
    n_chunk = min(n_sub, max(MIN_CHUNKS, n_sub // SUBJECTS_PER_CHUNK))
    for c in prange(n_chunk):
        _solve_range(c * n_sub // n_chunk, (c + 1) * n_sub // n_chunk, offsets, time, evid, amt,
                     cmt, rate, ii, addl, ss, P, dose_index, rhs, jac, dfdp, init, dinit, obs,
                     dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, opts, pred, dpred, status,
                     fail_rec)


def _serial_py(offsets, time, evid, amt, cmt, rate, ii, addl, ss, P, dose_index, rhs, jac, dfdp,
               init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys, linear, dP, opts, pred, dpred,
               status, fail_rec):
    """``solve_population`` on one thread (reference twin; also cheaper for tiny problems)."""
    _solve_range(0, offsets.shape[0] - 1, offsets, time, evid, amt, cmt, rate, ii, addl, ss, P,
                 dose_index, rhs, jac, dfdp, init, dinit, obs, dobs_dy, dobs_dp, linsys, dlinsys,
                 linear, dP, opts, pred, dpred, status, fail_rec)


def numba_threads() -> int:
    """Threads ``solve_population`` runs on (``numba.get_num_threads()``)."""
    return get_num_threads()


_serial = None


def __getattr__(name):
    """``solve_population_serial`` compiles on first use only: compiling the engine is the
    costliest step of a cold start, and most sessions never need the serial twin."""
    global _serial
    if name == "solve_population_serial":
        if _serial is None:
            _serial = njit(SOLVE_POPULATION_SIG, cache=CACHE)(_serial_py)
        return _serial
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
