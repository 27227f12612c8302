"""``$THETA``, ``$OMEGA`` and ``$SIGMA`` records -> initial values, bounds, blocks, labels.

Read: ``$THETA init``, ``(low, init)``, ``(low, init, up)`` (commas or blanks), ``FIX``/``FIXED``
after a value or inside its parentheses, ``-INF``/``INF``; several values per line. ``$OMEGA``
and ``$SIGMA``: diagonal values (``FIX`` after a value fixes it), ``DIAGONAL(n)``, ``BLOCK(n)``
(lower triangle by rows; ``FIX`` anywhere fixes the block), ``BLOCK(n) SAME`` / ``BLOCK SAME`` /
``SAME(k)`` (the previous block again: between-occasion variability), and the scales
``VARIANCE`` (default), ``SD``/``STANDARD``, ``COVARIANCE``, ``CORRELATION``. A comment on the
line of a single value is its label. ``CHOLESKY``, ``VALUES(...)`` and ``UNINT`` are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nlme_lab.nonmem.issues import fail

_TOKEN = re.compile(r"\s*(?:(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[EDed][+-]?\d+)?)|(?P<inf>[+-]?INF)\b"
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[(),=]))")


@dataclass(frozen=True)
class ThetaInit:
    index: int  # 1-based THETA(n)
    init: float
    lower: float
    upper: float
    fixed: bool
    label: str
    line: int


@dataclass(frozen=True)
class VarianceBlock:
    """One diagonal value or one block of ``$OMEGA``/``$SIGMA`` (covariance scale)."""

    first: int  # 1-based index of its first ETA/EPS
    size: int
    values: tuple[float, ...]  # lower triangle by rows
    fixed: bool
    labels: tuple[str, ...]
    line: int
    block: bool  # written as BLOCK(n)
    same_as: int | None = None  # the ``first`` of the block it repeats (SAME)

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(range(self.first, self.first + self.size))

    def variance(self, k: int) -> float:
        """The variance of its k-th (0-based) member."""
        return self.values[k * (k + 1) // 2 + k]


def _tokens(record) -> list[tuple[str, str, int]]:
    """(kind, text, line) of a record's values, keywords and punctuation."""
    out = []
    for line in record.lines:
        text, pos = line.code, 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            match = _TOKEN.match(text, pos)
            if match is None:
                fail(f"cannot read {text[pos:].strip()[:20]!r}", record.label, line.number)
            kind = match.lastgroup
            out.append((kind, match.group(kind).upper(), line.number))
            pos = match.end()
    return out


def _number(kind: str, text: str, record: str, line: int) -> float:
    if kind == "inf":
        return -math.inf if text.startswith("-") else math.inf
    if kind != "num":
        fail(f"expected a number, found {text!r}", record, line)
    return float(text.replace("D", "E"))


def _labels(record) -> dict[int, str]:
    return {line.number: line.comment for line in record.lines if line.comment}


def parse_thetas(records, start: int = 1) -> list[ThetaInit]:
    thetas: list[ThetaInit] = []
    for record in records:
        tokens, labels = _tokens(record), _labels(record)
        per_line: dict[int, list[int]] = {}
        k = 0
        while k < len(tokens):
            kind, text, line = tokens[k]
            if kind == "word" and text in ("FIX", "FIXED"):
                if not thetas:
                    fail("FIX before any value", "THETA", line)
                thetas[-1] = _replace(thetas[-1], fixed=True)
                k += 1
                continue
            if kind == "op" and text == "(":
                values, fixed, k = _parenthesized(tokens, k + 1, "THETA")
            elif kind in ("num", "inf"):
                values, fixed, k = [(_number(kind, text, "THETA", line), line)], False, k + 1
            else:
                fail(f"unexpected {text!r} (a $THETA value is init, (low, init) or (low, init, up))", "THETA", line)
            theta = _theta(values, fixed, start + len(thetas), line)
            per_line.setdefault(line, []).append(len(thetas))
            thetas.append(theta)
        for line, members in per_line.items():
            if len(members) == 1 and line in labels:
                thetas[members[0]] = _replace(thetas[members[0]], label=labels[line])
    return thetas


def _replace(theta: ThetaInit, **changes) -> ThetaInit:
    from dataclasses import replace

    return replace(theta, **changes)


