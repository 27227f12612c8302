"""Helpers of the reference tests: reference values and comparisons that report digits of
agreement. (Reference fits run through the public API, ``nl.fit``, on the shared models.)

Reference values come from ../shared/refs/README.md (machine-readable twin references.json).
Every comparison reports its digits of agreement in the assertion message; a tolerance here
is the one the issue states and is never loosened to make a test pass. Fits are shared
through module-scoped fixtures (a fit costs seconds; the assertions are cheap).
"""

import json

import numpy as np
from tests.conftest import SHARED

REFS = json.loads((SHARED / "refs" / "references.json").read_text())


def reference(ref_id: str) -> dict:
    return next(r for r in REFS["references"] if r["id"] == ref_id)


def digits(value: float, ref: float) -> float:
    """Agreeing significant digits: -log10 of the relative difference (16 when equal)."""
    if value == ref:
        return 16.0
    return float(-np.log10(abs(value - ref) / abs(ref)))


def agreement(label: str, value: float, ref: float) -> str:
    return (f"{label}: {value:.8g} vs reference {ref:.8g} (difference {value - ref:+.3g}; "
            f"{digits(value, ref):.1f} significant digits agree)")


def check_abs(label: str, value: float, ref: float, tol: float) -> None:
    msg = agreement(label, value, ref)
    print(msg)
    assert abs(value - ref) <= tol, f"{msg}; tolerance +-{tol:g}"


def check_rel(label: str, value: float, ref: float, rel: float) -> None:
    msg = agreement(label, value, ref)
    print(msg)
    assert abs(value - ref) <= rel * abs(ref), f"{msg}; tolerance {100 * rel:g}%"
