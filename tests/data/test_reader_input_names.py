"""``read_nonmem(..., names=[...])``: columns named by position, as NM-TRAN's ``$INPUT``."""

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import read_nonmem
from nlme_lab.errors import DataError

NAMES = ["ID", "TIME", "DV", "AMT", "SSX"]


def test_names_override_a_header_that_is_a_comment(read_text):
    # the header says SS; $INPUT calls the column SSX, so it is a covariate, not steady state
    ds = read_text("ID,TIME,DV,AMT,SS\n1,0,.,100,1\n1,1,5,0,0\n", names=NAMES, filter="IGNORE=@")
    assert ds.covariate_names == ("SSX",)
    np.testing.assert_array_equal(ds.ss, [0, 0])
    np.testing.assert_array_equal(ds.rows, [2, 3])
    np.testing.assert_array_equal(ds.comment_lines, [1])


def test_names_read_a_file_without_header_and_leave_out_trailing_cells(read_text):
    ds = read_text("1 0 . 100 7 99 98\n1 1 5 0 7 99 98\n2 0 . 50 3 1 1\n2 2 3 0 3 1 1\n", names=NAMES)
    assert ds.n_subjects == 2 and ds.covariate_names == ("SSX",)
    np.testing.assert_array_equal(ds.amt, [100, 0, 50, 0])
    np.testing.assert_array_equal(ds.covariates[:, 0], [7, 7, 3, 3])
    np.testing.assert_array_equal(ds.rows, [1, 2, 3, 4])


def test_names_with_drop_and_a_condition(read_text):
    ds = read_text("# a note\n1,0,.,100,1\n1,1,5,0,1\n1,2,4,0,2\n", names=NAMES, drop=["SSX"],
                   filter="IGNORE=(DV.GT.4.5)")
    assert ds.covariate_names == ()
    np.testing.assert_array_equal(ds.rows, [2, 4])


def test_a_header_read_as_a_record_under_ignore_hash_is_an_error_naming_it(read_text):
    # NM-TRAN's default IGNORE=# reads 'ID,TIME,...' as data: so do we
    with pytest.raises(DataError, match="not a number") as err:
        read_text("ID,TIME,DV,AMT,SS\n1,0,.,100,1\n", names=NAMES, filter="IGNORE=#")
    assert err.value.row == 1


def test_a_line_with_fewer_cells_than_names_is_an_error(read_text):
    with pytest.raises(DataError, match="3 cells but names= \\(\\$INPUT\\) names 5") as err:
        read_text("1,0,.,100,1\n1,1,5\n", names=NAMES)
    assert err.value.row == 2


def test_names_are_checked(read_text, tmp_path):
    with pytest.raises(DataError, match="appears twice"):
        read_text("1,0,1\n", names=["ID", "TIME", "id"])
    with pytest.raises(TypeError, match="names= takes a list"):
        read_text("1,0,1\n", names="ID TIME DV")
    with pytest.raises(TypeError, match="applies to a data file"):
        read_nonmem(pd.DataFrame({"ID": [1], "TIME": [0], "DV": [1]}), names=["ID", "TIME", "DV"])
