"""polars DataFrames are read as pandas ones are (polars is optional: skipped when absent)."""

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import read_nonmem
from nlme_lab.errors import DataError

from tests.conftest import DATA as SHARED

pl = pytest.importorskip("polars")


def test_a_polars_frame_gives_the_same_dataset_as_the_file():
    by_file = read_nonmem(SHARED / "warfarin.csv")
    by_polars = read_nonmem(pl.read_csv(SHARED / "warfarin.csv", infer_schema_length=None))
    for name in ("time", "dv", "amt", "evid", "mdv", "cmt", "ids", "offsets", "covariates", "dvid"):
        np.testing.assert_array_equal(getattr(by_file, name), getattr(by_polars, name), err_msg=name)
    assert by_polars.covariate_names == ("WT", "AGE", "SEX")
    np.testing.assert_array_equal(by_polars.rows, np.arange(1, by_file.n_records + 1))


def test_polars_nulls_text_and_errors_are_located():
    frame = pl.DataFrame({"C": [".", None, "C"], "ID": [1, 1, 2], "TIME": [0.0, 1.0, 0.0],
                          "DV": [None, 2.0, 3.0], "AMT": [100, None, 0]})
    ds = read_nonmem(frame)
    np.testing.assert_array_equal(ds.mdv, [1, 0])
    np.testing.assert_array_equal(ds.amt, [100, 0])
    assert ds.covariate_names == () and ds.source == "polars DataFrame"
    with pytest.raises(DataError) as err:
        read_nonmem(pl.DataFrame({"ID": [1, 1], "TIME": [0.0, 1.0], "DV": ["1", "x"]}))
    assert (err.value.row, err.value.column) == (2, "DV")


def test_a_lazy_frame_is_asked_to_be_collected():
    with pytest.raises(DataError, match="collect"):
        read_nonmem(pl.DataFrame({"ID": [1], "TIME": [0], "DV": [1]}).lazy())


def test_pandas_and_polars_frames_agree_cell_for_cell():
    data = {"ID": [1, 1, 2, 2], "TIME": [0.0, 2.0, 0.0, 2.0], "DV": [None, 1.5, None, 2.5],
            "AMT": [10, 0, 20, 0], "WT": [70.0, None, 80.0, 81.0]}
    a = read_nonmem(pd.DataFrame(data))
    b = read_nonmem(pl.DataFrame(data))
    for name in ("dv", "amt", "evid", "mdv", "covariates"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
