"""``RunHistory``: every fit of a session as a row, numbers only (the widget is
``nlme_lab.widgets.history_view.HistoryView``).

>>> h = RunHistory(); h.add(fit_a, "base"); h.add(fit_b, "WT on CL")
>>> h.table()                 # OFV, ΔOFV to h.reference, AIC, BIC, n parameters, condition number, time
>>> h.compare(0, 1)           # estimates and SEs side by side
>>> h.likelihood_ratio(0, 1)  # LikelihoodRatio (estimation.compare), the fit with fewer parameters first
>>> h.comparison(0, 1)        # both, and whether the test applies (LRTStatus), said in words
"""

from __future__ import annotations

import enum
import hashlib
import math
import threading
from dataclasses import dataclass, field

COLUMNS = ("index", "label", "model_hash", "method", "ofv", "delta_ofv", "aic", "bic", "n_parameters",
           "condition_number", "elapsed_s", "converged", "termination")


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
    fit: object = field(default=None, compare=False, repr=False)


class LRTStatus(str, enum.Enum):
    """Whether the likelihood-ratio test applies to a pair of runs."""

    NESTED = "nested"  # verified (same structure, more parameters fixed): the p-value applies
    UNVERIFIED = "nesting not verified"  # parameters a subset, structures differ: p-value as if nested
    NOT_NESTED = "not nested"  # different methods or data, or parameters that do not nest: no test
    SAME_SIZE = "same number of parameters"  # df = 0: no test (compare AIC / BIC)
    SAME_RUN = "same run"  # a run against itself


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
                termination=fit.termination.value, estimates=dict(fit.estimates), se=dict(fit.se), fit=fit)
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
        """One row per run (pandas DataFrame); ``delta_ofv`` = OFV - OFV(reference)."""
        import pandas as pd

        ref = self.reference
        base = self._records[ref].ofv if ref is not None else math.nan
        rows = [{**{k: getattr(r, k) for k in COLUMNS if k != "delta_ofv"}, "delta_ofv": r.ofv - base}
                for r in self._records]
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


def _lrt_summary(status: LRTStatus, lrt, reduced: RunRecord, full: RunRecord) -> str:
    pair = f"[{reduced.index}] {reduced.label} within [{full.index}] {full.label}"
    numbers = f"ΔOFV = {lrt.delta_ofv:.4f}, df = {lrt.df}, p = {lrt.p_value:.4g}"
    note = f" ({lrt.note})" if lrt.note else ""
    if status is LRTStatus.NESTED:
        return f"nested ({pair}): {numbers}{note}"
    if status is LRTStatus.UNVERIFIED:
        return f"nesting not verified ({pair}): {numbers} if nested{note}"
    return f"not nested: no likelihood-ratio test{note}"


def _method(method) -> str:
    return getattr(method, "value", str(method))
