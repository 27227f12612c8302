"""Located problems: every error and warning of the reader names row, subject and column.

Warnings use the same ``row R, ID S, column C: message`` text as :class:`DataError`, so a
user reads both the same way.

Messages never echo much of a file: a cell is shown as an excerpt of at most ``ECHO_LIMIT``
characters (with its length), a list of column names is cut after ``LIST_LIMIT`` names, and a
file that does not name the NONMEM columns is refused without showing its first line (the
path may point at any file, e.g. from a session file).
"""

from __future__ import annotations

import warnings

import numpy as np

from nlme_lab.errors import DataError, DataWarning

#: at most this many individual warnings of one kind; the rest are counted in one more warning
WARNING_CAP = 10
#: characters of a cell, name or argument text shown in a message
ECHO_LIMIT = 40
#: column names listed in a message
LIST_LIMIT = 30


class DataArgumentError(DataError, TypeError):
    """An argument of the wrong type (a list for ``data``, an int for ``filter``): a DataError
    that is also a TypeError, for callers that catch either."""


def excerpt(value) -> str:
    """``value`` for a message: the repr of text, cut to ECHO_LIMIT characters with its length."""
    if isinstance(value, str):
        if len(value) <= ECHO_LIMIT:
            return repr(value)
        return f"{value[:ECHO_LIMIT]!r}... ({len(value):,} characters)"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any object may come in a DataFrame cell
        text = f"<{type(value).__name__}>"
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}..."


def short_name(name: str) -> str:
    """A column name for a message, cut to ECHO_LIMIT characters."""
    name = str(name)
    return name if len(name) <= ECHO_LIMIT else f"{name[:ECHO_LIMIT]}..."


def listed(names) -> str:
    """Column names for a message: each cut, at most LIST_LIMIT of them, then a count."""
    names = list(names)
    shown = ", ".join(short_name(n) for n in names[:LIST_LIMIT])
    rest = len(names) - LIST_LIMIT
    return f"{shown} and {rest} more" if rest > 0 else shown


def show_id(value):
    """A subject ID as a user wrote it: ``3`` rather than ``3.0``."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if not np.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def located(message: str, *, row=None, subject=None, column=None) -> str:
    """The text of a DataError with this location (used for warnings too)."""
    return str(DataError(message, row=row, subject=show_id(subject), column=column))


def fail_argument(message: str):
    """Raise a DataArgumentError (a wrong argument type, not a problem in the data)."""
    raise DataArgumentError(message)


def fail(message: str, *, row=None, subject=None, column=None, count: int = 1):
    """Raise a DataError; ``count`` > 1 says how many records share the problem."""
    if count > 1:
        message = f"{message} ({count} records have this problem; the first is shown)"
    raise DataError(message, row=None if row is None else int(row), subject=show_id(subject), column=column)


def warn(message: str, *, row=None, subject=None, column=None, stacklevel: int = 4) -> None:
    warnings.warn(
        located(message, row=None if row is None else int(row), subject=subject, column=column),
        DataWarning, stacklevel=stacklevel,
    )


def warn_each(message: str, places, *, column=None, what: str = "records") -> None:
    """One warning per ``(row, subject)`` place, at most WARNING_CAP, then a count of the rest."""
    places = list(places)
    for row, subject in places[:WARNING_CAP]:
        warn(message, row=row, subject=subject, column=column, stacklevel=5)
    rest = len(places) - WARNING_CAP
    if rest > 0:
        row, subject = places[WARNING_CAP]
        warn(f"{message} (and {rest} more {what} like this, from here on)", row=row, subject=subject,
             column=column, stacklevel=5)
