"""Property tests: any table or text gives a Dataset, or a located DataError; warnings are
located DataWarnings; never another exception type."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

from nlme_lab.data import Dataset, read_nonmem
from nlme_lab.errors import DataError, DataWarning

from tests.conftest import DATA as SHARED
STANDARD = ["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "RATE", "II", "ADDL", "SS", "DVID", "OCC",
            "CENS", "LIMIT"]
LOCATION = re.compile(r"^(row \d+|ID |column )")
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])

junk_text = st.sampled_from([".", "", " ", "abc", "1e999", "nan", "inf", "-", "1.2.3", "NA", "#", "@x",
                             "1,5", "\"", "'", "0x1f", "1D2", "-0", "+.5", "\u00e9", "1 2", "TRUE"])
numbers = st.one_of(st.integers(-3, 6), st.sampled_from([0, 1, 2, 4, 12, 24, -1, -2, 100, 2**60]),
                    st.floats(allow_nan=True, allow_infinity=True, width=32))
frame_cells = st.one_of(numbers, junk_text, st.none(), st.booleans(), numbers.map(str))
text_cells = st.one_of(numbers.map(lambda v: f"{v}"), junk_text)


def check_outcome(read):
    """Run ``read()``; assert a valid Dataset or a located DataError, and located warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = read()
            _event("Dataset")
        except DataError as error:
            assert error.row is not None or error.subject is not None or error.column is not None, str(error)
            _event("DataError: " + re.sub(r"[-\d.e+']+|'.*'", "#", error.message)[:40])
            ds = None
    for w in caught:
        assert issubclass(w.category, DataWarning), f"{w.category.__name__}: {w.message}"
        assert LOCATION.match(str(w.message)), str(w.message)
    if ds is not None:
        check_invariants(ds)
    return ds


def _event(text: str) -> None:
    """Label the outcome for ``--hypothesis-show-statistics`` (proof that both outcomes occur)."""
    if currently_in_test_context():
        event(text)


def check_invariants(ds: Dataset) -> None:
    n = ds.n_records
    assert n > 0 and ds.offsets[0] == 0 and ds.offsets[-1] == n
    assert np.all(np.diff(ds.offsets) > 0)
    assert ds.ids.size == ds.n_subjects
    assert np.all(np.diff(ds.rows) > 0)  # input order kept
    for name in ("time", "dv", "amt", "rate", "ii", "limit", "evid", "mdv", "cmt", "addl", "ss", "cens", "occ"):
        values = getattr(ds, name)
        assert values.shape == (n,) and not values.flags.writeable, name
    assert ds.covariates.shape == (n, len(ds.covariate_names))
    assert np.isin(ds.evid, [0, 1, 2, 3, 4]).all() and np.isin(ds.mdv, [0, 1]).all()
    assert np.all(ds.mdv[ds.evid != 0] == 1)
    assert np.isfinite(ds.time).all() and np.isfinite(ds.dv[ds.observed]).all()
    assert ds.n_observations == int(np.sum((ds.evid == 0) & (ds.mdv == 0)))
    assert len(ds.table) == n
    ds.summary()
    ds._repr_html_()


@st.composite
def column_names(draw):
    """Usually ID, TIME and DV (sometimes not), then other standard columns and covariates."""
    required = [n for n in ("ID", "TIME", "DV") if draw(st.integers(0, 9)) > 0]
    others = draw(st.lists(st.sampled_from(STANDARD[3:] + ["WT", "flag", "Age"]), max_size=6, unique=True))
    names = required + others
    names = draw(st.permutations(names)) if names else ["ID"]
    return [draw(st.sampled_from([n, n.lower(), n.title()])) for n in names]


def plausible(name: str):
    """Cells that are often valid for the column (so that many examples reach a Dataset)."""
    upper = name.upper()
    if upper in ("ID", "EVID", "MDV", "CMT", "ADDL", "SS", "OCC", "CENS", "DVID"):
        return st.integers(0, 2)
    if upper == "TIME":
        return st.sampled_from([0, 0, 1, 2])
    if upper in ("AMT", "RATE", "II"):
        return st.sampled_from([0, 0, 0, 10])
    return st.floats(0, 100)


