"""``RunHistory``: every fit of a session as a row, numbers only (the widget is
``nlme_lab.widgets.history_view.HistoryView``).

>>> h = RunHistory(); h.add(fit_a, "base"); h.add(fit_b, "WT on CL")
>>> h.table()                 # OFV, ΔOFV to h.reference, AIC, BIC, n parameters, condition number, time
>>> h.compare(0, 1)           # estimates and SEs side by side
>>> h.likelihood_ratio(0, 1)  # LikelihoodRatio (estimation.compare), the fit with fewer parameters first
"""

from __future__ import annotations

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

    def _repr_html_(self) -> str:
        if not self._records:
            return "<i>run history: no fits yet</i>"
        return self.table().to_html(index=False, float_format=lambda x: f"{x:.6g}")


def _method(method) -> str:
    return getattr(method, "value", str(method))
