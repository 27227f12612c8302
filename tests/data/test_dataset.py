"""The frozen Dataset: layout, read-only arrays, lookups, summary, expand_addl."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import Dataset, DatasetSummary, EventType, expand_addl, read_nonmem, require_observations
from nlme_lab.errors import DataError

TEXT = """
    ID,TIME,DV,AMT,CMT,II,ADDL,SS,RATE,OCC,DVID,WT,Sex
    11,0,.,100,1,12,2,0,0,1,1,70,1
    11,1,5,0,2,0,0,0,0,1,1,70,1
    11,30,4,0,2,0,0,0,0,3,cp,72,1
    11,40,3,0,2,0,0,0,0,1,2,72,1
    12,0,.,50,3,24,0,1,10,7,.,60,0
    12,2,8,0,2,0,0,0,0,7,1,60,0
"""


@pytest.fixture
def ds(read_text):
    return read_text(TEXT)


def test_layout_offsets_ids_and_slices(ds):
    assert isinstance(ds, Dataset)
    np.testing.assert_array_equal(ds.offsets, [0, 4, 6])
    assert ds.offsets.dtype == np.int64 and ds.ids.dtype == np.int64
    np.testing.assert_array_equal(ds.ids, [11, 12])
    assert (ds.n_subjects, ds.n_records, ds.n_observations) == (2, 6, 4)
    assert ds.subject_slice(1) == slice(4, 6) and ds.subject_slice(-1) == slice(4, 6)
    np.testing.assert_array_equal(ds.time[ds.subject_slice(0)], [0, 1, 30, 40])
    np.testing.assert_array_equal(ds.subject_index, [0, 0, 0, 0, 1, 1])
    with pytest.raises(IndexError):
        ds.subject_slice(2)


def test_array_dtypes(ds):
    for name in ("time", "dv", "amt", "rate", "ii", "limit"):
        assert getattr(ds, name).dtype == np.float64, name
    for name in ("evid", "mdv", "cmt", "addl", "ss", "cens", "occ", "rows", "offsets"):
        assert getattr(ds, name).dtype == np.int64, name
    assert ds.covariates.dtype == np.float64


def test_occasions_are_0_based_in_order_of_first_appearance_within_subject(ds):
    np.testing.assert_array_equal(ds.occ, [0, 0, 1, 0, 0, 0])


def test_dvid_raw_values(ds):
    assert list(ds.dvid) == [1, 1, "cp", 2, None, 1]


def test_dataset_is_frozen_and_arrays_are_read_only(ds):
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.time = np.zeros(6)
    for name in ("ids", "offsets", "time", "dv", "amt", "rate", "ii", "limit", "evid", "mdv", "cmt",
                 "addl", "ss", "cens", "occ", "dvid", "covariates", "rows"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(ds, name)[0] = 0


def test_table_is_a_copy_in_input_order(ds):
    table = ds.table
    assert list(table.columns) == ["ID", "TIME", "DV", "AMT", "CMT", "II", "ADDL", "SS", "RATE", "OCC",
                                   "DVID", "WT", "Sex", "EVID", "MDV"]
    table.loc[0, "WT"] = -1
    table["NEW"] = 1
    assert ds.table.loc[0, "WT"] == 70 and "NEW" not in ds.table.columns
    np.testing.assert_array_equal(ds.table["OCC"], [1, 1, 3, 1, 7, 7])  # as read; ds.occ is the index


def test_column_lookup_is_case_insensitive_with_hints(ds):
    assert ds.column("sex") == 1 and ds.column("WT") == 0
    assert ds.has_column("SEX") and ds.has_column("wt")
    assert not ds.has_column("DV") and not ds.has_column("AGE")
    with pytest.raises(KeyError, match="did you mean Sex"):
        ds.column("Sx")
    with pytest.raises(KeyError, match="standard NONMEM column"):
        ds.column("amt")


def test_dose_compartments(ds):
    assert ds.dose_compartments() == {1, 3}


def test_no_cmt_column_means_compartment_0(read_text):
    ds = read_text("ID,TIME,DV,AMT\n1,0,.,10\n1,1,1,0\n")
    np.testing.assert_array_equal(ds.cmt, [0, 0])
    assert ds.dose_compartments() == {0}
    np.testing.assert_array_equal(ds.occ, [0, 0])
    assert ds.dvid is None


def test_to_frame_has_the_arrays_and_filled_covariates(read_text):
    ds = read_text("ID,TIME,DV,WT\n1,0,1,.\n1,1,2,80\n")
    frame = ds.to_frame()
    assert list(frame["WT"]) == [80, 80]
    assert list(frame["ID"]) == [1, 1] and list(frame["EVID"]) == [0, 0]
    frame.loc[0, "WT"] = 0
    assert ds.covariates[0, 0] == 80


def test_summary_is_typed_and_counts(ds):
    s = ds.summary()
    assert isinstance(s, DatasetSummary)
    assert dict(s.event_counts)[EventType.DOSE] == 2
    assert s.observations_per_subject == (1, 2.0, 3)  # subjects have 3 and 1
    assert s.time_range == (0.0, 40.0)
    assert s.dose_compartments == (1, 3) and s.observation_compartments == (2,)
    wt = s.covariates[0]
    assert (wt.name, wt.minimum, wt.maximum, wt.time_varying) == ("WT", 60.0, 72.0, True)
    assert s.to_dict()["event_counts"]["DOSE"] == 2


def test_html_and_repr(ds):
    html = ds._repr_html_()
    assert "<table>" in html and "WT" in html and "subjects" in html
    assert repr(ds).startswith("Dataset(") and "2 subjects" in repr(ds)


def test_expand_addl_lists_dose_times_with_parent_rows(ds):
    doses = expand_addl(ds)
    assert list(doses.columns) == ["ID", "SUBJECT", "TIME", "AMT", "RATE", "CMT", "SS", "ADDL_INDEX", "ROW"]
    np.testing.assert_array_equal(doses["TIME"], [0, 12, 24, 0])
    np.testing.assert_array_equal(doses["ADDL_INDEX"], [0, 1, 2, 0])
    np.testing.assert_array_equal(doses["ROW"], [2, 2, 2, 6])
    np.testing.assert_array_equal(doses["ID"], [11, 11, 11, 12])
    np.testing.assert_array_equal(doses["SS"], [0, 0, 0, 1])
    # and the table itself is not expanded
    assert ds.n_records == 6


def test_expand_addl_matches_a_naive_loop_on_nmtest(shared):
    ds = read_nonmem(shared / "nmtest.csv")
    fast = expand_addl(ds)
    naive = []
    for i in range(ds.n_records):
        if ds.evid[i] in (1, 4):
            for k in range(ds.addl[i] + 1):
                naive.append((ds.rows[i], ds.time[i] + k * ds.ii[i], k))
    assert list(zip(fast["ROW"], fast["TIME"], fast["ADDL_INDEX"])) == naive
    assert len(naive) == 265


def test_expand_addl_refuses_absurd_addl():
    frame = pd.DataFrame({"ID": [1, 1], "TIME": [0, 1], "DV": [0, 1], "AMT": [1, 0],
                          "II": [1, 0], "ADDL": [10**9, 0]})
    with pytest.raises(DataError, match="would list more than") as err:
        expand_addl(read_nonmem(frame))
    assert (err.value.row, err.value.column) == (1, "ADDL")


def test_observation_counts_per_subject(ds):
    np.testing.assert_array_equal(ds.observations_per_subject, [3, 1])
    assert ds.observations_per_subject.dtype == np.int64 and not ds.observations_per_subject.flags.writeable


def test_require_observations_passes_data_with_observations(ds):
    assert require_observations(ds) is ds


def test_require_observations_refuses_data_without_any(read_quietly, tmp_path):
    path = tmp_path / "doses_only.csv"
    path.write_text("ID,TIME,DV,AMT,MDV\n1,0,.,100,1\n1,1,5,0,1\n2,0,.,100,1\n2,1,4,0,1\n")
    ds, messages = read_quietly(path)
    assert ds.n_observations == 0 and len(messages) == 2  # one warning per subject
    np.testing.assert_array_equal(ds.observations_per_subject, [0, 0])
    with pytest.raises(DataError, match="no observation records.*4 records.*nothing to fit") as err:
        require_observations(ds)
    assert str(path) in str(err.value) and err.value.column == "MDV"
    with pytest.raises(DataError, match="nothing to simulate"):
        require_observations(ds, task="simulate")
