"""``RunHistory``: every fit of a session as a row, numbers only (the widget is
``nlme_lab.widgets.history_view.HistoryView``).

>>> h = RunHistory(); h.add(fit_a, "base"); h.add(fit_b, "WT on CL")
>>> h.table()                 # OFV and its kind, ΔOFV to h.reference, AIC, BIC, n parameters, ...
>>> h.compare(0, 1)           # estimates and SEs side by side
>>> h.likelihood_ratio(0, 1)  # LikelihoodRatio (estimation.compare), the fit with fewer parameters first
>>> h.comparison(0, 1)        # both, and whether the test applies (LRTStatus), said in words

Every run carries the kind of its OFV (``estimation.results.OFVKind``): FO, FOCE, FOCEI or Laplace
objective, importance sampling (with its Monte-Carlo SE), linearised (the FOCEI objective at
another method's estimates) or a NUTS posterior. Two OFVs are subtracted (ΔOFV, the
likelihood-ratio test) only when they are of the same kind and the fits are to the same data
(``ofv_mismatch`` says why not otherwise); a run stopped by the user keeps its ΔOFV (the same
objective, away from its optimum) but gets no likelihood-ratio test.
"""

from __future__ import annotations

import enum
import hashlib
import math
import threading
from dataclasses import dataclass, field

from nlme_lab.estimation.results import OFVKind, Termination

COLUMNS = ("index", "label", "model_hash", "method", "ofv_kind", "ofv", "ofv_se", "delta_ofv", "delta_note", "aic",
           "bic", "n_parameters", "condition_number", "elapsed_s", "converged", "termination")

# the kind of an OFV in a few characters (the History table's cells)
KIND_LABELS = {OFVKind.FO: "FO", OFVKind.FOCE: "FOCE", OFVKind.FOCEI: "FOCEI", OFVKind.LAPLACE: "Laplace",
               OFVKind.IMPORTANCE_SAMPLING: "IS", OFVKind.LINEARIZED: "linearised",
               OFVKind.POSTERIOR: "NUTS posterior"}


@dataclass(frozen=True)
class RunRecord:
    index: int
    label: str
    model_hash: str
    method: str
    ofv: float
    aic: float
    bic: float
    n_parameters: int
    condition_number: float | None
    elapsed_s: float
    converged: bool
    termination: str
    estimates: dict
    se: dict
    ofv_kind: OFVKind | None = None  # what ``ofv`` is; None: a result that does not say
    ofv_se: float | None = None  # Monte-Carlo SE of an importance-sampling OFV
    fit: object = field(default=None, compare=False, repr=False)

    @property
    def stopped(self) -> bool:
        """Stopped by the user: the estimates (and OFV) are those of the last iteration reached."""
        return self.termination == Termination.STOPPED.value

    @property
    def kind_label(self) -> str:
        """The OFV kind in a few characters ("FOCEI", "IS", "linearised", ...)."""
        return KIND_LABELS[self.ofv_kind] if self.ofv_kind is not None else "unknown"


@dataclass(frozen=True)
class OFVMismatch:
    """Why two runs' OFVs cannot be subtracted: ``short`` stands in the ΔOFV cell, ``reason``
    is the sentence."""

    short: str
    reason: str


class LRTStatus(str, enum.Enum):
    """Whether the likelihood-ratio test applies to a pair of runs."""

    NESTED = "nested"  # verified (same structure, more parameters fixed): the p-value applies
    UNVERIFIED = "nesting not verified"  # parameters a subset, structures differ: p-value as if nested
    NOT_NESTED = "not nested"  # different methods or data, or parameters that do not nest: no test
    SAME_SIZE = "same number of parameters"  # df = 0: no test (compare AIC / BIC)
    SAME_RUN = "same run"  # a run against itself
    NOT_COMPARABLE = "OFVs not comparable"  # other OFV kinds or data (``ofv_mismatch``): no test
    STOPPED = "stopped run"  # a run stopped by the user is not at its optimum: no test


@dataclass(frozen=True)
class RunComparison:
    """Two runs side by side (``RunHistory.comparison``): ``parameters`` is ``RunHistory.compare``
    (None for a run against itself), ``lrt`` the test (None when ``status`` says it does not
    apply for lack of a difference in parameters), ``summary`` the verdict in words."""

    first: int
    second: int
    status: LRTStatus
    lrt: object | None  # estimation.compare.LikelihoodRatio
    summary: str
    parameters: object | None = field(default=None, compare=False, repr=False)  # pandas DataFrame

    @property
    def applies(self) -> bool:
        """Whether the p-value is a valid (verified) test."""
        return self.status is LRTStatus.NESTED


