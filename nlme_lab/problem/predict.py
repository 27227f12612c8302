"""Predictions of every record for given thetas and random effects, through the engine.

``Predictor`` holds a bound model's arrays in the layout the kernels want and calls
``kernels.population``: ``compute_p`` / ``compute_dp`` (individual parameters per record, and
their Jacobians) then ``solve_population`` (doses, infusions, steady states; closed form or
ODE; with forward sensitivities along given parameter directions). It turns the engine's
status codes into a ``Failure`` naming the subject, data row and time (``SolverError`` for
the callers that raise). It is the one place that calls the solver: simulation, diagnostics
and the estimation problem (``estimation.KernelProblem``) all go through it.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import SolverError
from nlme_lab.problem import BoundModel

DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 1e-10


def _owned(values, dtype) -> np.ndarray:
    """A writable C-contiguous copy (the dataset's arrays are read-only; numba's kernel
    signatures take writable arrays)."""
    return np.array(values, dtype=dtype, order="C")


@dataclass(frozen=True)
class Failure:
    """The first subject whose solution failed, in words."""

    status: object  # kernels.events.Status
    message: str  # "the solution failed: <what>, at data row <row>"
    subject: object  # the subject's ID
    time: float
    subjects: np.ndarray  # indices of every failed subject

    @property
    def is_data_error(self) -> bool:
        """A bad record: no parameter value can fix it."""
        from nlme_lab.kernels.events import Status

        return self.status == Status.BAD_RECORD

    def error(self) -> SolverError:
        more = f" ({self.subjects.size - 1} other subject(s) too)" if self.subjects.size > 1 else ""
        return SolverError(self.message + more, subject=self.subject, time=self.time)


#: When ``parallel=None``, threads are used only where the serial work of one engine call dwarfs
#: what waking numba's thread pool costs. On a busy 2-core machine a parallel call stalls ~8 ms
#: (measured: 1-cmt closed form, 200 subjects, FOCEI fit 0.47 s serial vs 1.84 s threaded; 64
#: subjects 0.21 s vs 2.0 s), and the closed form costs ~0.3-1 us per record, so a linear model
#: needs tens of thousands of records before two threads can win. An ODE model (~3-15 us per
#: record) does at a few dozen subjects on idle cores, but not on a saturated machine, where the
#: second thread adds no capacity, only spinning and stalls (MM-ODE benchmark, 100 subjects, at
#: load 4-6 on the 2 cores: threaded FOCEI fit 8.2 s CPU / 15.7 s wall, serial 5.2 s / 10.1 s).
#: So ODE models are never threaded outright: from ``PARALLEL_MIN_SUBJECTS`` subjects
#: ``AdaptiveThreads`` times both entry points and keeps the faster.
PARALLEL_MIN_SUBJECTS = 64  # below: serial; ODE models: timed from here
PARALLEL_MIN_RECORDS_LINEAR = 50_000  # closed-form (linCmt) models


#: Between "clearly serial" and "clearly threaded" (``default_parallel``), ``parallel=None`` lets
#: ``AdaptiveThreads`` time both and keep the faster: from this many subjects per engine call
#: (a SAEM pass over 100 subjects, importance sampling's batches of 4096) two idle cores halve
#: the call, while on a loaded machine the threaded call can stall for milliseconds.
ADAPTIVE_MIN_SUBJECTS = 96


def default_parallel(n_subjects: int, n_records: int, linear: bool) -> bool:
    """Whether ``Predictor(parallel=None)`` solves subjects on threads without timing them (see
    the constants above): only large closed-form problems."""
    if n_subjects < PARALLEL_MIN_SUBJECTS or not linear:
        return False
    return n_records >= PARALLEL_MIN_RECORDS_LINEAR


def adaptive_min_subjects(linear: bool) -> int:
    """From how many subjects ``Predictor(parallel=None)`` times threaded against serial calls."""
    return ADAPTIVE_MIN_SUBJECTS if linear else PARALLEL_MIN_SUBJECTS


class AdaptiveThreads:
    """Calls the serial or the threaded engine entry point, whichever is faster here and now.

    Both give bit-identical results (subjects are independent), so the choice changes only the
    time. It is made by timing: ``TRIALS`` calls of each, alternating, then the lower median
    wins for the next ``RECHECK`` calls, after which it is timed again (the load of a shared
    machine changes). ``n_threaded`` counts the threaded calls, for tests and benchmarks.
    """

    TRIALS = 3
    RECHECK = 400

    def __init__(self, serial, threaded):
        self._fns = (serial, threaded)
        self._times: tuple[list, list] = ([], [])
        self._choice = -1  # -1: timing
        self._since = 0
        self.n_threaded = 0

    @property
    def choice(self) -> str:
        return ("timing", "serial", "threaded")[self._choice + 1]

    def __call__(self, *args):
        if self._choice >= 0 and self._since < self.RECHECK:
            self._since += 1
            self.n_threaded += self._choice
            return self._fns[self._choice](*args)
        which = (len(self._times[0]) + len(self._times[1])) % 2
        t0 = time.perf_counter()
        result = self._fns[which](*args)
        self._times[which].append(time.perf_counter() - t0)
        self.n_threaded += which
        if min(len(t) for t in self._times) >= self.TRIALS:
            self._choice = int(np.median(self._times[1]) < np.median(self._times[0]))
            self._times, self._since = ([], []), 0
        return result


class _OnFirstCall:
    """``getattr(module, name)(*args)``, the attribute looked up on the first call: a population
    entry point (``kernels.population.__getattr__``) is compiled then, not when a ``Predictor``
    that may never call it is built (the threaded entry point of a replicated problem whose
    engine calls all go through ``engine_caller``: 1.6 CPU s of a cold SAEM start)."""

    def __init__(self, module, name: str):
        self._module, self._name, self._fn = module, name, None

    def __call__(self, *args):
        fn = self._fn
        if fn is None:
            fn = self._fn = getattr(self._module, self._name)
        return fn(*args)


def _arithmetic_words(err: ArithmeticError) -> str:
    if isinstance(err, ZeroDivisionError):
        return "a division by zero"
    if isinstance(err, OverflowError):
        return "an overflow"
    return f"an arithmetic error ({type(err).__name__})"


#: ``CompiledModel`` -> (its ``FunctionRef``s, their engine addresses): resolving the twelve
#: wrapper addresses costs ~0.5 ms, once per compiled model instead of once per ``Predictor``
#: (every fit builds one). A ``CompiledModel`` is frozen and its functions are fixed, so the
#: addresses are a pure function of it; weak keys (identity: ``eq=False``), and the refs hold
#: the dispatchers, not the compiled model.
_ENGINE_FUNCTIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _engine_functions(cm, function_refs, engine_addresses) -> tuple[dict, np.ndarray]:
    try:
        got = _ENGINE_FUNCTIONS.get(cm)
    except TypeError:  # not weak-referenceable or not hashable: resolved every time
        refs = function_refs(cm)
        return refs, engine_addresses(refs)
    if got is None:
        refs = function_refs(cm)
        got = _ENGINE_FUNCTIONS[cm] = (refs, engine_addresses(refs))
    return got


class Predictor:
    """Predictions of a bound model; reusable across parameter values (no recompilation).

    ``parallel``: solve subjects on several threads; ``None`` decides by the amount of work
    per call (``default_parallel``), and where that is not clear-cut, by timing
    (``AdaptiveThreads``; ``self.parallel`` is then None). Results are identical either way.
    """

    def __init__(self, bound: BoundModel, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                 parallel: bool | None = None):
        import sys

        from nlme_lab.problem import background_compile
        from nlme_lab.problem.compiling import announce

        ode_model = not bound.model.compiled.is_linear
        first_use = "nlme_lab.kernels.population" not in sys.modules  # of the engine, in this process
        propagate = sys.modules.get("nlme_lab.kernels.propagate")  # not imported here: it compiles spectral
        ode_pending = ode_model and not (propagate is not None and propagate.ODE.bound)
        if first_use or ode_pending:
            announce(ode=ode_model)
        if ode_pending:  # the ODE integrator and the full event engine: shared with a second process
            background_compile.start(ode=True)
            background_compile.compile_ode_path()
        if first_use:
            background_compile.wait("engine")  # compiled by a second process: loaded from the cache
        from nlme_lab.kernels import ode, population
        from nlme_lab.kernels.function_refs import engine_addresses, function_refs

        if ode_model:  # the ODE integrator compiles (or loads) with the first model that needs it
            from nlme_lab.kernels.propagate import ODE, bind_ode

            if not ODE.bound:
                bind_ode()
        from nlme_lab.kernels.steady_state import bind_steady_state, needs_steady_state

        if needs_steady_state(bound.dataset.ss):  # the steady-state solver: with the first data needing it
            bind_steady_state()
        from nlme_lab.kernels.events import Status

        # the full event engine: bound here where the fast path (``bolus_march``) cannot take the
        # subjects; otherwise on the first solve that needs it (``solve``)
        if ode_model or needs_steady_state(bound.dataset.ss):
            population.bind_engine()
        self._engine = population.SOLVE_DECLINED
        self._not_loaded = int(Status.NOT_LOADED)

        self._population = population
        self.bound = bound
        self.compiled = cm = bound.model.compiled
        ds = bound.dataset
        self.n_records = ds.n_records
        self.n_subjects = ds.n_subjects
        self._records = (
            _owned(ds.offsets, dtype=np.int64),
            _owned(ds.time, dtype=np.float64),
            _owned(ds.evid, dtype=np.int64),
            _owned(ds.amt, dtype=np.float64),
            _owned(bound.cmt_index, dtype=np.int64),
            _owned(ds.rate, dtype=np.float64),
            _owned(ds.ii, dtype=np.float64),
            _owned(ds.addl, dtype=np.int64),
            _owned(ds.ss, dtype=np.int64),
        )
        self._cov = _owned(bound.covariates, dtype=np.float64)
        self._dose_index = _owned(cm.dose_index, dtype=np.int64)
        self._p_uses_time = bool(getattr(cm, "p_uses_time", True))
        # the kernel copies it per subject. Sensitivities ride on the steps the states choose (out of
        # the error control, as CVODES by default): 25% fewer steps, sensitivities still ~rtol
        self._opts = ode.make_opts(rtol=rtol, atol=atol, sens_error_control=False)
        if cm.is_linear and getattr(cm, "has_input", False):  # d/dt = K y + b: the engine adds b
            from nlme_lab.kernels.linear import with_model_input

            self._opts = with_model_input(self._opts)
        self.requested_parallel = parallel
        if parallel is None and default_parallel(self.n_subjects, self.n_records, bool(cm.is_linear)):
            parallel = True
        if (parallel is None and self.n_subjects >= adaptive_min_subjects(bool(cm.is_linear))
                and population.numba_threads() > 1):
            self._solve = AdaptiveThreads(population.solve_population_at_serial,
                                          _OnFirstCall(population, "solve_population_at"))
            self.parallel = None
        else:
            self.parallel = bool(parallel)
            self._solve = population.solve_population_at if parallel else population.solve_population_at_serial
        # kept alive (the kernels get their addresses); shared by the predictors of one compiled model
        self._refs, addresses = _engine_functions(cm, function_refs, engine_addresses)
        self._fn_addresses = addresses.copy()
        self._status = np.zeros(self.n_subjects, dtype=np.int64)
        self._fail = np.zeros(self.n_subjects, dtype=np.int64)
        self._raised: dict[int, str] = {}  # subject -> what the engine raised for it (last solve)

    # ------------------------------------------------------------------ random effects
    def zero_effects(self) -> np.ndarray:
        return np.zeros((self.n_records, self.compiled.n_re))

    def record_effects(self, etas: np.ndarray, kappas: np.ndarray) -> np.ndarray:
        """Per-record random effects: the subject's etas, then its occasion's kappas.

        ``etas`` (n_subjects, n_eta); ``kappas`` (n_subjects, n_occasions, n_kappa).
        """
        ds = self.bound.dataset
        subject = np.repeat(np.arange(ds.n_subjects), np.diff(ds.offsets))
        per_record = [np.asarray(etas)[subject]]
        if kappas.shape[-1]:
            per_record.append(np.asarray(kappas)[subject, self.bound.occasion])
        return np.ascontiguousarray(np.hstack(per_record), dtype=np.float64)

    # ------------------------------------------------------------------ engine calls
    def individual_parameters(self, theta: np.ndarray, eta_rec: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``P`` (n_records, n_p): the model's individual parameters on every record."""
        P = np.zeros((self.n_records, self.compiled.n_p)) if out is None else out
        self._population.compute_p_at(self._refs["pk"].address, self._records[1],
                                      np.ascontiguousarray(theta, dtype=np.float64), eta_rec, self._cov, P,
                                      self._p_uses_time)
        return P

    def parameter_jacobians(self, theta: np.ndarray, eta_rec: np.ndarray, P: np.ndarray, dp_deta: np.ndarray,
                            dp_dtheta: np.ndarray) -> None:
        """Fills ``P`` and its Jacobians ``dp_deta`` (n_rec, n_p, n_re), ``dp_dtheta`` (n_rec, n_p, n_theta)."""
        self._population.compute_dp_at(self._refs["dpk"].address, self._records[1],
                                       np.ascontiguousarray(theta, dtype=np.float64), eta_rec, self._cov, P, dp_deta,
                                       dp_dtheta, self._p_uses_time)

    def solve(self, P: np.ndarray, dP: np.ndarray, pred: np.ndarray, dpred: np.ndarray) -> Failure | None:
        """Predictions ``pred`` (n_rec, n_endpoint) and sensitivities ``dpred`` (n_rec, n_endpoint,
        n_dir) along the parameter directions ``dP`` (n_rec, n_p, n_dir), written in place; the
        failure of the first failed subject, if any (its predictions are not meaningful).

        An arithmetic exception inside the engine (a division by zero, an overflow: numba's
        kernels raise them as Python exceptions, for the whole call) becomes a failure of the
        subjects that raise it (``solve_each``), so a caller backs off from those parameter
        values as from any failed solution instead of losing its work to a traceback."""
        if self._raised:
            self._raised = {}
        try:
            self._solve(*self._records, P, self._dose_index, self._fn_addresses, bool(self.compiled.is_linear), dP,
                        self._opts, pred, dpred, self._status, self._fail)
            if np.count_nonzero(self._status) and not self._engine.bound and np.any(self._status == self._not_loaded):
                # a subject the fast path declined: the full event engine is compiled (or loaded) now
                self._population.bind_engine()
                self._solve(*self._records, P, self._dose_index, self._fn_addresses, bool(self.compiled.is_linear),
                            dP, self._opts, pred, dpred, self._status, self._fail)
        except ArithmeticError:
            self.solve_each(P, dP, pred, dpred)
        return self.failure() if np.count_nonzero(self._status) else None

    def solve_each(self, P: np.ndarray, dP: np.ndarray, pred: np.ndarray, dpred: np.ndarray) -> None:
        """``solve`` one subject at a time, marking each subject whose solution raises an
        arithmetic exception failed (``Status.NONFINITE``; ``failure`` says what it raised)."""
        from nlme_lab.kernels.events import Status

        self._population.bind_engine()
        linear = bool(self.compiled.is_linear)
        for s in range(self.n_subjects):
            try:
                self._population._solve_range_at(s, s + 1, *self._records, P, self._dose_index, self._fn_addresses,
                                                 linear, dP, self._opts, pred, dpred, self._status, self._fail)
            except ArithmeticError as err:
                self._status[s], self._fail[s] = int(Status.NONFINITE), -1
                self._raised[s] = _arithmetic_words(err)

    @property
    def engine_bound(self) -> bool:
        """Whether the full event engine is bound (``population.bind_engine``): until then the
        subjects the fast path declines come back ``NOT_LOADED``."""
        return self._engine.bound

    def bind_engine(self) -> None:
        """Bind the full event engine (a compiled caller that met ``NOT_LOADED``, before it
        solves again: ``estimation.saem.sampler.CompiledSweep``)."""
        self._population.bind_engine()

    def engine_inputs(self) -> tuple[tuple, tuple, tuple]:
        """What a compiled caller of the engine passes it (``kernels.metropolis.mh_sweep``):
        the record columns (``offsets`` ... ``ss``), (pk address, covariates, dose index, the
        model functions' addresses, p_uses_time, linear, ODE options) and the (status, fail)
        outputs that ``failure`` reads. The arrays are this predictor's own."""
        cm = self.compiled
        return (self._records, (self._refs["pk"].address, self._cov, self._dose_index, self._fn_addresses,
                                self._p_uses_time, bool(cm.is_linear), self._opts), (self._status, self._fail))

    def engine_caller(self, kernel, many_passes: bool = False):
        """``f(*args)`` running the compiled ``kernel(engine, *args)`` (``kernels.metropolis``),
        ``engine`` the addresses of the entry points this predictor uses: its ``parallel``
        request, and where that is left to timing, the serial and threaded kernels timed
        against each other (``AdaptiveThreads``; they give the same numbers).
        ``many_passes``: one call of the kernel is many engine passes (a SAEM sweep), so when
        the caller left threads open (``parallel=None``) they are timed whatever the number of
        subjects: ten passes over theo_sd's 60 subject-chains run 1.5x faster on two threads,
        though one engine call of 60 subjects is below ``ADAPTIVE_MIN_SUBJECTS``.

        The full event engine is not bound here: a subject that the fast path declines while it
        is not stops the kernel (``kernels.metropolis.ENGINE_NOT_BOUND``), and the caller binds
        it (``bind_engine``) and calls again from the state it kept."""
        from nlme_lab.kernels.metropolis import engine_entry_points
        from nlme_lab.problem import background_compile

        background_compile.wait("sampler")  # its passes, compiled by a second process on a fresh machine
        open_threads = self.requested_parallel is None and self._population.numba_threads() > 1
        if self.parallel is None or (many_passes and open_threads):
            serial, threaded = engine_entry_points(False, kernel), engine_entry_points(True, kernel)
            return AdaptiveThreads(lambda *a: kernel(serial, *a), lambda *a: kernel(threaded, *a))
        engine = engine_entry_points(bool(self.parallel), kernel)
        return lambda *a: kernel(engine, *a)

    def failure(self) -> Failure | None:
        """The last ``solve``'s failure in words (None when every subject was solved)."""
        bad = np.flatnonzero(self._status)
        if not bad.size:
            return None
        from nlme_lab.kernels.events import Status

        s = int(bad[0])
        ds = self.bound.dataset
        rec = int(self._fail[s]) if self._fail[s] >= 0 else int(ds.offsets[s])
        status = Status(int(self._status[s]))
        if s in self._raised:  # the engine raised: the subject, not the record, is known
            last = int(ds.offsets[s + 1]) - 1
            message = (f"the solution failed: {self._raised[s]} in the solver at these parameter values, "
                       f"in the records of data rows {int(ds.rows[rec])}-{int(ds.rows[last])}")
        elif status == Status.SINGULAR and self._accumulating():
            names = ", ".join(repr(n) for n in self._accumulating())
            message = (f"the solution failed: the steady state (SS) of data row {int(ds.rows[rec])} is undefined: "
                       f"compartment {names} accumulates (no elimination: it grows by the same amount every "
                       "dosing interval); give it no steady-state dose, or reset it (EVID 3/4)")
        else:
            what = status.name.lower().replace("_", " ")
            message = f"the solution failed: {what}, at data row {int(ds.rows[rec])}"
        return Failure(status, message, ds.ids[s], float(ds.time[rec]), bad)

    def _accumulating(self) -> tuple[str, ...]:
        """The model's states that nothing eliminates (``analysis.accumulating_states``)."""
        if not hasattr(self, "_accumulating_names"):
            from nlme_lab.model.codegen.analysis import accumulating_states, build_plan

            self._accumulating_names = accumulating_states(build_plan(self.compiled.ir))
        return self._accumulating_names

    # ------------------------------------------------------------------ predictions
    def predict_all(self, theta: np.ndarray, eta_rec: np.ndarray) -> np.ndarray:
        """Predictions of every endpoint on every record, (n_records, n_endpoint)."""
        cm = self.compiled
        P = self.individual_parameters(theta, eta_rec)
        pred = np.zeros((self.n_records, cm.n_endpoint))
        failure = self.solve(P, np.zeros((self.n_records, cm.n_p, 0)), pred, np.zeros((self.n_records, cm.n_endpoint, 0)))
        if failure is not None:
            raise failure.error()
        return pred

    def predict(self, theta: np.ndarray, eta_rec: np.ndarray) -> np.ndarray:
        """The prediction of each record's own endpoint, (n_records,)."""
        pred = self.predict_all(theta, eta_rec)
        return pred[np.arange(self.n_records), self.bound.endpoint]

    def sensitivities(self, theta: np.ndarray, eta_rec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictions (n_rec, n_endpoint) and their exact derivatives with respect to each record's
        random effects (n_rec, n_endpoint, n_re: column j is the effect in force on the record, as
        in ``eta_rec``) and to every theta (n_rec, n_endpoint, n_theta)."""
        cm = self.compiled
        n_re, n_th = cm.n_re, len(theta)
        P = np.zeros((self.n_records, cm.n_p))
        dp_deta = np.zeros((self.n_records, cm.n_p, n_re))
        dp_dtheta = np.zeros((self.n_records, cm.n_p, n_th))
        self.parameter_jacobians(theta, eta_rec, P, dp_deta, dp_dtheta)
        dP = np.ascontiguousarray(np.concatenate([dp_deta, dp_dtheta], axis=2))
        pred = np.zeros((self.n_records, cm.n_endpoint))
        dpred = np.zeros((self.n_records, cm.n_endpoint, n_re + n_th))
        failure = self.solve(P, dP, pred, dpred)
        if failure is not None:
            raise failure.error()
        return pred, dpred[:, :, :n_re], dpred[:, :, n_re:]
