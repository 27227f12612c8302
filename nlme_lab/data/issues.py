"""Located problems: every error and warning of the reader names row, subject and column.

Warnings use the same ``row R, ID S, column C: message`` text as :class:`DataError`, so a
user reads both the same way.
"""

from __future__ import annotations

import warnings

import numpy as np

from nlme_lab.errors import DataError, DataWarning

#: at most this many individual warnings of one kind; the rest are counted in one more warning
WARNING_CAP = 10


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
