"""$INPUT and $DATA: column names by position, DROP, synonyms, IGNORE/ACCEPT, and the data read."""

import numpy as np
import pytest

from nlme_lab.errors import DataError
from nlme_lab.nonmem import ControlStreamError, from_nonmem
from nlme_lab.nonmem.datafile import filter_text, parse_data, parse_input
from nlme_lab.nonmem.records import split_records

from tests.nonmem.conftest import stream


def record(text: str):
    return split_records(text).records[0]


def columns(text: str):
    return [(c.name, c.labels, c.dropped) for c in parse_input(record(f"$INPUT {text}"))]


def test_input_names_drop_skip_and_synonyms():
    assert columns("ID TIME AMT CONC=DV WT=DROP DROP SKIP=X C=DROP DV2 RACE=ETHN") == [
        ("ID", ("ID",), False), ("TIME", ("TIME",), False), ("AMT", ("AMT",), False),
        ("DV", ("CONC", "DV"), False), ("WT", ("WT",), True), ("DROP6", (), True), ("X", ("X",), True),
        ("C", ("C",), True), ("DV2", ("DV2",), False), ("RACE", ("RACE", "ETHN"), False)]


def test_input_with_commas():
    assert [c[0] for c in columns("ID,TIME,DV, AMT")] == ["ID", "TIME", "DV", "AMT"]


@pytest.mark.parametrize("text,message", [
    ("ID TIME DV DV", "the label DV names columns 3 and 4"),
    ("ID TIME DV DATE", "DATE \\(column 4\\) is not read here: write DATE=DROP"),
    ("ID TIME DV=AMT", "two reserved labels"),
    ("ID TIME 3X", "'3X' is not a data item label"),
])
def test_input_refusals(text, message):
    with pytest.raises(ControlStreamError, match=message):
        parse_input(record(f"$INPUT {text}"))


def data(text: str):
    options = parse_data(record(f"$DATA {text}"))
    return options.path, options.ignore_character, options.conditions, options.accept


def test_data_options():
    assert data("run1.csv IGNORE=@") == ("run1.csv", "@", (), False)
    assert data("'my data/run 1.csv' IGNORE='C'") == ("my data/run 1.csv", "C", (), False)
    assert data('d.csv IGNORE="#" IGNORE=(ID.EQ.5, DV.LE.0) IGNORE (TIME.GT.24)') == (
        "d.csv", "#", ("ID.EQ.5", "DV.LE.0", "TIME.GT.24"), False)
    assert data("d.csv ACCEPT=(DOSE.GT.10) NOWIDE") == ("d.csv", None, ("DOSE.GT.10",), True)


@pytest.mark.parametrize("text,message", [
    ("d.csv IGNORE=@ IGNORE=C", "two IGNORE=c options"),
    ("d.csv IGNORE=(ID.EQ.1) ACCEPT=(ID.EQ.2)", "cannot be combined"),
    ("d.csv RECORDS=20", "RECORDS="),
    ("d.csv (6F8.0)", "FORMAT"),
    ("d.csv CHECKOUT", "CHECKOUT"),
    ("d.csv REWRITE", "unknown \\$DATA option"),
    ("* IGNORE=@", "the data of the previous problem"),
])
def test_data_refusals(text, message):
    with pytest.raises(ControlStreamError, match=message):
        parse_data(record(f"$DATA {text}"))


def test_filter_text_resolves_synonyms_and_defaults_to_nm_tran_ignore_hash():
    cols = parse_input(record("$INPUT ID TIME CONC=DV AMT"))
    assert filter_text(parse_data(record("$DATA d.csv IGNORE (CONC.LT.0.1)")), cols) == \
        "IGNORE='#' IGNORE=(DV.LT.0.1)"
    with pytest.raises(ControlStreamError, match="names WT, which \\$INPUT does not name"):
        filter_text(parse_data(record("$DATA d.csv IGNORE=(WT.GT.100)")), cols)


def read(tmp_path, data_text: str, **records):
    (tmp_path / "data.csv").write_text(data_text)
    path = tmp_path / "run.mod"
    path.write_text(stream(**records))
    return from_nonmem(path)


def test_input_overrides_the_header_by_position(tmp_path):
    # the header calls column 5 SS; $INPUT calls it SSX: a covariate, not steady state
    text = "ID,TIME,DV,AMT,SS,EVID,MDV,CMT,WT,EXTRA\n1,0,.,100,1,1,1,1,70,9\n1,1,5,0,1,0,0,2,70,9\n"
    model, spec = read(tmp_path, text, INPUT="ID TIME DV AMT SSX EVID MDV CMT WT")
    ds = spec.read()
    assert ds.covariate_names == ("SSX", "WT")
    np.testing.assert_array_equal(ds.ss, [0, 0])
    np.testing.assert_array_equal(ds.comment_lines, [1])


def test_whitespace_separated_data_several_ignores_and_accept(tmp_path):
    text = ("# a header written as a comment\n1 0 . 100 1 1 1 70\n1 1 5 0 0 0 2 70\n1 2 4 0 0 0 2 70\n"
            "2 0 . 100 1 1 1 60\n2 1 7 0 0 0 2 60\n")
    _, spec = read(tmp_path, text, DATA="data.csv IGNORE=# IGNORE=(ID.EQ.2) IGNORE (DV.GT.4.5)")
    ds = spec.read()
    np.testing.assert_array_equal(ds.rows, [2, 4])
    _, spec = read(tmp_path, text, DATA="data.csv ACCEPT=(ID.EQ.2)")
    assert spec.read().n_subjects == 1 and spec.read().ids.tolist() == [2]


def test_dropped_columns_are_not_read(tmp_path):
    text = "1,0,.,100,1,1,1,70,2024-01-01\n1,1,5,0,0,0,2,70,2024-01-01\n"
    _, spec = read(tmp_path, text, INPUT="ID TIME DV AMT EVID MDV CMT WT DAT=DROP")
    assert spec.read().covariate_names == ("WT",)


def test_the_data_file_is_found_beside_the_control_stream(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.csv").write_text("1,0,.,100,1,1,1,70\n1,1,5,0,0,0,2,70\n")
    (tmp_path / "sub" / "run.mod").write_text(stream())
    monkeypatch.chdir(tmp_path)
    _, spec = from_nonmem("sub/run.mod")
    assert spec.data == (tmp_path / "sub" / "data.csv").resolve()
    assert spec.read().n_records == 2


def test_a_header_under_nm_trans_default_ignore_is_a_data_error(tmp_path):
    _, spec = read(tmp_path, "ID,TIME,DV,AMT,EVID,MDV,CMT,WT\n1,0,.,100,1,1,1,70\n", DATA="data.csv")
    with pytest.raises(DataError, match="not a number") as err:
        spec.read()
    assert err.value.row == 1
