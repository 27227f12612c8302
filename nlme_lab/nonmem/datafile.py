"""``$INPUT`` and ``$DATA``: which columns the data file has, which records are read.

``$INPUT`` names the columns by position (a header row in the file does not count: it must
be a comment under the IGNORE rule); ``NAME=DROP``, ``DROP``/``SKIP`` leave a column out;
``A=B`` makes two labels one column (a NONMEM reserved label such as ``DV`` names it). Cells
after the last label are left out. ``$DATA`` gives the file (relative to the control stream)
and the IGNORE/ACCEPT options, which ``nlme_lab.data`` applies (its filter text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlme_lab.nonmem.issues import fail

#: NONMEM's reserved data-item labels that nlme_lab reads with the same meaning
ROLES = ("ID", "TIME", "DV", "AMT", "RATE", "SS", "II", "ADDL", "EVID", "MDV", "CMT")
#: reserved labels that are refused unless dropped (nothing here reads them)
UNREAD = ("L2", "PCMT", "CALL", "CONT", "MRG_", "RAW_", "RPT_", "XVID1", "XVID2", "XVID3", "XVID4", "XVID5",
          "DATE", "DAT1", "DAT2", "DAT3")
#: column names nlme_lab's reader gives a role that NONMEM does not: used in that role only if
#: the control stream does (OCC for between-occasion variability), else left out
LOCAL_ROLES = ("DVID", "OCC", "CENS", "LIMIT")


@dataclass(frozen=True)
class InputColumn:
    name: str  # the column's name in the Dataset
    labels: tuple[str, ...]  # every label code may use for it (synonyms)
    dropped: bool


@dataclass(frozen=True)
class DataOptions:
    path: str  # as written
    ignore_character: str | None  # IGNORE=c
    conditions: tuple[str, ...]  # the IGNORE/ACCEPT lists as written (labels resolved later)
    accept: bool  # the lists are ACCEPT lists
    line: int


def parse_input(record) -> tuple[InputColumn, ...]:
    items = re.findall(r"[^\s,=]+(?:\s*=\s*[^\s,=]+)?", record.code())
    if not items:
        fail("$INPUT names no columns", "INPUT", record.line)
    columns = []
    for position, item in enumerate(items, start=1):
        parts = [p.strip() for p in item.split("=")]
        columns.append(_column(parts, position, record.line))
    _check_unique(columns, record.line)
    if not any(c.name == "ID" and not c.dropped for c in columns):
        l1 = [c for c in columns if c.name == "L1" and not c.dropped]
        if l1:
            columns[columns.index(l1[0])] = InputColumn("ID", ("ID", "L1"), False)
    return tuple(columns)


def _column(parts: list[str], position: int, line: int) -> InputColumn:
    for part in parts:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", part):
            fail(f"{part!r} is not a data item label (column {position})", "INPUT", line)
    if len(parts) == 1:
        if parts[0] in ("DROP", "SKIP"):
            return InputColumn(f"DROP{position}", (), True)
        return InputColumn(parts[0], (parts[0],), False)
    first, second = parts
    if "DROP" in parts or "SKIP" in parts:
        name = second if first in ("DROP", "SKIP") else first
        return InputColumn(name, (name,), True)
    reserved = [p for p in parts if p in ROLES or p in UNREAD or p == "L1"]
    if len(reserved) == 2:
        fail(f"{first}={second}: two reserved labels cannot name one column", "INPUT", line)
    name = reserved[0] if reserved else first
    return InputColumn(name, (first, second), False)


def _check_unique(columns: list[InputColumn], line: int) -> None:
    seen: dict[str, int] = {}
    for k, column in enumerate(columns, start=1):
        for label in (*column.labels, column.name):
            if label in seen and seen[label] != k:
                fail(f"the label {label} names columns {seen[label]} and {k}", "INPUT", line)
            seen[label] = k
        if column.name in UNREAD and not column.dropped:
            fail(f"the data item {column.name} (column {k}) is not read here: write {column.name}=DROP",
                 "INPUT", line)


_OPTION = re.compile(r"(?P<word>IGNORE|ACCEPT)\s*(?:=\s*)?(?P<value>\([^()]*\)|'[^']*'|\"[^\"]*\"|\S+)?", re.I)
_NOTE_ONLY = ("NOWIDE", "WIDE", "NOREWIND", "REWIND", "NOOPEN", "BLANKOK", "LRECL")
_REFUSED = {"RECORDS": "RECORDS= (read only the first records) is not supported: filter the file instead",
            "NRECS": "NRECS= is not supported", "CHECKOUT": "CHECKOUT (a data check, no estimation) is not supported",
            "NULL": "NULL= (another null character) is not supported", "TRANSLATE": "TRANSLATE= is not supported",
            "LAST20": "LAST20= (two-digit years) is not supported", "PRED_IGNORE_DATA": "PRED_IGNORE_DATA is not supported"}


def parse_data(record) -> DataOptions:
    text = " ".join(line.code for line in record.lines).strip()
    if not text:
        fail("$DATA names no file", "DATA", record.line)
    path, rest = _path(text, record.line)
    if rest.lstrip().startswith("("):
        fail("a FORMAT after the file name (fixed-width data) is not supported: use a comma- or "
             "blank-separated file", "DATA", record.line)
    character, conditions, modes = None, [], set()
    pos = 0
    while pos < len(rest):
        chunk = rest[pos:]
        if not chunk.strip():
            break
        match = _OPTION.match(chunk.lstrip())
        lead = len(chunk) - len(chunk.lstrip())
        if match is None:
            word = chunk.split()[0]
            _other_option(word, record.line)
            pos += lead + len(word)
            continue
        value = match["value"] or ""
        mode = match["word"].upper()
        if value.startswith("("):
            modes.add(mode)
            conditions.extend(c.strip() for c in value[1:-1].split(",") if c.strip())
        elif mode == "IGNORE" and _character(value) is not None:
            if character is not None:
                fail("two IGNORE=c options (one comment character is allowed)", "DATA", record.line)
            character = _character(value)
        else:
            fail(f"cannot read {match.group().strip()!r}: expected IGNORE=c, IGNORE=(list) or ACCEPT=(list)",
                 "DATA", record.line)
        pos += lead + match.end()
    if len(modes) > 1:
        fail("IGNORE=(list) and ACCEPT=(list) cannot be combined (as in NM-TRAN)", "DATA", record.line)
    return DataOptions(path, character, tuple(c.upper() for c in conditions), modes == {"ACCEPT"}, record.line)


def _path(text: str, line: int) -> tuple[str, str]:
    if text[0] in "'\"":
        end = text.find(text[0], 1)
        if end < 0:
            fail("the quoted file name has no closing quote", "DATA", line)
        return text[1:end], text[end + 1:]
    path = text.split()[0]
    if path == "*":
        fail("$DATA * (the data of the previous problem) is not supported", "DATA", line)
    return path, text[len(path):]


def _character(value: str) -> str | None:
    if len(value) == 3 and value[0] == value[2] and value[0] in "'\"":
        return value[1]
    return value if len(value) == 1 else None


def _other_option(word: str, line: int) -> None:
    key = word.split("=")[0].upper()
    if key in _NOTE_ONLY:
        return
    if key in _REFUSED:
        fail(_REFUSED[key], "DATA", line)
    fail(f"unknown $DATA option {word!r}", "DATA", line)


def filter_text(options: DataOptions, columns: tuple[InputColumn, ...]) -> str:
    """The options as the filter text of ``read_nonmem`` (NM-TRAN's default is IGNORE=#)."""
    parts = [f"IGNORE='{options.ignore_character or '#'}'"]
    if options.conditions:
        lists = ",".join(_resolve_condition(c, columns, options.line) for c in options.conditions)
        parts.append(f"{'ACCEPT' if options.accept else 'IGNORE'}=({lists})")
    return " ".join(parts)


def _resolve_condition(condition: str, columns, line: int) -> str:
    match = re.match(r"\s*([A-Z_][A-Z0-9_]*)(.*)", condition)
    if match is None:
        fail(f"cannot read the condition {condition!r}", "DATA", line)
    label = match[1]
    for column in columns:
        if label in column.labels or label == column.name:
            if column.dropped:
                fail(f"the condition {condition!r} reads {label}, a dropped column", "DATA", line)
            return column.name + match[2]
    fail(f"the condition {condition!r} names {label}, which $INPUT does not name", "DATA", line)
