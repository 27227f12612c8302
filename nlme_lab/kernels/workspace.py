"""The event engine's scratch: one ``SubjectWorkspace`` per thread, reused for every subject.

``events.solve_records`` allocates nothing: every array it writes lives in the workspace of
``make_subject_workspace`` (``population`` makes one per chunk of subjects, sized for the
chunk's largest queue), which it clears first (``clear``) so a subject's results never depend
on the one before. The fields are named (numba namedtuples: the same machine code as a tuple,
so no cost); the sub-workspaces of the linear propagator (``linear.LinearWorkspace``), the
steady-state solver (``steady_state.SteadyStateWorkspace``) and the eigendecomposition
(``spectral.DecompWorkspace``) are fields too.

Shapes: n states, n_p individual parameters, nd sensitivity directions, n_end endpoints and a
queue of ``cap`` slots (``queue_capacity``).
"""

from __future__ import annotations

from . import cache_guard

cache_guard.check()  # drop stale cached kernels before any is loaded

from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit, typeof  # noqa: E402

from .dense import zero1, zero2, zero3  # noqa: E402
from .jit import engine_jit  # noqa: E402
from .linear import A_V, A_W, LinearWorkspace, forget, make_workspace  # noqa: E402
from .spectral import DecompWorkspace, make_decomp_workspace  # noqa: E402
from .steady_state import (  # noqa: E402
    SteadyStateWorkspace,
    clear_steady_workspace,
    make_steady_workspace,
)


class EventQueue(NamedTuple):
    """Pending events as arithmetic series ``t0 + k step``, ``k < n``, one per dose record and
    kind (a slot is free when ``k >= n``). Per slot: ``(cap,)``, ``dt``/``da`` ``(cap, nd)``."""

    t0: np.ndarray  # time of the series' first event
    step: np.ndarray  # spacing (II)
    amt: np.ndarray  # bolus amount or infusion rate
    k: np.ndarray  # int64: events of the series done
    n: np.ndarray  # int64: events in the series
    kind: np.ndarray  # int64: steady_state.KIND_BOLUS (arrival), events.KIND_START, KIND_END
    cmt: np.ndarray  # int64: compartment
    dt: np.ndarray  # d time / d direction
    da: np.ndarray  # d amount (or rate) / d direction


class SubjectWorkspace(NamedTuple):
    """All scratch of ``events.solve_records`` (module docstring for the shapes)."""

    y: np.ndarray  # (n,) state
    rate_v: np.ndarray  # (n,) running zero-order inputs
    yc: np.ndarray  # (n,) a steady-state component
    rate_c: np.ndarray  # (n,) its running inputs
    f1: np.ndarray  # (n,) right-hand side before a jump
    f2: np.ndarray  # (n,) and after it
    S: np.ndarray  # (n, nd) sensitivities of y
    drate_v: np.ndarray  # (n, nd) of rate_v
    Sc: np.ndarray  # (n, nd) of yc
    drate_c: np.ndarray  # (n, nd) of rate_c
    K: np.ndarray  # (n, n) linear system matrix
    Jm: np.ndarray  # (n, n) constant-infusion steady state's Jacobian
    dF: np.ndarray  # (nd,) d F of a dose
    dL: np.ndarray  # (nd,) d ALAG
    damt: np.ndarray  # (nd,) d amount
    dR: np.ndarray  # (nd,) d rate
    dD: np.ndarray  # (nd,) d duration
    dLD: np.ndarray  # (nd,) d (ALAG + duration): an infusion's end
    dK_raw: np.ndarray  # (n, n, n_p) dK / dp
    dKd: np.ndarray  # (nd, n, n) dK along each direction
    Y0p: np.ndarray  # (n, n_p) d init / dp
    Fp: np.ndarray  # (n, n_p) df / dp
    bcol: np.ndarray  # (n, 1) a right-hand side
    Oy: np.ndarray  # (n_end, n) d obs / dy
    Op: np.ndarray  # (n_end, n_p) d obs / dp
    p: np.ndarray  # (n_p,) the record's individual parameters
    dPr: np.ndarray  # (n_p, nd) their directions
    pred_i: np.ndarray  # (n_end,) the record's predictions
    dpred_i: np.ndarray  # (n_end, nd) their directions
    inp: np.ndarray  # (n,) a linear model's own input b (``propagate.model_input``), in rate_v
    dinp: np.ndarray  # (n, nd) its directions, in drate_v
    zero: np.ndarray  # (n,) always zero (the state at which b is evaluated)
    queue: EventQueue
    linear: LinearWorkspace
    steady: SteadyStateWorkspace
    decomp: DecompWorkspace


class MarchScratch(NamedTuple):
    """The arrays ``bolus_march.march`` works in: fields of a ``SubjectWorkspace``, taken once
    per chunk of subjects (``march_scratch``)."""

    K: np.ndarray  # (n, n)
    V: np.ndarray  # (n, n) right eigenvectors
    W: np.ndarray  # (n, n) left eigenvectors
    lam: np.ndarray  # (n,) eigenvalues
    y: np.ndarray  # (n,) state
    yh: np.ndarray  # (n,) state in eigen coordinates
    p: np.ndarray  # (n_p,)
    pred_i: np.ndarray  # (n_end,)
    decomp: DecompWorkspace


