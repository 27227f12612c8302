"""Binding a model to a dataset: which column feeds each covariate, where each dose goes,
which endpoint each observation belongs to, and which occasion each record is in.

Binding is where model and data problems meet, so every error here names both sides: the
model line:column of a name that is no column, or the data row, subject and column of a
record. Every problem is found before anything is raised: one problem is raised as itself
(a ``DataError`` or ``BindError``), several as one ``BindError`` listing them all.

Compartment numbers (CMT): a dose goes into the compartment its CMT names (1-based, in the
model's order; CMT 0 or absent means the first). On an observation record CMT is a label - the
prediction is the endpoint's ``~`` variable - but for a model with compartments it must be one
of them: an observation in CMT 2 under a one-compartment model is a model written for other
data (as NM-TRAN refuses a compartment number beyond the model's). A model without
compartments (algebraic) takes any observation CMT.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import BindError, DataError, DataWarning, Diagnostic, NlmeError
from nlme_lab.model.source import suggest

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


class _Problems:
    """Collects the errors of one binding; ``raise_all`` raises them together."""

    def __init__(self) -> None:
        self.items: list[NlmeError] = []

    def add(self, error: NlmeError) -> None:
        self.items.append(error)

    def raise_all(self) -> None:
        if len(self.items) == 1:
            raise self.items[0]
        if self.items:
            located = [d for e in self.items for d in getattr(e, "diagnostics", ())]
            raise BindError(diagnostics=located, problems=self.items)


def bind(model, dataset) -> BoundModel:
    """Check ``model`` against ``dataset`` and gather the per-record arrays. Raises every
    problem found at once (see the module docstring)."""
    ir = model.ir
    problems = _Problems()
    _needs_time(model, dataset, problems)
    covariates = _gather_covariates(ir, dataset, problems)
    cmt_index = _dose_compartments(ir, dataset, problems)
    _observation_compartments(ir, dataset, problems)
    endpoint = _endpoints(ir, dataset, problems)
    occasion, n_occ = _occasions(ir, dataset, problems)
    problems.raise_all()
    return BoundModel(model, dataset, covariates, cmt_index, endpoint, occasion, n_occ)


def _needs_time(model, dataset, problems: _Problems) -> None:
    """Data without a TIME column (every record at time 0, no doses) bind only to a model that
    never needs time: no ``t``, no ``d/dt`` and no ``linCmt()``. Each construct is named at its
    line:column."""
    if getattr(dataset, "has_time", True):
        return
    uses = _time_uses(model)
    if not uses:
        return
    listed = "; ".join(f"{what} at line {line}:{col}" for what, line, col, _end in uses)
    message = (f"the data have no TIME column, but the model needs time: {listed}; add a TIME column, or "
               "write the model as a curve of a data column (no t, d/dt or linCmt())")
    problems.add(BindError(message, diagnostics=[
        Diagnostic(f"{what} needs time, but the data have no TIME column", line, col, end)
        for what, line, col, end in uses]))


def _time_uses(model) -> list[tuple[str, int, int, int]]:
    """(what, line, col, end_col) of every use of time in ``[model]``: ``t``, ``d/dt(...)``, ``linCmt()``."""
    from nlme_lab.model.lexer import tokenize
    from nlme_lab.model.tokens import TokenKind

    tokens = tokenize(model.text)
    out, in_model = [], False
    for k, tok in enumerate(tokens):
        if tok.kind is TokenKind.SECTION:
            in_model = tok.text == "model"
        elif in_model and tok.kind is TokenKind.NAME and k + 1 < len(tokens):
            after = tokens[k + 1]
            if tok.text == "t" and not after.is_op("="):
                out.append(("time 't'", tok.line, tok.col, tok.end_col))
            elif tok.text == "d" and after.is_op("/") and k + 4 < len(tokens) and tokens[k + 2].text == "dt" \
                    and tokens[k - 1].kind is TokenKind.NEWLINE:  # a d/dt line, not d / dt of two variables
                out.append((f"d/dt({tokens[k + 4].text}) (an ODE)", tok.line, tok.col, tokens[k + 2].end_col))
            elif tok.text == "linCmt" and after.is_op("("):
                out.append(("linCmt() (a compartment model)", tok.line, tok.col, tok.end_col + 2))
    return out


def unknown_names(model, dataset) -> tuple[Diagnostic, ...]:
    """The model's names that are neither defined in it nor columns of ``dataset``, located at
    their first use, with "did you mean" over every name in scope (for an editor)."""
    problems = _Problems()
    _gather_covariates(model.ir, dataset, problems)
    return tuple(d for e in problems.items for d in getattr(e, "diagnostics", ()))


def _covariate_line(ir, k: int) -> int:
    """The model line where covariate ``k`` is first used (0 when unknown)."""
    lines = ir.covariate_lines
    return lines[k] if k < len(lines) else 0


def _names_in_scope(ir, dataset) -> list[str]:
    """Everything a name in the model can mean: compartments, variables, parameters, columns."""
    names = [*ir.compartments, *(a.name for a in ir.statements), *(t.name for t in ir.thetas)]
    names += [r.name for r in ir.random_effects]
    return names + [str(c) for c in dataset.table.columns]


def _unknown_name(ir, k: int, dataset) -> BindError:
    name = ir.covariates[k]
    hint = suggest(name, [n for n in _names_in_scope(ir, dataset) if n != name])
    spans = ir.covariate_spans
    if k < len(spans):
        span = spans[k]
        where = f" at line {span.line}:{span.col}"
        diagnostics = (Diagnostic(f"'{name}' is neither defined in the model nor a column of the dataset{hint}",
                                  span.line, span.col, span.end_col),)
    else:
        line = _covariate_line(ir, k)
        where, diagnostics = (f" at line {line}" if line else ""), ()
    return BindError(f"'{name}'{where} is neither defined in the model nor a column of the dataset{hint}",
                     diagnostics=diagnostics)


def _gather_covariates(ir, dataset, problems: _Problems) -> np.ndarray:
    out = np.zeros((dataset.n_records, len(ir.covariates)))
    table_cols = None  # the input table's columns, looked up only for a name that is no covariate column
    for k, name in enumerate(ir.covariates):
        line = _covariate_line(ir, k)
        if dataset.has_column(name):
            values = dataset.covariates[:, dataset.column(name)]
        elif name.lower() in (table_cols := table_cols or {c.lower(): c for c in dataset.table.columns}):
            values = dataset.table[table_cols[name.lower()]].to_numpy(dtype=float)
        else:
            problems.add(_unknown_name(ir, k, dataset))
            continue
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = bad[0]
            problems.add(DataError(
                f"covariate {name} used by the model (line {line}) has no value for this subject"
                + (f" ({bad.size} records without a value)" if bad.size > 1 else ""),
                row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column=name,
            ))
            continue
        out[:, k] = values
    return out


def _subject_of(dataset, record: int):
    s = int(np.searchsorted(dataset.offsets, record, side="right") - 1)
    return dataset.ids[s]


def _compartment_list(ir) -> str:
    return ", ".join(f"{k + 1} = {c}" for k, c in enumerate(ir.compartments))


def _by_value(values: np.ndarray, bad: np.ndarray):
    """(value, first record, count) of each distinct value among the records ``bad``."""
    if not bad.size:  # the usual case: no np.unique set-up
        return
    for value in np.unique(values[bad]):
        hits = bad[values[bad] == value]
        yield int(value), int(hits[0]), int(hits.size)


def _is_dose(evid: np.ndarray) -> np.ndarray:
    """``np.isin(evid, DOSE_EVIDS)`` without isin's set-up (a tenth of a millisecond a bind)."""
    mask = evid == DOSE_EVIDS[0]
    for e in DOSE_EVIDS[1:]:
        mask |= evid == e
    return mask


