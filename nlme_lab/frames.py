"""Tables for other frame libraries. nlme_lab returns its tables as pandas DataFrames
(``fit.summary()``, ``fit.individual``, ``fit.predictions``, ``SimulationResult.table``, the
diagnostics' tables); ``to_polars`` gives any of them as a polars DataFrame."""

from __future__ import annotations


def to_polars(frame):
    """``frame`` (a pandas DataFrame, or a result holding one as ``.table``) as a polars
    DataFrame; NaN becomes polars' null. Row labels (a labelled matrix's ``parameter`` index)
    become a first column."""
    import pandas as pd

    try:
        import polars as pl
    except ImportError:
        raise ImportError("to_polars needs polars: pip install polars") from None
    if not isinstance(frame, pd.DataFrame) and isinstance(getattr(frame, "table", None), pd.DataFrame):
        frame = frame.table
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"to_polars takes a pandas DataFrame (or a result with .table), got {type(frame).__name__}")
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return pl.from_pandas(frame)
