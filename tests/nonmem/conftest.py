"""Helpers of the control-stream tests: a small control stream with records replaced, and the
translated model's lines. Fits are shared through session fixtures (``test_reference_fits``)."""

from pathlib import Path

import pytest

STREAMS = Path(__file__).parent / "streams"

BASE = {
    "PROBLEM": "a test stream",
    "INPUT": "ID TIME DV AMT EVID MDV CMT WT",
    "DATA": "data.csv IGNORE=@",
    "SUBROUTINES": "ADVAN2 TRANS2",
    "PK": "KA = THETA(1)*EXP(ETA(1))\nCL = THETA(2)\nV = THETA(3)\nS2 = V",
    "ERROR": "Y = F + EPS(1)",
    "THETA": "(0, 1.5) (0, 2.7) (0, 30)",
    "OMEGA": "0.1",
    "SIGMA": "0.5",
    "ESTIMATION": "METHOD=1 INTER",
}


def stream(**records) -> str:
    """The BASE control stream with records replaced (a value of None leaves the record out)."""
    merged = {**BASE, **records}
    return "\n".join(f"${name} {text}" for name, text in merged.items() if text is not None) + "\n"


def model_lines(model) -> list[str]:
    """The [model] section's statements (comments and blank lines left out)."""
    text = model.text.split("[model]", 1)[1]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def ini_lines(model) -> list[str]:
    text = model.text.split("[ini]", 1)[1].split("[model]", 1)[0]
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.fixture
def translate():
    """``translate(**records)`` -> (model, spec) of the BASE stream with those records."""
    from nlme_lab.nonmem import from_nonmem

    def run(**records):
        return from_nonmem(stream(**records))

    return run
