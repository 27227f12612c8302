"""JSON-ready views of the diagnostics tables (NaN and infinities become None)."""

from __future__ import annotations

import enum
import math

import numpy as np


def plain(value):
    """``value`` with numpy scalars/arrays, enums, DataFrames and non-finite floats made JSON-ready."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return {col: plain(value[col].tolist()) for col in value.columns}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value
