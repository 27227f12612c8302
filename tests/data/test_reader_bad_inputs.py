"""Every bad input is a DataError that names the file (and row/subject/column where it applies),
never a raw Python exception, a hang, or an echo of a file's content."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlme_lab.data import read_nonmem
from nlme_lab.errors import DataError

FRAME = pd.DataFrame({"ID": [1, 1], "TIME": [0, 1], "DV": [1.0, 2.0]})


def test_a_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="no such file") as err:
        read_nonmem(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="no such file"):
        read_nonmem(str(tmp_path / "a_file.csv" / "inside"))


def test_a_folder_is_not_a_data_file(tmp_path):
    with pytest.raises(DataError, match="is a folder") as err:
        read_nonmem(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_an_unreadable_file_is_a_data_error(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("ID,TIME,DV\n1,0,1\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file")
        with pytest.raises(DataError, match="cannot read") as err:
            read_nonmem(path)
        assert str(path) in str(err.value)
    finally:
        path.chmod(0o600)


def test_a_fifo_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome = {}

    def read():
        try:
            read_nonmem(fifo)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=20)
    returned_by_itself = not thread.is_alive()
    if not returned_by_itself:  # unblock a reader stuck in open(): a writer that closes at once
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=20)
    assert returned_by_itself, "read_nonmem blocked on a FIFO"
    assert isinstance(outcome.get("error"), DataError)
    assert "not a regular file" in str(outcome["error"]) and str(fifo) in str(outcome["error"])


DEV_ZERO_CHECK = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a reader that reads on fails, not the machine
from nlme_lab.data import read_nonmem
from nlme_lab.errors import DataError
try:
    read_nonmem("/dev/zero")
except DataError as error:
    print(error)
"""


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused():
    # in a child process with a memory limit: before the fix this read until memory ran out
    done = subprocess.run([sys.executable, "-c", DEV_ZERO_CHECK], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert "not a regular file" in done.stdout, done.stdout + done.stderr[-500:]


def test_binary_garbage_is_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(DataError, match="binary") as err:
        read_nonmem(path)
    assert str(path) in str(err.value)
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes(b'ID,TIME,DV\n1,0,1\n"1\x00",1,2\n')
    with pytest.raises(DataError, match="NUL") as err:
        read_nonmem(quoted)
    assert err.value.row == 3


def test_utf16_text_from_a_spreadsheet_is_read(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("ID\tTIME\tDV\r\n1\t0\t1.5\r\n1\t1\t2.5\r\n".encode("utf-16"))
    ds = read_nonmem(path)
    np.testing.assert_array_equal(ds.dv, [1.5, 2.5])


def test_a_line_beyond_the_size_limit_is_refused_without_echo(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("ID,TIME,DV\n1,0," + "7" * 2_000_000 + "\n")
    with pytest.raises(DataError, match="characters long") as err:
        read_nonmem(path)
    assert err.value.row == 2 and len(str(err.value)) < 400


@pytest.mark.parametrize("data,name", [([1, 2], "list"), (np.zeros((2, 3)), "ndarray"), ({"ID": [1]}, "dict"),
                                       (42, "int"), (None, "NoneType"), (FRAME["ID"], "Series")])
def test_other_types_are_data_errors_naming_the_type(data, name):
    with pytest.raises(DataError, match=f"got {name}") as err:
        read_nonmem(data)
    assert isinstance(err.value, TypeError)  # also a TypeError, for callers that catch that
    assert "path" in str(err.value) and "DataFrame" in str(err.value)


@pytest.mark.parametrize("kwargs,match", [
    ({"filter": {"x": ["ID.EQ.1"]}}, "filter=.*'ignore' or 'accept'"),
    ({"filter": 5}, "filter=.*got int"),
    ({"filter": {"ignore": [5]}}, "filter=.*got 5"),
    ({"filter": {"ignore": None}}, "filter=.*got None"),
    ({"filter": lambda frame: frame["XX"] > 1}, "filter=.*KeyError"),
    ({"filter": lambda frame: frame["ID"]}, "filter=.*booleans"),
    ({"covariate_fill": "linear"}, "covariate_fill=.*'nocb' or 'locf'.*'linear'"),
    ({"covariate_fill": None}, "covariate_fill=.*None"),
    ({"drop": 5}, "drop=.*got int"),
    ({"drop": [None]}, "drop=.*got None"),
])
def test_bad_arguments_are_data_errors_naming_the_argument(kwargs, match):
    with pytest.raises(DataError, match=match):
        read_nonmem(FRAME, **kwargs)


def test_drop_none_means_no_column(read_text):
    assert read_text("ID,TIME,DV\n1,0,1\n", drop=None).n_records == 1


def test_a_long_cell_is_shown_as_a_short_excerpt(read_text):
    with pytest.raises(DataError, match="is not a number") as err:
        read_text("ID,TIME,DV\n1,0," + "x" * 100_000 + "\n")
    text = str(err.value)
    assert len(text) < 300 and "100,000 characters" in text and "x" * 41 not in text


def test_a_long_cell_in_a_dataframe_is_shown_as_a_short_excerpt():
    frame = pd.DataFrame({"ID": [1], "TIME": [0], "DV": ["y" * 10_000]})
    with pytest.raises(DataError) as err:
        read_nonmem(frame)
    assert len(str(err.value)) < 300 and "y" * 41 not in str(err.value)


def test_a_long_filter_text_is_not_echoed_whole():
    with pytest.raises(DataError) as err:
        read_nonmem(FRAME, filter={"ignore": ["ID.EQ.1" + "z" * 10_000]})
    assert len(str(err.value)) < 400


@pytest.mark.parametrize("first_lines", [
    "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
    "myhost-secret-name\n",
    "127.0.0.1 localhost secret-alias\n::1 localhost ip6-localhost\n",
    "[section]\npassword = hunter2, token = abc\n",
    "Tim,Dose,Conc\n1,2,3\n",
])
def test_a_file_that_is_not_a_dataset_is_refused_without_echoing_it(first_lines, tmp_path):
    path = tmp_path / "system_file"
    path.write_text(first_lines)
    with pytest.raises(DataError, match="not .*NONMEM dataset") as err:
        read_nonmem(path)
    text = str(err.value)
    for word in ("root", "bash", "secret", "localhost", "hunter2", "section", "Tim", "Conc"):
        assert word not in text.replace(str(path), ""), text
    assert err.value.row == 1


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd")
def test_a_system_file_is_refused_without_echoing_it():
    first = Path("/etc/passwd").read_text(errors="replace").splitlines()[0]
    with pytest.raises(DataError) as err:
        read_nonmem("/etc/passwd")
    assert first not in str(err.value) and first.split(":")[0] not in str(err.value).replace("/etc/passwd", "")


def test_column_listings_in_messages_are_cut(read_text):
    names = ["ID", "TIME"] + [f"COVARIATE_WITH_A_VERY_LONG_NAME_NUMBER_{k:03d}_" + "q" * 30 for k in range(60)]
    with pytest.raises(DataError, match="no DV column") as err:
        read_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    text = str(err.value)
    assert "q" * 31 not in text and len(text) < 2000 and "more" in text


def test_an_absurdly_long_column_name_is_refused_without_echo(read_text):
    with pytest.raises(DataError, match="characters long") as err:
        read_text("ID,TIME,DV," + "W" * 5000 + "\n1,0,1,2\n")
    assert err.value.row == 1 and "W" * 41 not in str(err.value)
