"""``$ESTIMATION`` and ``$COVARIANCE`` -> the method, importance sampling and covariance kind.

========================================  =============================================
NONMEM                                     nlme_lab
========================================  =============================================
``METHOD=0`` (FO, the default)             ``"fo"``
``METHOD=1`` / ``COND`` / ``CONDITIONAL``  ``"foce"``; with ``INTER``: ``"focei"``
``METHOD=1 LAPLACE INTER``                 ``"laplace"``
``METHOD=SAEM``                            ``"saem"``
``METHOD=IMP`` / ``IMPMAP`` after another  the importance-sampling OFV at the preceding
                                           method's estimates (``ISAMPLE`` draws per subject)
``MAXEVAL=0``                              evaluation only: every parameter fixed
``$COVARIANCE``                            ``"sandwich"`` (R^-1 S R^-1); ``MATRIX=R``/``S``:
                                           ``"r"``/``"s"``; no ``$COVARIANCE``: ``None``
========================================  =============================================

Options that change no estimate (PRINT, NOABORT, SIGDIGITS, MAXEVAL, POSTHOC, FILE, NBURN,
SEED, ...) are left out with a note; options that change the objective (``LIKELIHOOD``,
``-2LL``, ``CENTERING``, ``LAPLACE`` without ``INTER``, ``INTER`` with FO), the Bayesian methods
and unknown options are refused. Options carry over to later ``$ESTIMATION`` records, as in NONMEM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlme_lab.nonmem.issues import Note, fail

# known option names in the order NM-TRAN resolves abbreviations (first prefix match wins)
_OPTIONS = ("METHOD", "INTERACTION", "NOINTERACTION", "LAPLACIAN", "NOLAPLACIAN", "MAXEVALS", "PRINT", "NOABORT",
            "SIGDIGITS", "SIGL", "SIGLO", "NSIG", "POSTHOC", "NOPOSTHOC", "MSFO", "FILE", "FORMAT", "DELIM",
            "NOTITLE", "NOLABEL", "NBURN", "NITER", "ISAMPLE", "SEED", "CTYPE", "CINTERVAL", "CALPHA", "CITER",
            "CONSTRAIN", "EONLY", "NUMERICAL", "SLOW", "FNLETA", "MCETA", "ATOL", "GRD", "ETABARCHECK",
            "NOETABARCHECK", "NOTHETABOUNDTEST", "NOOMEGABOUNDTEST", "NOSIGMABOUNDTEST", "NONINFETA", "NOCOV",
            "NOPRIOR", "RANMETHOD", "IACCEPT", "ISCALE_MIN", "ISCALE_MAX", "DF", "ORDER", "REPEAT", "REPEAT1",
            "REPEAT2", "PHITYPE", "FPARAFILE", "PARAFILE", "PARAFPRINT", "KNUTHSUMOFF", "DERCONT", "NSUBS",
            "LIKELIHOOD", "-2LL", "CENTERING", "NOCENTERING", "STIELTJES", "HYBRID", "ZERO", "PREDICTION",
            "NOSLOW", "NONUMERICAL", "OMITTED", "MUM", "GRDQ", "NOHABORT", "SORT", "MASSRESET", "OPTMAP",
            "EPS_INT", "IKAPPA", "MAPITER", "MAPINTER", "ISAMPEND", "ISAMPLE_M1", "ISAMPLE_M1A", "ISAMPLE_M1B",
            "ISAMPLE_M2", "ISAMPLE_M3", "AUTO", "TTDF", "PACKAGE")
_REFUSED = {"LIKELIHOOD": "Y as a likelihood (LIKELIHOOD) is not supported",
            "-2LL": "Y as -2 log-likelihood (-2LL) is not supported",
            "CENTERING": "CENTERING changes the objective and is not supported",
            "HYBRID": "the HYBRID method is not supported", "ZERO": "ZERO= (the HYBRID method) is not supported",
            "STIELTJES": "STIELTJES (Gaussian quadrature) is not supported",
            "OMITTED": "an omitted estimation step is not supported: remove $ESTIMATION or its OMITTED"}
_METHODS = {"0": "fo", "ZERO": "fo", "1": "cond", "COND": "cond", "CONDITIONAL": "cond", "SAEM": "saem",
            "IMP": "imp", "IMPMAP": "imp"}
_BAYES = ("BAYES", "ITS", "DIRECT", "NUTS", "CHAIN", "DIRECTBAYES")


@dataclass(frozen=True)
class EstimationPlan:
    method: str | None  # "fo", "foce", "focei", "laplace", "saem"; None without $ESTIMATION
    importance_samples: int | None  # IMP after the method: draws per subject
    evaluate_only: bool  # MAXEVAL=0
    covariance: str | None  # "sandwich", "r", "s" or None


def _items(record) -> list[tuple[str, str, int, str]]:
    out = []
    for line in record.lines:
        for match in re.finditer(r"(-?[A-Z_0-9]+)(?:\s*=\s*(\([^)]*\)|\S+))?", line.code.upper()):
            out.append((_option(match[1], record.label, line.number), match[2] or "", line.number, match[1]))
    return out


def _option(word: str, record: str, line: int) -> str:
    word = {"LAPLACE": "LAPLACIAN", "NOLAPLACE": "NOLAPLACIAN"}.get(word, word)
    for name in _OPTIONS:
        if word == name or (len(word) >= 3 and name.startswith(word)):
            return name
    fail(f"unknown ${record} option {word}", record, line)


def plan(estimations, covariance, notes: list[Note]) -> EstimationPlan:
    steps = []  # (method, options, record line)
    state = {"METHOD": "0", "INTERACTION": False, "LAPLACIAN": False}
    ignored: dict[str, int] = {}
    evaluate_only = False
    samples = 300
    for record in estimations:
        eonly = False
        for name, value, line, word in _items(record):
            if name in _REFUSED:
                fail(_REFUSED[name], "ESTIMATION", line)
            if name == "METHOD":
                if value in _BAYES:
                    fail(f"METHOD={value} (a Bayesian method) is not translated: nl.fit(..., method='nuts') "
                         "samples the posterior with its own priors", "ESTIMATION", line)
                if value not in _METHODS:
                    fail(f"METHOD={value} is not supported (read: 0, 1/COND, SAEM, IMP after another method)",
                         "ESTIMATION", line)
                state["METHOD"] = value
            elif name in ("INTERACTION", "NOINTERACTION"):
                state["INTERACTION"] = name == "INTERACTION"
            elif name in ("LAPLACIAN", "NOLAPLACIAN"):
                state["LAPLACIAN"] = name == "LAPLACIAN"
            elif name == "MAXEVALS" and value.strip() == "0":
                evaluate_only = True
            elif name == "ISAMPLE":
                samples = _whole(value, name, line)
            elif name == "EONLY":
                eonly = value.strip() not in ("", "0")
            else:
                ignored.setdefault(word, line)
        steps.append((_METHODS[state["METHOD"]], dict(state), record.line, eonly))
    for name, line in ignored.items():
        notes.append(Note(f"{name} left out (it changes no estimate here)", "ESTIMATION", line))
    method, importance = _sequence(steps, samples, notes)
    return EstimationPlan(method, importance, evaluate_only, _covariance(covariance))


def _whole(value: str, name: str, line: int) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        fail(f"{name}={value}: expected a positive whole number", "ESTIMATION", line)
    return int(value)


def _sequence(steps, samples: int, notes: list[Note]) -> tuple[str | None, int | None]:
    if not steps:
        notes.append(Note("no $ESTIMATION: NONMEM would not estimate; nl.fit uses its default method (focei)"))
        return None, None
    first, options, line, _ = steps[0]
    if first == "imp":
        fail("METHOD=IMP as the first method is not translated: estimate with METHOD=1 INTER or SAEM, "
             "then IMP (EONLY=1) for the importance-sampling OFV", "ESTIMATION", line)
    method = _ours(first, options, line)
    importance = None
    for kind, opts, step_line, eonly in steps[1:]:
        if kind == "imp":
            importance = samples
            if not eonly:
                notes.append(Note("IMP after the estimation is read as its objective only (the importance-sampling "
                                  "OFV at the estimates; EONLY=1)", "ESTIMATION", step_line))
            continue
        if importance is not None:
            fail("an estimation method after IMP is not translated", "ESTIMATION", step_line)
        notes.append(Note(f"the estimation continues with {kind}: its estimates are the run's", "ESTIMATION",
                          step_line))
        method = _ours(kind, opts, step_line)
    return method, importance


def _ours(kind: str, options: dict, line: int) -> str:
    inter, laplace = options["INTERACTION"], options["LAPLACIAN"]
    if kind == "saem":
        return "saem"
    if kind == "fo":
        if inter or laplace:
            fail("METHOD=0 with INTER or LAPLACE has no counterpart here (use METHOD=1 INTER)", "ESTIMATION", line)
        return "fo"
    if laplace:
        if not inter:
            fail("LAPLACE without INTER is not translated: nlme_lab's Laplace evaluates the residual variance "
                 "at the conditional etas (add INTER)", "ESTIMATION", line)
        return "laplace"
    return "focei" if inter else "foce"


def _covariance(record) -> str | None:
    if record is None:
        return None
    kind = "sandwich"
    for match in re.finditer(r"([A-Z_]+)(?:\s*=\s*(\S+))?", record.code()):
        if match[1] == "MATRIX":
            value = (match[2] or "").upper()
            if value not in ("R", "S"):
                fail(f"MATRIX={value} is not supported (R or S)", "COVARIANCE", record.line)
            kind = value.lower()
    return kind
