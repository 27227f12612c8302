"""``to_nonmem(model, data, method)``: a model-language model as a NONMEM control stream.

The structure becomes ``ADVAN1/2/3/4/11/12`` (``TRANS2`` for one compartment, ``TRANS4`` for
more; ``S`` of the central compartment set to its volume, so ``F`` is the concentration) for a
``linCmt()`` model, ``ADVAN13`` with ``$MODEL`` and ``$DES`` for ODEs, and ``$PRED`` for a model
without compartments. Residual errors are written as THETA SDs with ``$SIGMA 1 FIX``:
``Y = IPRED + W*EPS(1)``, ``W = SQRT(THETA(a)**2 + THETA(p)**2*IPRED**2)``; several endpoints are
chosen by ``IF (DVID.EQ.k)``. Kappas become one ETA per occasion value of the data (``$OMEGA
BLOCK(n) SAME``) picked by ``IF (OCC.EQ.v)``. ``lnorm()`` errors are refused (NONMEM would need
log DV in the data file), as is anything else NM-TRAN cannot say.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from nlme_lab.nonmem.issues import ControlStreamError
from nlme_lab.nonmem.structure import TRANS_NAMES

_METHODS = {"fo": "METHOD=0", "foce": "METHOD=1", "focei": "METHOD=1 INTER", "laplace": "METHOD=1 LAPLACE INTER",
            "saem": "METHOD=SAEM INTER NBURN=200 NITER=300"}
_COVARIANCE = {"sandwich": "$COVARIANCE UNCONDITIONAL", "r": "$COVARIANCE MATRIX=R UNCONDITIONAL",
               "s": "$COVARIANCE MATRIX=S UNCONDITIONAL", None: None}
_RESERVED = {"THETA", "ETA", "EPS", "ERR", "A", "DADT", "F", "Y", "T", "TIME", "W", "IPRED", "IRES", "IWRES", "EXP",
             "LOG", "LOG10", "SQRT", "ABS", "SIN", "COS", "MIN", "MAX", "INT", "MOD", "CALL", "EXIT", "IF", "THEN",
             "ELSE", "ENDIF", "DO", "WHILE", "MTIME", "NEWIND", "ICALL", "ID", "DV", "AMT", "RATE", "SS", "II",
             "ADDL", "EVID", "MDV", "CMT", "PCMT", "L1", "L2", "DVID", "OCC", "PRED", "RES", "WRES", "CWRES",
             "TOL", "COMRES"}
#: the parameter names of the closed-form ADVANs (reserved in a linCmt model's control stream)
_TRANS_PARAMETERS = {"K", "KA", "CL", "V", "Q", "V1", "V2", "V3", "V4", "Q2", "Q3", "Q4", "K12", "K21", "K23", "K32",
                     "K13", "K31", "K24", "K42", "K10", "K20", "ALPHA", "BETA", "GAMMA", "AOB", "VSS"}
_INDEXED = re.compile(r"(S|F|R|D|ALAG|A_0)\d+")


def refuse(message: str, line: int | None = None):
    raise ControlStreamError(f"cannot write this model as a NONMEM control stream: {message}", source="model",
                             line=line)


def to_nonmem(model, data, method: str = "focei", *, covariance: str | None = "sandwich", path=None) -> str:
    """The control stream of ``model`` fitted to the data file ``data`` by ``method``.

    ``model``: a ``Model`` or a ``.nlm`` path. ``data``: the data file's path as ``$DATA`` should
    name it (relative to where the control stream will be); it is read here for its column names
    and occasion values, beside ``path`` when it is there, else from the working folder. ``method``: fo, foce, focei, laplace or saem. ``covariance``:
    "sandwich" (NONMEM's default), "r", "s" or None (no ``$COVARIANCE``). ``path``: also write
    the text there. Returns the text.
    """
    from nlme_lab.data import read_nonmem
    from nlme_lab.model import Model

    if not isinstance(model, Model):
        model = Model.from_file(model)
    if not isinstance(data, (str, Path)):
        raise TypeError(f"data= is the data file's path, got {type(data).__name__}")
    if method not in _METHODS:
        refuse(f"method {method!r} has no NONMEM counterpart here (written: {', '.join(_METHODS)})")
    if covariance not in _COVARIANCE:
        refuse(f"covariance={covariance!r} (written: 'sandwich', 'r', 's' or None)")
    beside = Path(path).parent / data if path is not None else None
    dataset = read_nonmem(beside if beside is not None and beside.is_file() else data)
    from nlme_lab.nonmem.export_model import StreamWriter

    text = StreamWriter(model, dataset, str(data)).text(_METHODS[method], _COVARIANCE[covariance])
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def input_labels(dataset) -> list[str]:
    """The data file's columns, in file order, as $INPUT labels."""
    return [name for name, _ in dataset.column_roles]


def occasion_values(dataset, column: str) -> list[float]:
    values = np.asarray(dataset.table[column] if column in dataset.table else dataset.table[column.upper()], float)
    distinct = sorted({float(v) for v in values if math.isfinite(v)})
    if not distinct:
        refuse(f"the occasion column {column} has no values")
    return distinct


def trans_names(n_cmt: int, depot: bool) -> tuple[int, int, dict[str, str]]:
    advan = {(1, False): 1, (1, True): 2, (2, False): 3, (2, True): 4, (3, False): 11, (3, True): 12}[(n_cmt, depot)]
    trans = 2 if n_cmt == 1 else 4
    return advan, trans, TRANS_NAMES[(advan, trans)]


def reserved(name: str, closed_form: bool) -> bool:
    return (name in _RESERVED or _INDEXED.fullmatch(name) is not None
            or closed_form and name in _TRANS_PARAMETERS)
