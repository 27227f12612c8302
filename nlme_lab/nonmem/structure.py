"""``$SUBROUTINES`` and ``$MODEL``: the compartment structure a control stream asks for.

Closed forms (``linCmt()`` in the model language, whose compartments are numbered as
NONMEM's: depot first when there is one, then central, then peripherals):

=========  =======================  ==========================================================
ADVAN      compartments             parameters by TRANS (model-language name <- NONMEM name)
=========  =======================  ==========================================================
ADVAN1     central                  TRANS2: cl<-CL v<-V; TRANS1: K
ADVAN2     depot central            TRANS2: cl<-CL v<-V ka<-KA; TRANS1: K KA
ADVAN3     central periph           TRANS4: cl<-CL v<-V1 q<-Q v2<-V2; TRANS1: K K12 K21
ADVAN4     depot central periph     TRANS4: cl<-CL v<-V2 q<-Q v2<-V3 ka<-KA; TRANS1: K K23 K32 KA
ADVAN11    central periph periph    TRANS4: cl<-CL v<-V1 q<-Q2 v2<-V2 q2<-Q3 v3<-V3; TRANS1: K K12 K21 K13 K31
ADVAN12    depot central p p        TRANS4: cl<-CL v<-V2 q<-Q3 v2<-V3 q2<-Q4 v3<-V4 ka<-KA;
                                    TRANS1: K K23 K32 K24 K42 KA
=========  =======================  ==========================================================

TRANS1's micro constants become ``v = 1`` (amounts), ``cl = K``, ``q = K12``, ``v2 = K12/K21``
and so on: the same system. ODEs: ``ADVAN6``, ``ADVAN8``, ``ADVAN13`` and ``ADVAN14`` with
``$MODEL COMP=(NAME [DEFDOSE] [DEFOBS])`` and ``$DES``. Other ADVANs and TRANSes are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlme_lab.nonmem.issues import Note, fail

ODE_ADVANS = (6, 8, 13, 14)
# ADVAN -> (has depot, number of central + peripheral compartments)
CLOSED = {1: (False, 1), 2: (True, 1), 3: (False, 2), 4: (True, 2), 11: (False, 3), 12: (True, 3)}
# (ADVAN, TRANS) -> model-language linCmt name -> NONMEM parameter name
TRANS_NAMES = {
    (1, 2): {"cl": "CL", "v": "V"},
    (2, 2): {"cl": "CL", "v": "V", "ka": "KA"},
    (3, 4): {"cl": "CL", "v": "V1", "q": "Q", "v2": "V2"},
    (4, 4): {"cl": "CL", "v": "V2", "q": "Q", "v2": "V3", "ka": "KA"},
    (11, 4): {"cl": "CL", "v": "V1", "q": "Q2", "v2": "V2", "q2": "Q3", "v3": "V3"},
    (12, 4): {"cl": "CL", "v": "V2", "q": "Q3", "v2": "V3", "q2": "Q4", "v3": "V4", "ka": "KA"},
}
# (ADVAN, TRANS1) -> (elimination, (exchange out, exchange back) per peripheral, absorption)
MICRO = {
    1: ("K", (), None), 2: ("K", (), "KA"), 3: ("K", (("K12", "K21"),), None),
    4: ("K", (("K23", "K32"),), "KA"), 11: ("K", (("K12", "K21"), ("K13", "K31")), None),
    12: ("K", (("K23", "K32"), ("K24", "K42")), "KA"),
}


@dataclass(frozen=True)
class Compartment:
    name: str  # model-language state name
    dose: bool  # the default dose compartment
    observe: bool  # the default observation compartment


@dataclass(frozen=True)
class Structure:
    advan: int | None  # None for $PRED
    trans: int
    compartments: tuple[Compartment, ...]
    line: int

    @property
    def closed_form(self) -> bool:
        return self.advan in CLOSED

    @property
    def ode(self) -> bool:
        return self.advan in ODE_ADVANS

    def number(self, n: int, what: str, record: str, line: int) -> Compartment:
        """Compartment ``n`` (1-based); the output compartment and beyond are refused."""
        if not 1 <= n <= len(self.compartments):
            fail(f"{what} names compartment {n}, but ADVAN{self.advan} has compartments 1..{len(self.compartments)}"
                 f" (the output compartment {len(self.compartments) + 1} is not supported)", record, line)
        return self.compartments[n - 1]

    @property
    def dose_number(self) -> int:
        return next(k for k, c in enumerate(self.compartments, start=1) if c.dose)

    @property
    def observe_number(self) -> int:
        return next(k for k, c in enumerate(self.compartments, start=1) if c.observe)


def parse_subroutines(record, notes: list[Note]) -> tuple[int, int]:
    """(ADVAN, TRANS) of ``$SUBROUTINES ADVAN2 TRANS2`` (commas, ``ADVAN=2`` too; TRANS1 by default)."""
    advan = trans = None
    for word in re.findall(r"[A-Z_][A-Z0-9_]*\s*=\s*[A-Z0-9_.]+|[^\s,]+", record.code()):
        key, _, value = (part.strip() for part in word.partition("="))
        match = re.fullmatch(r"(ADVAN|TRANS)(\d+)", key)
        if match:
            number = int(match[2])
        elif key in ("ADVAN", "TRANS") and re.fullmatch(r"(?:ADVAN|TRANS)?\d+", value):
            match, number = True, int(re.sub(r"\D", "", value))
        if match:
            if (match is True and key == "ADVAN") or (match is not True and match[1] == "ADVAN"):
                advan = number
            else:
                trans = number
        elif key in ("TOL", "ATOL", "SSTOL", "SSATOL"):
            notes.append(Note(f"{key}={value} left out (nlme_lab's ODE solver keeps its own tolerances)",
                              "SUBROUTINES", record.line))
        else:
            fail(f"{word} is not supported (read here: ADVANn, TRANSn, TOL=n)", "SUBROUTINES", record.line)
    if advan is None:
        fail("no ADVAN: a $PK model needs $SUBROUTINES ADVANn", "SUBROUTINES", record.line)
    if advan not in CLOSED and advan not in ODE_ADVANS:
        fail(f"ADVAN{advan} is not supported (supported: ADVAN1-4, 11, 12 and ODEs with ADVAN6/8/13/14)",
             "SUBROUTINES", record.line)
    trans = trans or 1
    if advan in CLOSED and trans != 1 and (advan, trans) not in TRANS_NAMES:
        fail(f"TRANS{trans} with ADVAN{advan} is not supported (supported: TRANS1, and "
             f"TRANS{2 if advan in (1, 2) else 4})", "SUBROUTINES", record.line)
    if advan in ODE_ADVANS and trans != 1:
        fail(f"TRANS{trans} with ADVAN{advan}: a general ADVAN takes no TRANS", "SUBROUTINES", record.line)
    return advan, trans


def closed_structure(advan: int, trans: int, line: int) -> Structure:
    depot, n = CLOSED[advan]
    names = (("depot",) if depot else ()) + ("central", "periph1", "periph2")[:n]
    central = 2 if depot else 1
    cmts = tuple(Compartment(name, k == 1, k == central) for k, name in enumerate(names, start=1))
    return Structure(advan, trans, cmts, line)


_COMP = re.compile(r"COMP(?:ARTMENT)?\s*=?\s*(?:\((?P<inner>[^()]*)\)|(?P<bare>[A-Z_][A-Z0-9_]*))")
_COMP_OPTIONS = {"DEFDOSE", "DEFDOS", "DEFOBSERVATION", "DEFOBS", "NODOSE", "NOOFF", "INITIALON"}


def ode_structure(advan: int, record, line: int) -> Structure:
    """Compartments of ``$MODEL COMP=(DEPOT DEFDOSE) COMP=(CENTRAL DEFOBS)``."""
    if record is None:
        fail(f"ADVAN{advan} needs a $MODEL record naming its compartments", "SUBROUTINES", line)
    text = record.code()
    rest = _COMP.sub(" ", text).split()
    extra = [w for w in rest if not w.startswith("NCOMP") and not w.startswith("NEQUIL") and not w.startswith("NPARAM")]
    if extra:
        fail(f"cannot read {' '.join(extra)!r} (read here: COMP=(NAME [DEFDOSE] [DEFOBS]))", "MODEL", record.line)
    found = []
    for match in _COMP.finditer(text):
        words = (match["inner"] or match["bare"]).replace(",", " ").split()
        if not words:
            fail("COMP=() without a name", "MODEL", record.line)
        options = set(words[1:])
        bad = options - _COMP_OPTIONS
        if bad:
            fail(f"compartment option {sorted(bad)[0]} is not supported (read: DEFDOSE, DEFOBS, NODOSE, NOOFF)",
                 "MODEL", record.line)
        found.append((words[0], bool(options & {"DEFDOSE", "DEFDOS"}), bool(options & {"DEFOBSERVATION", "DEFOBS"})))
    if not found:
        fail("$MODEL names no compartment (COMP=(NAME))", "MODEL", record.line)
    dose = [k for k, f in enumerate(found) if f[1]] or [0]
    observe = [k for k, f in enumerate(found) if f[2]] or [0]
    cmts = tuple(Compartment(name, k == dose[0], k == observe[0]) for k, (name, _, _) in enumerate(found))
    return Structure(advan, 1, cmts, line)
