"""NM-TRAN's comment records: ``IGNORE=#`` (its default), ``IGNORE=@``, ``IGNORE=c`` and a
leading ``C`` comment column, given as ``filter={"ignore": ...}`` or as $DATA option text."""

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import read_nonmem
from nlme_lab.errors import DataError

TEXT = """
    ID,TIME,DV,AMT
    1,0,.,100
    C1,1,99,0
    1,1,5,0
      @ moved to a later visit
    Dose changed after this record
    1,2,4,0
"""


def test_ignore_c_skips_records_that_begin_with_c(read_quietly, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("ID,TIME,DV,AMT\n1,0,.,100\nC1,1,99,0\n1,1,5,0\nCX this is a note\n1,2,4,0\n")
    for spec in ({"ignore": "C"}, {"IGNORE": ["C"]}, {"ignore": "'C'"}, "IGNORE=C", " ignore = 'C' "):
        ds, messages = read_quietly(path, filter=spec)
        assert messages == [], spec
        np.testing.assert_array_equal(ds.rows, [2, 4, 6])
        np.testing.assert_array_equal(ds.comment_lines, [3, 5])
        np.testing.assert_array_equal(ds.dv[1:], [5, 4])


def test_ignore_c_reads_other_letters_as_records_as_nm_tran_does(read_text):
    # NM-TRAN's IGNORE=C looks at column 1 only: '@' and other letters begin data records
    with pytest.raises(DataError, match="1 cells.*IGNORE=C") as err:
        read_text(TEXT, filter={"ignore": "C"})
    assert err.value.row == 5
    with pytest.raises(DataError, match="'X1' is not a number") as err:
        read_text("ID,TIME,DV\n1,0,1\nX1,1,2\n", filter={"ignore": "C"})
    assert (err.value.row, err.value.column) == (3, "ID")


def test_ignore_at_skips_lines_whose_first_non_blank_is_a_letter_or_at(read_quietly, tmp_path):
    path = tmp_path / "at.csv"
    path.write_text(TEXT.replace("    ", "").lstrip() + "S01,3,3,0\n")
    ds, messages = read_quietly(path, filter={"ignore": "@"})
    assert messages == []
    np.testing.assert_array_equal(ds.rows, [2, 4, 7])
    np.testing.assert_array_equal(ds.comment_lines, [3, 5, 6, 8])


def test_ignore_hash_is_nm_tran_default_letters_are_records(read_text):
    with pytest.raises(DataError, match="'C1' is not a number") as err:
        read_text("ID,TIME,DV,AMT\n1,0,.,100\nC1,1,99,0\n1,1,5,0\n", filter={"ignore": "#"})
    assert (err.value.row, err.value.column) == (3, "ID")
    ds = read_text("ID,TIME,DV\n# a note\n1,0,1\n#1,1,2\n1,2,3\n", filter="IGNORE=#")
    np.testing.assert_array_equal(ds.comment_lines, [2, 4])


def test_default_skips_notes_headers_c_and_at_lines(read_quietly, tmp_path):
    path = tmp_path / "default.csv"
    path.write_text(TEXT.replace("    ", "").lstrip())
    ds, messages = read_quietly(path)
    assert messages == []
    np.testing.assert_array_equal(ds.rows, [2, 4, 7])


@pytest.mark.parametrize("cell", ["NA", "nan", "NaN", "inf", "Inf", "INFINITY", "S01", "abc", "TRUE"])
def test_a_record_with_a_text_or_missing_id_is_an_error_not_a_silent_comment(cell, read_text):
    with pytest.raises(DataError, match="is not a number") as err:
        read_text(f"ID,TIME,DV\n1,0,1\n{cell},1,2\n1,2,3\n")
    assert (err.value.row, err.value.column) == (3, "ID")


@pytest.mark.parametrize("cell", ["NA", "nan", "Inf", "-inf"])
def test_missing_or_infinite_spellings_are_records_even_with_ignore_at(cell, read_text):
    with pytest.raises(DataError, match="is not a number") as err:
        read_text(f"ID,TIME,DV\n1,0,1\n{cell},1,2\n", filter={"ignore": "@"})
    assert (err.value.row, err.value.column) == (3, "ID")


def test_text_ids_are_comments_only_when_ignore_at_is_asked_for(read_quietly, tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("ID,TIME,DV\n1,0,1\nS01,1,2\n1,2,3\n")
    ds, messages = read_quietly(path, filter={"ignore": "@"})
    assert messages == [] and ds.n_records == 2


def _c_column_text(marks=("C",), n_subjects=12):
    lines = ["C,ID,TIME,DV,AMT,WT"]
    for i in range(1, n_subjects + 1):
        lines += [f".,{i},0,.,100,{60 + i}", f",{i},1,{i + 0.5},0,{60 + i}"]
        lines += [f"{mark},{i},2,99,0,{60 + i}" for mark in marks]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spec", [None, {"ignore": "C"}, {"ignore": "@"}])
def test_a_leading_c_column_is_the_comment_column_and_is_dropped(spec, read_quietly, tmp_path):
    path = tmp_path / "c_column.csv"
    path.write_text(_c_column_text())
    ds, messages = read_quietly(path, filter=spec)
    assert messages == []
    assert ds.covariate_names == ("WT",) and "C" not in ds.table.columns
    assert [name for name, _ in ds.column_roles] == ["ID", "TIME", "DV", "AMT", "WT"]
    assert (ds.n_subjects, ds.n_records, ds.n_observations) == (12, 24, 12)
    np.testing.assert_array_equal(ds.comment_lines, np.arange(4, 38, 3))
    np.testing.assert_array_equal(ds.dv[1::2], np.arange(1, 13) + 0.5)


def test_the_same_c_column_in_a_dataframe_gives_the_same_arrays(tmp_path):
    path = tmp_path / "c_column.csv"
    path.write_text(_c_column_text(marks=("C", "#")))
    by_file = read_nonmem(path)
    by_frame = read_nonmem(pd.read_csv(path))
    for name in ("time", "dv", "amt", "evid", "mdv", "ids", "offsets", "covariates"):
        np.testing.assert_array_equal(getattr(by_file, name), getattr(by_frame, name), err_msg=name)
    assert by_frame.covariate_names == ("WT",)
    np.testing.assert_array_equal(by_frame.comment_lines, np.sort(np.r_[3:48:4, 4:49:4]))


def test_c_marked_records_under_ignore_hash_are_an_error_not_data(read_text):
    with pytest.raises(DataError, match="IGNORE=C") as err:
        read_text(_c_column_text(), filter={"ignore": "#"})
    assert (err.value.row, err.value.column) == (4, "C")


@pytest.mark.parametrize("cell,spec", [("X", {"ignore": "C"}), ("5", None), ("c", {"ignore": "C"})])
def test_a_comment_column_holding_data_on_a_record_is_an_error(cell, spec, read_text):
    with pytest.raises(DataError, match="comment column") as err:
        read_text(f"C,ID,TIME,DV\n.,1,0,1\n{cell},1,1,2\n", filter=spec)
    assert (err.value.row, err.value.column) == (3, "C")


def test_r_writes_na_for_an_empty_comment_cell(read_quietly, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('"C","ID","TIME","DV"\nNA,1,0,1\n"C",1,1,2\nNA,1,2,3\n')
    ds, messages = read_quietly(path)
    assert messages == [] and ds.covariate_names == ()
    np.testing.assert_array_equal(ds.dv, [1, 3])


def test_a_nonmem_table_file_reads_with_ignore_at(read_quietly, tmp_path):
    path = tmp_path / "sdtab1"
    path.write_text(
        "TABLE NO.     1\n ID          TIME        DV          MDV\n"
        "  1.0000E+00  0.0000E+00  0.0000E+00  1.0000E+00\n  1.0000E+00  1.0000E+00  2.5000E+00  0.0000E+00\n"
        "TABLE NO.     1\n ID          TIME        DV          MDV\n"
        "  2.0000E+00  0.0000E+00  0.0000E+00  1.0000E+00\n  2.0000E+00  1.0000E+00  3.5000E+00  0.0000E+00\n"
    )
    ds, messages = read_quietly(path, filter="IGNORE=@")
    assert messages == []
    np.testing.assert_array_equal(ds.ids, [1, 2])
    np.testing.assert_array_equal(ds.dv[ds.observed], [2.5, 3.5])
    np.testing.assert_array_equal(ds.rows, [3, 4, 7, 8])


def test_ignore_c_combines_with_conditions_and_with_accept(read_text):
    text = "ID,TIME,DV\n1,0,1\nC1,1,2\n2,0,3\n2,1,4\n"
    for spec in ({"ignore": ["C", "ID.EQ.2"]}, "IGNORE=C IGNORE=(ID.EQ.2)", {"ignore": "C", "accept": "ID.EQ.1"},
                 "IGNORE=C ACCEPT=(ID.EQ.1)"):
        ds = read_text(text, filter=spec)
        np.testing.assert_array_equal(ds.rows, [2], err_msg=str(spec))
        np.testing.assert_array_equal(ds.excluded_rows, [4, 5], err_msg=str(spec))


@pytest.mark.parametrize("spec,match", [
    ({"ignore": ["C", "@"]}, "one comment character"),
    ({"accept": ["C"]}, "comment character .* IGNORE"),
    ({"ignore": "CC"}, "cannot read filter condition 'CC'"),
    ("IGNORE=C IGNORE=(ID.EQ.2) ACCEPT=(ID.EQ.1)", "not both"),
    ("IGNORE=(ID.EQ.2", "cannot read"),
    ("NULL=. IGNORE=@", "cannot read"),
])
def test_bad_comment_rules_are_errors_naming_filter(spec, match, read_text):
    with pytest.raises(DataError, match=match) as err:
        read_text("ID,TIME,DV\n1,0,1\n", filter=spec)
    assert "filter" in str(err.value)


@pytest.mark.parametrize("cell", [np.nan, None, "NA", "nan", np.inf, "S01", ""])
def test_a_dataframe_row_with_a_missing_or_text_id_is_an_error(cell):
    frame = pd.DataFrame({"ID": [1, cell, 1], "TIME": [0, 1, 2], "DV": [1.0, 2.0, 3.0]}, dtype=object)
    with pytest.raises(DataError, match="ID is missing|is not a number") as err:
        read_nonmem(frame)
    assert (err.value.row, err.value.column) == (2, "ID")
