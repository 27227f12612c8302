"""Binding a model to a dataset: which column feeds each covariate, where each dose goes,
which endpoint each observation belongs to, and which occasion each record is in.

Binding is where model and data problems meet, so every error here names both sides: the
model line of the covariate, or the data row, subject and column of the record.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import BindError, DataError, DataWarning

DOSE_EVIDS = (1, 4)


@dataclass(frozen=True)
class BoundModel:
    """A model and a dataset checked against each other, with the arrays the kernels need."""

    model: object  # nlme_lab.model.Model
    dataset: object  # nlme_lab.data.Dataset
    covariates: np.ndarray  # (n_rec, n_model_cov) in the model's covariate order
    cmt_index: np.ndarray  # (n_rec,) 0-based state receiving a dose; 0 on other records
    endpoint: np.ndarray  # (n_rec,) 0-based endpoint of observation records; 0 elsewhere
    occasion: np.ndarray  # (n_rec,) 0-based occasion index within subject
    n_occasions: int  # the largest number of occasions in any subject

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of observation records (EVID 0, MDV 0)."""
        ds = self.dataset
        return (ds.evid == 0) & (ds.mdv == 0)


def bind(model, dataset) -> BoundModel:
    """Check ``model`` against ``dataset`` and gather the per-record arrays."""
    ir = model.ir
    covariates = _gather_covariates(ir, dataset)
    cmt_index = _dose_compartments(ir, dataset)
    endpoint = _endpoints(ir, dataset)
    occasion, n_occ = _occasions(ir, dataset)
    return BoundModel(model, dataset, covariates, cmt_index, endpoint, occasion, n_occ)


def _covariate_line(ir, k: int) -> int:
    """The model line where covariate ``k`` is first used (0 when unknown)."""
    lines = ir.covariate_lines
    return lines[k] if k < len(lines) else 0


def _gather_covariates(ir, dataset) -> np.ndarray:
    out = np.empty((dataset.n_records, len(ir.covariates)))
    table_cols = {c.lower(): c for c in dataset.table.columns}
    for k, name in enumerate(ir.covariates):
        line = _covariate_line(ir, k)
        if dataset.has_column(name):
            values = dataset.covariates[:, dataset.column(name)]
        elif name.lower() in table_cols:
            values = dataset.table[table_cols[name.lower()]].to_numpy(dtype=float)
        else:
            hint = difflib.get_close_matches(name, list(dataset.covariate_names), n=1, cutoff=0.5)
            more = f"; did you mean {hint[0]}?" if hint else ""
            where = f" (line {line})" if line else ""
            raise BindError(f"covariate {name}{where} is not a column of the dataset{more}")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = bad[0]
            raise DataError(
                f"covariate {name} used by the model (line {line}) has no value for this subject",
                row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column=name,
            )
        out[:, k] = values
    return out


def _subject_of(dataset, record: int):
    s = int(np.searchsorted(dataset.offsets, record, side="right") - 1)
    return dataset.ids[s]


def _dose_compartments(ir, dataset) -> np.ndarray:
    n_state = len(ir.compartments)
    cmt = np.asarray(dataset.cmt)
    is_dose = np.isin(dataset.evid, DOSE_EVIDS)
    out = np.zeros(dataset.n_records, dtype=np.int64)
    if not is_dose.any():
        return out
    if n_state == 0:
        i = int(np.flatnonzero(is_dose)[0])
        raise DataError(
            "dose record, but the model has no compartments to receive it "
            "(use a dataset without dose rows, or a model with d/dt or linCmt())",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="EVID",
        )
    target = np.where(cmt > 0, cmt - 1, 0)
    bad = np.flatnonzero(is_dose & ((target < 0) | (target >= n_state)))
    if bad.size:
        i = int(bad[0])
        names = ", ".join(f"{k + 1} = {c}" for k, c in enumerate(ir.compartments))
        raise DataError(
            f"dose into compartment {int(cmt[i])}, which the model does not have ({names})",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="CMT",
        )
    out[is_dose] = target[is_dose]
    return out


def _endpoints(ir, dataset) -> np.ndarray:
    n_end = len(ir.endpoints)
    out = np.zeros(dataset.n_records, dtype=np.int64)
    obs = (dataset.evid == 0) & (dataset.mdv == 0)
    if dataset.dvid is None:
        if n_end > 1:
            names = ", ".join(e.variable for e in ir.endpoints)
            raise BindError(f"the model has {n_end} endpoints ({names}); the dataset needs a DVID column to say which each observation is")
        return out
    variables = [e.variable.lower() for e in ir.endpoints]
    for i in np.flatnonzero(obs):
        out[i] = _endpoint_of(dataset.dvid[i], variables, dataset, int(i))
    if n_end == 1 and len({str(v) for v in np.asarray(dataset.dvid)[obs]}) > 1:
        warnings.warn(
            f"the dataset has several DVID values but the model has one endpoint "
            f"({ir.endpoints[0].variable}); every observation is treated as that endpoint",
            DataWarning, stacklevel=3,
        )
        out[:] = 0
    return out


def _endpoint_of(value, variables: list[str], dataset, i: int) -> int:
    n_end = len(variables)
    try:
        k = float(value)
    except (TypeError, ValueError):
        name = str(value).strip().lower()
        if name in variables:
            return variables.index(name)
        raise DataError(
            f"DVID {value!r} names no endpoint of the model ({', '.join(variables)})",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="DVID",
        ) from None
    if n_end == 1:
        return 0
    if k != int(k) or not 1 <= k <= n_end:
        raise DataError(
            f"DVID {value} is not an endpoint number 1..{n_end} ({', '.join(variables)})",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="DVID",
        )
    return int(k) - 1


def _occasions(ir, dataset) -> tuple[np.ndarray, int]:
    kappas = ir.kappas
    occasion = np.asarray(dataset.occ, dtype=np.int64)
    if not kappas:
        return np.zeros(dataset.n_records, dtype=np.int64), 1
    column = kappas[0].occasion
    if column.upper() != "OCC" and not dataset.has_column(column):
        raise BindError(f"occasion column {column} (line {kappas[0].line}) is not a column of the dataset")
    if column.upper() != "OCC":
        occasion = _occasion_index(dataset, dataset.covariates[:, dataset.column(column)])
    elif dataset.table.columns.str.upper().tolist().count("OCC") == 0:
        raise BindError(f"kappa {kappas[0].name} (line {kappas[0].line}) varies by OCC, but the dataset has no OCC column")
    return occasion, int(occasion.max()) + 1 if occasion.size else 1


def _occasion_index(dataset, values: np.ndarray) -> np.ndarray:
    out = np.zeros(dataset.n_records, dtype=np.int64)
    for s in range(dataset.n_subjects):
        lo, hi = dataset.offsets[s], dataset.offsets[s + 1]
        seen: dict[float, int] = {}
        for i in range(lo, hi):
            out[i] = seen.setdefault(float(values[i]), len(seen))
    return out
