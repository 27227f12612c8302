"""Visual predictive checks: observed percentiles per bin against the distribution of the same
percentiles over data sets simulated from the model.

Per stratum and bin: the observed percentiles of DV (numpy's linear interpolation), and, over
``n`` simulated replicates of the design, the median and the central ``ci`` % interval of each
simulated percentile. All replicates come from one ``nlme_lab.simulate`` call, so a seed gives
the same result everywhere.

**Prediction correction** (pcVPC, Bergstrand et al., AAPS J 2011): each observed and simulated
value is normalised by its population prediction PRED (etas 0)::

    pcY = lb + (Y - lb) * (PRED_bin - lb) / (PRED - lb)

with PRED_bin the median PRED of the bin and ``lb`` the lower bound of the variable
(``lower_bound``, default 0: concentrations). For log-normal data (``lnorm`` error, or any
positive variable analysed on the log scale) this proportional rule with lb = 0 *is* the
additive correction on the log scale, log pcY = log Y + log PRED_bin - log PRED, so no separate
log rule is needed. Records with PRED <= lb cannot be corrected (e.g. a sample at the time of
an oral dose, PRED = 0) and are left out of a pcVPC (``n_excluded``, ``exclusions``).

**Variability correction** (pvcVPC, same paper), on top of the prediction correction::

    pvcY = PRED_bin + (pcY - PRED_bin) * SD_bin / SD(pcY)

with SD(pcY) the SD of the record's simulated pcY over replicates and SD_bin its median over
the bin.

**Below the limit of quantification.** The LLOQ is ``lloq`` (a number or one value per
observation) or, when the data have censored records (CENS = 1), their DV (NONMEM's M3
convention; they must then share one value). An observation is BLQ when censored or below
the LLOQ; a simulated value when below the LLOQ of its record. The BLQ fraction per bin is
reported (observed, and the median and interval over replicates). In the percentiles, BLQ
values enter at the LLOQ, and an observed percentile whose rank lies inside the BLQ part of
its bin (BLQ fraction >= percentile / 100) is unknown and reported as NaN.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nlme_lab.diagnostics.binning import BinningKind, assign_bins, bin_edges, binning_kind
from nlme_lab.diagnostics.inputs import resolve
from nlme_lab.diagnostics.simulated import simulate_observations
from nlme_lab.diagnostics.timing import time_after_dose
from nlme_lab.errors import NlmeError


class XAxis(enum.Enum):
    TIME = "time"
    TAD = "tad"  # time after the latest dose


@dataclass(frozen=True)
class VPCResult:
    """A VPC as numbers. Tables (pandas DataFrames) and their columns:

    * ``bins``: STRATUM, BIN (0-based within stratum), LOWER, UPPER, MID (centre of the edges),
      X_MEDIAN (median x of the observations in the bin: where the bin is drawn), N_OBS,
      PRED_BIN (median PRED);
    * ``percentiles``: STRATUM, BIN, PERCENTILE, OBSERVED, SIM_MEDIAN, SIM_LOWER, SIM_UPPER;
    * ``blq`` (None without an LLOQ): STRATUM, BIN, N_OBS, OBSERVED, SIM_MEDIAN, SIM_LOWER,
      SIM_UPPER (fractions 0-1);
    * ``observations``: ID, TIME, X, DV (corrected in a pc/pvcVPC), PRED, STRATUM, BIN, BLQ.
    """

    bins: pd.DataFrame
    percentiles: pd.DataFrame
    blq: pd.DataFrame | None
    observations: pd.DataFrame
    strata: tuple[str, ...]
    percentile_levels: tuple[float, ...]
    ci: float
    n_replicates: int
    seed: int | None
    x: XAxis
    binning: BinningKind
    pred_corrected: bool
    variability_corrected: bool
    lower_bound: float
    stratify_by: str | None
    lloq: float | None  # the LLOQ when it is one number
    n_excluded: int
    exclusions: str
    elapsed_s: float

    def stratum(self, label) -> "VPCResult":
        """The same result restricted to one stratum."""
        label = str(label)
        if label not in self.strata:
            raise KeyError(f"no stratum {label!r}; strata: {', '.join(self.strata)}")

        def keep(df):
            return None if df is None else df[df["STRATUM"] == label].reset_index(drop=True)

        from dataclasses import replace

        return replace(self, bins=keep(self.bins), percentiles=keep(self.percentiles), blq=keep(self.blq),
                       observations=keep(self.observations), strata=(label,))

    def to_dict(self) -> dict:
        """JSON-ready: every table as columns, the settings as values (NaN -> None)."""
        from dataclasses import fields

        from nlme_lab.diagnostics.export import plain

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}

    def _repr_html_(self) -> str:
        kind = "pvcVPC" if self.variability_corrected else "pcVPC" if self.pred_corrected else "VPC"
        head = (f"<b>{kind}</b>: {self.n_replicates} replicates (seed {self.seed}), x = {self.x.value}, "
                f"{len(self.bins)} bins, strata: {', '.join(self.strata)}")
        return head + self.percentiles.to_html(index=False, float_format=lambda v: f"{v:.4g}")


@dataclass(frozen=True)
class _Observations:
    ids: np.ndarray
    time: np.ndarray
    x: np.ndarray
    dv: np.ndarray
    cens: np.ndarray
    strata: np.ndarray  # str label per observation


def vpc(fit_or_model, data=None, *, model=None, params: dict | None = None, n: int = 500, seed: int | None = None,
        bins="auto", n_bins: int | None = None, percentiles=(5, 50, 95), ci: float = 95,
        stratify_by: str | None = None, pred_corrected: bool = False, variability_corrected: bool = False,
        lower_bound: float = 0.0, lloq=None, x="time") -> VPCResult:
    """A VPC of a fit (its estimates) or of a model with ``params`` on ``data``.

    ``bins``: ``"auto"`` (bins that follow the design's nominal times, at most ``n_bins``;
    ``diagnostics.binning.auto_edges``), ``"quantile"``, ``"equal"`` (``n_bins`` of them, default
    8) or an array of edges; each stratum (endpoint) is binned on its own.
    ``stratify_by``: a covariate column or ``"DVID"`` (the default for a model with several
    endpoints, which are never pooled). ``x``: ``"time"`` or ``"tad"``.
    ``variability_corrected`` implies ``pred_corrected``. See the module docstring.
    """
    t0 = time.perf_counter()
    inputs = resolve(fit_or_model, data, model=model, params=params)
    levels = _levels(percentiles, ci)
    xkind = XAxis(x.lower()) if isinstance(x, str) else XAxis(x)
    pred_corrected = bool(pred_corrected or variability_corrected)
    if stratify_by is None and len(inputs.model.ir.endpoints) > 1:
        stratify_by = "DVID"  # never pool different endpoints in one percentile
    obs = _observations(inputs, xkind, stratify_by)
    limits = _lloq(inputs.data, obs, lloq)
    sim = simulate_observations(inputs, n, seed)
    blq_obs, blq_sim = _blq(obs, sim.dv, limits)
    y_obs = np.where(blq_obs, limits, obs.dv) if limits is not None else obs.dv.copy()
    y_sim = np.where(blq_sim, limits, sim.dv) if limits is not None else sim.dv
    out = _Tables()
    excluded = _Exclusions()
    for label in _ordered(obs.strata):
        rows = np.flatnonzero(obs.strata == label)
        _stratum(out, excluded, label, rows, obs, sim.pred, y_obs, y_sim, blq_obs, blq_sim, limits, bins, n_bins,
                 levels, pred_corrected, variability_corrected, float(lower_bound))
    if not out.bins:
        raise NlmeError("no observation falls in any bin (check bins= and x=)")
    return VPCResult(
        bins=pd.DataFrame(out.bins), percentiles=pd.DataFrame(out.percentiles),
        blq=pd.DataFrame(out.blq) if limits is not None else None, observations=pd.concat(out.obs, ignore_index=True),
        strata=tuple(dict.fromkeys(b["STRATUM"] for b in out.bins)), percentile_levels=levels[0], ci=float(ci),
        n_replicates=sim.n_replicates, seed=seed, x=xkind, binning=binning_kind(bins),
        pred_corrected=pred_corrected, variability_corrected=bool(variability_corrected),
        lower_bound=float(lower_bound), stratify_by=stratify_by,
        lloq=_single(limits), n_excluded=excluded.count, exclusions=excluded.message(),
        elapsed_s=time.perf_counter() - t0)


class _Tables:
    def __init__(self):
        self.bins, self.percentiles, self.blq, self.obs = [], [], [], []


class _Exclusions:
    def __init__(self):
        self.reasons: dict[str, int] = {}

    def add(self, reason: str, count: int) -> None:
        if count:
            self.reasons[reason] = self.reasons.get(reason, 0) + int(count)

    @property
    def count(self) -> int:
        return sum(self.reasons.values())

    def message(self) -> str:
        return "; ".join(f"{n} {why}" for why, n in self.reasons.items())


def _levels(percentiles, ci) -> tuple[tuple[float, ...], float, float]:
    p = tuple(float(v) for v in np.atleast_1d(percentiles))
    if not p or any(not 0 <= v <= 100 for v in p):
        raise NlmeError(f"percentiles must be within 0..100, got {percentiles}")
    if not 0 < float(ci) < 100:
        raise NlmeError(f"ci must be a percentage between 0 and 100, got {ci}")
    half = (100.0 - float(ci)) / 2
    return p, half, 100.0 - half


def _ordered(labels: np.ndarray) -> list[str]:
    return list(dict.fromkeys(labels.tolist()))


def _single(limits):
    if limits is None:
        return None
    u = np.unique(limits)
    return float(u[0]) if u.size == 1 else None


def _observations(inputs, xkind: XAxis, stratify_by) -> _Observations:
    data = inputs.data
    obs = inputs.observed
    if not obs.any():
        raise NlmeError("the dataset has no observation records (EVID 0, MDV 0)")
    ids = np.repeat(data.ids, np.diff(data.offsets))[obs]
    t = np.asarray(data.time, dtype=float)[obs]
    if xkind is XAxis.TAD:
        if not np.isin(data.evid, (1, 4)).any():
            raise NlmeError("x='tad' needs dose records (EVID 1 or 4); the dataset has none")
        xv = time_after_dose(data)[obs]
    else:
        xv = t
    strata = stratum_labels(inputs, stratify_by)[obs]
    return _Observations(ids, t, xv, np.asarray(data.dv, dtype=float)[obs], np.asarray(data.cens)[obs], strata)


MAX_STRATA = 20


def stratum_labels(inputs, stratify_by) -> np.ndarray:
    """A label per record: "all", the endpoint ("DVID 1 (cp)") or "NAME=value"."""
    data = inputs.data
    n = data.n_records
    if stratify_by is None:
        return np.full(n, "all", dtype=object)
    if str(stratify_by).upper() == "DVID":
        from nlme_lab.problem import bind

        bound = bind(inputs.model, data)
        names = [e.variable for e in inputs.model.ir.endpoints]
        raw = data.dvid if data.dvid is not None else np.ones(n, dtype=int)
        return np.array([f"DVID {_show(v)} ({names[k]})" for v, k in zip(raw, bound.endpoint)], dtype=object)
    try:
        values = data.covariates[:, data.column(stratify_by)]
    except KeyError as err:
        raise NlmeError(f"stratify_by={stratify_by!r}: {err.args[0]}") from None
    distinct = np.unique(values[np.isfinite(values)])
    if distinct.size > MAX_STRATA:
        raise NlmeError(f"stratify_by={stratify_by!r} has {distinct.size} distinct values; stratify by a "
                        f"categorical column (at most {MAX_STRATA} values), e.g. a binned copy of it")
    return np.array([f"{stratify_by}={_show(v)}" for v in values], dtype=object)


def _show(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f == int(f) else f"{f:g}"


def _lloq(data, obs: _Observations, lloq) -> np.ndarray | None:
    n_obs = obs.dv.size
    if lloq is not None:
        arr = np.asarray(lloq, dtype=float)
        if arr.ndim == 0:
            return np.full(n_obs, float(arr))
        if arr.shape == (data.n_records,):
            return arr[data.observed]
        if arr.shape == (n_obs,):
            return arr
        raise NlmeError(f"lloq must be a number or one value per observation ({n_obs}) or record "
                        f"({data.n_records}); got shape {arr.shape}")
    below = obs.cens == 1
    if not below.any():
        return None
    values = np.unique(obs.dv[below])
    if values.size > 1:
        raise NlmeError(f"the censored records (CENS 1) carry {values.size} different limits "
                        f"({', '.join(f'{v:g}' for v in values[:5])}...); pass lloq= (one value per observation)")
    return np.full(n_obs, float(values[0]))


def _blq(obs: _Observations, sim_dv: np.ndarray, limits):
    if limits is None:
        return np.zeros(obs.dv.size, dtype=bool), None
    blq_obs = (obs.cens == 1) | ((obs.cens == 0) & (obs.dv < limits))
    return blq_obs, sim_dv < limits[None, :]


def _stratum(out: _Tables, excluded: _Exclusions, label, rows, obs: _Observations, pred, y_obs, y_sim, blq_obs,
             blq_sim, limits, bins, n_bins: int | None, levels, pc: bool, vc: bool, lb: float) -> None:
    x = obs.x[rows]
    finite = np.isfinite(x)
    excluded.add("observations before the first dose (no time after dose)", int((~finite).sum()))
    if not finite.any():
        return
    edges = bin_edges(x[finite], bins, n_bins)
    k = assign_bins(x, edges)
    excluded.add("observations outside the bin edges", int((finite & (k < 0)).sum()))
    keep = k >= 0
    if pc:
        ok = pred[rows] > lb
        excluded.add(f"observations with PRED <= {lb:g} (no prediction correction possible)", int((keep & ~ok).sum()))
        keep &= ok
    rows, k = rows[keep], k[keep]
    yo, ys = y_obs[rows], y_sim[:, rows]
    pred_bin = _bin_medians(pred[rows], k)
    if pc:
        yo, ys = prediction_correct(yo, ys, pred[rows], pred_bin, lb)
    if vc:
        yo, ys = variability_correct(yo, ys, pred_bin, k)
    lo_q, hi_q = levels[1], levels[2]
    for b in np.unique(k):
        m = k == b
        bo = blq_obs[rows][m] if limits is not None else None
        _bin_rows(out, label, int(b), edges, obs.x[rows][m], pred_bin[m][0], yo[m], ys[:, m], bo,
                  blq_sim[:, rows][:, m] if limits is not None else None, levels[0], lo_q, hi_q)
    out.obs.append(pd.DataFrame({
        "ID": obs.ids[rows], "TIME": obs.time[rows], "X": obs.x[rows], "DV": yo, "PRED": pred[rows],
        "STRATUM": label, "BIN": k, "BLQ": blq_obs[rows]}))


def _bin_medians(values: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Median of ``values`` over each record's bin, per record."""
    out = np.empty_like(values, dtype=float)
    for b in np.unique(k):
        m = k == b
        out[m] = np.median(values[m])
    return out


