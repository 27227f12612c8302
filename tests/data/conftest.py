"""Helpers for the data tests: write a small dataset as a file and read it."""

import textwrap
import warnings

import pytest

from nlme_lab.data import read_nonmem

from tests.conftest import DATA as SHARED


@pytest.fixture(scope="session")
def shared():
    """The folder of the shared reference datasets."""
    return SHARED


@pytest.fixture
def read_text(tmp_path):
    """``read_text(text, **kw)``: write ``text`` (dedented) to a file and read it."""
    counter = iter(range(10**6))

    def read(text: str, name: str | None = None, **kwargs):
        path = tmp_path / (name or f"data{next(counter)}.csv")
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return read_nonmem(path, **kwargs)

    return read


def _read_quietly(source, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = read_nonmem(source, **kwargs)
    return ds, [str(w.message) for w in caught]


@pytest.fixture
def read_quietly():
    """``read_quietly(source, **kw) -> (dataset, [warning messages])``."""
    return _read_quietly
