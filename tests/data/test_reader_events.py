"""EVID/MDV derivation, the dose-record rules, time order and subject blocks."""

import numpy as np
import pytest

from nlme_lab.data import EventType
from nlme_lab.errors import DataError, DataWarning

HEAD = "ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,II,ADDL,SS\n"


def lines(*records):
    return HEAD + "".join(r + "\n" for r in records)


# --- EVID / MDV derived as NM-TRAN does ---------------------------------------------------

def test_evid_and_mdv_derived_from_amt_and_dv(read_text):
    ds = read_text("ID,TIME,DV,AMT\n1,0,.,100\n1,1,5,0\n1,2,.,0\n1,3,0,0\n")
    np.testing.assert_array_equal(ds.evid, [1, 0, 0, 0])
    np.testing.assert_array_equal(ds.mdv, [1, 0, 1, 0])  # DV '.' -> missing; DV 0 is a real value
    assert ds.n_observations == 2
    assert list(ds.table["EVID"]) == [1, 0, 0, 0] and list(ds.table["MDV"]) == [1, 0, 1, 0]


def test_evid_derived_for_a_steady_state_constant_infusion(read_text):
    ds = read_text("ID,TIME,DV,AMT,RATE,SS\n1,0,.,0,100,1\n1,1,5,0,0,0\n")
    np.testing.assert_array_equal(ds.evid, [1, 0])


def test_mdv_given_evid_derived(read_text):
    ds = read_text("ID,TIME,DV,AMT,MDV\n1,0,0,100,1\n1,1,5,0,0\n1,2,7,0,1\n")
    np.testing.assert_array_equal(ds.evid, [1, 0, 0])
    np.testing.assert_array_equal(ds.mdv, [1, 0, 1])
    assert ds.n_observations == 1


def test_rate_without_amount_on_a_derived_non_dose_is_an_error(read_text):
    with pytest.raises(DataError, match="RATE 10 on a record that is not a dose.*derived") as err:
        read_text("ID,TIME,DV,AMT,RATE\n1,0,.,100,10\n1,1,5,0,10\n")
    assert (err.value.row, err.value.subject, err.value.column) == (3, 1, "RATE")


def test_mdv_0_on_a_dose_record_warns_and_is_set_to_1(read_text):
    with pytest.warns(DataWarning, match=r"row 2, ID 1, column MDV: MDV 0 on a record that is not"):
        ds = read_text(lines("1,0,0,100,1,0,1,0,0,0,0", "1,1,5,0,0,0,1,0,0,0,0"))
    np.testing.assert_array_equal(ds.mdv, [1, 0])


def test_missing_dv_on_a_declared_observation_is_an_error(read_text):
    with pytest.raises(DataError, match="without a DV") as err:
        read_text(lines("1,0,.,100,1,1,1,0,0,0,0", "1,1,.,0,0,0,1,0,0,0,0"))
    assert (err.value.row, err.value.subject, err.value.column) == (3, 1, "DV")


def test_null_cells_of_dose_items_read_as_zero(read_text):
    ds = read_text(lines("1,0,.,100,1,1,1,.,.,.,.", "1,1,5,.,0,0,.,,,,"))
    np.testing.assert_array_equal(ds.rate, [0, 0])
    np.testing.assert_array_equal(ds.cmt, [1, 0])
    np.testing.assert_array_equal(ds.ss, [0, 0])


# --- rule by rule: one bad record each, located ------------------------------------------

BAD_RECORDS = [
    ("1,1,5,0,7,0,2,0,0,0,0", "EVID", "EVID must be 0, 1, 2, 3 or 4, found 7"),
    ("1,1,5,0,0,2,2,0,0,0,0", "MDV", "MDV must be 0 or 1, found 2"),
    ("1,1,.,-5,1,1,1,0,0,0,0", "AMT", "negative dose amount -5"),
    ("1,1,.,100,1,1,1,-3,0,0,0", "RATE", "RATE -3 is not allowed"),
    ("1,1,5,0,0,0,2,10,0,0,0", "RATE", "RATE 10 on a record that is not a dose (EVID 0)"),
    ("1,1,5,50,0,0,2,0,0,0,0", "AMT", "AMT 50 on a record that is not a dose"),
    ("1,1,.,0,2,1,2,0,12,0,0", "II", "II 12 on a record that is not a dose (EVID 2)"),
    ("1,1,.,100,1,1,1,0,-12,0,0", "II", "negative interdose interval II -12"),
    ("1,1,.,100,1,1,1,0,0,-1,0", "ADDL", "negative ADDL -1"),
    ("1,1,.,100,1,1,1,0,0,3,0", "II", "ADDL 3 needs an interdose interval II > 0"),
    ("1,1,.,100,1,1,1,0,12,0,3", "SS", "SS must be 0, 1 or 2, found 3"),
    ("1,1,.,100,1,1,1,0,0,0,1", "II", "SS 1 needs an interdose interval II > 0"),
    ("1,1,.,0,1,1,1,0,0,0,0", "AMT", "dose record (EVID 1/4) with AMT 0"),
    ("1,1,.,0,1,1,1,100,12,0,1", "II", "II 12 on a steady-state constant infusion"),
    ("1,1,.,100,1,1,1.5,0,0,0,0", "CMT", "CMT must be a whole number, found 1.5"),
    ("1,1,.,100,1,1,-1,0,0,0,0", "CMT", "negative CMT -1"),
    ("1,1,.,100,1,1,1,0,12,2.5,0", "ADDL", "ADDL must be a whole number, found 2.5"),
]


