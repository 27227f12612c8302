"""Every shared reference dataset loads, with the counts its README states."""


import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import EventType, read_nonmem

from tests.conftest import DATA as SHARED

ALL_FILES = sorted(p.name for p in SHARED.glob("*.csv"))


def test_the_shared_folder_has_the_files_we_expect():
    assert {"theo_sd.csv", "warfarin.csv", "warfarin_pk.csv", "pheno.csv", "wang2007.csv",
            "wang2007_dosed.csv", "nmtest.csv"} <= set(ALL_FILES)


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_shared_file_loads_without_warnings(name, read_quietly):
    ds, messages = read_quietly(SHARED / name)
    assert messages == []
    frame = pd.read_csv(SHARED / name)
    assert ds.n_records == len(frame)
    # nothing reordered: file order is kept record for record
    np.testing.assert_array_equal(ds.time, frame["TIME"].to_numpy(float))
    np.testing.assert_array_equal(ds.rows, np.arange(2, len(frame) + 2))  # line numbers, header = line 1


@pytest.mark.parametrize(
    "name,n_sub,n_rec,n_obs,n_dose,covariates",
    [
        ("theo_sd.csv", 12, 144, 132, 12, ("WT", "DOSE")),
        ("warfarin.csv", 32, 515, 251 + 232, 32, ("WT", "AGE", "SEX")),
        ("warfarin_pk.csv", 32, 283, 251, 32, ("WT", "AGE", "SEX")),
        ("pheno.csv", 59, 744, 155, 589, ("WT", "APGR")),
        ("wang2007.csv", 10, 20, 20, 0, ()),
        ("wang2007_dosed.csv", 10, 30, 20, 10, ()),
    ],
)
def test_counts_match_the_readme(name, n_sub, n_rec, n_obs, n_dose, covariates):
    ds = read_nonmem(SHARED / name)
    assert (ds.n_subjects, ds.n_records, ds.n_observations) == (n_sub, n_rec, n_obs)
    assert int(np.count_nonzero(ds.evid == EventType.DOSE)) == n_dose
    assert ds.covariate_names == covariates


def test_theophylline_values():
    ds = read_nonmem(SHARED / "theo_sd.csv")
    first = ds.subject_slice(0)
    assert ds.ids[0] == 1 and ds.amt[first][0] == pytest.approx(319.992)
    assert ds.covariates[first, ds.column("wt")][0] == pytest.approx(79.6)
    assert ds.dose_compartments() == {1}
    assert ds.summary().covariates[0].minimum == pytest.approx(54.6)
    assert ds.summary().covariates[0].maximum == pytest.approx(86.4)


def test_warfarin_dvid_is_kept_raw():
    ds = read_nonmem(SHARED / "warfarin.csv")
    assert ds.dvid is not None and ds.dvid.dtype == object
    obs = ds.observed
    values, counts = np.unique(ds.dvid[obs].astype(int), return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {1: 251, 2: 232}


def test_nmtest_loads_with_its_extra_columns_as_covariates():
    ds = read_nonmem(SHARED / "nmtest.csv")
    assert ds.n_subjects == 54 and ds.n_records == 7157
    assert set(ds.covariate_names) == {"LAGT", "MODE", "DUR2", "RAT2", "BIOAV", "CP"}
    counts = {e: int(np.count_nonzero(ds.evid == e)) for e in EventType}
    assert counts == {EventType.OBSERVATION: 54 * 131, EventType.DOSE: 78, EventType.OTHER: 0,
                      EventType.RESET: 2, EventType.RESET_DOSE: 3}
    # ID 26: the constant infusion at steady state (AMT 0, RATE 100, SS 1, II 0)
    s = ds.subject_slice(list(ds.ids).index(26))
    assert (ds.amt[s][0], ds.rate[s][0], ds.ss[s][0], ds.ii[s][0]) == (0.0, 100.0, 1, 0.0)
    # ID 5: modeled duration
    s = ds.subject_slice(list(ds.ids).index(5))
    assert ds.rate[s][0] == -2
    assert ds.dose_compartments() == {1, 2}


def test_a_file_and_the_same_dataframe_give_the_same_arrays():
    by_file = read_nonmem(SHARED / "nmtest.csv")
    by_frame = read_nonmem(pd.read_csv(SHARED / "nmtest.csv"))
    for name in ("time", "dv", "amt", "rate", "ii", "evid", "mdv", "cmt", "addl", "ss", "occ", "offsets", "ids",
                 "covariates"):
        np.testing.assert_array_equal(getattr(by_file, name), getattr(by_frame, name), err_msg=name)
    np.testing.assert_array_equal(by_frame.rows, np.arange(1, 7158))
    assert by_file.rows[0] == 2
