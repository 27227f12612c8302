"""NONMEM's own predictions for 54 dosing-event cases, through the whole pipeline:
nmtest.nlm parsed and compiled, nmtest.csv read, bound, and simulated (PRED = CP).

Tolerance from ../shared/data/README.md: |pred - CP| <= 1e-4 |CP| + 1e-6 on every row
(CP is printed to 5 significant digits). Cases where NONMEM runs a steady state backwards
in time (lag > II) are reproduced, not skipped.
"""

import numpy as np
import pytest

import nlme_lab as nl
from tests.conftest import DATA


@pytest.fixture(scope="module")
def nmtest_table(shared_models, shared_data):
    return nl.simulate(shared_models["nmtest"], shared_data["nmtest.csv"], n=1, seed=1).table


def _check(rows):
    pred, cp = rows["PRED"].to_numpy(), rows["CP"].to_numpy()
    ok = np.abs(pred - cp) <= 1e-4 * np.abs(cp) + 1e-6
    return ok, pred, cp


def test_nmtest_has_all_54_cases(nmtest_table):
    assert nmtest_table["ID"].nunique() == 54


@pytest.mark.parametrize("case", sorted(
    __import__("pandas").read_csv(DATA / "nmtest.csv")["ID"].unique().tolist()))
def test_nmtest_case_matches_nonmem(nmtest_table, case):
    rows = nmtest_table[nmtest_table["ID"] == case]
    ok, pred, cp = _check(rows)
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = bad[0]
        pytest.fail(f"ID {case}: {bad.size} rows off; first at TIME {rows['TIME'].iloc[i]}: "
                    f"pred {pred[i]:.6g} vs NONMEM {cp[i]:.6g}")
    nonzero = cp != 0
    digits = -np.log10(np.max(np.abs(pred[nonzero] - cp[nonzero]) / np.abs(cp[nonzero])) + 1e-300)
    assert digits > 4.0
