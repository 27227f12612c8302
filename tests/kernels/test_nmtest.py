"""NONMEM 7 reference: every row of the 54 nmtest cases (../shared/data/nmtest.csv).

The ADVAN2 model is written by hand (test_events_models.ADVAN2); the records go to
``solve_subject`` unchanged (CMT made 0-based). The tolerance is the data README's:
|pred - CP| <= 1e-4 |CP| + 1e-6 on every row, event rows included (rule 8).
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from nlme_lab.kernels.linear import LinearMethod
from test_events_models import ADVAN2, run_subject

from tests.conftest import DATA  # noqa: E402

NMTEST = DATA / "nmtest.csv"
pytestmark = pytest.mark.skipif(not NMTEST.exists(), reason="shared nmtest.csv not available")


@pytest.fixture(scope="module")
def nmtest():
    return pd.read_csv(NMTEST)


def _case(g):
    rec = dict(time=g.TIME.values, evid=g.EVID.values, amt=g.AMT.values, cmt=g.CMT.values - 1,
               rate=g.RATE.values, ii=g.II.values, addl=g.ADDL.values, ss=g.SS.values)
    n = len(g)
    P = np.zeros((n, ADVAN2.n_p))
    P[:, 0], P[:, 1], P[:, 2], P[:, 3] = 1.1, 20.0, 1.5, 1.0
    P[:, 4] = g.BIOAV.values  # F2
    P[:, 5] = g.LAGT.values  # ALAG2
    P[:, 6] = np.where(g.MODE.values == 2, g.DUR2.values, 0.0)  # D2 (only MODE 2)
    return rec, P


def _digits(pred, cp):
    """(max relative error, max error in units of half the 5th significant digit of CP)."""
    nz = cp != 0
    err = np.abs(pred[nz] - cp[nz])
    half_unit = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(cp[nz]))) - 4)
    return (err / np.abs(cp[nz])).max(), (err / half_unit).max()


@pytest.mark.parametrize("linear, method", [(True, LinearMethod.AUTO), (True, LinearMethod.EXPM),
                                            (False, None)], ids=["exact", "exact-expm", "ode"])
def test_nmtest_all_54_cases_match_nonmem_row_by_row(nmtest, linear, method):
    worst = worst_units = 0.0
    n_cases = 0
    for case_id, g in nmtest.groupby("ID", sort=False):
        rec, P = _case(g)
        st, info, pred, _ = run_subject(ADVAN2, rec, P, linear=linear, method=method)
        assert st == 0, f"ID {case_id}: status {st} at record {info[0]}"
        cp = g.CP.values
        err = np.abs(pred[:, 0] - cp)
        bad = err > 1e-4 * np.abs(cp) + 1e-6
        assert not bad.any(), (
            f"ID {case_id}: {bad.sum()} rows off, first at TIME {g.TIME.values[bad][0]}: "
            f"pred {pred[bad, 0][0]:.6g} vs CP {cp[bad][0]:.6g}")
        assert np.all(pred[cp == 0, 0] == 0.0), f"ID {case_id}: CP = 0 rows must be exact zeros"
        rel, units = _digits(pred[:, 0], cp)
        worst = max(worst, rel)
        worst_units = max(worst_units, units)
        n_cases += 1
    assert n_cases == 54
    # CP is printed with 5 significant digits: every row within rounding of the print
    assert worst_units <= 1.0 + 1e-6
    label = "ode" if not linear else f"exact, {method.name.lower()}"
    print(f"nmtest ({label}): max relative error {worst:.3g}, "
          f"max |pred - CP| = {worst_units:.4f} x half a unit of CP's 5th digit")


@pytest.mark.parametrize("method", list(LinearMethod), ids=lambda m: m.name.lower())
def test_nmtest_rule5_negative_and_overshooting_cases(nmtest, method):
    """Spot values quoted in the README (rule 5): ID 415 at t=0 and ID 809's minimum."""
    g = nmtest[nmtest.ID == 415]
    rec, P = _case(g)
    _, _, pred, _ = run_subject(ADVAN2, rec, P, method=method)
    assert pred[0, 0] == pytest.approx(3502.6, rel=5e-5)
    g = nmtest[nmtest.ID == 809]
    rec, P = _case(g)
    _, _, pred, _ = run_subject(ADVAN2, rec, P, method=method)
    assert pred[:, 0].min() == pytest.approx(-94452, rel=5e-5)


def test_nmtest_eigen_and_pade_paths_agree_on_every_row_and_sensitivity(nmtest):
    """The two exact linear paths on all 54 cases, with sensitivities along cl, v, ka, F2,
    ALAG2 and D2: the same numbers to 1e-10 relative (per case, to the largest value)."""
    worst = 0.0
    for case_id, g in nmtest.groupby("ID", sort=False):
        rec, P = _case(g)
        dP = np.zeros((len(g), ADVAN2.n_p, 6))
        for d, k in enumerate((0, 1, 2, 4, 5, 6)):
            dP[:, k, d] = 1.0
        out = {m: run_subject(ADVAN2, rec, P, dP=dP, method=m) for m in LinearMethod}
        (st_e, _, pe, de), (st_x, _, px, dx) = out[LinearMethod.AUTO], out[LinearMethod.EXPM]
        assert st_e == st_x == 0
        for a, b in ((pe, px), (de, dx)):
            scale = max(np.abs(b).max(), 1e-300)
            err = np.abs(a - b).max() / scale
            assert err <= 1e-10, f"ID {case_id}: {err:.2e}"
            worst = max(worst, err)
    print(f"nmtest eigen vs Pade path: worst relative difference {worst:.2e}")
