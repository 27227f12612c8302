"""Records of a control stream: names, abbreviations, comments, what is left out or refused."""

import pytest

from nlme_lab.nonmem import ControlStreamError
from nlme_lab.nonmem.records import RecordKind, split_records

from tests.nonmem.conftest import stream


def test_records_are_split_with_their_lines_and_comments():
    cs = split_records("$PROBLEM a run ; note\n$THETA (0, 1) ; CL\n 2 ; V\n$PK\nCL = THETA(1)\n")
    kinds = [r.kind for r in cs.records]
    assert kinds == [RecordKind.PROBLEM, RecordKind.THETA, RecordKind.PK]
    theta = cs.one(RecordKind.THETA)
    assert theta.line == 2 and [(l.number, l.code.strip(), l.comment) for l in theta.lines] == [
        (2, "(0, 1)", "CL"), (3, "2", "V")]
    assert cs.one(RecordKind.PK).lines[1].code == "CL = THETA(1)"


@pytest.mark.parametrize("name,kind", [("$PROB", RecordKind.PROBLEM), ("$SUBR", RecordKind.SUBROUTINES),
                                       ("$SUBROUTINE", RecordKind.SUBROUTINES), ("$EST", RecordKind.ESTIMATION),
                                       ("$ESTIMATION", RecordKind.ESTIMATION), ("$COV", RecordKind.COVARIANCE),
                                       ("$INP", RecordKind.INPUT), ("$OME", RecordKind.OMEGA),
                                       ("$THE", RecordKind.THETA), ("$ERR", RecordKind.ERROR)])
def test_record_names_may_be_abbreviated(name, kind):
    assert split_records(f"{name} x\n").records[0].kind is kind


@pytest.mark.parametrize("name", ["$TABLE", "$TAB", "$SIZES", "$SCATTER", "$SCAT", "$TOL"])
def test_output_and_size_records_are_left_out_with_a_note(name):
    cs = split_records(f"$PROBLEM x\n{name} ID TIME DV NOPRINT\n")
    assert [r.kind for r in cs.records] == [RecordKind.PROBLEM]
    assert len(cs.notes) == 1 and cs.notes[0].line == 2 and "left out" in cs.notes[0].message


@pytest.mark.parametrize("text,message", [
    ("$PROBLEM x\n$SIMULATION (1234)\n", r"line 2 \(\$SIMULATION\): \$SIMULATION is not supported"),
    ("$PROBLEM x\n$PRIOR NWPRI\n", r"line 2 \(\$PRIOR\).*priors"),
    ("$PROBLEM x\n$MIX\n", r"\$MIXTURE is not supported"),
    ("$PROBLEM x\n$INCLUDE other.txt\n", "included files are not read"),
    ("$PROBLEM x\n$FOO\n", r"line 2: unknown record \$FOO"),
    ("$PROBLEM x\n$PROBLEM y\n", r"line 2 \(\$PROBLEM\): a second \$PROBLEM"),
    ("CL=1\n$PROBLEM x\n", "line 1: text before the first record"),
])
def test_refused_records_name_record_and_line(text, message):
    with pytest.raises(ControlStreamError, match=message):
        split_records(text)


def test_a_record_twice_is_refused_where_one_is_expected(translate):
    with pytest.raises(ControlStreamError, match=r"line 5 \(\$SUBROUTINES\): \$SUBROUTINES appears twice"):
        translate(DATA="data.csv\n$SUBROUTINES ADVAN2 TRANS2")


def test_a_missing_record_is_named(translate):
    with pytest.raises(ControlStreamError, match=r"no \$INPUT record"):
        translate(INPUT=None)
    with pytest.raises(ControlStreamError, match=r"no \$ERROR record"):
        translate(ERROR=None)


def test_a_file_error_names_the_file(tmp_path):
    from nlme_lab.nonmem import from_nonmem

    with pytest.raises(ControlStreamError, match="missing.mod: no such file"):
        from_nonmem(tmp_path / "missing.mod")
    bad = tmp_path / "run.mod"
    bad.write_text(stream(PK="CALL RANDOM(2, R)"))
    with pytest.raises(ControlStreamError, match=r"run.mod line 5 \(\$PK\): CALL statements"):
        from_nonmem(bad)
