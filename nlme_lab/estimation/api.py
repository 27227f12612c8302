"""``fit(model, data, method)``: the public entry point (``nlme_lab.fit``).

It prepares the model and the data once (``evaluation.prepare``: bound, wrapped as a
``KernelProblem``, with the ``ParameterSpace`` of ``[ini]``) and runs the method's runner;
then it adds what only a model and a dataset can give: subject IDs, EBEs and individual
parameters per subject, PRED / IPRED / IWRES per record and the log-normal summaries. The model
and the dataset are immutable and are never modified; a fit that cannot start raises an
``NlmeError`` saying why.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.compare import FINGERPRINT_ARRAYS, data_fingerprint
from nlme_lab.estimation.evaluation import Evaluator, model_derived, prepare
from nlme_lab.estimation.kernel_problem import KernelProblem
from nlme_lab.estimation.methods import (CovarianceKind, MethodKind, covariance_kind, get_method, load_runner,
                                        resolve_options)
from nlme_lab.estimation.model_space import lognormal_pairs
from nlme_lab.estimation.results import Deferred, FitResult, deferred_as_stored, lognormal_moments
from nlme_lab.problem import as_dataset, as_model

# "default": None, keep ``options.covariance``
COVARIANCE_ALIASES = {"sandwich": CovarianceKind.SANDWICH, "default": None}


def fit(model, data, method=None, *, options=None, callback=None, stop=None, covariance="default",
        seed: int | None = None, parallel: bool | None = None, priors: dict | None = None) -> FitResult:
    """Fit ``model`` (a ``Model``, a ``.nlm`` path or model text) to ``data`` (a ``Dataset``, a
    path or a DataFrame) by ``method``: ``"fo"``, ``"foce"``, ``"focei"`` or ``"laplace"`` (or a sampling
    method: ``"saem"``, ``"nuts"``; see ``estimation.methods``).

    ``data`` may also be the spec of an imported control stream (``nl.from_nonmem(...).spec``:
    anything with ``read()`` and ``method``): its dataset is read, and its method is used when
    ``method`` is not given. Without either, the method is ``"focei"``.

    ``options``: the method's options dataclass (``FOCEIOptions(...)``). ``covariance``:
    ``"default"`` (``options.covariance``: the sandwich for the FOCE family, ``"fim"`` for SAEM),
    ``"sandwich"`` (R^-1 S R^-1, NONMEM's default), ``"r"``, ``"s"``, ``"fim"`` (the linearized
    model's Fisher information, Monolix's linearization method) or ``None`` (no covariance step);
    anything but ``"default"`` overrides ``options.covariance``. ``callback`` receives an ``IterationEvent`` per
    outer iteration; ``stop`` (a ``StopToken``) or Ctrl-C ends the fit with the best point so
    far. ``seed`` is recorded in the result (every method here is deterministic).
    ``parallel``: solve subjects on several threads (default: when there are many subjects).
    A model whose parameters are all fixed is evaluated, not estimated.
    ``priors`` (``method="nuts"`` only): parameter name -> ``Normal`` / ``HalfNormal`` / ``LKJ``
    (``nlme_lab.estimation.bayes``); the others keep the printed weakly informative defaults.
    """
    t0 = time.perf_counter()
    data, method = _unpack_spec(data, method)
    model, data = as_model(model), as_dataset(data)
    from nlme_lab.data import require_observations

    require_observations(data, "fit")
    spec = get_method(method)
    opts = _default_options(spec) if options is None else resolve_options(spec, options)
    kind = _covariance(covariance)
    if kind is not None:
        opts = replace(opts, covariance=kind)
    opts = _with_priors(spec, opts, priors)
    _compile_alongside_engine(spec, model)
    ev = prepare(model, data, parallel=parallel)
    problem, space = ev.problem, ev.space
    try:
        core = load_runner(spec)(problem, space, spec, opts, callback=callback, stop=stop, seed=seed)
    except NlmeError as err:
        if problem.last_failure:
            raise type(err)(f"{err}; {problem.last_failure}") from err
        raise
    return _complete(core, model, data, ev, seed, t0)


def _compile_alongside_engine(spec, model) -> None:
    """While a second process compiles the engine (``problem.background_compile``, a fresh
    machine only), compile the method's own kernels here, then wait for the engine: a FOCE-family
    fit's likelihood terms (``subject_terms``), for FOCEI on a closed-form model the compiled
    inner solve (``inner_trial``), and the sensitivity march unless the second process has begun
    it (after a simulation it has). ``inner_newton`` and ``outer_batch`` compiled when this package
    was imported."""
    from nlme_lab.problem import background_compile

    ode_model = not model.compiled.is_linear
    if ode_model:  # the engine cached, a first model with ODEs still has ``ODE_UNITS`` to compile
        background_compile.start(ode=True)
    if not background_compile.running():
        return
    if ode_model:  # asked now, the second process takes its share right after the engine
        background_compile.request(background_compile.ODE_STAGE)
    if spec.kind not in (MethodKind.FOCE, MethodKind.FOCEI, MethodKind.LAPLACE):
        return
    from nlme_lab.kernels import subject_terms  # noqa: F401 (compiles on import)

    if spec.kind is MethodKind.FOCEI and not ode_model:
        from nlme_lab.kernels.inner_trial import compile_kernels

        compile_kernels()
    if background_compile.claim("march_sens"):  # the second process has not got there yet
        background_compile.wait("spectral")  # (it imports spectral, which compiles on import)
        from nlme_lab.kernels.bolus_march_sens import bind_march_sens

        bind_march_sens()
    if ode_model:  # the ODE integrator and the full event engine, shared with the second process
        background_compile.compile_ode_path()
    background_compile.wait("sensitivity")


#: the default options of the methods whose options hold only immutable values (numbers, enums,
#: the frozen ``OuterOptions`` / ``InnerOptions``): built and checked once, not at every fit
_IMMUTABLE_OPTIONS = (MethodKind.FO, MethodKind.FOCE, MethodKind.FOCEI, MethodKind.LAPLACE)
_DEFAULT_OPTIONS: dict = {}


def _default_options(spec):
    if spec.kind not in _IMMUTABLE_OPTIONS:
        return resolve_options(spec, None)
    opts = _DEFAULT_OPTIONS.get(spec.options_type)
    if opts is None:
        opts = _DEFAULT_OPTIONS[spec.options_type] = resolve_options(spec, None)
    return opts


def _unpack_spec(data, method):
    """(data, method) from a control-stream spec (``read()`` + ``method``), else as given; "focei" by default."""
    if callable(getattr(data, "read", None)) and hasattr(data, "method"):
        return data.read(), data.method if method is None and data.method is not None else method or "focei"
    return data, "focei" if method is None else method


def _with_priors(spec, opts, priors):
    if priors is None:
        return opts
    if not hasattr(opts, "priors"):
        raise NlmeError(f"priors are used only by method='nuts', not by {spec.kind.value}")
    if not isinstance(priors, dict):
        raise NlmeError(f"priors must be a dict of parameter name -> prior, got {type(priors).__name__}")
    return replace(opts, priors=dict(priors))


def _covariance(value) -> CovarianceKind | None:
    if isinstance(value, str) and value.lower() in COVARIANCE_ALIASES:
        return COVARIANCE_ALIASES[value.lower()]
    if value is None or value is False:
        return CovarianceKind.NONE
    return covariance_kind(value)


def _complete(core: FitResult, model, data, ev: Evaluator, seed, t0) -> FitResult:
    problem, space = ev.problem, ev.space
    values = space.values_from_reported(np.array([core.estimates[n] for n in space.reported_names()]))
    etas = np.asarray(core.etas, dtype=float)
    order = [n for n in model.parameter_names() if n in core.estimates]
    pairs = _lognormal(model_derived(model, "lognormal_pairs", lambda: lognormal_pairs(model.ir)), core.estimates)
    tables = _Tables(ev, values, etas.copy(), core.eta_names)
    return replace(
        core,
        estimates={n: core.estimates[n] for n in order},
        shrinkage=_pool_kappa_shrinkage(core.shrinkage, problem, etas, values.omega, core.eta_names),
        subject_ids=tuple(data.ids.tolist()),
        individual=Deferred(tables.individual), predictions=Deferred(tables.predictions),
        lognormal=pairs, model_name=model.name, data_name=_data_name(data), seed=seed,
        data_fingerprint=_fingerprint(data), model=model, data=data, elapsed_s=time.perf_counter() - t0,
        **deferred_as_stored(core, "individual", "predictions"),
    )


def _pool_kappa_shrinkage(shrink, problem: KernelProblem, etas, omega, eta_names):
    """One shrinkage per kappa, pooled over the (subject, occasion) pairs with observations
    (the engine's per-copy values would count occasions a subject does not have)."""
    from nlme_lab.estimation.results import Shrinkage

    if shrink is None or not problem.n_kappa:
        return shrink
    n_e, n_k = problem.n_subject_eta, problem.n_kappa
    occ = np.asarray(problem.bound.occasion)[problem.obs_rec]
    seen = np.zeros((problem.n_subjects, problem.n_occasions), dtype=bool)
    seen[problem.obs_subject, occ] = True
    sd, var = dict(list(shrink.eta_sd.items())[:n_e]), dict(list(shrink.eta_variance.items())[:n_e])
    for k in range(n_k):
        name = eta_names[n_e + k].split("#")[0]
        cols = n_e + np.arange(problem.n_occasions) * n_k + k
        values = etas[:, cols][seen]
        w = omega[cols[0], cols[0]]
        ddof = 1 if values.size > 1 else 0
        sd[name] = float(100 * (1 - np.std(values, ddof=ddof) / np.sqrt(w)))
        var[name] = float(100 * (1 - np.var(values, ddof=ddof) / w))
    return Shrinkage(sd, var, shrink.epsilon_sd)


#: ``Dataset`` -> its ``data_fingerprint`` (a SHA-256 over its arrays, ~0.1-0.2 ms a fit): a dataset
#: is frozen, and when the arrays the digest reads are read-only (as ``read_nonmem`` leaves them)
#: the digest is a pure function of it; weak keys (a ``Dataset`` compares by identity), the value a string.
_FINGERPRINTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _fingerprint(data) -> str:
    arrays = [getattr(data, name, None) for name in ("ids", *FINGERPRINT_ARRAYS)]
    if not all(isinstance(a, np.ndarray) and not a.flags.writeable for a in arrays):
        return data_fingerprint(data)  # arrays that could change: no cache
    try:
        got = _FINGERPRINTS.get(data)
    except TypeError:  # not weak-referenceable or not hashable: not cached
        return data_fingerprint(data)
    if got is None:
        got = _FINGERPRINTS[data] = data_fingerprint(data)
    return got


def _data_name(data) -> str:
    """The file name of the dataset's source ("DataFrame" for a DataFrame-built one): read off
    ``data.source``, which ``data.summary()`` only copies (building the summary cost ~0.5 ms a fit)."""
    try:
        return Path(data.source).name
    except Exception:  # no usable source
        return ""


def _lognormal(pairs, estimates) -> tuple[dict, ...]:
    out = []
    for p in pairs:
        w2 = estimates.get(p.eta)
        if w2 is None:
            continue
        median, mean, cv = lognormal_moments(estimates.get(p.theta, np.nan), w2)
        row = {"parameter": p.parameter, "eta": p.eta, "theta": p.theta, "cv_percent": cv, "median": None, "mean": None}
        if p.theta is not None and p.theta in estimates:
            row["median"], row["mean"] = median, mean
        out.append(row)
    return tuple(out)


class _Tables:
    """A fit's ``individual`` and ``predictions`` tables, built together on the first read of
    either (``results.Deferred``). They are built on a fresh ``KernelProblem`` of the fit's
    bound model (the engine's numbers do not depend on the problem object: the same tables to
    the bit), so an unread result keeps the bound model's arrays, not the fit's engine buffers."""

    def __init__(self, ev: Evaluator, values, etas, eta_names):
        self._args = (ev.problem.bound, ev.space, ev.problem.predictor.requested_parallel, values, etas, eta_names)
        self._tables = None
        self._lock = threading.Lock()  # two threads reading the two fields at once build them once

    def individual(self):
        return self._built()[0]

    def predictions(self):
        return self._built()[1]

    def _built(self):
        with self._lock:
            if self._tables is None:
                bound, space, parallel, values, etas, eta_names = self._args
                data = bound.dataset
                ev = Evaluator(KernelProblem(bound, parallel=parallel), space, model=bound.model, data=data)
                self._tables = (_individual_table(ev, values, etas, eta_names, data),
                                _prediction_table(ev, values, etas, data))
                self._args = None
            return self._tables


def _individual_table(ev: Evaluator, values, etas, eta_names, data):
    """One row per subject: ID, EBEs, individual parameters on the subject's first record."""
    import pandas as pd

    frame = {"ID": data.ids}
    for k, name in enumerate(eta_names):
        frame[name] = etas[:, k]
    indiv = ev.individual_parameters(values, etas)
    for k, name in enumerate(indiv.names):
        if name not in frame:
            frame[name] = indiv.values[:, k]
    return pd.DataFrame(frame)


def _prediction_table(ev: Evaluator, values, etas, data):
    """One row per record: ID, TIME, EVID, DV, PRED (etas 0), IPRED (EBEs), IRES, IWRES.

    IWRES = (DV - IPRED) / SD(IPRED) on the error model's scale (log scale for lnorm) on
    uncensored observations; missing elsewhere.
    """
    import pandas as pd

    problem, layout = ev.problem, ev.layout
    pred = problem.predict_records(values.theta, np.zeros_like(etas))
    ipred = problem.predict_records(values.theta, etas)
    rows = problem.obs_rec
    f_scale, _ = layout.to_log_scale(ipred[rows], None)
    V = ev.residual_variance(values, f_scale)
    iwres = np.full(problem.n_records, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        iwres[rows] = np.where(layout.censored, np.nan, (layout.y - f_scale) / np.sqrt(V))
    dv = np.where(problem.bound.observed, data.dv, np.nan)
    return pd.DataFrame({"ID": np.repeat(data.ids, np.diff(data.offsets)), "TIME": data.time, "EVID": data.evid,
                         "DV": dv, "PRED": pred, "IPRED": ipred, "IRES": dv - ipred, "IWRES": iwres})