def _dose_compartments(ir, dataset, problems: _Problems) -> np.ndarray:
    n_state = len(ir.compartments)
    cmt = np.asarray(dataset.cmt)
    is_dose = _is_dose(dataset.evid)
    out = np.zeros(dataset.n_records, dtype=np.int64)
    if not is_dose.any():
        return out
    if n_state == 0:
        i = int(np.flatnonzero(is_dose)[0])
        problems.add(DataError(
            "dose record, but the model has no compartments to receive it "
            "(use a dataset without dose rows, or a model with d/dt or linCmt())",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="EVID",
        ))
        return out
    target = np.where(cmt > 0, cmt - 1, 0)
    bad = np.flatnonzero(is_dose & ((target < 0) | (target >= n_state)))
    for value, i, count in _by_value(cmt, bad):
        more = f"; {count} dose records use CMT {value}" if count > 1 else ""
        problems.add(DataError(
            f"dose into compartment {value}, which the model does not have ({_compartment_list(ir)}){more}",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="CMT",
        ))
    out[is_dose] = np.clip(target[is_dose], 0, n_state - 1)
    return out


def _observation_compartments(ir, dataset, problems: _Problems) -> None:
    """An observation's CMT is a label, but one beyond the model's compartments is an error."""
    n_state = len(ir.compartments)
    if n_state == 0:
        return
    cmt = np.asarray(dataset.cmt)
    bad = np.flatnonzero(dataset.observed & (cmt > n_state))
    for value, i, count in _by_value(cmt, bad):
        hint = ""
        if ir.lincmt is not None and not ir.lincmt.has_depot and value == n_state + 1:
            hint = " (with first-order absorption, ka assigned, linCmt() numbers the depot 1 and the central compartment 2)"
        problems.add(DataError(
            f"observation in compartment {value}, but the model has {n_state} "
            f"compartment{'s' if n_state > 1 else ''} ({_compartment_list(ir)}); {count} observation "
            f"record{'s use' if count > 1 else ' uses'} CMT {value}, this is the first{hint}",
            row=int(dataset.rows[i]), subject=_subject_of(dataset, i), column="CMT",
        ))