def _parenthesized(tokens, k: int, record: str) -> tuple[list[tuple[float, int]], bool, int]:
    values, fixed = [], False
    while k < len(tokens):
        kind, text, line = tokens[k]
        if kind == "op" and text == ")":
            return values, fixed, k + 1
        if kind == "op" and text == ",":
            k += 1
            continue
        if kind == "word" and text in ("FIX", "FIXED"):
            fixed = True
        else:
            values.append((_number(kind, text, record, line), line))
        k += 1
    fail("'(' without ')'", record, tokens[-1][2])


def _theta(values, fixed: bool, index: int, line: int) -> ThetaInit:
    numbers = [v for v, _ in values]
    if len(numbers) == 1:
        low, init, up = -math.inf, numbers[0], math.inf
    elif len(numbers) == 2:
        (low, init), up = numbers, math.inf
    elif len(numbers) == 3:
        low, init, up = numbers
    else:
        fail(f"THETA({index}) has {len(numbers)} numbers: expected init, (low, init) or (low, init, up)", "THETA", line)
    if not math.isfinite(init):
        fail(f"THETA({index}) has no finite initial value", "THETA", line)
    if not low <= init <= up or low >= up:
        fail(f"THETA({index}): the initial value {init:g} is not within its bounds ({low:g}, {up:g})", "THETA", line)
    return ThetaInit(index, init, low, up, fixed, "", line)


# --------------------------------------------------------------------------- OMEGA / SIGMA
_SCALES = {"VARIANCE": "variance", "VAR": "variance", "SD": "sd", "STANDARD": "sd",
           "COVARIANCE": "covariance", "COV": "covariance", "CORRELATION": "correlation", "CORR": "correlation"}
_REFUSED_OPTIONS = {"CHOLESKY": "CHOLESKY-scale values are not read", "VALUES": "VALUES(diag, off) is not read",
                    "UNINT": "UNINT is not supported"}


def parse_variances(records, what: str) -> list[VarianceBlock]:
    """``$OMEGA`` (``what`` = "OMEGA") or ``$SIGMA`` records, numbered from 1."""
    blocks: list[VarianceBlock] = []
    for record in records:
        blocks.extend(_variance_record(record, what, 1 + sum(b.size for b in blocks), blocks))
    return blocks


