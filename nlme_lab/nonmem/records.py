"""A control stream split into its records (``$PROBLEM``, ``$PK``, ...), with line numbers.

NM-TRAN's rules kept here: a record starts with ``$NAME`` as the first non-blank text of a
line and runs to the next record; a record name may be abbreviated to a unique prefix of at
least three letters (``$PROB``, ``$SUBR``, ``$EST``, ``$COV``); ``;`` starts a comment that runs
to the end of the line (a comment on a ``$THETA``/``$OMEGA`` line is that value's label). Code is
case-insensitive (kept upper case here); the ``$DATA`` file name and comments keep their case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nlme_lab.nonmem.issues import Note, fail


class RecordKind(enum.Enum):
    PROBLEM = "PROBLEM"
    INPUT = "INPUT"
    DATA = "DATA"
    SUBROUTINES = "SUBROUTINES"
    MODEL = "MODEL"
    PK = "PK"
    DES = "DES"
    ERROR = "ERROR"
    PRED = "PRED"
    THETA = "THETA"
    OMEGA = "OMEGA"
    SIGMA = "SIGMA"
    ESTIMATION = "ESTIMATION"
    COVARIANCE = "COVARIANCE"
    # left out with a note: they change no estimate
    TABLE = "TABLE"
    SCATTER = "SCATTERPLOT"
    SIZES = "SIZES"
    TOL = "TOL"
    ABBREVIATED = "ABBREVIATED"


#: records read only for output or sizing: left out, with a note
IGNORED = (RecordKind.TABLE, RecordKind.SCATTER, RecordKind.SIZES, RecordKind.TOL)

#: records NONMEM knows that change the model or the run in ways not translated: refused
REFUSED = {
    "SIMULATION": "simulation is run with nl.simulate",
    "MSFI": "a model specification file from an earlier run cannot be read",
    "MSFO": "",
    "PRIOR": "priors on THETA/OMEGA/SIGMA are not translated (nl.fit(..., method='nuts', priors=...) takes priors)",
    "THETAP": "priors are not translated", "THETAPV": "priors are not translated",
    "OMEGAP": "priors are not translated", "OMEGAPD": "priors are not translated",
    "SIGMAP": "priors are not translated", "SIGMAPD": "priors are not translated",
    "MIXTURE": "mixture models are not supported",
    "INFN": "user code run between iterations is not translated",
    "AES": "$AES (equilibrium compartments of ADVAN9/15) is not supported",
    "AESINITIAL": "$AESINITIAL is not supported",
    "NONPARAMETRIC": "the nonparametric step is not supported",
    "SUPER": "super-problems are not supported",
    "THETAI": "$THETAI transformations are not supported", "THETAR": "$THETAR transformations are not supported",
    "ETAS": "initial ETA values are not read", "PHIS": "initial PHI values are not read",
    "LEVEL": "nested random-effect levels ($LEVEL) are not supported",
    "ANNEAL": "$ANNEAL is not supported", "CONTR": "$CONTR (user CONTR routines) is not supported",
    "BIND": "$BIND is not supported", "FORMAT": "$FORMAT is not supported",
    "INCLUDE": "included files are not read: paste the included text into the control stream",
    "OLKJDF": "LKJ priors are not translated", "OVARF": "priors are not translated",
    "SLKJDF": "LKJ priors are not translated", "SVARF": "priors are not translated",
    "RCOV": "$RCOV is not supported", "RCOVI": "$RCOVI is not supported",
    "TTDF": "t-distributed priors are not translated", "DESIGN": "$DESIGN is not supported",
    "OMIT": "$OMIT is not supported", "CHAIN": "$CHAIN is not supported",
}
_SYNONYMS = {"SCATTER": RecordKind.SCATTER, "SUBROUTINE": RecordKind.SUBROUTINES, "SUBS": RecordKind.SUBROUTINES,
             "ABBR": RecordKind.ABBREVIATED, "MIX": None}


@dataclass(frozen=True)
class Line:
    """One line of a record: its number in the file, its code (comment removed) and comment."""

    number: int
    code: str
    comment: str = ""


@dataclass(frozen=True)
class Record:
    kind: RecordKind
    name: str  # as written, e.g. "EST"
    line: int  # of the $NAME
    lines: tuple[Line, ...]  # the text after $NAME on its line first

    @property
    def label(self) -> str:
        """How messages name the record: ``PK``, ``OMEGA``."""
        return self.kind.value if self.kind is not RecordKind.SCATTER else "SCATTER"

    def code(self) -> str:
        """The record's code as one text (comments removed), upper case."""
        return " ".join(line.code for line in self.lines).upper()