@st.composite
def random_frames(draw):
    names = draw(column_names())
    n_rows = draw(st.integers(1, 8))
    data = {}
    for name in names:
        cells = st.one_of(plausible(name), plausible(name), frame_cells)
        data[name] = draw(st.lists(cells, min_size=n_rows, max_size=n_rows))
    return pd.DataFrame(data, dtype=object)


@SETTINGS
@given(random_frames())
def test_any_dataframe_gives_a_dataset_or_a_located_error(frame):
    check_outcome(lambda: read_nonmem(frame))


@st.composite
def random_texts(draw):
    names = draw(column_names())
    sep = draw(st.sampled_from([",", " ", "\t", ";", "  "]))
    lines = [sep.join(names)]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["record"] * 16 + ["comment", "blank", "short", "junk"]))
        if kind == "record":
            cells = [draw(plausible(n).map(str)) for n in names]
            if draw(st.integers(0, 3)) == 0:  # one mangled cell
                cells[draw(st.integers(0, len(cells) - 1))] = draw(text_cells)
            if sep.strip() == "":
                cells = [c if c.strip() else "." for c in cells]  # no empty cells without a separator
            lines.append(sep.join(cells))
        elif kind == "comment":
            lines.append(draw(st.sampled_from(["# note", "@x", "C 1 2 3", "  ;x"])))
        elif kind == "blank":
            lines.append("")
        elif kind == "short":
            lines.append(sep.join(["1"] * draw(st.integers(0, len(names) + 2))))
        else:
            lines.append(draw(st.text(max_size=12)))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return ending.join(lines) + draw(st.sampled_from(["", ending]))


@SETTINGS
@given(text=random_texts())
def test_any_text_gives_a_dataset_or_a_located_error(text, tmp_path):
    path = tmp_path / "random.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    check_outcome(lambda: read_nonmem(path))


def _theo_head():
    frame = pd.read_csv(SHARED / "theo_sd.csv")
    return frame[frame["ID"] <= 3].reset_index(drop=True)


THEO = _theo_head()


@SETTINGS
@given(st.permutations(range(len(THEO))))
def test_shuffled_rows_are_kept_in_their_order_or_rejected_with_a_location(order):
    shuffled = THEO.iloc[list(order)].reset_index(drop=True)
    ds = check_outcome(lambda: read_nonmem(shuffled))
    if ds is not None:
        # nothing reordered: record i is input row i
        np.testing.assert_array_equal(ds.rows, np.arange(1, len(shuffled) + 1))
        np.testing.assert_array_equal(ds.time, shuffled["TIME"].to_numpy(float))


@SETTINGS
@given(st.permutations([1, 2, 3]))
def test_whole_subjects_in_any_order_load_with_their_records_in_file_order(order):
    frame = pd.concat([THEO[THEO["ID"] == i] for i in order], ignore_index=True)
    ds = check_outcome(lambda: read_nonmem(frame))
    np.testing.assert_array_equal(ds.ids, order)
    for k, i in enumerate(order):
        np.testing.assert_array_equal(ds.dv[ds.subject_slice(k)], THEO.loc[THEO["ID"] == i, "DV"].to_numpy())


@SETTINGS
@given(
    drop=st.one_of(st.none(), st.sampled_from(list(THEO.columns))),
    edits=st.lists(st.tuples(st.integers(0, len(THEO) - 1), st.sampled_from(list(THEO.columns)), frame_cells),
                   max_size=4),
)
def test_mangled_theophylline_gives_a_dataset_or_a_located_error(drop, edits):
    frame = THEO.astype(object).copy()
    for row, column, value in edits:
        frame.at[row, column] = value
    if drop is not None:
        frame = frame.drop(columns=drop)
    check_outcome(lambda: read_nonmem(frame))


@pytest.mark.parametrize("name", ["theo_sd.csv", "nmtest.csv"])
def test_the_check_helper_accepts_the_reference_files(name):
    assert isinstance(check_outcome(lambda: read_nonmem(SHARED / name)), Dataset)