def prediction_correct(y_obs, y_sim, pred, pred_bin, lb: float = 0.0):
    """pcY = lb + (Y - lb) (PRED_bin - lb) / (PRED - lb), for observed and simulated values."""
    factor = (pred_bin - lb) / (pred - lb)
    return lb + (y_obs - lb) * factor, lb + (y_sim - lb) * factor[None, :]


def variability_correct(y_obs, y_sim, pred_bin, k):
    """pvcY = PRED_bin + (pcY - PRED_bin) SD_bin / SD(pcY) (SD over the simulated replicates)."""
    sd = np.std(y_sim, axis=0, ddof=1) if y_sim.shape[0] > 1 else np.ones(y_sim.shape[1])
    sd_bin = _bin_medians(sd, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(sd > 0, sd_bin / sd, 1.0)
    return pred_bin + (y_obs - pred_bin) * scale, pred_bin[None, :] + (y_sim - pred_bin[None, :]) * scale[None, :]


def _bin_rows(out: _Tables, label, b: int, edges, x, pred_bin, yo, ys, blq_o, blq_s, levels, lo_q, hi_q) -> None:
    n_obs = int(yo.size)
    out.bins.append({"STRATUM": label, "BIN": b, "LOWER": float(edges[b]), "UPPER": float(edges[b + 1]),
                     "MID": float(0.5 * (edges[b] + edges[b + 1])), "X_MEDIAN": float(np.median(x)),
                     "N_OBS": n_obs, "PRED_BIN": float(pred_bin)})
    observed = np.percentile(yo, levels)
    sim_p = np.percentile(ys, levels, axis=1)  # (n_levels, n_rep)
    summary = np.percentile(sim_p, [lo_q, 50.0, hi_q], axis=1)  # (3, n_levels)
    frac_o = float(blq_o.mean()) if blq_o is not None else 0.0
    for j, p in enumerate(levels):
        hidden = frac_o > 0 and frac_o >= p / 100.0
        out.percentiles.append({"STRATUM": label, "BIN": b, "PERCENTILE": p,
                                "OBSERVED": np.nan if hidden else float(observed[j]),
                                "SIM_MEDIAN": float(summary[1, j]), "SIM_LOWER": float(summary[0, j]),
                                "SIM_UPPER": float(summary[2, j])})
    if blq_o is not None:
        frac_s = np.percentile(blq_s.mean(axis=1), [lo_q, 50.0, hi_q])
        out.blq.append({"STRATUM": label, "BIN": b, "N_OBS": n_obs, "OBSERVED": frac_o,
                        "SIM_MEDIAN": float(frac_s[1]), "SIM_LOWER": float(frac_s[0]), "SIM_UPPER": float(frac_s[2])})
