"""Time-varying covariates: NOCB (NONMEM) and LOCF, missing cells, all-missing subjects."""

import numpy as np
import pytest

from nlme_lab.data import CovariateFill
from nlme_lab.errors import DataWarning

# Subject 1: WT 70 at t=0 (dose), missing at t=12, 80 at t=24, 90 at t=48, missing at t=72.
# Subject 2: WT missing at t=0, 50 at t=1.
TEXT = """
    ID,TIME,DV,AMT,WT
    1,0,.,100,70
    1,12,5,0,.
    1,24,4,0,80
    1,48,3,0,90
    1,72,2,0,.
    2,0,.,100,
    2,1,6,0,50
"""


def test_nocb_the_record_value_applies_to_the_interval_ending_at_it(read_text):
    ds = read_text(TEXT)
    assert ds.covariate_fill is CovariateFill.NOCB
    # missing at t=12 takes the NEXT value (80); trailing missing at t=72 the last (90);
    # subject 2's leading missing takes its next (50), never subject 1's 90
    np.testing.assert_array_equal(ds.covariates[:, 0], [70, 80, 80, 90, 90, 50, 50])
    # the table keeps the cells as read
    np.testing.assert_array_equal(ds.table["WT"].to_numpy(), [70, np.nan, 80, 90, np.nan, np.nan, 50])


def test_locf_the_previous_record_value_applies(read_text):
    ds = read_text(TEXT, covariate_fill="locf")
    # filled by carrying forward:        70, 70, 80, 90, 90 | 50, 50
    # value for the interval ending at record i = filled value of record i-1 (first: own)
    np.testing.assert_array_equal(ds.covariates[:, 0], [70, 70, 70, 80, 90, 50, 50])
    assert ds.covariate_fill is CovariateFill.LOCF


def test_nocb_and_locf_differ_exactly_by_one_record_when_nothing_is_missing(read_text):
    text = "ID,TIME,DV,CRCL\n" + "".join(f"{s},{t},1,{10 * s + t}\n" for s in (1, 2) for t in range(5))
    nocb = read_text(text).covariates[:, 0]
    locf = read_text(text, covariate_fill=CovariateFill.LOCF).covariates[:, 0]
    for lo, hi in ((0, 5), (5, 10)):
        assert locf[lo] == nocb[lo]
        np.testing.assert_array_equal(locf[lo + 1:hi], nocb[lo:hi - 1])


def test_a_covariate_missing_for_a_whole_subject_warns_and_is_nan(read_text):
    with pytest.warns(DataWarning, match=r"row 4, ID 2, column AGE: covariate AGE is missing on every record"):
        ds = read_text("ID,TIME,DV,AGE,WT\n1,0,1,30,70\n1,1,1,.,70\n2,0,1,.,60\n2,1,1,,61\n")
    age = ds.covariates[:, ds.column("AGE")]
    np.testing.assert_array_equal(age[:2], [30, 30])
    assert np.isnan(age[2:]).all()
    summary = ds.summary().covariates
    assert summary[0].n_missing == 3 and summary[0].minimum == 30
    assert summary[1].time_varying and not summary[0].time_varying


def test_covariates_are_float_matrix_in_column_order(read_text):
    ds = read_text("ID,TIME,DV,B,A\n1,0,1,2,3\n")
    assert ds.covariate_names == ("B", "A")
    assert ds.covariates.dtype == np.float64 and ds.covariates.shape == (1, 2)
    np.testing.assert_array_equal(ds.covariates, [[2, 3]])
