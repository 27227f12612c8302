"""Reading a data file's text safely: every failure is a DataError naming the file.

The path may come from anywhere (a session file, a CLI argument), so:

* only a regular file is read: a folder, a FIFO, a device such as ``/dev/zero`` or a socket
  is refused before anything is read (it is opened non-blocking and checked, so a FIFO
  cannot block and a device cannot be read without end);
* at most ``MAX_FILE_BYTES`` are read;
* a NUL byte marks a binary file (refused with its line), except in UTF-16 text, which is
  recognised by its byte-order mark (spreadsheets export "Unicode text" so);
* text is UTF-8 (with or without a byte-order mark), else Latin-1.

Nothing of the file's content goes into these messages.
"""

from __future__ import annotations

import os
import stat

from nlme_lab.data.issues import fail

#: the largest data file read (a NONMEM dataset of a million records is ~100 MB)
MAX_FILE_BYTES = 1 << 30

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_text(path: str) -> str:
    """The decoded text of the regular file at ``path``."""
    fd = _open(path)
    try:
        _check_kind(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            fail(f"cannot read {path}: {error.strerror or error}")
    if len(data) > MAX_FILE_BYTES:
        fail(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB, the largest data file read")
    return decode(data, path)


def _open(path: str) -> int:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        fail(f"no such file: {path}")
    except PermissionError:
        if os.path.isdir(path):
            fail(f"{path} is a folder, not a data file")
        fail(f"cannot read {path}: permission denied")
    except ValueError:  # a NUL character in the path
        fail("cannot read the data path: it holds a NUL character")
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")


def _check_kind(path: str, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        fail(f"{path} is a folder, not a data file")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or
                stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")
        fail(f"{path} is not a regular file but {kind}: a dataset is read only from a file "
             "(reading a pipe or a device could block or never end)")


def decode(data: bytes, path: str) -> str:
    """Text of a file's bytes (UTF-8, UTF-16 with a byte-order mark, else Latin-1)."""
    if data[:2] in _UTF16_BOMS:
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            fail(f"{path} starts as UTF-16 text but is not valid UTF-16")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        fail(f"{path} holds a NUL byte on line {line}: it is a binary file, not a text dataset "
             "(a NONMEM dataset is comma-, tab- or blank-separated text)", row=line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")