@dataclass(frozen=True)
class ControlStream:
    records: tuple[Record, ...]
    notes: tuple[Note, ...]

    def all(self, kind: RecordKind) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.kind is kind)

    def one(self, kind: RecordKind) -> Record | None:
        """The record of this kind, None when absent; two of them are refused."""
        found = self.all(kind)
        if len(found) > 1:
            fail(f"${kind.value} appears twice (first at line {found[0].line}); one is expected",
                 kind.value, found[1].line)
        return found[0] if found else None


def split_records(text: str) -> ControlStream:
    """The records of a control stream, in order (ignored ones dropped with a note)."""
    records: list[Record] = []
    notes: list[Note] = []
    current: tuple[str, RecordKind, int, list[Line]] | None = None
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        code, comment = _without_comment(raw)
        stripped = code.strip()
        if stripped.startswith("$"):
            if current is not None:
                records.append(Record(current[1], current[0], current[2], tuple(current[3])))
            name, rest = _record_name(stripped)
            kind = record_kind(name, number)
            current = (name, kind, number, [Line(number, rest, comment)])
        elif current is not None:
            current[3].append(Line(number, code, comment))
        elif stripped:
            fail("text before the first record: a control stream begins with $PROBLEM", None, number)
    if current is not None:
        records.append(Record(current[1], current[0], current[2], tuple(current[3])))
    if not records:
        fail("no records: a control stream has $PROBLEM, $INPUT, $DATA, ... records")
    kept = []
    for record in records:
        if record.kind in IGNORED:
            notes.append(Note(f"${record.name} left out (it sets output or sizes only)", record.label, record.line))
        else:
            kept.append(record)
    problems = [r for r in kept if r.kind is RecordKind.PROBLEM]
    if len(problems) > 1:
        fail(f"a second $PROBLEM (the first at line {problems[0].line}): import one problem at a time",
             "PROBLEM", problems[1].line)
    return ControlStream(tuple(kept), tuple(notes))


def _without_comment(line: str) -> tuple[str, str]:
    code, sep, comment = line.partition(";")
    return code.rstrip(), comment.strip() if sep else ""


def _record_name(stripped: str) -> tuple[str, str]:
    k = 1
    while k < len(stripped) and (stripped[k].isalnum() or stripped[k] == "_"):
        k += 1
    return stripped[1:k].upper(), stripped[k:]


def record_kind(name: str, line: int) -> RecordKind:
    """The record a (possibly abbreviated) name stands for; unknown and refused ones fail."""
    if not name:
        fail("'$' without a record name", None, line)
    if name in _SYNONYMS and _SYNONYMS[name] is not None:
        return _SYNONYMS[name]
    exact = [k for k in RecordKind if k.value == name]
    if exact:
        return exact[0]
    refused = _refused(name)
    if refused is not None:
        full, why = refused
        fail(f"${full} is not supported: {why or 'nothing of it can be translated'}", full, line)
    matches = [k for k in RecordKind if len(name) >= 3 and k.value.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"${k.value}" for k in RecordKind)
    fail(f"unknown record ${name} (records read here: {known})", None, line)


def _refused(name: str) -> tuple[str, str] | None:
    if name in _SYNONYMS:  # $MIX
        return "MIXTURE", REFUSED["MIXTURE"]
    if name in REFUSED:
        return name, REFUSED[name]
    matches = [full for full in REFUSED if len(name) >= 3 and full.startswith(name)]
    if len(matches) == 1 and not any(k.value.startswith(name) for k in RecordKind):
        return matches[0], REFUSED[matches[0]]
    return None
