"""``filter=``: NM-TRAN IGNORE/ACCEPT conditions and callables."""

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import Comparison, Condition, read_nonmem
from nlme_lab.errors import DataError

TEXT = """
    ID,TIME,DV,AMT,FLAG
    1,0,.,100,0
    1,1,5,0,0
    1,2,500,0,1
    5,0,.,100,0
    5,1,7,0,0
    6,0,.,100,0
    6,1,bad,0,2
"""


@pytest.mark.parametrize("text,comparison,value", [
    ("ID.EQ.5", Comparison.EQ, 5.0), ("id.ne.5", Comparison.NE, 5.0), ("DV.GT.1D2", Comparison.GT, 100.0),
    ("DV.GE.-1", Comparison.GE, -1.0), ("TIME.LT..5", Comparison.LT, 0.5), ("TIME.LE.3", Comparison.LE, 3.0),
    ("ID==5", Comparison.EQ, 5.0), ("ID = 5", Comparison.EQ, 5.0), ("ID/=5", Comparison.NE, 5.0),
    ("ID!=5", Comparison.NE, 5.0), ("DV>100", Comparison.GT, 100.0), ("DV <= 1e3", Comparison.LE, 1000.0),
    ("ID.EQN.5", Comparison.EQ, 5.0), ("ID.NEN.5", Comparison.NE, 5.0),
])
def test_condition_syntax(text, comparison, value):
    c = Condition.parse(text)
    assert (c.comparison, c.value) == (comparison, value)


@pytest.mark.parametrize("text", ["ID.EQ.", "ID.XX.5", "ID 5", "__import__('os')==1", "ID.EQ.five", "5.EQ.ID", ""])
def test_unreadable_conditions_are_errors(text):
    with pytest.raises(DataError, match="cannot read filter condition"):
        Condition.parse(text)


def test_ignore_drops_records_where_any_condition_holds_before_cells_are_checked(read_text):
    ds = read_text(TEXT, filter={"ignore": ["ID.EQ.6", "DV.GT.100"]})
    np.testing.assert_array_equal(ds.rows, [2, 3, 5, 6])  # line numbers of the kept records
    np.testing.assert_array_equal(ds.excluded_rows, [4, 7, 8])
    assert ds.summary().n_excluded_rows == 3
    np.testing.assert_array_equal(ds.ids, [1, 5])


def test_accept_keeps_records_where_any_condition_holds(read_text):
    ds = read_text(TEXT, filter={"ACCEPT": "ID==5,FLAG.EQ.1"})
    np.testing.assert_array_equal(ds.rows, [4, 5, 6])
    np.testing.assert_array_equal(ds.dv, [500, np.nan, 7])


def test_without_a_filter_the_bad_cell_is_reported(read_text):
    with pytest.raises(DataError, match="'bad' is not a number") as err:
        read_text(TEXT)
    assert (err.value.row, err.value.subject, err.value.column) == (8, 6, "DV")


def test_a_callable_filter_sees_upper_cased_standard_columns(read_text):
    seen = {}

    def keep(frame):
        seen["columns"] = list(frame.columns)
        return frame["ID"] != 6

    ds = read_text(TEXT, filter=keep)
    assert seen["columns"] == ["ID", "TIME", "DV", "AMT", "FLAG"]
    assert ds.n_records == 5


def test_missing_and_bad_cells_satisfy_no_condition(read_text, read_quietly, tmp_path):
    # '.' on the dose rows is not below 1000, so the doses stay; 'bad' is not below 1000 either,
    # so its record stays and is then reported
    with pytest.raises(DataError, match="'bad' is not a number"):
        read_text(TEXT, filter={"ignore": ["DV.LT.1000"]})
    path = tmp_path / "f.csv"
    path.write_text(TEXT.replace("    ", "").lstrip())
    ds, messages = read_quietly(path, filter={"ignore": ["DV.LT.1000", "ID.EQ.6"]})
    np.testing.assert_array_equal(ds.rows, [2, 5])
    assert messages == ["row 2, ID 1: subject has no observations (EVID 0, MDV 0)",
                        "row 5, ID 5: subject has no observations (EVID 0, MDV 0)"]



def test_filter_errors(read_text):
    with pytest.raises(DataError, match="names no column.*did you mean FLAG") as err:
        read_text(TEXT, filter={"ignore": ["FLAGG.EQ.1"]})
    assert err.value.column == "FLAGG"
    with pytest.raises(ValueError, match="not both"):
        read_text(TEXT, filter={"ignore": ["ID.EQ.1"], "accept": ["ID.EQ.5"]})
    with pytest.raises(ValueError, match="'ignore' or 'accept'"):
        read_text(TEXT, filter={"drop": ["ID.EQ.1"]})
    with pytest.raises(DataError, match="removed every record") as err:
        read_text(TEXT, filter={"accept": ["ID.EQ.99"]})
    assert err.value.row == 1
    with pytest.raises(TypeError, match="booleans"):
        read_text(TEXT, filter=lambda f: f["ID"])
    with pytest.raises(TypeError, match="one True/False per row"):
        read_text(TEXT, filter=lambda f: np.ones(3, bool))
    with pytest.raises(TypeError, match="callable .* or a dict"):
        read_text(TEXT, filter="ID.EQ.5")


def test_filter_on_a_dataframe():
    frame = pd.DataFrame({"id": [1, 1, 2, 2], "time": [0, 1, 0, 1], "dv": [1, 2, 3, 4]})
    ds = read_nonmem(frame, filter={"ignore": ["id.eq.2"]})
    np.testing.assert_array_equal(ds.dv, [1, 2])
    np.testing.assert_array_equal(ds.excluded_rows, [3, 4])