def _endpoints(ir, dataset, problems: _Problems) -> np.ndarray:
    n_end = len(ir.endpoints)
    out = np.zeros(dataset.n_records, dtype=np.int64)
    obs = (dataset.evid == 0) & (dataset.mdv == 0)
    if dataset.dvid is None:
        if n_end > 1:
            names = ", ".join(e.variable for e in ir.endpoints)
            problems.add(BindError(f"the model has {n_end} endpoints ({names}); the dataset needs a DVID column to say which each observation is"))
        return out
    variables = [e.variable.lower() for e in ir.endpoints]
    reported: set[str] = set()
    for i in np.flatnonzero(obs):
        try:
            out[i] = _endpoint_of(dataset.dvid[i], variables, dataset, int(i))
        except DataError as err:
            if str(dataset.dvid[i]) not in reported:  # one problem per distinct DVID value
                reported.add(str(dataset.dvid[i]))
                problems.add(err)
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


def _occasions(ir, dataset, problems: _Problems) -> tuple[np.ndarray, int]:
    kappas = ir.kappas
    occasion = np.asarray(dataset.occ, dtype=np.int64)
    none = np.zeros(dataset.n_records, dtype=np.int64), 1
    if not kappas:
        return none
    column = kappas[0].occasion
    if column.upper() != "OCC" and not dataset.has_column(column):
        problems.add(BindError(f"occasion column {column} (line {kappas[0].line}) is not a column of the dataset"))
        return none
    if column.upper() != "OCC":
        occasion = _occasion_index(dataset, dataset.covariates[:, dataset.column(column)])
    elif dataset.table.columns.str.upper().tolist().count("OCC") == 0:
        problems.add(BindError(f"kappa {kappas[0].name} (line {kappas[0].line}) varies by OCC, but the dataset has no OCC column"))
        return none
    return occasion, int(occasion.max()) + 1 if occasion.size else 1


def _occasion_index(dataset, values: np.ndarray) -> np.ndarray:
    out = np.zeros(dataset.n_records, dtype=np.int64)
    for s in range(dataset.n_subjects):
        lo, hi = dataset.offsets[s], dataset.offsets[s + 1]
        seen: dict[float, int] = {}
        for i in range(lo, hi):
            out[i] = seen.setdefault(float(values[i]), len(seen))
    return out