@pytest.mark.parametrize("record,column,message", BAD_RECORDS, ids=[b[2][:30] for b in BAD_RECORDS])
def test_each_bad_record_is_a_located_error(record, column, message, read_text):
    text = lines("1,0,.,100,1,1,1,0,0,0,0", "1,0.5,3,0,0,0,2,0,0,0,0", record)
    with pytest.raises(DataError) as err:
        read_text(text)
    e = err.value
    assert message in str(e)
    assert (e.row, e.subject, e.column) == (4, 1, column)


def test_the_constant_infusion_steady_state_is_accepted(read_text):
    ds = read_text(lines("1,0,.,0,1,1,1,100,0,0,1", "1,1,5,0,0,0,1,0,0,0,0"))
    assert (ds.amt[0], ds.rate[0], ds.ss[0], ds.ii[0]) == (0, 100, 1, 0)


def test_modeled_rate_and_duration_codes_are_accepted(read_text):
    ds = read_text(lines("1,0,.,100,1,1,1,-1,0,0,0", "1,1,.,100,1,1,1,-2,0,0,0", "1,2,5,0,0,0,1,0,0,0,0"))
    np.testing.assert_array_equal(ds.rate, [-1, -2, 0])


def test_ii_on_a_single_dose_warns(read_text):
    with pytest.warns(DataWarning, match="row 2, ID 1, column II: II > 0 on a single dose"):
        read_text(lines("1,0,.,100,1,1,1,0,24,0,0", "1,1,5,0,0,0,1,0,0,0,0"))


def test_censoring_limits(read_text):
    ds = read_text("""
        ID,TIME,DV,CENS,LIMIT
        1,1,0.5,1,0
        1,2,0.5,1,.
        1,3,900,-1,.
        1,4,900,-1,1000
        1,5,20,0,.
    """)
    np.testing.assert_array_equal(ds.cens, [1, 1, -1, -1, 0])
    np.testing.assert_array_equal(ds.limit, [0, np.nan, np.nan, 1000, np.nan])  # NaN: open end (M3)
    assert ds.summary().n_censored == 4
    with pytest.raises(DataError, match="LIMIT 2 must be below") as err:
        read_text("ID,TIME,DV,CENS,LIMIT\n1,1,0.5,1,2\n")
    assert (err.value.row, err.value.column) == (2, "LIMIT")
    with pytest.raises(DataError, match="CENS must be -1, 0 or 1"):
        read_text("ID,TIME,DV,CENS\n1,1,0.5,2\n")


# --- time order, resets, subjects ------------------------------------------------------

def test_time_going_backwards_within_a_subject_is_an_error(read_text):
    with pytest.raises(DataError, match="TIME 1 is before the previous record's 2") as err:
        read_text("ID,TIME,DV\n1,0,1\n1,2,2\n1,1,3\n2,0,1\n")
    assert (err.value.row, err.value.subject, err.value.column) == (4, 1, "TIME")


def test_time_may_go_back_on_a_reset_and_at_a_new_subject(read_text):
    ds = read_text(lines(
        "1,0,.,100,1,1,1,0,0,0,0", "1,10,5,0,0,0,1,0,0,0,0",
        "1,0,.,0,3,1,1,0,0,0,0", "1,2,4,0,0,0,1,0,0,0,0",
        "1,1,.,50,4,1,1,0,0,0,0", "1,3,4,0,0,0,1,0,0,0,0",
        "2,0,3,0,0,0,1,0,0,0,0",
    ))
    np.testing.assert_array_equal(ds.evid, [1, 0, 3, 0, 4, 0, 0])
    assert EventType(ds.evid[4]) is EventType.RESET_DOSE and EventType(4).is_dose and EventType(4).is_reset


def test_a_subject_without_observations_warns(read_text):
    with pytest.warns(DataWarning, match="row 4, ID 2: subject has no observations"):
        ds = read_text("ID,TIME,DV,AMT\n1,0,.,5\n1,1,3,0\n2,0,.,5\n3,0,1,0\n")
    assert ds.n_subjects == 3


def test_non_contiguous_ids_warn_and_are_distinct_subjects(read_text):
    with pytest.warns(DataWarning, match="row 4, ID 1, column ID: this ID appeared before"):
        ds = read_text("ID,TIME,DV\n1,0,1\n2,0,2\n1,5,3\n")
    np.testing.assert_array_equal(ds.ids, [1, 2, 1])
    np.testing.assert_array_equal(ds.offsets, [0, 1, 2, 3])
    # the second block of ID 1 starts its own time line: 5 after 0 of another subject is fine


def test_many_warnings_of_one_kind_are_capped(read_text, read_quietly, tmp_path):
    text = "ID,TIME,DV,AMT\n" + "".join(f"{i},0,.,5\n" for i in range(1, 31)) + "99,0,1,0\n"
    path = tmp_path / "many.csv"
    path.write_text(text)
    _, messages = read_quietly(path)
    assert len(messages) == 11
    assert "and 20 more subjects" in messages[-1] and messages[-1].startswith("row 12, ID 11")
