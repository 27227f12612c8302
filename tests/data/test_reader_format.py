"""File formats, column names, comment lines, row numbers, non-numeric cells."""

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import ColumnRole, read_nonmem
from nlme_lab.errors import DataError


def test_column_names_are_case_insensitive_and_covariates_keep_their_case(read_text):
    ds = read_text("""
        id,Time,dv,Amt,evid,cmt,Wt,crCL
        1,0,.,100,1,1,70,90
        1,1,5.5,0,0,2,70,90
    """)
    assert list(ds.table.columns) == ["ID", "TIME", "DV", "AMT", "EVID", "CMT", "Wt", "crCL", "MDV"]
    assert ds.covariate_names == ("Wt", "crCL")
    assert dict(ds.column_roles) == {"id": ColumnRole.ID, "Time": ColumnRole.TIME, "dv": ColumnRole.DV,
                                     "Amt": ColumnRole.AMT, "evid": ColumnRole.EVID, "cmt": ColumnRole.CMT,
                                     "Wt": ColumnRole.COVARIATE, "crCL": ColumnRole.COVARIATE}
    assert ds.column("WT") == 0 and ds.column("crcl") == 1
    np.testing.assert_array_equal(ds.mdv, [1, 0])


def test_whitespace_separated_file_with_leading_blanks_and_tabs(read_text):
    ds = read_text("ID TIME   DV AMT\n  1  0  .  100\n\t1\t1 5.5 0\n   2 0 . 50\n 2 2 3 0\n", name="data.dat")
    assert ds.n_subjects == 2
    np.testing.assert_array_equal(ds.amt, [100, 0, 50, 0])
    np.testing.assert_array_equal(ds.evid, [1, 0, 1, 0])


def test_tab_separated_keeps_empty_cells_in_place(read_text):
    ds = read_text("ID\tTIME\tDV\tAMT\tWT\n1\t0\t\t100\t\n1\t1\t4\t0\t70\n")
    np.testing.assert_array_equal(ds.amt, [100, 0])
    np.testing.assert_array_equal(ds.covariates[:, 0], [70, 70])


def test_quoted_header_windows_line_ends_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes('\ufeff"ID","TIME","DV"\r\n"1","0","2.5"\r\n1,1,3\r\n'.encode("utf-8"))
    ds = read_nonmem(path)
    np.testing.assert_array_equal(ds.dv, [2.5, 3.0])
    np.testing.assert_array_equal(ds.rows, [2, 3])


def test_trailing_separators_from_spreadsheets_are_ignored(read_text):
    ds = read_text("ID,TIME,DV,,\n1,0,1,,\n1,1,2,,\n")
    assert ds.n_records == 2 and ds.covariate_names == ()


def test_an_unnamed_column_with_data_is_an_error(read_text):
    with pytest.raises(DataError, match="no name") as err:
        read_text("ID,TIME,DV,\n1,0,1,5\n")
    assert err.value.row == 1


def test_comment_lines_are_skipped_and_rows_are_file_line_numbers(read_text):
    ds = read_text("""
        # produced by a script
        ID,TIME,DV,AMT
        1,0,.,100
        # a comment
        @ another
        C excluded record 1,1,99,0
        1,1,5,0

        1,2,4,0
    """)
    assert ds.n_records == 3
    np.testing.assert_array_equal(ds.rows, [3, 7, 9])  # the lines an editor shows
    np.testing.assert_array_equal(ds.comment_lines, [4, 5, 6])
    np.testing.assert_array_equal(ds.dv[1:], [5, 4])


def test_a_c_column_marks_comment_records_as_nm_tran_ignore_at(read_text):
    ds = read_text("C,ID,TIME,DV\n.,1,0,1\nC,1,1,2\n.,1,2,3\n", drop="C")
    np.testing.assert_array_equal(ds.dv, [1, 3])
    assert ds.covariate_names == ()


def test_fortran_d_exponents_and_signs(read_text):
    ds = read_text("ID TIME DV\n1 0 1.5D2\n1 +1 -2.5e-1\n1 2 .5\n")
    np.testing.assert_array_equal(ds.dv, [150.0, -0.25, 0.5])


@pytest.mark.parametrize("missing", ["ID", "TIME", "DV"])
def test_a_required_column_missing_is_an_error_naming_it(missing, read_text):
    columns = [c for c in ("ID", "TIME", "DV", "AMT") if c != missing]
    text = ",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n"
    with pytest.raises(DataError, match=f"no {missing} column") as err:
        read_text(text)
    assert err.value.column == missing and err.value.row == 1


