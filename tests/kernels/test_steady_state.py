"""Steady states (SS=1, SS=2, constant infusion) against long runs of repeated doses."""

from __future__ import annotations

import numpy as np
import pytest

from test_events_models import CMT2, mam_params, records, run_subject

II = 12.0
N_CYCLES = 120  # 2-cmt half-lives here are < 25 h: 1440 h is far past steady state
# (label, dose row without time: cmt, amt, rate, [param overrides])
DOSES = [
    ("bolus central", 1, 100.0, 0.0, {}),
    ("oral depot", 0, 100.0, 0.0, {}),
    ("infusion D < II", 1, 100.0, 25.0, {}),
    ("infusion D > II (overlap)", 1, 100.0, 4.0, {}),
    ("infusion D = 2 II", 1, 96.0, 4.0, {}),
    ("oral with lag", 0, 100.0, 0.0, {"ALAG1": 3.5}),
    ("infusion with lag and F", 1, 100.0, 10.0, {"ALAG2": 2.0, "F2": 0.7}),
    ("modeled duration", 1, 100.0, -2.0, {"D2": 17.0}),
]


@pytest.mark.parametrize("linear", [True, False], ids=["exact", "ode"])
@pytest.mark.parametrize("label, c, amt, rate, over", DOSES, ids=[d[0] for d in DOSES])
def test_ss1_equals_long_run_of_repeated_doses(label, c, amt, rate, over, linear):
    p = mam_params(three=False, **over)
    obs = np.linspace(0.0, II, 13)[:-1] + 0.37
    ss_rec = records([(0.0, c, amt, rate, II, 0, 1)], obs)
    st, _, pred_ss, _ = run_subject(CMT2, ss_rec, p, linear=linear)
    assert st == 0
    t_last = N_CYCLES * II
    long_rec = records([(0.0, c, amt, rate, II, N_CYCLES, 0)], t_last + obs)
    st, _, pred_long, _ = run_subject(CMT2, long_rec, p, linear=linear)
    assert st == 0
    is_obs = ss_rec["evid"] == 0
    tol = 1e-9 if linear else 1e-6
    np.testing.assert_allclose(pred_ss[is_obs, 0], pred_long[long_rec["evid"] == 0, 0], rtol=tol)


def test_ss2_adds_to_the_current_state():
    """SS=2 at t=6 on top of a single bolus = single bolus + SS=1 alone (superposition)."""
    p = mam_params(three=False)
    obs = [6.0, 7.5, 20.0, 40.0]
    both = records([(0.0, 1, 50.0, 0.0, 0.0, 0, 0), (6.0, 0, 80.0, 0.0, 24.0, 1, 2)], obs)
    single = records([(0.0, 1, 50.0, 0.0, 0.0, 0, 0)], obs)
    ss_only = records([(6.0, 0, 80.0, 0.0, 24.0, 1, 1)], obs)
    preds = [run_subject(CMT2, r, p)[2][r["evid"] == 0, 0] for r in (both, single, ss_only)]
    np.testing.assert_allclose(preds[0], preds[1] + preds[2], rtol=1e-12)


@pytest.mark.parametrize("linear", [True, False], ids=["exact", "ode"])
def test_constant_infusion_steady_state(linear):
    """AMT 0, RATE R, SS=1: central = R / k10 in the 2-cmt model at steady state."""
    p = mam_params(three=False)
    rec = records([(0.0, 1, 0.0, 7.0, 0.0, 0, 1)], [0.0])
    st, _, pred, _ = run_subject(CMT2, rec, p, linear=linear)
    assert st == 0
    cl = p[0]
    np.testing.assert_allclose(pred[:, 0], 7.0 / cl, rtol=1e-10)


def test_ss_with_lag_equal_to_ii_matches_no_lag():
    """ALAG == II: a history dose arrives exactly at the record time (so it is in, rule 2): the
    whole trajectory is that of the unlagged SS dose (whose own dose is given at the record)."""
    p_lag = mam_params(three=False, ALAG2=II)
    p0 = mam_params(three=False)
    obs = [0.0, 1.0, 5.0, 30.0]
    _, _, a, _ = run_subject(CMT2, records([(0.0, 1, 100.0, 0.0, II, 2, 1)], obs), p_lag)
    _, _, b, _ = run_subject(CMT2, records([(0.0, 1, 100.0, 0.0, II, 2, 1)], obs), p0)
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-10)