def model_hash(model, fixed=()) -> str:
    """12 hex digits: the model's structure (``ModelIR.key()``, the codegen cache key) and which
    parameters are fixed; initial values do not enter. "" for a fit without its model."""
    if model is None:
        return ""
    text = model.ir.key() + "|fixed:" + ",".join(sorted(fixed))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class RunHistory:
    """The fits of a session in order; safe to ``add`` from a fit's background thread."""

    def __init__(self):
        self._records: list[RunRecord] = []
        self._reference: int | None = None
        self._lock = threading.Lock()

    def add(self, fit, label: str | None = None) -> RunRecord:
        with self._lock:
            index = len(self._records)
            record = RunRecord(
                index=index, label=label or f"run {index + 1}",
                model_hash=model_hash(fit.model, fit.fixed), method=_method(fit.method),
                ofv=float(fit.ofv), aic=float(fit.aic), bic=float(fit.bic), n_parameters=int(fit.n_parameters),
                condition_number=None if fit.condition_number is None else float(fit.condition_number),
                elapsed_s=float(fit.elapsed_s), converged=bool(fit.converged),
                termination=fit.termination.value, estimates=dict(fit.estimates), se=dict(fit.se),
                ofv_kind=getattr(fit, "ofv_kind", None), ofv_se=_optional_float(getattr(fit, "ofv_mc_se", None)),
                fit=fit)
            self._records.append(record)
            return record

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, i: int) -> RunRecord:
        return self._records[self._index(i)]

    @property
    def records(self) -> tuple[RunRecord, ...]:
        return tuple(self._records)

    @property
    def reference(self) -> int | None:
        """The run ΔOFV is measured from (default: the first)."""
        if not self._records:
            return None
        return 0 if self._reference is None else self._reference

    @reference.setter
    def reference(self, i: int | None) -> None:
        self._reference = None if i is None else self._index(i)

    def _index(self, i: int) -> int:
        n = len(self._records)
        if not isinstance(i, int) or isinstance(i, bool) or not -n <= i < n:
            raise IndexError(f"run history has {n} run(s) (indices 0..{n - 1}): no run {i!r}")
        return i % n

    def table(self):
        """One row per run (pandas DataFrame): ``ofv_kind`` (``KIND_LABELS``) and ``ofv_se``;
        ``delta_ofv`` = OFV - OFV(reference) where the two are comparable, else NaN with
        ``delta_note`` saying why in a few words (``ofv_mismatch``)."""
        import pandas as pd

        ref = self._records[self.reference] if self._records else None
        rows = []
        for r in self._records:
            mismatch = ofv_mismatch(ref, r)
            row = {k: getattr(r, k) for k in COLUMNS if k not in ("ofv_kind", "delta_ofv", "delta_note")}
            rows.append(row | {"ofv_kind": r.kind_label,
                               "delta_ofv": math.nan if mismatch else r.ofv - ref.ofv,
                               "delta_note": mismatch.short if mismatch else ""})
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def compare(self, i: int, j: int):
        """Parameters side by side: estimate and SE of run ``i`` and run ``j`` (NaN where a run has
        no such parameter or no SE), and the difference j - i; indexed by parameter name."""
        import pandas as pd

        a, b = self[i], self[j]
        names = list(a.estimates) + [n for n in b.estimates if n not in a.estimates]
        nan = math.nan
        out = pd.DataFrame({
            f"estimate [{a.index}] {a.label}": [a.estimates.get(n, nan) for n in names],
            f"SE [{a.index}] {a.label}": [a.se.get(n, nan) for n in names],
            f"estimate [{b.index}] {b.label}": [b.estimates.get(n, nan) for n in names],
            f"SE [{b.index}] {b.label}": [b.se.get(n, nan) for n in names],
        }, index=pd.Index(names, name="parameter"))
        out["difference"] = out.iloc[:, 2] - out.iloc[:, 0]
        return out

    def likelihood_ratio(self, i: int, j: int):
        """The LRT between runs ``i`` and ``j`` (either order: the one with fewer estimated
        parameters is the reduced model); see ``nlme_lab.estimation.compare``."""
        from nlme_lab.estimation.compare import likelihood_ratio

        a, b = self[i], self[j]
        if a.fit is None or b.fit is None:
            raise ValueError("a run record without its FitResult cannot be tested")
        reduced, full = (a, b) if a.n_parameters <= b.n_parameters else (b, a)
        return likelihood_ratio(reduced.fit, full.fit)

    def comparison(self, i: int, j: int) -> RunComparison:
        """``compare(i, j)`` and ``likelihood_ratio(i, j)`` with the verdict in words: whether the
        models are nested (the p-value applies), nesting cannot be verified (the p-value assumes
        it), they are not nested, or have the same number of parameters (no test)."""
        a, b = self[i], self[j]
        if a.index == b.index:
            return RunComparison(a.index, b.index, LRTStatus.SAME_RUN, None,
                                 f"[{a.index}] is the same run twice: pick two different runs")
        parameters = self.compare(a.index, b.index)
        mismatch = ofv_mismatch(a, b)
        if mismatch:
            return RunComparison(a.index, b.index, LRTStatus.NOT_COMPARABLE, None,
                                 f"no likelihood-ratio test: {mismatch.reason}", parameters)
        stopped = [r for r in (a, b) if r.stopped]
        if stopped:
            runs = " and ".join(f"[{r.index}] {r.label}" for r in stopped)
            return RunComparison(a.index, b.index, LRTStatus.STOPPED, None,
                                 f"no likelihood-ratio test: {runs} was stopped by the user before it converged "
                                 f"(its OFV is not at its optimum); ΔOFV = {b.ofv - a.ofv:+.4f}", parameters)
        if a.n_parameters == b.n_parameters:
            return RunComparison(a.index, b.index, LRTStatus.SAME_SIZE, None,
                                 f"same number of parameters ({a.n_parameters}): no likelihood-ratio test "
                                 "(compare AIC / BIC instead)", parameters)
        lrt = self.likelihood_ratio(a.index, b.index)
        reduced, full = (a, b) if a.n_parameters < b.n_parameters else (b, a)
        status = _lrt_status(lrt, reduced.fit, full.fit)
        return RunComparison(a.index, b.index, status, lrt, _lrt_summary(status, lrt, reduced, full), parameters)

    def _repr_html_(self) -> str:
        if not self._records:
            return "<i>run history: no fits yet</i>"
        return self.table().to_html(index=False, float_format=lambda x: f"{x:.6g}")