def test_a_misspelled_required_column_gets_a_hint(read_text):
    with pytest.raises(DataError, match="TIM.*meant to be TIME"):
        read_text("ID,TIM,DV\n1,0,1\n")


def test_duplicate_column_names_differing_in_case_are_an_error(read_text):
    with pytest.raises(DataError, match="appears twice") as err:
        read_text("ID,TIME,DV,WT,wt\n1,0,1,2,3\n")
    assert err.value.column == "wt"


def test_a_line_with_the_wrong_number_of_cells_names_its_line(read_text):
    with pytest.raises(DataError, match="3 cells") as err:
        read_text("ID,TIME,DV,WT\n1,0,1,70\n1,1,2\n")
    assert err.value.row == 3


def test_a_non_numeric_cell_names_value_row_subject_and_column(read_text):
    with pytest.raises(DataError) as err:
        read_text("ID,TIME,DV,WT\n1,0,1,70\n7,1,2,70\n7,2,<LOQ,70\n7,3,abc,70\n")
    e = err.value
    assert (e.row, e.subject, e.column) == (4, 7, "DV")
    assert "'<LOQ' is not a number" in str(e) and "2 records" in str(e)
    assert str(e).startswith("row 4, ID 7, column DV:")


@pytest.mark.parametrize("cell", ["inf", "nan", "1e999", "1,5", "0x10", "--1", "1.2.3", "NA"])
def test_text_that_python_would_read_as_a_number_is_still_rejected(cell, tmp_path):
    path = tmp_path / "d.txt"
    path.write_text(f"ID;TIME;DV;WT\n1;0;1;{cell}\n")
    with pytest.raises(DataError, match="is not a number") as err:
        read_nonmem(path)
    assert err.value.column == "WT" and err.value.row == 2


def test_dataframe_rows_are_1_based_positions_whatever_the_index():
    frame = pd.DataFrame({"ID": [1, 1, 2], "TIME": [0, 1, 0], "DV": [1.0, "x", 2.0]}, index=[10, 20, 30])
    with pytest.raises(DataError) as err:
        read_nonmem(frame)
    assert (err.value.row, err.value.subject, err.value.column) == (2, 1, "DV")


def test_dataframe_missing_values_numeric_and_object_columns():
    frame = pd.DataFrame({
        "ID": pd.array([1, 1, 1], dtype="Int64"),
        "TIME": [0.0, 1.0, 2.0],
        "DV": [None, "4.5", np.nan],
        "AMT": [100, 0, 0],
        "SEX": [True, True, True],
    })
    ds = read_nonmem(frame)
    np.testing.assert_array_equal(ds.mdv, [1, 0, 1])
    np.testing.assert_array_equal(ds.evid, [1, 0, 0])
    np.testing.assert_array_equal(ds.covariates[:, 0], [1, 1, 1])
    assert ds.source == "DataFrame"


def test_dataframe_with_infinite_value_is_an_error():
    frame = pd.DataFrame({"ID": [1, 1], "TIME": [0.0, np.inf], "DV": [1.0, 2.0]})
    with pytest.raises(DataError, match="inf") as err:
        read_nonmem(frame)
    assert (err.value.row, err.value.column) == (2, "TIME")


def test_drop_removes_text_columns_and_unknown_names_are_errors(read_text):
    text = "ID,TIME,DV,DATE,WT\n1,0,1,2020-01-01,70\n"
    with pytest.raises(DataError, match="'2020-01-01' is not a number"):
        read_text(text)
    ds = read_text(text, drop=["date"])
    assert ds.covariate_names == ("WT",) and "DATE" not in ds.table.columns
    with pytest.raises(DataError, match="drop= names no column") as err:
        read_text(text, drop=["DAET"])
    assert err.value.column == "DAET"


def test_empty_inputs_are_errors(read_text):
    with pytest.raises(DataError, match="no header"):
        read_text("\n# only a comment\n")
    with pytest.raises(DataError, match="no data records") as err:
        read_text("ID,TIME,DV\n# nothing\n")
    assert err.value.row == 1
    with pytest.raises(DataError, match="no rows"):
        read_nonmem(pd.DataFrame({"ID": [], "TIME": [], "DV": []}))


def test_wrong_argument_types_are_type_errors():
    with pytest.raises(TypeError, match="path or a pandas DataFrame"):
        read_nonmem(42)
    with pytest.raises(ValueError, match="nocb"):
        read_nonmem(pd.DataFrame({"ID": [1], "TIME": [0], "DV": [1]}), covariate_fill="linear")