@engine_jit()
def queue_capacity(evid, a, b):
    """Event-queue slots the records a:b need (3 series per dose record, + 4)."""
    n_dose = 0
    for i in range(a, b):
        if evid[i] == 1 or evid[i] == 4:
            n_dose += 1
    return 3 * n_dose + 4


@njit(cache=True)
def make_subject_workspace(n, n_p, nd, n_end, cap):
    """A ``SubjectWorkspace`` (allocate once per thread, reuse for every subject)."""
    queue = EventQueue(np.zeros(cap), np.zeros(cap), np.zeros(cap), np.zeros(cap, np.int64),
                       np.zeros(cap, np.int64), np.zeros(cap, np.int64), np.zeros(cap, np.int64),
                       np.zeros((cap, nd)), np.zeros((cap, nd)))
    return SubjectWorkspace(
        np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
        np.zeros((n, nd)), np.zeros((n, nd)), np.zeros((n, nd)), np.zeros((n, nd)),
        np.zeros((n, n)), np.zeros((n, n)),
        np.zeros(nd), np.zeros(nd), np.zeros(nd), np.zeros(nd), np.zeros(nd), np.zeros(nd),
        np.zeros((n, n, n_p)), np.zeros((nd, n, n)), np.zeros((n, n_p)), np.zeros((n, n_p)),
        np.zeros((n, 1)), np.zeros((n_end, n)), np.zeros((n_end, n_p)),
        np.zeros(n_p), np.zeros((n_p, nd)), np.zeros(n_end), np.zeros((n_end, nd)),
        np.zeros(n), np.zeros((n, nd)), np.zeros(n),
        queue, make_workspace(n, nd), make_steady_workspace(n, n_p, nd), make_decomp_workspace(n))


@engine_jit()
def clear(ws):
    """Zero a reused workspace, so a subject's results never depend on the previous one."""
    zero1(ws.y)
    zero1(ws.rate_v)
    zero1(ws.yc)
    zero1(ws.rate_c)
    zero1(ws.f1)
    zero1(ws.f2)
    zero2(ws.S)
    zero2(ws.drate_v)
    zero2(ws.Sc)
    zero2(ws.drate_c)
    zero2(ws.K)
    zero2(ws.Jm)
    zero1(ws.dF)
    zero1(ws.dL)
    zero1(ws.damt)
    zero1(ws.dR)
    zero1(ws.dD)
    zero1(ws.dLD)
    zero3(ws.dK_raw)
    zero3(ws.dKd)
    zero2(ws.Y0p)
    zero2(ws.Fp)
    zero2(ws.bcol)
    zero2(ws.Oy)
    zero2(ws.Op)
    zero1(ws.p)
    zero2(ws.dPr)
    zero1(ws.pred_i)
    zero2(ws.dpred_i)
    zero1(ws.inp)
    zero2(ws.dinp)
    zero1(ws.zero)
    q = ws.queue
    zero1(q.t0)
    zero1(q.step)
    zero1(q.amt)
    zero1(q.k)
    zero1(q.n)
    zero1(q.kind)
    zero1(q.cmt)
    zero2(q.dt)
    zero2(q.da)
    clear_steady_workspace(ws.steady)
    forget(ws.linear)


@engine_jit(inline=True)
def queue_head(q, cap):
    """The first ``cap`` slots of the queue ``q`` (a subject needs ``queue_capacity`` slots;
    the workspace has room for the largest subject of its chunk)."""
    return EventQueue(q.t0[:cap], q.step[:cap], q.amt[:cap], q.k[:cap], q.n[:cap], q.kind[:cap],
                      q.cmt[:cap], q.dt[:cap], q.da[:cap])


@njit(cache=True)
def make_march_scratch(n, n_p, n_end):
    """A ``MarchScratch`` of its own (not in a ``SubjectWorkspace``): what
    ``population._solve_range_at`` allocates for the fast path, so that a simulation whose subjects
    it all takes compiles neither the full workspace nor the event engine. The eigenvalues go in
    the decomposition workspace's free ``lam``, as in ``march_scratch``."""
    dw = make_decomp_workspace(n)
    return MarchScratch(np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n)), dw.lam, np.zeros(n),
                        np.zeros(n), np.zeros(n_p), np.zeros(n_end), dw)


@njit(cache=True)
def march_scratch(ws):
    """The ``MarchScratch`` of a ``SubjectWorkspace`` (taken once per chunk of subjects:
    passing the whole workspace per subject costs more than a simple subject's arithmetic)."""
    eig = ws.linear.eig
    return MarchScratch(ws.K, eig[A_V], eig[A_W], ws.decomp.lam, ws.y, ws.yc, ws.p, ws.pred_i,
                        ws.decomp)


#: the type of ``make_subject_workspace``'s result (for explicit signatures)
WORKSPACE_TYPE = typeof(make_subject_workspace.py_func(1, 1, 1, 1, 1))