def _variance_record(record, what: str, first: int, before: list[VarianceBlock]) -> list[VarianceBlock]:
    tokens, labels = _tokens(record), _labels(record)
    options, k = _options(tokens, what)
    if options["same"]:
        return _same(options, tokens[k:], what, first, before, record.line)
    values, fixed_at, k = _values(tokens, k, what)
    if options["block"] == 0:
        fail("BLOCK without (n): write BLOCK(n) followed by its values, or BLOCK SAME", what, record.line)
    if options["block"] is not None:
        n = options["block"]
        need = n * (n + 1) // 2
        if len(values) != need:
            fail(f"BLOCK({n}) needs {need} values (the lower triangle by rows), found {len(values)}", what, record.line)
        numbers = _to_covariance([v for v, _ in values], n, options["scale"], options["scale_off"], what, record.line)
        fixed = options["fixed"] or bool(fixed_at)
        names = tuple(labels.get(values[i * (i + 1) // 2 + i][1], "") for i in range(n))
        return [VarianceBlock(first, n, tuple(numbers), fixed, names, record.line, True)]
    if options["diagonal"] is not None and options["diagonal"] != len(values):
        fail(f"DIAGONAL({options['diagonal']}) needs {options['diagonal']} values, found {len(values)}",
             what, record.line)
    per_line: dict[int, int] = {}
    for _, line in values:
        per_line[line] = per_line.get(line, 0) + 1
    out = []
    for i, (value, line) in enumerate(values):
        variance = value * value if options["scale"] == "sd" else value
        fixed = options["fixed"] or i in fixed_at
        label = labels.get(line, "") if per_line[line] == 1 else ""
        out.append(VarianceBlock(first + i, 1, (variance,), fixed, (label,), line, False))
    return out


def _options(tokens, what: str) -> tuple[dict, int]:
    opts = {"block": None, "diagonal": None, "same": False, "repeat": 1, "fixed": False,
            "scale": "variance", "scale_off": "covariance"}
    k = 0
    while k < len(tokens):
        kind, text, line = tokens[k]
        if kind != "word":
            break
        if text in _REFUSED_OPTIONS:
            fail(_REFUSED_OPTIONS[text], what, line)
        if text in ("BLOCK", "DIAGONAL", "DIAG", "SAME"):
            size, k = _size(tokens, k + 1, text, what)
            if text == "SAME":
                opts["same"], opts["repeat"] = True, size or 1
            else:
                opts["block" if text == "BLOCK" else "diagonal"] = size
                if text == "BLOCK" and size is None:
                    opts["block"] = 0  # BLOCK SAME
            continue
        if text in ("FIX", "FIXED"):
            opts["fixed"] = True
        elif _SCALES.get(text) in ("variance", "sd"):
            opts["scale"] = _SCALES[text]
        elif _SCALES.get(text) in ("covariance", "correlation"):
            opts["scale_off"] = _SCALES[text]
        else:
            fail(f"unknown ${what} option {text}", what, line)
        k += 1
    return opts, k


def _size(tokens, k: int, word: str, what: str) -> tuple[int | None, int]:
    if k < len(tokens) and tokens[k][:2] == ("op", "("):
        if k + 2 >= len(tokens) or tokens[k + 1][0] != "num" or tokens[k + 2][:2] != ("op", ")"):
            fail(f"expected {word}(n)", what, tokens[k][2])
        size = float(tokens[k + 1][1])
        if size != int(size) or size < 1:
            fail(f"{word}({tokens[k + 1][1]}): n must be a positive whole number", what, tokens[k][2])
        return int(size), k + 3
    return None, k


def _values(tokens, k: int, what: str) -> tuple[list[tuple[float, int]], set[int], int]:
    values: list[tuple[float, int]] = []
    fixed_at: set[int] = set()
    while k < len(tokens):
        kind, text, line = tokens[k]
        if kind == "word" and text in ("FIX", "FIXED"):
            if values:
                fixed_at.add(len(values) - 1)
            k += 1
            continue
        if kind == "op" and text == "(":
            inner, fixed, k = _parenthesized(tokens, k + 1, what)
            if len(inner) != 1:
                fail(f"expected one value in parentheses, found {len(inner)}", what, line)
            values.append(inner[0])
            if fixed:
                fixed_at.add(len(values) - 1)
            continue
        if kind == "op" and text == ",":
            k += 1
            continue
        if kind == "word" and text in _REFUSED_OPTIONS:
            fail(_REFUSED_OPTIONS[text], what, line)
        values.append((_number(kind, text, what, line), line))
        k += 1
    return values, fixed_at, k


def _to_covariance(values: list[float], n: int, scale: str, scale_off: str, what: str, line: int) -> list[float]:
    out = list(values)
    diag = [values[i * (i + 1) // 2 + i] for i in range(n)]
    sd = [d if scale == "sd" else math.sqrt(d) if d >= 0 else math.nan for d in diag]
    for i in range(n):
        for j in range(i + 1):
            k = i * (i + 1) // 2 + j
            if i == j:
                out[k] = diag[i] ** 2 if scale == "sd" else diag[i]
            elif scale_off == "correlation":
                out[k] = values[k] * sd[i] * sd[j]
    if any(not math.isfinite(v) for v in out):
        fail("a negative variance in the block", what, line)
    return out


def _same(options: dict, rest, what: str, first: int, before: list[VarianceBlock], line: int) -> list[VarianceBlock]:
    if rest:
        fail(f"unexpected {rest[0][1]!r} after SAME (a SAME block takes no values)", what, line)
    if not before or not before[-1].block:
        fail("SAME must follow a BLOCK(n) record", what, line)
    prior = before[-1]
    origin = prior.same_as if prior.same_as is not None else prior.first
    if options["block"] not in (None, 0) and options["block"] != prior.size:
        fail(f"BLOCK({options['block']}) SAME follows a BLOCK({prior.size})", what, line)
    out = []
    for r in range(options["repeat"]):
        out.append(VarianceBlock(first + r * prior.size, prior.size, prior.values, prior.fixed, prior.labels, line,
                                 True, origin))
    return out
