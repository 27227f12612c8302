"""Data without a TIME column: allowed for curves of another variable (CONC, AGE), with no
doses or resets; a column named like TIME is still taken for a misspelling."""

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import read_nonmem
from nlme_lab.errors import DataError


def test_data_without_time_read_with_every_record_at_time_zero(read_text):
    ds = read_text("ID,CONC,DV\n1,0,10\n1,5,7.5\n2,0,11\n2,5,8\n")
    assert not ds.has_time
    np.testing.assert_array_equal(ds.time, [0, 0, 0, 0])
    np.testing.assert_array_equal(ds.dv, [10, 7.5, 11, 8])
    assert ds.covariate_names == ("CONC",) and ds.n_subjects == 2 and ds.n_observations == 4
    assert "TIME" not in ds.table.columns  # the table is the input, as read


def test_data_with_time_say_so(read_text):
    assert read_text("ID,TIME,DV\n1,0,1\n").has_time


def test_a_dose_without_time_is_an_error_naming_the_missing_column_and_the_row(read_text):
    with pytest.raises(DataError, match=r"no TIME column.*but row 3 \(ID 1\) is a dose \(EVID 1\)") as err:
        read_text("ID,CONC,DV,AMT\n1,0,10,0\n1,5,0,100\n1,5,7,0\n")
    assert err.value.column == "TIME" and err.value.row == 1


def test_a_reset_without_time_is_an_error(read_text):
    with pytest.raises(DataError, match=r"is a reset \(EVID 3\)"):
        read_text("ID,DV,EVID,MDV\n1,10,0,0\n1,0,3,1\n")


def test_a_frame_without_time_round_trips_through_its_table():
    frame = pd.DataFrame({"ID": [1, 1, 2], "AGE": [3, 5, 3], "DV": [4.0, 9.0, 4.5]})
    ds = read_nonmem(frame)
    again = read_nonmem(ds.table)
    assert not again.has_time
    np.testing.assert_array_equal(again.covariates, ds.covariates)
