"""Tutorial 07 (optimal design): its printed numbers are PopED's warfarin_basic values and the
optimum found by the tests (the notebook runs once per session, shared with
tests/test_tutorials.py)."""

import pytest

from tests.test_tutorials import run


def test_optimal_design_tutorial_reproduces_poped_and_the_optimum():
    r, _, _ = run("07_optimal_design.ipynb")
    assert r["det_block_variance"] == pytest.approx(5.996147e22, rel=1e-4)
    assert r["det_full_variance"] == pytest.approx(1.220371e24, rel=1e-4)
    assert r["det_block_sd"] == pytest.approx(2.398459e21, rel=1e-4)
    assert [round(r[f"rse_{k}"], 1) for k in ("tcl", "tv", "tka", "eta_cl", "eta_v", "eta_ka", "prop_sd")] == \
        [4.7, 2.8, 13.9, 25.6, 30.3, 25.8, 11.2]
    assert [r["opt_t1"], r["opt_t2"], r["opt_t3"]] == pytest.approx([1.71, 3.77, 120.0], abs=0.1)
    assert 0.45 < r["efficiency"] < 0.53 and r["n_null"] >= 3