def _lrt_status(lrt, reduced, full) -> LRTStatus:
    """NESTED when ``estimation.compare`` verified nesting; UNVERIFIED for its one case where the
    p-value is still given as if nested (same method and data, the reduced model's parameters a
    strict subset of the full one's, different structures); NOT_NESTED otherwise."""
    from nlme_lab.estimation.compare import same_data

    if lrt.nested:
        return LRTStatus.NESTED
    comparable = (reduced.method == full.method and reduced.model is not None and full.model is not None
                  and reduced.data is not None and full.data is not None and same_data(reduced.data, full.data))
    if (comparable and reduced.model.ir.key() != full.model.ir.key()
            and set(reduced.estimates) < set(full.estimates)):
        return LRTStatus.UNVERIFIED
    return LRTStatus.NOT_NESTED


def ofv_mismatch(a: RunRecord | None, b: RunRecord | None) -> OFVMismatch | None:
    """Why the OFVs of runs ``a`` and ``b`` cannot be subtracted, or None when they can: the same
    comparable kind (``OFVKind.comparable``: not a NUTS posterior) and the same data
    (``estimation.compare.same_data``)."""
    if a is None or b is None:
        return OFVMismatch("–", "no reference run")
    for r in (a, b):
        if r.ofv_kind is None:
            return OFVMismatch("n/a: kind unknown", f"[{r.index}] {r.label} does not say what its OFV is")
        if not r.ofv_kind.comparable:
            return OFVMismatch("n/a: posterior", f"[{r.index}] {r.label} is a NUTS posterior: its OFV (the -2LL "
                               "at the posterior medians) is no maximum of the likelihood")
    if a.ofv_kind is not b.ofv_kind:
        return OFVMismatch(f"n/a: {b.kind_label} vs {a.kind_label}",
                           f"the OFVs are of different kinds: {a.ofv_kind.value} for [{a.index}] {a.label}, "
                           f"{b.ofv_kind.value} for [{b.index}] {b.label}; their difference means nothing")
    if a.index != b.index and not _same_data(a, b):
        return OFVMismatch("n/a: other data", f"[{a.index}] {a.label} and [{b.index}] {b.label} are fits to "
                           "different data (or a fit does not carry its dataset)")
    return None


def _same_data(a: RunRecord, b: RunRecord) -> bool:
    from nlme_lab.estimation.compare import same_data

    da, db = (getattr(r.fit, "data", None) for r in (a, b))
    return da is not None and db is not None and same_data(da, db)


def _lrt_summary(status: LRTStatus, lrt, reduced: RunRecord, full: RunRecord) -> str:
    pair = f"[{reduced.index}] {reduced.label} within [{full.index}] {full.label}"
    numbers = f"ΔOFV = {lrt.delta_ofv:.4f}, df = {lrt.df}, p = {lrt.p_value:.4g}"
    if reduced.ofv_se is not None and full.ofv_se is not None:
        numbers += f" (Monte-Carlo SE of ΔOFV {math.hypot(reduced.ofv_se, full.ofv_se):.3f})"
    note = f" ({lrt.note})" if lrt.note else ""
    if status is LRTStatus.NESTED:
        return f"nested ({pair}): {numbers}{note}"
    if status is LRTStatus.UNVERIFIED:
        return f"nesting not verified ({pair}): {numbers} if nested{note}"
    return f"not nested: no likelihood-ratio test{note}"


def _method(method) -> str:
    return getattr(method, "value", str(method))


def _optional_float(value) -> float | None:
    return None if value is None else float(value)
